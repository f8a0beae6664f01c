//! The `migrate` binary as users run it: exit codes, messages, JSON, confirmation,
//! concurrency between processes, and secrets kept out of output.

use crate::harness::*;
use std::process::Stdio;

fn fixtures(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.arg("--config").arg(fixtures_config())
}

/// Starts two `migrate up` processes for `set` while the test holds the set's lock, so both
/// must wait; then lets them go. Returns both outputs (stdout + stderr).
async fn two_runners(db: &TestDb, config: Option<&std::path::Path>, set: &str) -> Vec<String> {
    let mut holder = db.conn().await;
    migrate::engine::history::ensure(&mut holder).await.unwrap();
    hold_set_lock(&mut holder, set).await;
    let spawn = || {
        let mut cmd = db.migrate();
        if let Some(path) = config {
            cmd.arg("--config").arg(path);
        }
        cmd.args(["--set", set, "up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Each runner's standard error is read as it comes; the lock is released once both
    // have said they wait for it, not after a guessed delay.
    let (said, heard) = std::sync::mpsc::channel();
    let mut children = Vec::new();
    for mut child in [spawn(), spawn()] {
        let stderr = child.stderr.take().unwrap();
        let said = said.clone();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let line = line.unwrap();
                if line.contains("holds the lock") {
                    let _ = said.send(());
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        children.push((child, reader));
    }
    for _ in 0..2 {
        heard
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("both runners say they wait for the lock");
    }
    release_set_lock(&mut holder, set).await;
    children
        .into_iter()
        .map(|(child, reader)| {
            let o = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                reader.join().unwrap()
            );
            assert!(o.status.success(), "{text}");
            assert_no_secret(&text);
            text
        })
        .collect()
}

#[tokio::test]
async fn two_processes_started_at_once_apply_each_migration_exactly_once() {
    let db = TestDb::new().await;
    let out = two_runners(&db, Some(&fixtures_config()), "slow").await;
    for text in &out {
        assert!(
            text.contains("slow: another migrate run holds the lock of set `slow` (pid "),
            "{text}"
        );
    }
    let all = out.join("\n---\n");
    assert_eq!(
        all.matches("slow: nothing to do, at 0002").count(),
        1,
        "{all}"
    );
    assert_eq!(
        all.matches("slow: applied 2 migrations, now at 0002")
            .count(),
        1,
        "{all}"
    );
    let mut c = db.conn().await;
    assert_eq!(
        strings(
            &mut c,
            "SELECT version::text FROM migrate.history WHERE set_name = 'slow' ORDER BY 1"
        )
        .await,
        vec!["1", "2"]
    );
}

/// The runner that waits polls for the lock instead of blocking in pg_advisory_lock, so the
/// holder's CREATE INDEX CONCURRENTLY (0003) does not wait for the waiter: no deadlock.
#[tokio::test]
async fn a_waiting_runner_does_not_block_concurrent_index_builds() {
    let db = TestDb::new().await;
    let out = two_runners(&db, None, "aethercrown98").await;
    let all = out.join("\n---\n");
    assert_eq!(
        all.matches("aethercrown98: applied 9 migrations, now at 0009")
            .count(),
        1,
        "{all}"
    );
    assert_eq!(
        all.matches("aethercrown98: nothing to do, at 0009").count(),
        1,
        "{all}"
    );
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        9
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_index WHERE NOT indisvalid").await,
        0
    );
}

#[tokio::test]
async fn down_needs_yes_without_a_terminal() {
    let db = TestDb::new().await;
    let up = run(db.migrate().args(["--set", "aethercrown98", "up"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(
        up.stdout
            .contains("aethercrown98: applied 9 migrations, now at 0009"),
        "{}",
        up.stdout
    );

    let refused = run(db
        .migrate()
        .args(["--set", "aethercrown98", "down", "--steps", "2"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("there is no terminal to ask on; pass --yes to roll back 2 migration(s) of set `aethercrown98`: 0009 server_sets_created_at, 0008 schedule_partition_upkeep"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        9
    );

    let done = run(db
        .migrate()
        .args(["--set", "aethercrown98", "down", "--steps", "2", "--yes"]));
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stdout
            .contains("rolled back 2 migrations, now at 0007"),
        "{}",
        done.stdout
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        7
    );

    let all = run(db.migrate().args(["down", "--to", "0", "--yes", "--json"]));
    assert_eq!(all.code, 0, "{}", all.stderr);
    let v: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(v["command"], "down");
    let ac = v["sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["set"] == "aethercrown98")
        .unwrap();
    assert_eq!(ac["current_version"], 0);
    assert_eq!(ac["rolled_back"].as_array().unwrap().len(), 7);
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        0
    );
}

#[tokio::test]
async fn status_in_text_and_json() {
    let db = TestDb::new().await;
    assert_eq!(
        run(db
            .migrate()
            .args(["--set", "aethercrown98", "up", "--to", "2"]))
        .code,
        0
    );
    let text = run(db.migrate().arg("status"));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("aethercrown98 (schema public, files: "),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(": at 0002, 7 pending"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("checksum ok"), "{}", text.stdout);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("  0003 indexes ") && l.ends_with("  pending")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("witchcraft (schema public"),
        "{}",
        text.stdout
    );

    let json = run(db
        .migrate()
        .args(["status", "--json", "--set", "aethercrown98"]));
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let set = &v["sets"][0];
    assert_eq!(set["set"], "aethercrown98");
    assert_eq!(set["current_version"], 2);
    let states: Vec<&str> = set["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "applied", "applied", "pending", "pending", "pending", "pending", "pending", "pending",
            "pending"
        ]
    );
    assert_eq!(set["migrations"][0]["checksum_matches"], true);
    assert!(set["migrations"][2]["checksum_matches"].is_null());
}

/// `up --json` reports the versions before and after each run and what is left pending,
/// as `status` reads them afterwards, in partial runs, a full one and a run with nothing to do.
#[tokio::test]
async fn up_reports_the_versions_it_moved_between_and_what_is_left() {
    let db = TestDb::new().await;
    let total = embedded_set("aethercrown98").migrations.len() as i64;
    let mut at = 0;
    for to in [Some(2), Some(4), None, None] {
        let mut args = vec!["--set", "aethercrown98", "--json", "up"];
        let to_arg = to.map(|v: i64| v.to_string());
        if let Some(v) = &to_arg {
            args.extend(["--to", v]);
        }
        let out = run(db.migrate().args(&args));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let set = &v["sets"][0];
        let now = to.unwrap_or(total);
        assert_eq!(set["previous_version"], at, "{args:?}: {set}");
        assert_eq!(set["current_version"], now, "{args:?}: {set}");
        assert_eq!(set["pending"], total - now, "{args:?}: {set}");
        assert_eq!(
            set["applied"].as_array().unwrap().len() as i64,
            now - at,
            "{args:?}: {set}"
        );
        let status = run(db
            .migrate()
            .args(["--set", "aethercrown98", "--json", "status"]));
        let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(status["sets"][0]["current_version"], now);
        at = now;
    }
    let text = run(db.migrate().args(["--set", "aethercrown98", "up"]));
    assert_eq!(
        text.stdout.trim(),
        format!("aethercrown98: nothing to do, at {total:04}")
    );
}

#[tokio::test]
async fn the_binary_alone_bootstraps_a_database_from_its_embedded_files() {
    let db = TestDb::new().await;
    let guard = temp_dir("empty");
    let empty = guard.path().to_path_buf();
    // Both sets install into `public` by default: one database takes one of them.
    let out = run(db.migrate().current_dir(&empty).arg("up"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("sets `aethercrown98` and `witchcraft` both install into schema `public`"),
        "{}",
        out.stderr
    );
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .await,
        0
    );
    let out = run(db
        .migrate()
        .current_dir(&empty)
        .args(["up", "--set", "aethercrown98"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(db
        .migrate()
        .current_dir(&empty)
        .args(["up", "--set", "witchcraft"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("set `witchcraft` installs into schema `public`, where set `aethercrown98` is already installed"), "{}", out.stderr);
    let st = run(db.migrate().current_dir(&empty).arg("status"));
    assert!(
        st.stdout
            .contains("aethercrown98 (schema public, files: embedded): at 0009, 0 pending"),
        "{}",
        st.stdout
    );
    std::fs::remove_dir_all(&empty).ok();
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_policy").await,
        15
    );
}

#[tokio::test]
async fn a_tampered_history_exits_1_naming_version_and_file() {
    let db = TestDb::new().await;
    assert_eq!(
        run(db
            .migrate()
            .args(["--set", "aethercrown98", "up", "--to", "3"]))
        .code,
        0
    );
    let mut c = db.conn().await;
    sqlx::raw_sql("UPDATE migrate.history SET checksum = 'deadbeef' WHERE version = 3")
        .execute(&mut c)
        .await
        .unwrap();
    let out = run(db.migrate().args(["--set", "aethercrown98", "up"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.starts_with("error: set `aethercrown98`: migration 0003 (schema/aethercrown98/0003_indexes.up.sql) was applied with checksum deadbeef"), "{}", out.stderr);
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        3
    );
}

#[tokio::test]
async fn a_failing_migration_exits_1_with_file_and_line() {
    let db = TestDb::new().await;
    let out = run(fixtures(&mut db.migrate()).args(["--set", "failing", "up"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error: migration failing 0002 failed at failing/0002_broken.up.sql:6:8: column \"missing_column\" does not exist"),
        "{}",
        out.stderr
    );
    let json = run(fixtures(&mut db.migrate()).args(["--set", "failing", "up", "--json"]));
    assert_eq!(json.code, 1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["exit_code"], 1);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("0002_broken.up.sql:6:8"));
}

#[tokio::test]
async fn passwords_never_reach_output() {
    let url = "postgres://app:sekret-pw@127.0.0.1:1/prod";
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["up", "--set", "witchcraft"],
    ] {
        let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
            .args(&args)
            .env("DATABASE_URL", url)
            .stdin(Stdio::null()));
        assert_eq!(out.code, 3, "{args:?}: {}", out.stderr);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(!all.contains("sekret"), "{all}");
        assert!(all.contains("postgres://app:***@127.0.0.1:1/prod"), "{all}");
    }
    let help = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["up", "--help"])
        .env("DATABASE_URL", url));
    assert!(!help.stdout.contains("sekret"), "{}", help.stdout);
}

#[tokio::test]
async fn usage_and_configuration_errors_exit_2_with_one_line() {
    let bin = env!("CARGO_BIN_EXE_migrate");
    let base = || {
        let mut c = std::process::Command::new(bin);
        c.current_dir(crate_root())
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        c
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["status"],
            "error: no database given: pass --database-url URL or set DATABASE_URL",
        ),
        (
            vec!["--set", "nope", "status"],
            "error: unknown set `nope`; migrations.toml declares: aethercrown98, witchcraft",
        ),
        (
            vec!["--lock-timeout", "soon", "status"],
            "error: --lock-timeout \"soon\" is not a duration",
        ),
        (
            vec!["--config", "tests/fixtures/none.toml", "status"],
            "error: cannot read tests/fixtures/none.toml",
        ),
        // a set named twice was rolled back twice by `down`
        (
            vec!["--set", "aethercrown98,aethercrown98", "down", "--steps", "1", "--yes"],
            "error: set `aethercrown98` is named twice in --set; name each set once",
        ),
        // another scheme was tried as PostgreSQL, an unknown parameter ignored
        (
            vec!["status", "--database-url", "mysql://x:secret@127.0.0.1:1/db"],
            "error: --database-url is not a valid database URL: it starts with mysql://, not postgres:// or postgresql://",
        ),
        (
            vec!["status", "--database-url", "http://127.0.0.1:1/db"],
            "error: --database-url is not a valid database URL: it starts with http://, not postgres:// or postgresql://",
        ),
        (
            vec!["status", "--database-url", "postgres://x@127.0.0.1:1/db?sslmod=require"],
            "error: --database-url is not a valid database URL: unknown parameter `sslmod`",
        ),
    ];
    for (args, expected) in cases {
        let out = run(base().args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with(expected), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
    let guard = temp_dir("badcfg");
    let dir = guard.path().to_path_buf();
    std::fs::create_dir_all(dir.join("s")).unwrap();
    std::fs::write(
        dir.join("migrations.toml"),
        "[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"Bad Name\"\n",
    )
    .unwrap();
    let out = run(base().current_dir(&dir).arg("status"));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("migrations.toml: set `s`: schema \"Bad Name\""),
        "{}",
        out.stderr
    );
    std::fs::write(
        dir.join("migrations.toml"),
        "[[set]]\nname = \"s\"\ndir = \"s\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("s/0001_a.up.sql"), "SELECT 1;").unwrap();
    let out = run(base().current_dir(&dir).args([
        "status",
        "--database-url",
        "postgres://x@127.0.0.1:1/x",
    ]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("set `s`: s/0001_a.up.sql: has no matching s/0001_a.down.sql"),
        "{}",
        out.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn server_notices_reach_the_operator() {
    let db = TestDb::new().await;
    let out = run(db.migrate().args(["--set", "witchcraft", "up"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("notice: pg_cron is not installed: witchcraft maintenance is not scheduled; run `migrate maintain --set witchcraft` daily at 02:00"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("notice:").count(), 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("witchcraft: applied 13 migrations, now at 0013"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn runs_that_change_the_schema_refuse_the_transaction_pooler() {
    let url = "postgres://postgres.ref:sekret@aws-0-eu.pooler.supabase.com:6543/postgres";
    for args in [
        vec!["--set", "aethercrown98", "up"],
        vec!["--set", "aethercrown98", "down", "--yes"],
    ] {
        let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
            .args(&args)
            .env("DATABASE_URL", url)
            .stdin(Stdio::null()));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("postgres://postgres.ref:***@aws-0-eu.pooler.supabase.com:6543/postgres goes through a transaction-mode pooler (port 6543, Supabase's transaction pooler)"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("sekret"));
    }
}

/// A failure is located at its statement's first word, not at the comment header above it
/// (an index on line 12 of a file was reported at `:1:1`), in transactional and
/// no-transaction files alike.
#[tokio::test]
async fn a_failure_is_located_at_its_statement_not_at_the_comments_above() {
    let header = "-- What this migration does.\n--\n-- Why.\n\n";
    // "already exists" comes without a position: the location is the statement's own
    for (file, body, at) in [
        (
            "0001_a.up.sql",
            format!("{header}CREATE TABLE dup (a int);\n\n-- again\nCREATE TABLE dup (a int);\n"),
            ":8:1: ",
        ),
        (
            "0001_a.up.sql",
            format!("-- migrate:no-transaction\n{header}CREATE TABLE dup (a int);\n-- again\nCREATE TABLE dup (a int);\n"),
            ":8:1: ",
        ),
    ] {
        let set = TempSet::new("located", &[(file, &body), ("0001_a.down.sql", "SELECT 1;")]);
        let db = TestDb::new().await;
        let out = up_with(&db, &set, "located");
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("located/0001_a.up.sql{at}")),
            "{}",
            out.stderr
        );
    }
}

/// A history table retyped by hand made `status` panic (exit 101); its shape is checked, with
/// one clear line and exit 1.
#[tokio::test]
async fn a_history_table_changed_by_hand_is_named_not_a_panic() {
    let (db, mut c) = migrated("aethercrown98").await;
    sqlx::raw_sql("ALTER TABLE migrate.history ALTER COLUMN version TYPE integer")
        .execute(&mut c)
        .await
        .unwrap();
    for verb in ["status", "up", "verify"] {
        let out = run(db
            .migrate()
            .args(["--set", "aethercrown98", verb])
            .env("RUST_BACKTRACE", "1"));
        assert_eq!(out.code, 1, "{verb}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{verb}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("migrate.history is not the table this version writes"),
            "{verb}: {}",
            out.stderr
        );
    }
}

/// A file saved with a UTF-8 byte order mark reached the server as a syntax error at `:1:1`;
/// the mark is not SQL and is dropped when the file is read.
#[tokio::test]
async fn a_byte_order_mark_is_not_sent_to_the_server() {
    let set = TempSet::new(
        "bom",
        &[
            (
                "0001_a.up.sql",
                "\u{feff}CREATE TABLE from_windows (id int);\n",
            ),
            ("0001_a.down.sql", "\u{feff}DROP TABLE from_windows;\n"),
        ],
    );
    let db = TestDb::new().await;
    let out = up_with(&db, &set, "bom");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut conn = db.conn().await;
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'from_windows'"
        )
        .await,
        1
    );
}

/// A migration that calls pg_advisory_unlock_all() released the set's lock and was recorded
/// anyway; the lock is checked before recording. In a transaction the migration is rolled
/// back; without one (no-transaction) its statements stay, and it is not recorded either.
#[tokio::test]
async fn a_migration_that_releases_the_set_lock_is_not_recorded() {
    let unlocking = "CREATE TABLE unlocked (id int);\nSELECT pg_advisory_unlock_all();\n";
    for (up, says, table_left) in [
        (unlocking.to_string(), "rolled back", 0),
        (
            format!("-- migrate:no-transaction\n{unlocking}"),
            "not recorded as applied",
            1,
        ),
    ] {
        let set = TempSet::new(
            "unlocks",
            &[
                ("0001_a.up.sql", up.as_str()),
                ("0001_a.down.sql", "DROP TABLE unlocked;\n"),
            ],
        );
        let db = TestDb::new().await;
        let out = up_with(&db, &set, "unlocks");
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("released the lock of set `unlocks`") && out.stderr.contains(says),
            "{}",
            out.stderr
        );
        let mut c = db.conn().await;
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM pg_class WHERE relname = 'unlocked'"
            )
            .await,
            table_left,
            "{up}"
        );
        assert_eq!(
            scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
            0,
            "{up}"
        );
    }
}

/// `migrate --config <the set's config> --set NAME up` on `db`.
fn up_with(db: &TestDb, set: &TempSet, name: &str) -> Output {
    run(db
        .migrate()
        .arg("--config")
        .arg(&set.config)
        .args(["--set", name, "up"]))
}

/// `migrate` with `args`, in `dir`, without a DATABASE_URL of its own.
fn migrate_in(dir: &std::path::Path, args: &[&str]) -> Output {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .args(args))
}

#[tokio::test]
async fn new_creates_the_next_numbered_pair_and_refuses_names_that_would_not_do() {
    let set = TempSet::new(
        "s",
        &[
            ("0001_a.up.sql", "CREATE TABLE a ();"),
            ("0001_a.down.sql", "DROP TABLE a;"),
            ("0002_b.up.sql", "CREATE TABLE b ();"),
            ("0002_b.down.sql", "DROP TABLE b;"),
        ],
    );
    let dir = set.dir.join("s");
    let out = migrate_in(&set.dir, &["new", "s", "add_users"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("0003_add_users.up.sql"),
        "{}",
        out.stdout
    );
    let up = std::fs::read_to_string(dir.join("0003_add_users.up.sql")).unwrap();
    let down = std::fs::read_to_string(dir.join("0003_add_users.down.sql")).unwrap();
    assert!(up.starts_with("-- 0003_add_users: add users."), "{up}");
    assert!(down.starts_with("-- 0003_add_users: undoes"), "{down}");
    // The next one is numbered after it, even before it holds SQL.
    let out = migrate_in(
        &set.dir,
        &[
            "--json",
            "new",
            "s",
            "index_users",
            "--no-transaction",
            "--irreversible",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["migration"], 4);
    assert_eq!(doc["version"], 1, "the format version");
    let up = std::fs::read_to_string(dir.join("0004_index_users.up.sql")).unwrap();
    let down = std::fs::read_to_string(dir.join("0004_index_users.down.sql")).unwrap();
    assert!(up.starts_with("-- migrate:no-transaction\n"), "{up}");
    assert!(down.starts_with("-- migrate:irreversible\n"), "{down}");
    // Unfinished files keep the set from loading, with the file named.
    let out = migrate_in(
        &set.dir,
        &["status", "--database-url", "postgres://x@127.0.0.1:1/x"],
    );
    assert_refused(
        &out,
        2,
        "s/0003_add_users.up.sql: contains no SQL statement",
    );
    // Written, they apply.
    std::fs::write(
        dir.join("0003_add_users.up.sql"),
        format!(
            "{}CREATE TABLE users ();\n",
            std::fs::read_to_string(dir.join("0003_add_users.up.sql")).unwrap()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("0003_add_users.down.sql"), "DROP TABLE users;\n").unwrap();
    std::fs::write(
        dir.join("0004_index_users.up.sql"),
        "-- migrate:no-transaction\nSELECT 1;\n",
    )
    .unwrap();
    let db = TestDb::new().await;
    let out = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        4
    );
    let long = "a".repeat(101);
    for (args, says) in [
        (
            vec!["new", "s", "Add Users"],
            "migration name \"Add Users\" must be lowercase",
        ),
        (
            vec!["new", "s", "add__users"],
            "must be lowercase letters and digits in words joined by single underscores",
        ),
        (vec!["new", "s", "../evil"], "migration name \"../evil\""),
        (vec!["new", "s", "a/b"], "migration name \"a/b\""),
        (vec!["new", "s", ""], "migration name \"\""),
        (vec!["new", "nope", "x"], "unknown set `nope`"),
        (
            vec!["new", "s", "0005_add_roles"],
            "starts with a number; migrate numbers the files itself: run `migrate new s add_roles`",
        ),
        (
            vec!["new", "s", "20240101_add_roles"],
            "run `migrate new s add_roles`",
        ),
        (
            vec!["new", "s", &long],
            "migration name is 101 characters long",
        ),
    ] {
        let out = migrate_in(&set.dir, &args);
        assert_refused(&out, 2, says);
    }
    // A taken name is a refusal on the set's state (1), not a malformed command (2).
    let out = migrate_in(&set.dir, &["new", "s", "add_users"]);
    assert_refused(&out, 1, "already has a migration named add_users");
    // A set whose files are embedded in the binary has no directory to write to.
    let empty = std::env::temp_dir().join(unique_name("migrate-new-empty"));
    std::fs::create_dir_all(&empty).unwrap();
    let out = migrate_in(&empty, &["new", "witchcraft", "x"]);
    assert_refused(&out, 2, "set `witchcraft` has no directory on disk");
    std::fs::remove_dir_all(&empty).ok();
    let refused: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with("0005"))
        .collect();
    assert!(refused.is_empty(), "a refused name left files: {refused:?}");
}

#[tokio::test]
async fn status_exit_code_fails_while_migrations_are_pending() {
    let db = TestDb::new().await;
    let out = run(db
        .migrate()
        .args(["--set", "witchcraft", "status", "--exit-code"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("13 pending"), "{}", out.stdout);
    let out = run(db.migrate().args(["--set", "witchcraft", "status"]));
    assert_eq!(out.code, 0);
    assert_eq!(
        run(db.migrate().args(["--set", "witchcraft", "up"])).code,
        0
    );
    let out = run(db
        .migrate()
        .args(["--set", "witchcraft", "status", "--exit-code"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `migrate --set witchcraft status` in `dir` with `DATABASE_URL` set to `url`.
fn with_env_url(dir: &std::path::Path, url: &str) -> Output {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .stdin(Stdio::null())
        .args(["--set", "witchcraft", "status"]))
}

#[tokio::test]
async fn a_dotenv_file_gives_the_database_url_unless_the_environment_or_the_flag_does() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(unique_name("migrate-dotenv"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!(
            "# local settings\nOTHER=1\nexport DATABASE_URL=\"{}\"\n",
            db.url
        ),
    )
    .unwrap();
    let out = migrate_in(&dir, &["--set", "witchcraft", "status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("witchcraft (schema public"),
        "{}",
        out.stdout
    );
    // The flag wins over the file.
    let out = migrate_in(
        &dir,
        &[
            "--set",
            "witchcraft",
            "status",
            "--database-url",
            "postgres://x@127.0.0.1:1/x",
        ],
    );
    assert_refused(&out, 3, "127.0.0.1:1");
    // So does the environment.
    let out = with_env_url(&dir, "postgres://x@127.0.0.1:1/x");
    assert_refused(&out, 3, "127.0.0.1:1");
    // A comment after the value, as dotenv writes it.
    std::fs::write(
        dir.join(".env"),
        format!("DATABASE_URL='{}'   # the laptop's database\n", db.url),
    )
    .unwrap();
    let out = migrate_in(&dir, &["--set", "witchcraft", "status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A line that gives no usable URL is named, with its line, before anything connects;
    // a verb that needs no database does not mind it.
    for (text, says) in [
        (
            "OTHER=1\nDATABASE_URL=\n",
            "no database given: ./.env line 2 sets DATABASE_URL to nothing",
        ),
        (
            "DATABASE_URL=\"postgres://x@h/d\n",
            "./.env line 1: DATABASE_URL opens a \" quote and never closes it",
        ),
        (
            "DATABASE_URL=mysql://root:hunter2@h/d\n",
            "DATABASE_URL of ./.env line 1 is not a valid database URL: it starts with mysql://, not postgres:// or postgresql://",
        ),
    ] {
        std::fs::write(dir.join(".env"), text).unwrap();
        let out = migrate_in(&dir, &["--set", "witchcraft", "status"]);
        assert_refused(&out, 2, says);
        assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
        let out = migrate_in(&dir, &["completions", "bash"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    // An empty variable in the environment is named as such.
    let out = with_env_url(&dir, "");
    assert_refused(&out, 2, "the database URL is empty");
    std::fs::remove_dir_all(&dir).ok();
}
