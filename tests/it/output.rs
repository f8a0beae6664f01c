//! What a run shows: every `--json` document and NDJSON event checked against the shapes the
//! README documents, the progress bar on a terminal (and its absence off one, under CI=true
//! and with -q), -v, completions, the man page, `--version`, and the one exit-code table,
//! verb by verb.

use crate::harness::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A set whose second migration builds an index for about three seconds, long enough for
/// the server to report its progress.
fn slow_index_set() -> TempSet {
    TempSet::new(
        "slow",
        &[
            (
                "0001_table.up.sql",
                "CREATE TABLE t (id bigint PRIMARY KEY, v int);\n\
                 INSERT INTO t SELECT g, g % 1000 FROM generate_series(1, 2400) g;\n\
                 CREATE FUNCTION slow(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE\n\
                   AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN x; END $$;\n",
            ),
            (
                "0001_table.down.sql",
                "DROP FUNCTION slow(int);\nDROP TABLE t;\n",
            ),
            (
                "0002_index.up.sql",
                "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_slow ON t (slow(v));\n",
            ),
            (
                "0002_index.down.sql",
                "-- migrate:no-transaction\nDROP INDEX CONCURRENTLY t_slow;\n",
            ),
        ],
    )
}

/// The names in backticks of a README cell, leaving out what nested brackets hold.
fn names(cell: &str) -> Vec<String> {
    let mut flat = String::new();
    let mut depth = 0;
    for ch in cell.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => flat.push(ch),
            _ => {}
        }
    }
    flat.split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| !n.contains(' '))
        .map(str::to_string)
        .collect()
}

/// The cells of a README table row.
fn cells(row: &str) -> Vec<String> {
    row.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_string())
        .collect()
}

/// The README's document table: verb -> (top-level fields, fields of each `sets` element).
fn documented_documents() -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let rows = readme_table("json documents");
    assert!(rows.len() > 10, "the README's document table: {rows:?}");
    rows[1..]
        .iter()
        .map(|row| {
            let c = cells(row);
            let verb = c[0].replace('`', "");
            let (top, each) = c[1].split_once("(each:").unwrap_or((&c[1], ""));
            (verb, (names(top), names(each)))
        })
        .collect()
}

fn assert_has(doc: &Value, fields: &[String], what: &str) {
    for f in fields {
        assert!(doc.get(f).is_some(), "{what}: no field `{f}` in {doc}");
    }
}

fn json_of(out: &Output, what: &str) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not one JSON document ({e}): {}", out.stdout))
}

