//! Regression tests for promises the README makes, each named after the defect that once
//! broke it: scratch databases that could be the real one, a `verify` that wrote to the
//! server, passwords in output, pipes and JSON documents.

use crate::harness::*;
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
    assert_eq!(rows_and_history(&mut c).await, (3, 7));
    // snapshot --check builds on a scratch database too
    let out = run(prod
        .migrate()
        .args(["snapshot", "--check", "--scratch-url", &sneaky]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(rows_and_history(&mut c).await, (3, 7));
    // and --database-url (with the same trap) is never used for scratch work
    let out = run(prod.migrate().env("DATABASE_URL", &sneaky).args([
        "verify",
        "--roundtrip",
        "--set",
        "aethercrown98",
    ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(rows_and_history(&mut c).await, (3, 7));
    let leftovers = scalar_i64(
        &mut c,
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'migrate\\_scratch\\_%'",
    )
    .await;
    assert_eq!(leftovers, 0);
}

/// Scratch names were `migrate_<purpose>_<pid>`: two runs in two containers (same pid) on one
/// server shared one, and one run's `DROP DATABASE ... WITH (FORCE)` killed the other's work.
#[tokio::test]
async fn scratch_databases_of_concurrent_runs_never_collide() {
    let server = migrate::verify::scratch::ScratchServer::start(Some(&admin_url())).unwrap();
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
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    migrate::engine::up(&mut c, &embedded_set("witchcraft"), Some(4), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("DROP INDEX idx_user_quotas_period_end")
        .execute(&mut c)
        .await
        .ok();
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text")
        .execute(&mut c)
        .await
        .unwrap();
    let server_state = async |c: &mut sqlx::PgConnection| {
        strings(
            c,
            "SELECT 'db ' || datname FROM pg_database UNION ALL SELECT 'role ' || rolname FROM pg_roles ORDER BY 1",
        )
        .await
    };
    let before = server_state(&mut c).await;
    // every transaction of the run is read-only: any write fails the run
    let read_only = format!(
        "{}{}options=-c%20default_transaction_read_only%3Don",
        db.url,
        if db.url.contains('?') { "&" } else { "?" }
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
    assert_eq!(server_state(&mut c).await, before);
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
    let driver = err.driver_error().expect("the driver error is kept");
    assert!(driver.as_database_error().is_some(), "{driver:?}");
}
