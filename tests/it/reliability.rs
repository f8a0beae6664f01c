//! Never half-migrated, never stuck, never silent: sets racing into one schema, bounded
//! waits for the set's lock, lock timeouts that name their blocker and are retried, signals
//! that cancel on the server, and the INVALID index an unfinished concurrent build leaves.

use crate::harness::*;
use migrate::run::Run;
use sqlx::PgConnection;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `migrate --config <set> --set <name> <args>` as a child with its output piped.
fn spawn(db: &TestDb, set: &TempSet, name: &str, args: &[&str]) -> Child {
    db.migrate()
        .arg("--config")
        .arg(&set.config)
        .args(["--set", name])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    let out = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

/// Waits for the first line `child` writes on standard error, then ends the blocker's
/// transaction on `blocker` and lets the child finish; returns that line and the rest.
async fn after_first_line(mut child: Child, blocker: &mut PgConnection) -> (String, Output) {
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let first = lines.next().unwrap().unwrap();
    sqlx::raw_sql("ROLLBACK").execute(blocker).await.unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let mut out = finish(child);
    out.stderr = rest.join("\n");
    (first, out)
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

async fn no_advisory_locks(conn: &mut PgConnection) -> i64 {
    scalar_i64(
        conn,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await
}

/// Two different sets configured into one schema, started at the same moment on an empty
/// database: before the schema lock both passed the "another set is installed here" check
/// (10 of 10 rounds) and both were recorded. Now exactly one installs, the other refuses.
#[test]
fn two_sets_racing_into_one_schema_never_both_install() {
    every_case_in_parallel(
        &[1, 2, 3, 4],
        |round| format!("round {round}"),
        |_| async {
            let db = TestDb::new().await;
            let start = |set: &str| {
                db.migrate()
                    .args(["--set", set, "up"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            };
            let (a, b) = (start("aethercrown98"), start("witchcraft"));
            let (a, b) = (finish(a), finish(b));
            let mut codes = [a.code, b.code];
            codes.sort();
            assert_eq!(codes, [0, 1], "{}\n{}", a.stderr, b.stderr);
            let loser = if a.code == 1 { &a } else { &b };
            assert!(
                loser
                    .stderr
                    .contains("is already installed in this database"),
                "{}",
                loser.stderr
            );
            let mut c = db.conn().await;
            let sets = strings(&mut c, "SELECT DISTINCT set_name FROM migrate.history").await;
            assert_eq!(sets.len(), 1, "{sets:?}");
        },
        2,
    );
}

/// The set's lock is waited for at most `--lock-wait`, and the holder is named.
#[tokio::test]
async fn the_wait_for_the_set_lock_is_bounded_and_names_the_holder() {
    let set = TempSet::new(
        "waits",
        &[
            ("0001_a.up.sql", "CREATE TABLE waited (id int);\n"),
            ("0001_a.down.sql", "DROP TABLE waited;\n"),
        ],
    );
    let db = TestDb::new().await;
    let mut holder = db.conn().await;
    sqlx::raw_sql("SET application_name = 'the-other-deploy'")
        .execute(&mut holder)
        .await
        .unwrap();
    migrate::engine::history::ensure(&mut holder).await.unwrap();
    hold_set_lock(&mut holder, "waits").await;
    let started = Instant::now();
    let out = finish(spawn(&db, &set, "waits", &["up", "--lock-wait", "1s"]));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_refused(
        &out,
        1,
        "gave up waiting for the lock of set `waits` after 1s",
    );
    assert!(out.stderr.contains("(the-other-deploy)"), "{}", out.stderr);
    assert!(
        out.stderr.contains("holds the lock of set `waits`"),
        "{}",
        out.stderr
    );
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        0
    );
    // a bad duration is a usage error, before anything connects
    let out = finish(spawn(&db, &set, "waits", &["up", "--lock-wait", "soon"]));
    assert_refused(&out, 2, "is not a duration");
}

/// A session holding the table's lock makes the migration hit `lock_timeout`: it is tried
/// again with a delay, and the last error names the blocker's pid, application, state and
/// query. When the blocker goes away between attempts, the migration goes through.
#[tokio::test]
async fn a_lock_timeout_names_its_blocker_and_is_retried() {
    let set = TempSet::new(
        "blocked",
        &[
            ("0001_a.up.sql", "CREATE TABLE busy (id int);\n"),
            ("0001_a.down.sql", "DROP TABLE busy;\n"),
            (
                "0002_b.up.sql",
                "-- the column\nALTER TABLE busy ADD COLUMN note text;\n",
            ),
            ("0002_b.down.sql", "ALTER TABLE busy DROP COLUMN note;\n"),
        ],
    );
    let db = TestDb::new().await;
    let out = finish(spawn(&db, &set, "blocked", &["up", "--to", "1"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut blocker = db.conn().await;
    sqlx::raw_sql(
        "SET application_name = 'long-report'; BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE; SELECT 'still reading busy'",
    )
    .execute(&mut blocker)
    .await
    .unwrap();
    let args = ["up", "--lock-timeout", "200ms", "--lock-retries", "2"];
    let out = finish(spawn(&db, &set, "blocked", &args));
    assert_refused(&out, 1, "(after 3 attempts); blocked by pid ");
    for says in ["long-report", "idle in transaction", "still reading busy"] {
        assert!(out.stderr.contains(says), "{says}: {}", out.stderr);
    }
    assert_eq!(
        out.stderr.matches("trying again in").count(),
        2,
        "{}",
        out.stderr
    );
    // no retry at all with --lock-retries 0
    let out = finish(spawn(
        &db,
        &set,
        "blocked",
        &["up", "--lock-timeout", "200ms", "--lock-retries", "0"],
    ));
    assert_refused(&out, 1, "blocked by pid ");
    assert!(!out.stderr.contains("trying again"), "{}", out.stderr);
    // the blocker ends after the first retry is announced: the retry succeeds
    let child = spawn(&db, &set, "blocked", &["up", "--lock-timeout", "200ms"]);
    let (first, out) = after_first_line(child, &mut blocker).await;
    assert!(first.contains("trying again in"), "{first}");
    assert_eq!(out.code, 0, "{first}\n{}", out.stderr);
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        2
    );
}

/// A no-transaction file is retried only when its first statement hit the lock timeout;
/// past it, what ran stays and nothing is run twice.
#[tokio::test]
async fn a_no_transaction_file_is_never_retried_past_its_first_statement() {
    let set = TempSet::new(
        "nontx",
        &[
            ("0001_a.up.sql", "CREATE TABLE n1 (id int);\nCREATE TABLE n2 (id int);\n"),
            ("0001_a.down.sql", "DROP TABLE n1, n2;\n"),
            (
                "0002_b.up.sql",
                "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS n1_id ON n1 (id);\nALTER TABLE n2 ADD COLUMN IF NOT EXISTS x int;\n",
            ),
            ("0002_b.down.sql", "DROP INDEX n1_id;\nALTER TABLE n2 DROP COLUMN x;\n"),
        ],
    );
    let db = TestDb::new().await;
    assert_eq!(
        finish(spawn(&db, &set, "nontx", &["up", "--to", "1"])).code,
        0
    );
    let mut blocker = db.conn().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE n2 IN ACCESS SHARE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let out = finish(spawn(
        &db,
        &set,
        "nontx",
        &["up", "--lock-timeout", "200ms"],
    ));
    assert_refused(&out, 1, "nontx/0002_b.up.sql:3:1");
    assert!(
        out.stderr
            .contains("statement(s) before line 3 were applied and stay"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("trying again"), "{}", out.stderr);
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    // its first statement blocked: retried
    let mut c = db.conn().await;
    sqlx::raw_sql("DROP INDEX n1_id")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE n1 IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let child = spawn(&db, &set, "nontx", &["up", "--lock-timeout", "200ms"]);
    let (first, out) = after_first_line(child, &mut blocker).await;
    assert!(first.contains("0002 b hit lock_timeout"), "{first}");
    assert_eq!(out.code, 0, "{first}\n{}", out.stderr);
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        2
    );
}

/// Ctrl-C (and SIGTERM) during a long statement: the statement is cancelled on the server
/// at once, the migration rolls back, the lock is released, one line says what this run
/// did, and the exit code is 130 (143).
#[tokio::test]
async fn a_signal_cancels_the_statement_on_the_server_and_rolls_back() {
    let set = TempSet::new(
        "stopped",
        &[
            ("0001_a.up.sql", "CREATE TABLE kept (id int);\n"),
            ("0001_a.down.sql", "DROP TABLE kept;\n"),
            (
                "0002_b.up.sql",
                "CREATE TABLE half (id int);\nSELECT pg_sleep(60);\n",
            ),
            ("0002_b.down.sql", "DROP TABLE half;\n"),
        ],
    );
    for (sig, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let db = TestDb::new().await;
        let mut c = db.conn().await;
        let child = spawn(&db, &set, "stopped", &["up"]);
        // (the file goes as one query: the sleep is its second statement)
        wait_until(
            &mut c,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%SELECT pg_sleep(60)%' AND state = 'active' AND datname = current_database() AND pid <> pg_backend_pid())",
        )
        .await;
        let sent = Instant::now();
        signal(&child, sig);
        let out = finish(child);
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "{:?}",
            sent.elapsed()
        );
        assert_eq!(out.code, code, "{}", out.stderr);
        let last = out.stderr.lines().last().unwrap_or("");
        assert!(
            last.starts_with(&format!(
                "error: interrupted by {name}: migration stopped 0002 failed"
            )),
            "{last}"
        );
        assert!(last.contains("the migration was rolled back"), "{last}");
        assert!(
            last.contains("done by this run and kept: stopped 0001 applied"),
            "{last}"
        );
        // nothing runs on, nothing is locked, 0002 left nothing
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%SELECT pg_sleep(60)%' AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            .await,
            0
        );
        assert_eq!(no_advisory_locks(&mut c).await, 0);
        assert_eq!(
            strings(
                &mut c,
                "SELECT version::text FROM migrate.history ORDER BY 1"
            )
            .await,
            ["1"]
        );
        assert_eq!(
            strings(&mut c, "SELECT coalesce(to_regclass('half')::text, 'none')").await,
            ["none"]
        );
    }
}

/// A `CREATE INDEX CONCURRENTLY` that cannot finish (another session holds a snapshot, so
/// the build hits lock_timeout) leaves an INVALID index. It was recorded as applied on the
/// next run, since `IF NOT EXISTS` skipped it. Now the failure names the index left behind,
/// the next run drops and rebuilds it, and `verify` passes.
#[tokio::test]
async fn an_unfinished_concurrent_index_is_named_and_rebuilt() {
    let db = TestDb::new().await;
    let out = run(db
        .migrate()
        .args(["--set", "aethercrown98", "up", "--to", "2"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut snapshot = db.conn().await;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class")
        .execute(&mut snapshot)
        .await
        .unwrap();
    let out = run(db.migrate().args([
        "--set",
        "aethercrown98",
        "up",
        "--to",
        "3",
        "--lock-timeout",
        "500ms",
    ]));
    assert_refused(&out, 1, "left the INVALID index(es) ");
    assert!(
        out.stderr.contains("it drops and rebuilds"),
        "{}",
        out.stderr
    );
    let mut c = db.conn().await;
    let invalid = strings(
        &mut c,
        "SELECT c.relname::text FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE NOT x.indisvalid",
    )
    .await;
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert!(out.stderr.contains(&invalid[0]), "{}", out.stderr);
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        2
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut snapshot)
        .await
        .unwrap();
    let out = run(db.migrate().args(["--set", "aethercrown98", "up"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("index {} was left INVALID", invalid[0])),
        "{}",
        out.stderr
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_index WHERE NOT indisvalid").await,
        0
    );
    let out = run(db.migrate().args(["--set", "aethercrown98", "verify"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// `connect_timeout` in the URL bounds connecting to a server that accepts and never
/// answers (it was always 15 s).
#[test]
fn connect_timeout_in_the_url_is_honoured() {
    let url = format!("postgres://u@{}/db?connect_timeout=2", silent_server());
    let started = Instant::now();
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["--database-url", &url, "status"])
        .stdin(Stdio::null()));
    let took = started.elapsed();
    assert_refused(&out, 3, "no answer within 2s");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

/// `status` names a set installed in another schema than the configured one.
#[tokio::test]
async fn status_flags_a_set_installed_in_another_schema() {
    let files = [
        ("0001_a.up.sql", "CREATE TABLE placed (id int);\n"),
        ("0001_a.down.sql", "DROP TABLE placed;\n"),
    ];
    let set = TempSet::new("placed", &files);
    let db = TestDb::new().await;
    assert_eq!(finish(spawn(&db, &set, "placed", &["up"])).code, 0);
    std::fs::write(
        &set.config,
        "[[set]]\nname = \"placed\"\ndir = \"placed\"\nschema = \"elsewhere\"\n",
    )
    .unwrap();
    let out = finish(spawn(&db, &set, "placed", &["status"]));
    assert!(
        out.stdout
            .contains("INSTALLED IN SCHEMA public, not elsewhere"),
        "{}",
        out.stdout
    );
    let out = finish(spawn(&db, &set, "placed", &["status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sets"][0]["installed_schema"], "public");
}

/// A session holding a lock on `migrate.history` made `status` and `up` hang silently: no
/// lock_timeout applied outside the migrations. Now the engine's own reads give up after
/// `BOOKKEEPING_LOCK_TIMEOUT` and name the holder; the run changes nothing.
#[tokio::test]
async fn a_locked_history_table_is_named_not_waited_on_forever() {
    let files = [
        ("0001_a.up.sql", "CREATE TABLE kept (id int);\n"),
        ("0001_a.down.sql", "DROP TABLE kept;\n"),
        ("0002_b.up.sql", "CREATE TABLE later (id int);\n"),
        ("0002_b.down.sql", "DROP TABLE later;\n"),
    ];
    let set = TempSet::new("held", &files);
    let db = TestDb::new().await;
    assert_eq!(
        finish(spawn(&db, &set, "held", &["up", "--to", "1"])).code,
        0
    );
    let mut holder = db.conn().await;
    sqlx::raw_sql(
        "SET application_name = 'history-holder'; BEGIN; LOCK migrate.history IN ACCESS EXCLUSIVE MODE",
    )
    .execute(&mut holder)
    .await
    .unwrap();
    let holder_pid = scalar_i64(&mut holder, "SELECT pg_backend_pid()::bigint").await;
    for args in [&["status"][..], &["up"][..]] {
        let started = Instant::now();
        let out = finish(spawn(&db, &set, "held", args));
        let took = started.elapsed();
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        let says =
            format!("migrate.history stayed locked for 5s by pid {holder_pid} (history-holder");
        assert!(out.stderr.contains(&says), "{args:?}: {}", out.stderr);
        assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    }
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        1
    );
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'later'"
        )
        .await,
        0
    );
    assert_eq!(finish(spawn(&db, &set, "held", &["up"])).code, 0);
}

/// A server that stops answering in the middle of a statement (frozen, or the network gone)
/// made the run wait forever. The watcher's health check on a second connection gets no
/// answer either, so the run gives up after `--server-timeout`, says so, and exits.
#[tokio::test]
async fn a_frozen_server_is_given_up_on_after_the_server_timeout() {
    let files = [
        (
            "0001_slow.up.sql",
            "SELECT pg_sleep(3);\nCREATE TABLE never (id int);\n",
        ),
        ("0001_slow.down.sql", "DROP TABLE never;\n"),
    ];
    let set = TempSet::new("frozen", &files);
    let db = TestDb::new().await;
    let proxy = crate::proxy::Proxy::start(&db.url);
    let child = db
        .migrate()
        .env("DATABASE_URL", proxy.url(&db.url))
        .arg("--config")
        .arg(&set.config)
        .args(["--set", "frozen", "up", "--server-timeout", "2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = db.conn().await;
    wait_until(
        &mut c,
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%' AND state = 'active')",
    )
    .await;
    proxy
        .counters
        .frozen
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let out = finish(child);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the server has not answered for")
            && out.stderr.contains("--server-timeout 2s"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(15), "gave up after {took:?}");
    proxy
        .counters
        .frozen
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // the server rolls the run's transaction back once its connection is gone
    wait_until(
        &mut c,
        "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'migrate' AND datname = current_database())",
    )
    .await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        0
    );
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'never'"
        )
        .await,
        0
    );
}

/// The descriptor of this process's TCP socket whose local port is `port`.
#[cfg(target_os = "linux")]
fn socket_with_local_port(port: u16) -> Option<i32> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: getsockname writes at most `len` bytes into the storage it is given.
        let local = unsafe {
            let mut addr: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) != 0 {
                continue;
            }
            match i32::from(addr.ss_family) {
                libc::AF_INET => {
                    let a = &*(&addr as *const _ as *const libc::sockaddr_in);
                    u16::from_be(a.sin_port)
                }
                libc::AF_INET6 => {
                    let a = &*(&addr as *const _ as *const libc::sockaddr_in6);
                    u16::from_be(a.sin6_port)
                }
                _ => continue,
            }
        };
        if local == port {
            return Some(fd);
        }
    }
    None
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn connections_carry_tcp_keepalives_from_the_url_or_the_defaults() {
    use migrate::engine::keepalive::{COUNT, IDLE, INTERVAL};
    use migrate::engine::sockets::get;
    let db = TestDb::new().await;
    let custom = format!(
        "{}{}keepalives_idle=17&keepalives_interval=3&keepalives_count=2&tcp_user_timeout=9000",
        db.url,
        if db.url.contains('?') { "&" } else { "?" }
    );
    for (url, expected) in [
        (db.url.clone(), (IDLE, INTERVAL, COUNT, 0)),
        (custom, (17, 3, 2, 9000)),
    ] {
        let mut c = migrate::engine::connect(&Run::default(), &url)
            .await
            .unwrap();
        let port: i32 = sqlx::query_scalar("SELECT inet_client_port()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        let fd = socket_with_local_port(port as u16).expect("the connection's socket");
        assert_eq!(
            get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            Some(1),
            "{url}"
        );
        let tcp = |name| get(fd, libc::IPPROTO_TCP, name).unwrap();
        assert_eq!(
            (
                tcp(libc::TCP_KEEPIDLE),
                tcp(libc::TCP_KEEPINTVL),
                tcp(libc::TCP_KEEPCNT),
                tcp(libc::TCP_USER_TIMEOUT)
            ),
            expected,
            "{url}"
        );
    }
}