/// Every verb's `--json` document has the fields the README lists for it, and `version` 1.
#[tokio::test]
async fn every_json_document_has_the_documented_shape_and_version() {
    let documented = documented_documents();
    let fresh = TestDb::new().await;
    let db = TestDb::new().await;
    let mut docs: Vec<(&str, Output)> = Vec::new();
    let wc = ["--set", "witchcraft", "--json"];
    docs.push((
        "up --dry-run",
        run(fresh.migrate().args(wc).args(["up", "--dry-run"])),
    ));
    docs.push(("up", run(db.migrate().args(wc).arg("up"))));
    docs.push(("status", run(db.migrate().args(wc).arg("status"))));
    docs.push(("diff", run(db.migrate().args(wc).arg("diff"))));
    docs.push(("verify", run(db.migrate().args(wc).arg("verify"))));
    docs.push(("maintain", run(db.migrate().args(wc).arg("maintain"))));
    docs.push((
        "down --dry-run",
        run(db.migrate().args(wc).args(["down", "--dry-run"])),
    ));
    docs.push(("down", run(db.migrate().args(wc).args(["down", "--yes"]))));
    let boot = TestDb::new().await;
    docs.push(("bootstrap", run(boot.migrate().args(wc).arg("bootstrap"))));
    // adopt: a database another tool migrated (its history table beside the set's)
    let adopted = TestDb::new().await;
    run(adopted.migrate().args(wc).arg("up"));
    sqlx::raw_sql("DROP SCHEMA migrate CASCADE; CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text)")
        .execute(&mut adopted.conn().await)
        .await
        .unwrap();
    docs.push((
        "adopt",
        run(adopted.migrate().args(wc).args(["adopt", "--from", "sqlx"])),
    ));
    let folder = std::env::temp_dir().join(unique_name("export"));
    docs.push((
        "export",
        run(db
            .migrate()
            .args(wc)
            .args(["export", "--supabase"])
            .arg(&folder)),
    ));
    let _ = std::fs::remove_dir_all(&folder);
    let set = TempSet::new(
        "s",
        &[
            ("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"),
            ("0001_a.down.sql", "DROP TABLE a;\n"),
        ],
    );
    let on_set = |db: &TestDb, args: &[&str]| {
        run(db
            .migrate()
            .arg("--config")
            .arg(&set.config)
            .arg("--json")
            .args(args))
    };
    docs.push((
        "new",
        on_set(&fresh, &["new", "s", "add_b", "--irreversible"]),
    ));
    std::fs::write(set.dir.join("s/0002_add_b.up.sql"), "CREATE TABLE b ();\n").unwrap();
    docs.push((
        "verify --roundtrip",
        on_set(&fresh, &["verify", "--roundtrip"]),
    ));
    // snapshot --check of a set that has no committed catalog yet: stale, and documented
    let snapshot = on_set(&fresh, &["snapshot", "--check"]);
    assert_eq!(snapshot.code, 1, "{}{}", snapshot.stdout, snapshot.stderr);
    docs.push(("snapshot", snapshot));
    docs.push(("sandbox", on_set(&fresh, &["sandbox"])));
    let targets = set.dir.join("targets.txt");
    std::fs::write(&targets, format!("{}\n", db.url)).unwrap();
    docs.push((
        "any verb with --targets",
        run(db
            .migrate()
            .args(wc)
            .arg("--targets")
            .arg(&targets)
            .arg("status")),
    ));

    let mut seen = Vec::new();
    for (verb, out) in &docs {
        if *verb != "snapshot" {
            assert_eq!(out.code, 0, "{verb}: {}{}", out.stdout, out.stderr);
        }
        let doc = json_of(out, verb);
        let (top, each) = documented
            .get(*verb)
            .unwrap_or_else(|| panic!("the README documents no document of `{verb}`"));
        assert_has(&doc, top, verb);
        assert_eq!(doc["version"], 1, "{verb}: {doc}");
        if !each.is_empty() {
            let sets = doc["sets"]
                .as_array()
                .unwrap_or_else(|| panic!("{verb}: {doc}"));
            assert!(!sets.is_empty(), "{verb}: {doc}");
            for s in sets {
                assert_has(s, each, &format!("{verb}, an element of sets"));
            }
        }
        seen.push(verb.to_string());
    }
    let missing: Vec<&String> = documented.keys().filter(|v| !seen.contains(v)).collect();
    assert!(
        missing.is_empty(),
        "documented but not checked: {missing:?}"
    );
    // the error document, from a usage error and from an unreachable server
    for (args, code) in [
        (vec!["--json", "up", "--to", "x"], 2),
        (
            vec![
                "--json",
                "--database-url",
                "postgres://x@127.0.0.1:1/x",
                "status",
            ],
            3,
        ),
    ] {
        let out = run(db.migrate().args(&args));
        assert_eq!(out.code, code, "{args:?}");
        let doc = json_of(&out, "an error");
        assert_eq!(doc["exit_code"], code, "{doc}");
        assert_eq!(doc["version"], 1, "{doc}");
        assert!(
            doc["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{doc}"
        );
    }
}

/// The README's event table: kind -> the fields of its kind.
fn documented_events() -> BTreeMap<String, Vec<String>> {
    let rows = readme_table("ndjson events");
    assert!(rows.len() > 8, "the README's event table: {rows:?}");
    rows[1..]
        .iter()
        .map(|row| {
            let c = cells(row);
            (c[0].trim_matches('`').to_string(), names(&c[2]))
        })
        .collect()
}

/// Parses NDJSON output: every line one event with the common fields and those the README
/// lists for its kind, elapsed time never going back, the last line `result` or `error`.
fn events(stdout: &str) -> Vec<Value> {
    let documented = documented_events();
    let mut out = Vec::new();
    let mut elapsed = 0;
    for line in stdout.lines() {
        let e: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not one JSON event per line ({err}): {line}"));
        let kind = e["event"]
            .as_str()
            .unwrap_or_else(|| panic!("no kind: {e}"));
        let fields = documented
            .get(kind)
            .unwrap_or_else(|| panic!("event `{kind}` is not documented: {e}"));
        for common in ["set", "version", "elapsed_ms", "timestamp"] {
            assert!(e.get(common).is_some(), "no `{common}`: {e}");
        }
        assert_has(&e, fields, kind);
        let ms = e["elapsed_ms"].as_u64().unwrap();
        assert!(ms >= elapsed, "elapsed went back: {e}");
        elapsed = ms;
        let ts = e["timestamp"].as_str().unwrap();
        let shape = ts.len() == 24
            && ts.ends_with('Z')
            && ts.as_bytes()[10] == b'T'
            && ts[..4].parse::<u32>().is_ok_and(|y| y >= 2024);
        assert!(shape, "not an RFC 3339 UTC timestamp: {ts}");
        out.push(e);
    }
    let last = out.last().expect("no events");
    assert!(
        last["event"] == "result" || last["event"] == "error",
        "the last event: {last}"
    );
    out
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// `--format ndjson` streams the documented events as the work happens: each migration's
/// start and end with its place, the server's progress of a long index build, check results,
/// drift naming the object, and an error as the last line.
#[tokio::test]
async fn ndjson_streams_the_documented_events() {
    let set = slow_index_set();
    let db = TestDb::new().await;
    let ndjson = |args: &[&str]| {
        run(db
            .migrate()
            .arg("--config")
            .arg(&set.config)
            .args(["--format", "ndjson"])
            .args(args))
    };
    let out = ndjson(&["up"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let up = events(&out.stdout);
    let started = of_kind(&up, "migration_started");
    let places: Vec<(i64, i64, i64)> = started
        .iter()
        .map(|e| {
            (
                e["version"].as_i64().unwrap(),
                e["index"].as_i64().unwrap(),
                e["total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(places, [(1, 1, 2), (2, 2, 2)]);
    assert!(started.iter().all(|e| e["set"] == "slow"));
    let applied = of_kind(&up, "migration_applied");
    assert_eq!(applied.len(), 2, "{}", out.stdout);
    assert!(applied[1]["ms"].as_i64().unwrap() >= 2000, "{}", applied[1]);
    // the index build, as the server reports it, between the start and end of 0002
    let progress = of_kind(&up, "statement_progress");
    assert!(
        !progress.is_empty(),
        "no statement progress:\n{}",
        out.stdout
    );
    for p in &progress {
        assert_eq!(p["version"], 2, "{p}");
        assert_eq!(p["command"], "CREATE INDEX CONCURRENTLY", "{p}");
        assert_eq!(p["index"], "t_slow", "{p}");
        assert!(p["blocks_total"].as_i64().unwrap() > 0, "{p}");
        let t = p["elapsed_ms"].as_u64().unwrap();
        assert!(t >= started[1]["elapsed_ms"].as_u64().unwrap());
        assert!(t <= applied[1]["elapsed_ms"].as_u64().unwrap());
    }
    let result = up.last().unwrap();
    assert_eq!(result["event"], "result");
    assert_eq!(result["document"]["command"], "up");
    assert_eq!(result["document"]["version"], 1);
    assert_eq!(result["document"]["sets"][0]["current_version"], 2);

    // a check per line (the expected catalogs written first, as a developer would)
    set.snapshot(&db);
    let out = ndjson(&["verify"]);
    let checks = events(&out.stdout);
    let results = of_kind(&checks, "check_result");
    assert!(results.len() >= 6, "{}", out.stdout);
    assert!(results
        .iter()
        .all(|e| e["set"] == "slow" && e["version"] == 2));
    let failed: Vec<_> = results.iter().filter(|e| e["ok"] == false).collect();
    assert_eq!(
        failed.len() as i32,
        i32::from(out.code != 0),
        "{}",
        out.stdout
    );

    // drift names the object (compared with a copy made before it, which saves building the
    // slow index again)
    let against = TestDb::copy_of(&db).await;
    sqlx::raw_sql("DROP INDEX t_slow; ALTER TABLE t ADD COLUMN extra text")
        .execute(&mut db.conn().await)
        .await
        .unwrap();
    let out = ndjson(&["diff", "--against", &against.url]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let drift = events(&out.stdout);
    let found: Vec<(String, String)> = of_kind(&drift, "drift_found")
        .iter()
        .map(|e| {
            assert_eq!(e["set"], "slow");
            assert_eq!(e["version"], 2);
            (
                e["kind"].as_str().unwrap().to_string(),
                e["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        found.contains(&("missing".into(), "index t_slow".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("unexpected".into(), "column t.extra".into())),
        "{found:?}"
    );

    // down (of the database that did not drift: the other lost the index 0002's down
    // drops), and an error as the last line
    let out = run(against
        .migrate()
        .arg("--config")
        .arg(&set.config)
        .args(["--format", "ndjson", "down", "--yes", "--to", "0"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let down = events(&out.stdout);
    assert_eq!(
        of_kind(&down, "migration_reverted").len(),
        2,
        "{}",
        out.stdout
    );
    let out = ndjson(&["--database-url", "postgres://x@127.0.0.1:1/x", "status"]);
    assert_eq!(out.code, 3);
    let error = events(&out.stdout);
    assert_eq!(error.len(), 1, "{}", out.stdout);
    assert_eq!(error[0]["event"], "error");
    assert_eq!(error[0]["exit_code"], 3);
    assert!(error[0]["message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:1"));
}

/// While another session holds the set's lock, NDJSON says so (`lock_waiting`, naming the
/// holder), then `lock_acquired` once it is released, before the first migration starts.
#[tokio::test]
async fn ndjson_reports_waiting_for_a_lock_and_getting_it() {
    let set = TempSet::new(
        "queued",
        &[
            ("0001_a.up.sql", "CREATE TABLE a ();\n"),
            ("0001_a.down.sql", "DROP TABLE a;\n"),
        ],
    );
    let db = TestDb::new().await;
    let mut holder = db.conn().await;
    sqlx::raw_sql("SET application_name = 'another deploy'")
        .execute(&mut holder)
        .await
        .unwrap();
    hold_set_lock(&mut holder, "queued").await;
    let mut child = db
        .migrate()
        .arg("--config")
        .arg(&set.config)
        .args(["--format", "ndjson", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // released once the run says it waits
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(lines).lines().map_while(Result::ok) {
            let _ = tx.send(line.contains("\"lock_waiting\""));
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    while !rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a lock_waiting event")
    {}
    release_set_lock(&mut holder, "queued").await;
    let out = child.wait_with_output().unwrap();
    let stdout = reader.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let all = events(&stdout);
    let kinds: Vec<&str> = all.iter().map(|e| e["event"].as_str().unwrap()).collect();
    let at = |kind: &str| kinds.iter().position(|k| *k == kind).unwrap_or(usize::MAX);
    assert!(at("lock_waiting") < at("lock_acquired"), "{kinds:?}");
    assert!(at("lock_acquired") < at("migration_started"), "{kinds:?}");
    let waiting = of_kind(&all, "lock_waiting")[0];
    assert_eq!(waiting["set"], "queued");
    assert!(
        waiting["lock"].as_str().unwrap().contains("queued"),
        "{waiting}"
    );
    assert!(
        waiting["holder"]
            .as_str()
            .is_some_and(|h| h.contains("another deploy")),
        "{waiting}"
    );
    let acquired = of_kind(&all, "lock_acquired")[0];
    assert!(acquired["waited_ms"].as_u64().unwrap() > 0, "{acquired}");
}

/// `maintain` shows each upkeep statement as it starts, its number out of the run's, on the
/// bar and as NDJSON events streamed as each one starts and ends.
#[tokio::test]
async fn maintain_shows_each_upkeep_statement_as_it_runs() {
    let db = TestDb::new().await;
    let config = crate_root().join("migrations.toml");
    let up = run(db.migrate().args(["--set", "witchcraft", "up"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let shown = frames(&on_a_terminal(
        &db,
        &config,
        "--set witchcraft maintain --monthly",
        &[],
    ));
    for step in [
        "witchcraft: [1/2] running SELECT daily_maintenance()",
        "witchcraft: [2/2] running SELECT monthly_maintenance()",
    ] {
        assert!(shown.iter().any(|f| f.contains(step)), "{step}: {shown:#?}");
    }
    let out = run(db.migrate().args([
        "--set",
        "witchcraft",
        "--format",
        "ndjson",
        "maintain",
        "--monthly",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let all = events(&out.stdout);
    let steps: Vec<(String, String)> = all
        .iter()
        .filter(|e| e["event"] != "result")
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["statement"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let daily = "SELECT daily_maintenance()".to_string();
    let monthly = "SELECT monthly_maintenance()".to_string();
    assert_eq!(
        steps,
        [
            ("maintenance_started".into(), daily.clone()),
            ("maintenance_ran".into(), daily),
            ("maintenance_started".into(), monthly.clone()),
            ("maintenance_ran".into(), monthly),
        ],
        "{}",
        out.stdout
    );
    assert_eq!(of_kind(&all, "maintenance_started")[1]["index"], 2);
    assert_eq!(of_kind(&all, "maintenance_started")[1]["total"], 2);
}

/// With `--targets`, NDJSON follows the fleet: each database's start and end (its result,
/// exit code and place in the run) as it happens, in time order across the workers, and
/// no password.
#[tokio::test]
async fn ndjson_follows_a_fleet_target_by_target() {
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    let closed = free_port();
    let file = std::env::temp_dir().join(unique_name("migrate-ndjson-fleet"));
    std::fs::write(
        &file,
        format!(
            "{}\n{}\npostgres://x:hunter2@127.0.0.1:{closed}/x?connect_timeout=2\n",
            a.url, b.url
        ),
    )
    .unwrap();
    let out = run(a
        .migrate()
        .env_remove("DATABASE_URL")
        .arg("--targets")
        .arg(&file)
        .args(["--set", "witchcraft", "--format", "ndjson", "up"]));
    std::fs::remove_file(&file).ok();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
    assert!(
        out.stderr.is_empty(),
        "progress lines with NDJSON: {}",
        out.stderr
    );
    let all = events(&out.stdout);
    assert_eq!(of_kind(&all, "target_started").len(), 3, "{}", out.stdout);
    let finished = of_kind(&all, "target_finished");
    let done: Vec<u64> = finished
        .iter()
        .map(|e| e["done"].as_u64().unwrap())
        .collect();
    assert_eq!(done, [1, 2, 3], "{}", out.stdout);
    let mut results: Vec<(String, i64)> = finished
        .iter()
        .map(|e| {
            assert_eq!(e["total"], 3);
            (
                e["result"].as_str().unwrap().to_string(),
                e["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    results.sort();
    assert_eq!(
        results,
        [("failed".into(), 3), ("ok".into(), 0), ("ok".into(), 0)]
    );
    let failed = finished.iter().find(|e| e["result"] == "failed").unwrap();
    assert!(
        failed["url"]
            .as_str()
            .unwrap()
            .contains(&format!(":{closed}/")),
        "{failed}"
    );
    assert_eq!(all.last().unwrap()["document"]["summary"]["failed"], 1);
}

/// Runs `migrate ARGS` on a pseudo-terminal (util-linux `script`), with `env` set and CI and
/// NO_COLOR unset unless `env` sets them; returns the exit code and everything the terminal
/// showed.
fn terminal(
    db: &TestDb,
    config: &std::path::Path,
    args: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let command = format!(
        "{} --config {} {args}",
        env!("CARGO_BIN_EXE_migrate"),
        config.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env("DATABASE_URL", &db.url)
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script(1), from util-linux");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// What a successful run of `migrate ARGS` showed on a terminal (see [`terminal`]).
fn on_a_terminal(
    db: &TestDb,
    config: &std::path::Path,
    args: &str,
    env: &[(&str, &str)],
) -> String {
    let (code, shown) = terminal(db, config, args, env);
    assert_eq!(code, Some(0), "{shown}");
    shown
}

/// While the server has not answered, a spinner on a terminal names it (its password
/// hidden); off a terminal nothing is drawn.
#[tokio::test]
async fn a_spinner_names_the_server_while_it_does_not_answer() {
    let db = TestDb::new().await;
    let url = format!(
        "postgres://x:secret@{}/x?connect_timeout=2",
        silent_server()
    );
    let command = format!(
        "{} --database-url '{url}' --set witchcraft status",
        env!("CARGO_BIN_EXE_migrate")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CI")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("script(1), from util-linux");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(
        shown.contains("server: connecting to postgres://x:***@127.0.0.1:"),
        "{shown}"
    );
    assert!(!shown.contains("secret"), "{shown}");
    let plain = run(db
        .migrate()
        .args(["--database-url", &url, "--set", "witchcraft", "status"])
        .env_remove("CI"));
    assert_eq!(plain.code, 3, "{}", plain.stderr);
    assert!(!plain.stderr.contains("connecting to"), "{}", plain.stderr);
}

/// On a terminal the bar shows the migration, its number out of the total and the server's
/// progress of the index build; under CI=true, off a terminal and with -q it is not drawn
/// (one plain line per migration, or none with -q); -v adds a line as each one starts.
#[tokio::test]
async fn the_bar_is_drawn_on_a_terminal_and_plain_lines_elsewhere() {
    let set = slow_index_set();
    let db = TestDb::new().await;
    let shown = on_a_terminal(&db, &set.config, "up", &[]);
    assert!(shown.contains("slow: [2/2] applying 0002 index"), "{shown}");
    assert!(
        shown.contains("% of "),
        "no server progress on the bar: {shown}"
    );
    assert!(shown.contains("blocks, building index"), "{shown}");
    assert!(shown.contains("slow: applied 0002 index ("), "{shown}");
    assert!(
        shown.contains("slow: applied 2 migrations, now at 0002"),
        "{shown}"
    );
    run(db
        .migrate()
        .arg("--config")
        .arg(&set.config)
        .args(["down", "--yes", "--to", "0"]));

    let fast = TempSet::new(
        "fast",
        &[
            ("0001_a.up.sql", "CREATE TABLE a ();\n"),
            ("0001_a.down.sql", "DROP TABLE a;\n"),
            ("0002_b.up.sql", "CREATE TABLE b ();\n"),
            ("0002_b.down.sql", "DROP TABLE b;\n"),
        ],
    );
    for (flags, env) in [("up", [("CI", "true")]), ("-q up", [("CI", "")])] {
        let db = TestDb::new().await;
        let shown = on_a_terminal(&db, &fast.config, flags, &env);
        assert!(
            !shown.contains("[1/2]") && !shown.contains("[2/2]"),
            "{flags}: {shown}"
        );
        assert!(
            shown.contains("fast: applied 2 migrations, now at 0002"),
            "{flags}: {shown}"
        );
        let plain = shown.contains("fast: applied 0001 a (");
        assert_eq!(plain, flags == "up", "{flags}: {shown}");
    }
    // off a terminal: a plain line per migration; -v adds one as each starts; -q none
    for (flag, lines) in [("", 2), ("-v", 4), ("-q", 0)] {
        let db = TestDb::new().await;
        let mut cmd = db.migrate();
        cmd.arg("--config").arg(&fast.config).env_remove("CI");
        if !flag.is_empty() {
            cmd.arg(flag);
        }
        let out = run(cmd.arg("up"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let progress: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("fast: "))
            .collect();
        assert_eq!(progress.len(), lines, "{flag}: {}", out.stderr);
        if flag == "-v" {
            assert_eq!(progress[0], "fast: applying 0001 a (1/2)", "{}", out.stderr);
        }
        assert!(
            !out.stderr.contains('\u{1b}'),
            "escape codes off a terminal: {}",
            out.stderr
        );
    }
    let out = run(db.migrate().args(["-q", "-v", "status"]));
    assert_refused(&out, 2, "cannot be used with");
}

/// What a terminal shows, frame by frame: the text between carriage returns and newlines,
/// escape codes removed.
fn frames(shown: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .map(|f| f.trim_end().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// A server's notice during a migration gets a line of its own above the bar, and the bar
/// never draws a frame without its message (no bare `server:` or `[0/2]`).
#[tokio::test]
async fn notices_print_above_the_bar_and_every_frame_has_its_message() {
    let set = TempSet::new(
        "loud",
        &[
            (
                "0001_a.up.sql",
                "CREATE TABLE a ();
                 DO $$ BEGIN PERFORM pg_sleep(0.4); RAISE NOTICE 'loud notice from 0001'; END $$;
",
            ),
            (
                "0001_a.down.sql",
                "DROP TABLE a;
",
            ),
            (
                "0002_b.up.sql",
                "CREATE TABLE b ();
",
            ),
            (
                "0002_b.down.sql",
                "DROP TABLE b;
",
            ),
        ],
    );
    let db = TestDb::new().await;
    let shown = on_a_terminal(&db, &set.config, "up", &[]);
    let frames = frames(&shown);
    assert!(
        frames.iter().any(|f| f == "notice: loud notice from 0001"
            || f.starts_with("notice: loud notice from 0001  ")),
        "the notice shares a line with the bar: {frames:#?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains("loud: [1/2] applying 0001 a")),
        "{frames:#?}"
    );
    for frame in &frames {
        let words: Vec<&str> = frame.split_whitespace().collect();
        // a spinner frame is: spinner, `prefix:`, the message..., elapsed
        if words.len() >= 2 && words[1].ends_with(':') && frame.ends_with('s') {
            let message = &words[2..words.len() - 1];
            let bare = message.is_empty()
                || (message.len() == 1 && message[0].starts_with('[') && message[0].ends_with(']'));
            assert!(!bare, "a frame without its message: {frame:?}");
        }
    }
}

/// On a terminal, outcomes and diffs are coloured (PASS green, FAIL red, the lines of a diff)
/// and so is `error:`; with NO_COLOR set, or off a terminal, not one escape code.
#[tokio::test]
async fn colour_on_a_terminal_and_never_with_no_color() {
    let set = TempSet::new(
        "tint",
        &[
            (
                "0001_a.up.sql",
                "CREATE TABLE a (id int);\nALTER TABLE a ENABLE ROW LEVEL SECURITY;\n",
            ),
            ("0001_a.down.sql", "DROP TABLE a;\n"),
        ],
    );
    let db = TestDb::new().await;
    set.snapshot(&db);
    run(db.migrate().arg("--config").arg(&set.config).arg("up"));
    let shown = |args: &str, no_color: bool| {
        let env: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
        terminal(&db, &set.config, args, env)
    };
    let (code, out) = shown("verify", false);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\u{1b}[32mPASS\u{1b}[0m  checksums"), "{out}");
    sqlx::query("ALTER TABLE a ALTER COLUMN id TYPE bigint")
        .execute(&mut db.conn().await)
        .await
        .unwrap();
    let (code, out) = shown("verify", false);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("\u{1b}[1;31mFAIL\u{1b}[0m  catalog"), "{out}");
    let (code, out) = shown("diff", false);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("\u{1b}[32m+"), "{out}");
    let (code, out) = shown("--set nosuch status", false);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("\u{1b}[1;31merror\u{1b}[0m: unknown set"),
        "{out}"
    );
    for args in ["verify", "diff", "--set nosuch status"] {
        let (_, out) = shown(args, true);
        let frames = frames(&out);
        assert!(
            !out.contains("\u{1b}[3") && !out.contains("\u{1b}[1;3"),
            "{args}: colour with NO_COLOR: {frames:#?}"
        );
    }
    let out = run(db.migrate().arg("--config").arg(&set.config).arg("verify"));
    assert!(out.stdout.contains("  FAIL  catalog"), "{}", out.stdout);
    assert!(!out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'));
}

/// Completions for every shell and the man page are generated from the flags; --version
/// lists each embedded set with its newest migration.
#[test]
fn completions_man_page_and_version_are_generated_from_the_binary() {
    let migrate = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_migrate"));
        c.env_remove("DATABASE_URL").stdin(Stdio::null());
        c
    };
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(migrate().args(["completions", shell]));
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for word in ["bootstrap", "roundtrip", "database-url", "ndjson"] {
            assert!(out.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    assert_refused(
        &run(migrate().args(["completions", "tcsh"])),
        2,
        "invalid value 'tcsh'",
    );
    // bash can load the script and completes the verbs
    let script = run(migrate().args(["completions", "bash"])).stdout;
    let file = std::env::temp_dir().join(unique_name("completion.bash"));
    std::fs::write(&file, script).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(migrate boo); COMP_CWORD=1; _migrate migrate boo migrate; echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "bootstrap");

    let man = run(migrate().arg("man"));
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.contains(".TH migrate 1"),
        "{}",
        &man.stdout[..200]
    );
    for verb in [
        "up",
        "down",
        "status",
        "diff",
        "verify",
        "bootstrap",
        "sandbox",
        "new",
        "lint",
    ] {
        assert!(
            man.stdout.contains(&format!("migrate\\-{verb}(1)")),
            "man page lacks {verb}"
        );
    }
    // `man` renders it
    let page = std::env::temp_dir().join(unique_name("migrate.1"));
    std::fs::write(&page, &man.stdout).unwrap();
    if let Ok(out) = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .output()
    {
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("SUBCOMMANDS"));
        }
    }
    let _ = std::fs::remove_file(&page);

    let version = run(migrate().arg("--version"));
    assert_eq!(version.code, 0);
    assert!(version
        .stdout
        .starts_with(&format!("migrate {}\n", env!("CARGO_PKG_VERSION"))));
    for name in ["aethercrown98", "witchcraft"] {
        let newest = embedded_set(name).migrations.last().cloned().unwrap();
        let line = format!(
            "  {name} (schema public): newest {:04} {}",
            newest.version, newest.name
        );
        assert!(
            version.stdout.lines().any(|l| l == line),
            "{line}\n{}",
            version.stdout
        );
    }
}

/// One exit-code table for every verb: 1 a check failed or a refusal, 2 usage or
/// configuration, 3 unreachable, 130 interrupted (143 by SIGTERM); 0 is every document test.
#[tokio::test]
async fn every_verb_follows_the_one_exit_code_table() {
    let unreachable = "postgres://x@127.0.0.1:1/x";
    let db = TestDb::new().await;
    assert_eq!(
        run(db.migrate().args(["--set", "witchcraft", "up"])).code,
        0
    );
    let verbs: &[&[&str]] = &[
        &["up"],
        &["down", "--yes"],
        &["status"],
        &["diff"],
        &["verify"],
        &["verify", "--roundtrip"],
        &["snapshot", "--check"],
        &["bootstrap"],
        &["adopt", "--from", "sqlx"],
        &["export", "--supabase", "/nonexistent/x"],
        &["maintain"],
        &["sandbox"],
        &["new", "witchcraft", "x"],
        &["lint"],
        &["completions", "bash"],
        &["man"],
    ];
    let mut wrong = Vec::new();
    for verb in verbs {
        // 2: usage (an unknown flag) and configuration (a missing config file)
        let out = run(db.migrate().args(*verb).arg("--no-such-flag"));
        if out.code != 2 {
            wrong.push(format!(
                "{verb:?} --no-such-flag: {} {}",
                out.code, out.stderr
            ));
        }
        let needs_config = !matches!(verb[0], "completions" | "man");
        if needs_config {
            let out = run(db
                .migrate()
                .args(["--config", "/nonexistent/migrations.toml"])
                .args(*verb));
            if out.code != 2 {
                wrong.push(format!(
                    "{verb:?} with a missing config: {} {}",
                    out.code, out.stderr
                ));
            }
        }
        // 3: an unreachable database, for the verbs that connect to --database-url
        let connects = matches!(
            verb[0],
            "up" | "down" | "status" | "diff" | "bootstrap" | "adopt" | "maintain" | "lint"
        ) || *verb == ["verify"];
        if connects {
            let out = run(db
                .migrate()
                .args(["--set", "witchcraft", "--database-url", unreachable])
                .args(*verb));
            if out.code != 3 {
                wrong.push(format!("{verb:?} unreachable: {} {}", out.code, out.stderr));
            }
        }
    }
    // the scratch server of the proof and the snapshot unreachable: 3 too
    for verb in [
        ["verify", "--roundtrip"],
        ["snapshot", "--check"],
        ["lint", "--all"],
    ] {
        let out = run(db
            .migrate()
            .args(["--set", "witchcraft"])
            .args(verb)
            .args(["--scratch-url", unreachable]));
        // the message names the flag to check, not --database-url
        if out.code != 3 || !out.stderr.contains("check --scratch-url and") {
            wrong.push(format!(
                "{verb:?} --scratch-url unreachable: {} {}",
                out.code, out.stderr
            ));
        }
    }
    // 1: a check failed or the verb refused
    let drifted = TestDb::new().await;
    run(drifted.migrate().args(["--set", "witchcraft", "up"]));
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text")
        .execute(&mut drifted.conn().await)
        .await
        .unwrap();
    let broken_down = TempSet::new(
        "b",
        &[
            (
                "0001_a.up.sql",
                "CREATE TABLE a ();\nCREATE TABLE kept ();\n",
            ),
            ("0001_a.down.sql", "DROP TABLE a;\n"),
            ("0002_fails.up.sql", "SELECT 1/0;\n"),
            ("0002_fails.down.sql", "SELECT 1;\n"),
        ],
    );
    let cfg = broken_down.config.to_str().unwrap();
    let plain = TestDb::new().await;
    let exported = std::env::temp_dir().join(unique_name("export"));
    std::fs::create_dir_all(&exported).unwrap();
    run(db
        .migrate()
        .args(["--set", "witchcraft", "export", "--supabase"])
        .arg(&exported));
    for f in std::fs::read_dir(&exported).unwrap().flatten().take(1) {
        std::fs::write(f.path(), "-- changed by hand\n").unwrap();
    }
    let ones: Vec<(&str, Vec<String>, &TestDb)> = vec![
        (
            "up: a migration fails",
            vec!["--config".into(), cfg.into(), "up".into()],
            &plain,
        ),
        (
            "down: no --yes without a terminal",
            vec!["--set".into(), "witchcraft".into(), "down".into()],
            &db,
        ),
        (
            "status --exit-code: pending",
            vec![
                "--config".into(),
                cfg.into(),
                "status".into(),
                "--exit-code".into(),
            ],
            &plain,
        ),
        (
            "diff: drift",
            vec!["--set".into(), "witchcraft".into(), "diff".into()],
            &drifted,
        ),
        (
            "verify: drift",
            vec!["--set".into(), "witchcraft".into(), "verify".into()],
            &drifted,
        ),
        (
            "verify --roundtrip: a down leaves a table",
            vec![
                "--config".into(),
                cfg.into(),
                "verify".into(),
                "--roundtrip".into(),
            ],
            &plain,
        ),
        (
            "snapshot --check: stale",
            vec![
                "--config".into(),
                cfg.into(),
                "snapshot".into(),
                "--check".into(),
            ],
            &plain,
        ),
        (
            "bootstrap: verify fails",
            vec!["--set".into(), "witchcraft".into(), "bootstrap".into()],
            &drifted,
        ),
        (
            "adopt: no history table of the tool",
            vec![
                "--set".into(),
                "witchcraft".into(),
                "adopt".into(),
                "--from".into(),
                "sqlx".into(),
            ],
            &drifted,
        ),
        (
            "export: a different file is there",
            vec![
                "--set".into(),
                "witchcraft".into(),
                "export".into(),
                "--supabase".into(),
                exported.display().to_string(),
            ],
            &db,
        ),
        (
            "maintain: migrations pending",
            vec![
                "--config".into(),
                cfg.into(),
                "maintain".into(),
                "--set".into(),
                "b".into(),
            ],
            &plain,
        ),
        (
            "new: the name is taken",
            vec![
                "--config".into(),
                cfg.into(),
                "new".into(),
                "b".into(),
                "fails".into(),
            ],
            &plain,
        ),
        (
            "sandbox: no server binaries there",
            vec![
                "--config".into(),
                cfg.into(),
                "sandbox".into(),
                "--pg-bindir".into(),
                "/nonexistent".into(),
            ],
            &plain,
        ),
    ];
    for (what, args, on) in &ones {
        let out = run(on.migrate().args(args));
        if out.code != 1 {
            wrong.push(format!("{what}: {} {}{}", out.code, out.stdout, out.stderr));
        }
    }
    let _ = std::fs::remove_dir_all(&exported);
    // 130 (SIGINT) and 143 (SIGTERM): while the verb waits on a lock another session holds
    // on the history table, for every verb that reads it, at once
    // (adopt reads the other tool's history first: sqlx's table, locked as well)
    let mut holder = db.conn().await;
    sqlx::raw_sql("CREATE TABLE public._sqlx_migrations (version bigint PRIMARY KEY)")
        .execute(&mut holder)
        .await
        .unwrap();
    sqlx::raw_sql(
        "BEGIN; LOCK TABLE migrate.history, public._sqlx_migrations IN ACCESS EXCLUSIVE MODE",
    )
    .execute(&mut holder)
    .await
    .unwrap();
    // (diff, which does not read the history, and the verbs that build on a scratch server
    // wait for a server that accepts and never answers: a local listener)
    let (silent, accepted) = silent_server_telling();
    let silent_url = format!("postgres://x@{silent}/x");
    let waiting: Vec<Vec<&str>> = vec![
        vec!["up"],
        vec!["down", "--yes"],
        vec!["status"],
        vec!["diff", "--against", &silent_url],
        vec!["verify"],
        vec!["maintain"],
        vec!["bootstrap"],
        vec!["adopt", "--from", "sqlx"],
        vec!["verify", "--roundtrip", "--scratch-url", &silent_url],
        vec!["snapshot", "--check", "--scratch-url", &silent_url],
    ];
    let mut probe = db.conn().await;
    for (i, verb) in waiting.iter().enumerate() {
        let (sig, code) = if i == 0 {
            (libc::SIGTERM, 143)
        } else {
            (libc::SIGINT, 130)
        };
        // what the verb before connected (the rollback proof opens a session per share)
        // does not tell that this one has
        while accepted.try_recv().is_ok() {}
        let child = db
            .migrate()
            .args(["--set", "witchcraft"])
            .args(verb)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if verb.contains(&silent_url.as_str()) {
            // connected, and waiting for an answer that never comes
            accepted
                .recv_timeout(Duration::from_secs(30))
                .expect("diff connects to the silent server");
        } else {
            wait_until(
                &mut probe,
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database())",
            )
            .await;
        }
        let sent = std::time::Instant::now();
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let out = child.wait_with_output().unwrap();
        let got = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // at once: not after the lock or connect timeout
        if sent.elapsed() > Duration::from_secs(4) {
            wrong.push(format!("{verb:?} took {:?} to stop", sent.elapsed()));
        }
        if got != code || !stderr.contains("error: interrupted by SIG") {
            wrong.push(format!("{verb:?} interrupted: {got} {stderr}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    assert!(
        wrong.is_empty(),
        "exit codes off the table:\n{}",
        wrong.join("\n")
    );
}

/// The rollback prompt held both advisory locks while it waited (every other `migrate` on
/// the database blocked), and SIGINT did nothing until Enter was pressed. It asks before
/// taking them, and Ctrl-C at the prompt exits 130 at once, rolling nothing back.
#[tokio::test]
async fn the_rollback_prompt_holds_no_lock_and_ctrl_c_ends_it() {
    use std::io::Read as _;
    let set = TempSet::new(
        "asked",
        &[
            ("0001_a.up.sql", "CREATE TABLE a (id integer);\n"),
            ("0001_a.down.sql", "DROP TABLE a;\n"),
        ],
    );
    let db = TestDb::new().await;
    let up = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let command = format!(
        "{} --config {} down --steps 1",
        env!("CARGO_BIN_EXE_migrate"),
        set.config.display()
    );
    // stdin stays open and silent: nobody answers
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("DATABASE_URL", &db.url)
        .env_remove("CI")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1), from util-linux");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut shown = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            shown.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&shown).into_owned());
        }
    });
    let mut shown = String::new();
    while !shown.contains("[y/N]") {
        shown = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no prompt: {shown}"));
    }
    assert!(
        shown.contains("roll back 1 migration(s) of set `asked`"),
        "{shown}"
    );
    let mut c = db.conn().await;
    let locks = scalar_i64(
        &mut c,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
          WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    )
    .await;
    assert_eq!(locks, 0, "the prompt holds advisory locks");
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .find_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.starts_with(env!("CARGO_BIN_EXE_migrate"))
                && cmdline.contains(&set.config.display().to_string()))
            .then(|| e.file_name().to_string_lossy().parse::<i32>().ok())
            .flatten()
        })
        .expect("the migrate process");
    // SAFETY: kill(2) on the migrate process this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still waiting for an answer after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let table = scalar_i64(&mut c, "SELECT count(*) FROM pg_class WHERE relname = 'a'").await;
    assert_eq!(table, 1, "nothing was rolled back");
}
