//! Regression tests for promises the README makes, each named after the defect that once
//! broke it: scratch databases that could be the real one, a `verify` that wrote to the
//! server, passwords in output, pipes and JSON documents.

use crate::harness::*;
use migrate::run::Run;
use std::io::Read;
use std::process::Stdio;

/// A database with AetherCrown98 applied and rows in `users`: what must survive.
async fn production() -> (TestDb, sqlx::PgConnection) {
    let (db, mut c) = migrated("aethercrown98").await;
    sqlx::raw_sql("INSERT INTO users (email) VALUES ('a@x'), ('b@x'), ('c@x')")
        .execute(&mut c)
        .await
        .unwrap();
    (db, c)
}

async fn rows_and_history(c: &mut sqlx::PgConnection) -> (i64, i64) {
    (
        scalar_i64(c, "SELECT count(*) FROM users").await,
        scalar_i64(c, "SELECT count(*) FROM migrate.history").await,
    )
}

/// sqlx reads `?dbname=` after the path, so a scratch URL made by swapping the path once
/// pointed the rollback proof at the real database and emptied it.
#[tokio::test]
async fn scratch_database_ignores_dbname_in_url() {
    let (prod, mut c) = production().await;
    let admin = url::Url::parse(&admin_url()).unwrap();
    let sneaky = format!(
        "{}://{}@{}:{}/postgres?dbname={}",
        admin.scheme(),
        admin.username(),
        admin.host_str().unwrap(),
        admin.port().unwrap(),
        prod.name
    );
    let out = run(prod.migrate().args([
        "verify",
        "--roundtrip",
        "--set",
        "aethercrown98",
        "--scratch-url",
        &sneaky,
    ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(rows_and_history(&mut c).await, (3, 9));
    // snapshot --check builds on a scratch database too
    let out = run(prod
        .migrate()
        .args(["snapshot", "--check", "--scratch-url", &sneaky]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(rows_and_history(&mut c).await, (3, 9));
    // and --database-url (with the same trap) is never used for scratch work
    let out = run(prod.migrate().env("DATABASE_URL", &sneaky).args([
        "verify",
        "--roundtrip",
        "--set",
        "aethercrown98",
    ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(rows_and_history(&mut c).await, (3, 9));
}

/// Scratch names were `migrate_<purpose>_<pid>`: two runs in two containers (same pid) on one
/// server shared one, and one run's `DROP DATABASE ... WITH (FORCE)` killed the other's work.
#[tokio::test]
async fn scratch_databases_of_concurrent_runs_never_collide() {
    let ours = Run::default();
    let server =
        migrate::verify::scratch::ScratchServer::start(&ours, Some(&admin_url()), None).unwrap();
    let (tx_a, rx_a) = tokio::sync::oneshot::channel::<()>();
    let name_of = async |c: &mut sqlx::PgConnection| -> Result<String, migrate::verify::scratch::ScratchError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT current_database()::text")
            .fetch_one(c)
            .await
            .unwrap())
    };
    let first = server.with_database("roundtrip", async |c: &mut sqlx::PgConnection| {
        let name = name_of(c).await?;
        // hold this database until the second run has created, used and dropped its own
        let _ = rx_a.await;
        // still alive: the other run's drop did not touch it
        let again = name_of(c).await?;
        assert_eq!(name, again);
        Ok::<_, migrate::verify::scratch::ScratchError>(name)
    });
    let second = async {
        let name = server
            .with_database("roundtrip", async |c: &mut sqlx::PgConnection| {
                name_of(c).await
            })
            .await;
        tx_a.send(()).unwrap();
        name
    };
    let (a, b) = tokio::join!(first, second);
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a, b);
    assert!(a.starts_with("migrate_scratch_roundtrip_"), "{a}");
    let mut admin = sqlx::Connection::connect(&admin_url()).await.unwrap();
    let left = scalar_i64(
        &mut admin,
        &format!("SELECT count(*) FROM pg_database WHERE datname IN ('{a}', '{b}')"),
    )
    .await;
    assert_eq!(left, 0, "both scratch databases are dropped");
}

/// `verify` on a database that is behind once created `migrate_verify_<pid>` on the target's
/// server and migrated it (needing CREATEDB and creating roles). It must only read.
#[tokio::test]
async fn verify_writes_nothing_to_the_server() {
    let ours = Run::default();
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    migrate::engine::up(&mut c, &embedded_set("witchcraft"), Some(4), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text")
        .execute(&mut c)
        .await
        .unwrap();
    // A role that may create nothing, in read-only transactions: any write fails the run.
    let role = format!("reader_{}", db.name);
    sqlx::raw_sql(&format!(
        "CREATE ROLE \"{role}\" LOGIN NOCREATEDB NOCREATEROLE;
         GRANT USAGE ON SCHEMA migrate TO \"{role}\"; GRANT SELECT ON migrate.history TO \"{role}\";"
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let catalog_before = migrate::catalog::render(
        &migrate::catalog::introspect(&ours, &mut c, "public")
            .await
            .unwrap()
            .catalog,
    );
    let mut u = url::Url::parse(&db.url).unwrap();
    u.set_username(&role).unwrap();
    let read_only = format!(
        "{}{}options=-c%20default_transaction_read_only%3Don",
        u,
        if u.query().is_some() { "&" } else { "?" }
    );
    let out = run(db.migrate().env("DATABASE_URL", &read_only).arg("verify"));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("PASS  checksums"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("unexpected column users.nickname"),
        "{}",
        out.stdout
    );
    // attribution comes from the embedded per-version catalogs
    assert!(
        out.stdout
            .contains("FAIL  catalog              differs from the expected catalog"),
        "{}",
        out.stdout
    );
    let catalog_after = migrate::catalog::render(
        &migrate::catalog::introspect(&ours, &mut c, "public")
            .await
            .unwrap()
            .catalog,
    );
    assert_eq!(catalog_after, catalog_before);
    sqlx::raw_sql(&format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""))
        .execute(&mut c)
        .await
        .unwrap();
}

/// `redact.rs` once ended the authority at the first `/` or `?`, so these passwords were
/// printed in "invalid URL" errors; key=value passwords were cut at the first space.
#[tokio::test]
async fn passwords_never_reach_output() {
    let db = TestDb::new().await;
    let good = with_password(&db.url, "Sup3r-Secret-Pw");
    let host = url::Url::parse(&db.url).unwrap();
    let port = host.port().unwrap();
    let bad_urls = [
        format!("postgres://app:pa/ss-Word9@127.0.0.1:{port}/x"),
        format!("postgres://app:pa?ss-Word9@127.0.0.1:{port}/x"),
        "postgres://app:Sup3r-Secret-Pw@127.0.0.1:notaport/x".to_string(),
        format!("host=127.0.0.1 port={port} password='my secret kv' dbname=nowhere_at_all"),
        format!("postgres://app@127.0.0.1:{port}/nowhere_at_all?password=Sup3r-Secret-Pw"),
    ];
    for verb in [
        vec!["status"],
        vec!["up", "--set", "aethercrown98"],
        vec!["verify"],
        vec!["diff"],
    ] {
        for url in &bad_urls {
            for json in [false, true] {
                let mut cmd = db.migrate();
                cmd.env("DATABASE_URL", url).args(&verb);
                if json {
                    cmd.arg("--json");
                }
                // run() fails the test if a password shows
                let out = run(&mut cmd);
                assert_ne!(out.code, 0, "{verb:?} {url}");
            }
        }
        // a working URL with a password, and --against with one
        let out = run(db
            .migrate()
            .env("DATABASE_URL", &good)
            .args(&verb)
            .arg("--json"));
        assert!(out.code <= 2, "{verb:?}: {}", out.stderr);
    }
    let out = run(db.migrate().env("DATABASE_URL", &good).args([
        "diff",
        "--set",
        "aethercrown98",
        "--against",
        &good,
        "--json",
    ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(":***@"), "{}", out.stdout);
    // PGPASSWORD is a password too
    let out = run(db
        .migrate()
        .env("PGPASSWORD", "Sup3r-Secret-Pw")
        .env(
            "DATABASE_URL",
            format!("postgres://app:Sup3r-Secret-Pw@127.0.0.1:{port}/nowhere_at_all"),
        )
        .arg("status"));
    assert_eq!(out.code, 3, "{}", out.stderr);
}

/// A URL that did not parse was echoed whole in the error (`postgres:/app:S3CRET@...`,
/// `postgres//app:S3CRET@...`, `::S3CRETpw::`), in text and JSON, by every verb: no part of
/// an unparsable URL is shown, and the error names the flag or variable that held it.
#[tokio::test]
async fn an_unparsable_url_is_never_echoed() {
    let db = TestDb::new().await;
    let bad = [
        "postgres:/app:S3CRET@127.0.0.1:1/x",
        "postgres//app:S3CRET@127.0.0.1:1/x",
        "::S3CRETpw::",
        "postgresql://app:S3CRET@[::1/x",
    ];
    for verb in [
        vec!["status"],
        vec!["up"],
        vec!["down", "--yes"],
        vec!["verify"],
        vec!["diff"],
        vec!["adopt", "--from", "sqlx"],
    ] {
        for url in bad {
            for json in [false, true] {
                for (held_by, flag) in [("--database-url", true), ("DATABASE_URL", false)] {
                    let mut cmd = db.migrate();
                    cmd.env_remove("DATABASE_URL")
                        .args(["--set", "witchcraft"])
                        .args(&verb);
                    if flag {
                        cmd.args(["--database-url", url]);
                    } else {
                        cmd.env("DATABASE_URL", url);
                    }
                    if json {
                        cmd.arg("--json");
                    }
                    let out = run(&mut cmd);
                    let all = format!("{}{}", out.stdout, out.stderr);
                    assert_eq!(out.code, 2, "{verb:?} {url}: {all}");
                    assert!(!all.contains("S3CRET"), "{verb:?} {url}: {all}");
                    assert!(
                        all.contains(&format!("{held_by} is not a valid database URL")),
                        "{verb:?} {url}: {all}"
                    );
                }
            }
        }
    }
    // the other flags that take a URL say so too
    for (args, says) in [
        (
            vec!["diff", "--against", bad[0]],
            "--against is not a valid database URL",
        ),
        (
            vec!["verify", "--roundtrip", "--scratch-url", bad[1]],
            "--scratch-url is not a valid database URL",
        ),
    ] {
        let out = run(db.migrate().args(["--set", "witchcraft"]).args(args));
        assert_refused(&out, 2, says);
        assert!(!out.stderr.contains("S3CRET"), "{}", out.stderr);
    }
}

/// An unreachable `--against` database was reported with "check --database-url".
#[tokio::test]
async fn an_unreachable_against_database_names_against() {
    let db = TestDb::new().await;
    let port = free_port();
    let out = run(db.migrate().args([
        "diff",
        "--against",
        &format!("postgres://app:S3CRETpw@127.0.0.1:{port}/x"),
    ]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("check --against"), "{}", out.stderr);
    assert!(!out.stderr.contains("S3CRET"), "{}", out.stderr);
}

/// `migrate up --dry-run | head -1` panicked on the broken pipe.
#[tokio::test]
async fn broken_pipe_is_success() {
    let db = TestDb::new().await;
    let mut child = db
        .migrate()
        .args(["up", "--dry-run", "--set", "witchcraft"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the reader goes away before migrate writes anything
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Parses standard output as exactly one JSON document.
fn one_document(out: &Output, what: &str) -> serde_json::Value {
    let mut docs = serde_json::Deserializer::from_str(&out.stdout).into_iter::<serde_json::Value>();
    let first = docs
        .next()
        .unwrap_or_else(|| panic!("{what}: no JSON document: {}{}", out.stdout, out.stderr))
        .unwrap_or_else(|e| panic!("{what}: {e}: {}", out.stdout));
    assert!(
        docs.next().is_none(),
        "{what}: more than one document:\n{}",
        out.stdout
    );
    first
}

/// `snapshot --check --json` printed two documents, clap's usage errors ignored `--json`, and
/// errors of some verbs printed text: under `--json` every run prints one document.
#[tokio::test]
async fn every_verb_prints_one_json_document() {
    let (db, _c) = migrated("aethercrown98").await;
    let stale = TempSet::new(
        "aethercrown98",
        &[
            ("0001_t.up.sql", "CREATE TABLE t (id int);"),
            ("0001_t.down.sql", "DROP TABLE t;"),
            ("expected_catalog.txt", "table stale\n  table\n"),
        ],
    );
    let admin = admin_url();
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("status", vec!["status"], 0),
        ("up", vec!["up", "--set", "aethercrown98"], 0),
        (
            "up --dry-run",
            vec!["up", "--dry-run", "--set", "aethercrown98"],
            0,
        ),
        (
            "down --dry-run",
            vec!["down", "--dry-run", "--set", "aethercrown98"],
            0,
        ),
        (
            "down without --yes",
            vec!["down", "--set", "aethercrown98"],
            1,
        ),
        ("diff", vec!["diff"], 0),
        ("verify", vec!["verify"], 0),
        (
            "verify --roundtrip",
            vec![
                "verify",
                "--roundtrip",
                "--set",
                "aethercrown98",
                "--scratch-url",
                &admin,
            ],
            0,
        ),
        (
            "snapshot --check",
            vec!["snapshot", "--check", "--scratch-url", &admin],
            0,
        ),
        (
            "snapshot --check, stale",
            vec!["snapshot", "--check", "--scratch-url", &admin, "--config"],
            1,
        ),
        ("unknown set", vec!["status", "--set", "nope"], 2),
        ("usage error", vec!["up", "--no-such-flag"], 2),
        ("bad --to", vec!["up", "--to", "many"], 2),
        (
            "verify --scratch-url without --roundtrip",
            vec!["verify", "--scratch-url", &admin],
            2,
        ),
    ];
    for (what, mut args, code) in cases {
        let stale_config = stale.config.display().to_string();
        if args.last() == Some(&"--config") {
            args.push(&stale_config);
        }
        let out = run(db.migrate().args(&args).arg("--json"));
        assert_eq!(out.code, code, "{what}: {}{}", out.stdout, out.stderr);
        let doc = one_document(&out, what);
        if code == 0 {
            assert!(doc.get("command").is_some(), "{what}: {doc}");
        } else if doc.get("error").is_some() {
            assert_eq!(doc["exit_code"], code, "{what}: {doc}");
            assert!(
                !doc["error"].as_str().unwrap().contains('\n'),
                "{what}: {doc}"
            );
        } else {
            assert_eq!(doc["ok"], false, "{what}: {doc}");
        }
    }
    // an unreachable database, and the sandbox verb's error path
    let out = run(db
        .migrate()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/x")
        .args(["status", "--json"]));
    assert_eq!(out.code, 3);
    one_document(&out, "unreachable");
    let out = run(db
        .migrate()
        .env("MIGRATE_PG_BINDIR", "/nonexistent")
        .args(["sandbox", "--json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    one_document(&out, "sandbox without binaries");
}

/// sqlx logs INFO at TRACE, below the NOTICE this binary printed, so `RAISE INFO` was lost.
#[tokio::test]
async fn raise_info_reaches_the_operator() {
    let db = TestDb::new().await;
    let set = TempSet::new(
        "talks",
        &[
            (
                "0001_talk.up.sql",
                "DO $$ BEGIN RAISE INFO 'info from the migration'; RAISE NOTICE 'notice from the migration'; RAISE WARNING 'warning from the migration'; END $$;",
            ),
            ("0001_talk.down.sql", "SELECT 1;"),
        ],
    );
    let out = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "info: info from the migration",
        "notice: notice from the migration",
        "warning: warning from the migration",
    ] {
        assert!(out.stderr.contains(line), "{line}: {}", out.stderr);
    }
}

/// `EngineError` kept the driver error as text, and tests grepped messages for "55P03".
#[tokio::test]
async fn engine_errors_keep_their_cause_and_sqlstate() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = TempSet::new(
        "broken",
        &[
            (
                "0001_bad.up.sql",
                "CREATE TABLE t (id int);\nSELECT nope FROM t;",
            ),
            ("0001_bad.down.sql", "DROP TABLE t;"),
        ],
    );
    let err = migrate::engine::up(&mut c, &set.set(), None, "5s", &quiet)
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("42703"));
    assert!(std::error::Error::source(&err).is_some());
    // the binary quotes the driver's message once, with its SQLSTATE
    let missing = database_url(&db.url, "no_such_database_here");
    let out = run(db.migrate().env("DATABASE_URL", &missing).arg("status"));
    assert_refused(
        &out,
        3,
        "database \"no_such_database_here\" does not exist [SQLSTATE 3D000]",
    );
    assert!(
        !out.stderr.contains("error returned from database"),
        "{}",
        out.stderr
    );
    let driver = err.driver_error().expect("the driver error is kept");
    assert!(driver.as_database_error().is_some(), "{driver:?}");
}

/// The data-at-risk preview of rolling all of `set` back.
async fn at_risk(c: &mut sqlx::PgConnection, set: &migrate::config::MigrationSet) -> Vec<String> {
    let (_, risks) = migrate::engine::rollback_preview(c, set, migrate::engine::DownTarget::To(0))
        .await
        .unwrap();
    risks.iter().map(|r| r.to_string()).collect()
}

/// `risk.rs` stepped one byte over multi-byte text: a down file with `'café'` made `down`
/// and `down --dry-run` exit 101.
#[tokio::test]
async fn data_at_risk_survives_multibyte_text() {
    let db = TestDb::new().await;
    let set = TempSet::new(
        "cafe",
        &[
            (
                "0001_t.up.sql",
                "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (2);",
            ),
            (
                "0001_t.down.sql",
                "COMMENT ON TABLE t IS 'café ☕';\nDROP TABLE \"t\";",
            ),
        ],
    );
    let up = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let dry = run(db
        .migrate()
        .arg("--config")
        .arg(&set.config)
        .args(["down", "--dry-run"]));
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("-- deletes data: table t (2 rows, by 0001)"),
        "{}",
        dry.stdout
    );
    let down = run(db.migrate().arg("--config").arg(&set.config).arg("down"));
    assert_refused(&down, 1, "table t (2 rows, by 0001)");
}

/// CASCADE, materialized views, types and DO blocks were invisible to the old check; what a
/// cascade reaches is read from pg_depend.
#[tokio::test]
async fn data_at_risk_follows_cascades_views_types_and_do_blocks() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = TempSet::new(
        "reach",
        &[
            (
                "0001_all.up.sql",
                "CREATE SCHEMA app;
                 CREATE TABLE app.kept (id int); INSERT INTO app.kept VALUES (1), (2), (3);
                 CREATE TABLE app.empty (id int);
                 CREATE TYPE mood AS ENUM ('ok', 'sad');
                 CREATE TABLE diary (id int, m mood); INSERT INTO diary VALUES (1, 'ok'), (2, NULL);
                 CREATE TABLE parent (id int PRIMARY KEY); INSERT INTO parent VALUES (1);
                 CREATE TABLE child (pid int REFERENCES parent); INSERT INTO child VALUES (1), (1);
                 CREATE MATERIALIZED VIEW stats AS SELECT count(*) AS n FROM diary;
                 CREATE TABLE by_do (id int); INSERT INTO by_do VALUES (7);",
            ),
            (
                "0001_all.down.sql",
                "DO $$ BEGIN EXECUTE 'DROP TABLE by_do'; END $$;
                 TRUNCATE parent RESTART IDENTITY CASCADE;
                 DROP MATERIALIZED VIEW stats;
                 DROP TYPE mood CASCADE;
                 DROP SCHEMA app CASCADE;
                 DROP TABLE child, parent;",
            ),
        ],
    );
    let set = set.set();
    migrate::engine::up(&mut c, &set, None, "5s", &quiet)
        .await
        .unwrap();
    let mut risks = at_risk(&mut c, &set).await;
    risks.sort();
    assert_eq!(
        risks,
        [
            "column diary.m (1 rows, CASCADE from type mood, by 0001)",
            "materialized view stats (1 rows, by 0001)",
            "table app.kept (3 rows, CASCADE from schema app, by 0001)",
            "table by_do (1 rows, by 0001)",
            "table child (2 rows, by 0001)",
            "table parent (1 rows, by 0001)",
        ]
    );
}

/// A failed count was swallowed and the table dropped from the list: "no data" when the
/// check could not see. It is "rows unknown" now, and listed like data.
#[tokio::test]
async fn data_at_risk_a_count_that_fails_is_unknown_not_empty() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let role = format!("risk_owner_{}", db.name);
    migrate::engine::history::ensure(&mut c).await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE ROLE \"{role}\"; GRANT CREATE ON SCHEMA public TO \"{role}\";
         GRANT USAGE ON SCHEMA migrate TO \"{role}\"; GRANT ALL ON migrate.history TO \"{role}\";"
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let set = TempSet::new(
        "hidden",
        &[
            (
                "0001_t.up.sql",
                "CREATE TABLE secret (id int); INSERT INTO secret VALUES (1);
                 REVOKE SELECT ON secret FROM CURRENT_USER;",
            ),
            ("0001_t.down.sql", "DROP TABLE secret;"),
        ],
    );
    let set = set.set();
    sqlx::raw_sql(&format!("SET ROLE \"{role}\""))
        .execute(&mut c)
        .await
        .unwrap();
    migrate::engine::up(&mut c, &set, None, "5s", &quiet)
        .await
        .unwrap();
    let risks = at_risk(&mut c, &set).await;
    assert_eq!(risks.len(), 1, "{risks:?}");
    assert!(
        risks[0].starts_with("table secret (rows unknown: permission denied for table secret"),
        "{risks:?}"
    );
    let err = migrate::engine::down(
        &mut c,
        &set,
        migrate::engine::DownTarget::To(0),
        "5s",
        &mut |plan| {
            assert_eq!(plan.data_at_risk.len(), 1);
            Err(migrate::engine::EngineError::Cancelled)
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, migrate::engine::EngineError::Cancelled));
    sqlx::raw_sql("RESET ROLE").execute(&mut c).await.unwrap();
    sqlx::raw_sql(&format!(
        "DROP TABLE secret; DROP SCHEMA migrate CASCADE; REVOKE CREATE ON SCHEMA public FROM \"{role}\"; DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""
    ))
    .execute(&mut c)
    .await
    .unwrap();
}

/// The exact count had no time bound. A table it cannot count in time (here: locked by
/// another session) gets the planner's estimate, marked as such.
#[tokio::test]
async fn data_at_risk_falls_back_to_the_planner_estimate() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = TempSet::new(
        "big",
        &[
            (
                "0001_t.up.sql",
                "CREATE TABLE big (id int); INSERT INTO big SELECT generate_series(1, 5000);",
            ),
            ("0001_t.down.sql", "DROP TABLE big;"),
        ],
    );
    let set = set.set();
    migrate::engine::up(&mut c, &set, None, "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("ANALYZE big").execute(&mut c).await.unwrap();
    let mut locker = db.conn().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let risks = at_risk(&mut c, &set).await;
    assert_eq!(
        risks,
        ["table big (about 5000 rows, planner estimate: counting took over 2s, by 0001)"]
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
}

/// A `COMMIT;` in a file committed half a migration, and the error then said "rolled back";
/// a `ROLLBACK;` discarded the first half while the history row was still written. Both are
/// refused when the file is loaded, before anything runs.
#[tokio::test]
async fn transaction_control_in_a_migration_is_refused_before_anything_runs() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    for (statement, line) in [
        ("COMMIT", 2),
        ("ROLLBACK", 2),
        ("BEGIN", 2),
        ("SAVEPOINT s", 2),
    ] {
        let set = TempSet::new(
            "tx",
            &[
                (
                    "0001_half.up.sql",
                    &format!("CREATE TABLE first_half (id int);\n{statement};\nCREATE TABLE second_half (id int);"),
                ),
                ("0001_half.down.sql", "DROP TABLE second_half, first_half;"),
            ],
        );
        let out = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
        assert_eq!(out.code, 2, "{statement}: {}", out.stderr);
        let first_word = statement.split(' ').next().unwrap();
        assert!(
            out.stderr.contains(&format!(
                "tx/0001_half.up.sql:{line}: `{first_word}` controls the transaction"
            )),
            "{statement}: {}",
            out.stderr
        );
        assert_eq!(
            strings(&mut c, "SELECT relname::text FROM pg_class WHERE relname IN ('first_half', 'second_half', 'history')").await,
            Vec::<String>::new()
        );
    }
}

/// When the answer to COMMIT is lost, nobody knows whether the server committed. The error
/// once said "the transaction did not commit; the history is unchanged", which was false
/// here: the server had committed. It says the outcome is unknown and how to find out.
#[tokio::test]
async fn a_lost_commit_acknowledgement_says_the_outcome_is_unknown() {
    let ours = Run::default();
    let db = TestDb::new().await;
    let mut direct = db.conn().await;
    migrate::engine::history::ensure(&mut direct).await.unwrap();
    let proxy = crate::proxy::Proxy::start(&db.url);
    let set = TempSet::new(
        "acked",
        &[
            ("0001_t.up.sql", "CREATE TABLE acked (id int);"),
            ("0001_t.down.sql", "DROP TABLE acked;"),
        ],
    );
    let set = set.set();
    let mut c = migrate::engine::connect(&ours, &proxy.url(&db.url))
        .await
        .unwrap();
    proxy
        .counters
        .cut_after_commit
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = migrate::engine::up(&mut c, &set, None, "5s", &quiet)
        .await
        .unwrap_err();
    let cuts = proxy
        .counters
        .cuts
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(cuts, 1, "{err}");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            migrate::engine::EngineError::MigrationFailed {
                outcome: migrate::engine::error::Outcome::CommitUnknown,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("the outcome is unknown"), "{msg}");
    assert!(msg.contains("run `migrate status`"), "{msg}");
    assert!(!msg.contains("did not commit"), "{msg}");
    // here the server did commit, and status (through the history) says so
    let status = run(db
        .migrate()
        .arg("--config")
        .arg(set_config_of(&set))
        .arg("status"));
    assert!(
        status.stdout.contains("0001 t  applied"),
        "{}",
        status.stdout
    );
    assert_eq!(
        scalar_i64(
            &mut direct,
            "SELECT count(*) FROM pg_class WHERE relname = 'acked'"
        )
        .await,
        1
    );
}

/// The configuration file of a set loaded from a [`TempSet`].
fn set_config_of(set: &migrate::config::MigrationSet) -> std::path::PathBuf {
    std::path::Path::new(&set.source)
        .parent()
        .unwrap()
        .join("migrations.toml")
}

/// `introspection_costs_the_same_queries_for_any_size` counted the entries of a constant
/// array. These count the statements the server receives, through a proxy, at two sizes.
#[tokio::test]
async fn introspection_sends_the_same_statements_for_any_size() {
    let ours = Run::default();
    let db = TestDb::new().await;
    let proxy = crate::proxy::Proxy::start(&db.url);
    let mut c = migrate::engine::connect(&ours, &proxy.url(&db.url))
        .await
        .unwrap();
    let counted = async |c: &mut sqlx::PgConnection| {
        let before = proxy.counters.statements();
        let found = migrate::catalog::introspect(&ours, c, "public")
            .await
            .unwrap();
        (
            proxy.counters.statements() - before,
            found.catalog.objects.len(),
        )
    };
    let (empty_statements, empty_objects) = counted(&mut c).await;
    let mut direct = db.conn().await;
    let mut ac = embedded_set("aethercrown98");
    ac.schema = "ac".into();
    migrate::engine::up(&mut direct, &ac, None, "5s", &quiet)
        .await
        .unwrap();
    let mut wc = embedded_set("witchcraft");
    wc.schema = "wc".into();
    migrate::engine::up(&mut direct, &wc, None, "5s", &quiet)
        .await
        .unwrap();
    let tables: String = (0..200)
        .map(|i| format!("CREATE TABLE extra_{i} (id int PRIMARY KEY, v text);"))
        .collect();
    sqlx::raw_sql(&tables).execute(&mut direct).await.unwrap();
    let (full_statements, full_objects) = counted(&mut c).await;
    // an empty database holds only the `public` schema and its grants
    assert_eq!(empty_objects, 2);
    assert!(full_objects > 1000, "{full_objects}");
    assert_eq!(full_statements, empty_statements);
    // one per object kind (18), plus the transaction, its settings and the owner's name
    assert!(full_statements <= 23, "{full_statements}");
}

/// Whether the server's parser reads `text` as exactly one statement: the extended protocol
/// refuses several ("cannot insert multiple commands into a prepared statement") and a
/// fragment fails as a syntax error, both SQLSTATE 42601. Anything else (success, or an
/// error of analysis such as an unknown table) means one whole statement.
async fn server_reads_one_statement(c: &mut sqlx::PgConnection, text: &str) -> Result<(), String> {
    use sqlx::Executor;
    match c.prepare(text).await {
        Err(e) if migrate::engine::error::sqlstate_of(&e) == Some("42601") => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// The splitter's cut, checked by the server's own grammar on every migration file in
/// `schema/` and the fixtures, and on generated statements full of constructs that hide a
/// `;` (the unit test checks the generator's statements split back into themselves).
#[tokio::test]
async fn the_server_agrees_with_every_statement_the_splitter_cuts() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let mut files: Vec<(String, String)> = migrate::sets::embedded::FILES
        .iter()
        .filter(|(p, _)| p.ends_with(".sql"))
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    for entry in std::fs::read_dir(crate_root().join("tests/fixtures")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                let f = f.unwrap().path();
                files.push((
                    f.display().to_string(),
                    std::fs::read_to_string(&f).unwrap(),
                ));
            }
        }
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, sql) in &files {
        for st in migrate::sets::split::split(sql).unwrap() {
            checked += 1;
            if let Err(e) = server_reads_one_statement(&mut c, st.text).await {
                failures.push(format!(
                    "{path}:{}: {e}",
                    migrate::sets::split::line_of(sql, st.offset)
                ));
            }
        }
    }
    let pieces = [
        "'a;b'",
        "E'it\\'s;'",
        "'it''s;'",
        "$$ x; y $$",
        "$fn$ a $$;$$ b $fn$",
        "\"we;ird\"",
        "(1)",
        "(SELECT ';')",
        "CASE WHEN true THEN ';' END",
        "U&'d;'",
        "ARRAY[1, 2]",
        "1 /* c; /* n; */ */ + 2",
        "-- c;\n 3",
        "B'1010'",
        "X'1F'",
        "'x' || 'y;'",
    ];
    let mut seed = 11u64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % n as u64) as usize
    };
    for _ in 0..150 {
        let statements: Vec<String> = (0..1 + next(4))
            .map(|_| {
                let items: Vec<&str> = (0..1 + next(5))
                    .map(|_| pieces[next(pieces.len())])
                    .collect();
                format!("SELECT {}", items.join(", "))
            })
            .collect();
        let src = statements.join(";\n") + ";";
        let got = migrate::sets::split::split(&src).unwrap();
        if got.len() != statements.len() {
            failures.push(format!(
                "{} statements, cut into {}: {src}",
                statements.len(),
                got.len()
            ));
        }
        for st in got {
            checked += 1;
            if let Err(e) = server_reads_one_statement(&mut c, st.text).await {
                failures.push(format!("generated: {e}: {}", st.text));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 700, "{checked}");
}

/// The container backend ran the module's default image, PostgreSQL 11, older than what the
/// harness (`STRATEGY FILE_COPY`) and the schemas (`WITH (FORCE)`, `tgparentid`) need.
#[tokio::test]
async fn the_test_servers_run_postgres_15_or_newer() {
    let major: i32 = CONTAINER_TAG
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(major * 10000 >= MIN_SERVER_VERSION_NUM, "{CONTAINER_TAG}");
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let version = scalar_i64(
        &mut c,
        "SELECT current_setting('server_version_num')::bigint",
    )
    .await;
    assert!(version >= MIN_SERVER_VERSION_NUM as i64, "{version}");
    let readme = std::fs::read_to_string(crate_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "PostgreSQL {} or newer",
            MIN_SERVER_VERSION_NUM / 10000
        )),
        "the README states the minimum version"
    );
}
