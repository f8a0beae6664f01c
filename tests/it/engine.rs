//! The engine against a real server: planning, history, checksums, locking, failures.

use crate::harness::*;
use migrate::engine::{self, DownTarget, EngineError};
use std::sync::Mutex;

fn yes(_: &engine::RollbackPlan) -> Result<(), EngineError> {
    Ok(())
}

async fn history(db: &TestDb, set: &str) -> Vec<String> {
    let mut c = db.conn().await;
    strings(
        &mut c,
        &format!(
            "SELECT version || ' ' || name || ' ' || applied_at::text FROM migrate.history
              WHERE set_name = '{set}' ORDER BY version"
        ),
    )
    .await
}

#[tokio::test]
async fn up_twice_is_a_no_op() {
    let db = TestDb::new().await;
    let set = embedded_set("aethercrown98");
    let mut c = db.conn().await;
    let first = engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(first.len(), set.migrations.len());
    let before = history(&db, "aethercrown98").await;
    let objects = user_objects(&mut c).await;
    let second = engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(history(&db, "aethercrown98").await, before);
    assert_eq!(user_objects(&mut c).await, objects);
}

#[tokio::test]
async fn up_to_a_version_then_the_rest() {
    let db = TestDb::new().await;
    let set = embedded_set("aethercrown98");
    let mut c = db.conn().await;
    let steps = engine::up(&mut c, &set, Some(3), "5s", &quiet)
        .await
        .unwrap();
    assert_eq!(
        steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // 0004 creates the policies: none yet.
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_policy").await,
        0
    );
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_active_tasks'"
        )
        .await,
        1
    );
    let rest = engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(rest.first().map(|s| s.version), Some(4));
    assert_eq!(rest.last().map(|s| s.version), Some(set.latest()));
    let err = engine::up(&mut c, &set, Some(77), "5s", &quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has no migration 0077"), "{err}");
}

#[tokio::test]
async fn down_steps_then_down_to_zero_leaves_nothing_behind() {
    let db = TestDb::new().await;
    let set = embedded_set("aethercrown98");
    let mut c = db.conn().await;
    let before = user_objects(&mut c).await;
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    let latest = set.latest();

    // back to 0004
    let steps = roll_back(&mut c, &set, DownTarget::Steps(latest as usize - 4)).await;
    assert_eq!(
        steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        (5..=latest).rev().collect::<Vec<_>>()
    );
    let st = engine::status(&mut c, &set).await.unwrap();
    assert_eq!(st.current_version, 4);
    // 0005's trigger function is gone, 0006's partitions too; 0004's policies remain.
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_proc WHERE proname = 'update_updated_at_column'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_inherits").await,
        0
    );
    assert!(scalar_i64(&mut c, "SELECT count(*) FROM pg_policy").await > 0);

    roll_back(&mut c, &set, DownTarget::To(0)).await;
    assert_eq!(user_objects(&mut c).await, before);
    assert!(history(&db, "aethercrown98").await.is_empty());

    // and the set goes back up cleanly
    let again = engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(again.len(), set.migrations.len());
}

#[tokio::test]
async fn status_reports_applied_pending_and_checksums() {
    let db = TestDb::new().await;
    let set = embedded_set("aethercrown98");
    let mut c = db.conn().await;
    // Read-only: status on an empty database creates nothing.
    let st = engine::status(&mut c, &set).await.unwrap();
    assert_eq!(st.pending(), set.migrations.len());
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'migrate'"
        )
        .await,
        0
    );
    engine::up(&mut c, &set, Some(2), "5s", &quiet)
        .await
        .unwrap();
    let st = engine::status(&mut c, &set).await.unwrap();
    assert_eq!(st.current_version, 2);
    assert_eq!(st.migrations[0].state, "applied");
    assert_eq!(st.migrations[0].checksum_matches, Some(true));
    assert!(st.migrations[0]
        .applied_at
        .as_deref()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(st.migrations[0].applied_by.as_deref(), Some("postgres"));
    assert_eq!(st.migrations[2].state, "pending");
    assert_eq!(st.migrations[2].checksum_matches, None);
    sqlx::raw_sql("UPDATE migrate.history SET checksum = repeat('0', 64) WHERE version = 2")
        .execute(&mut c)
        .await
        .unwrap();
    let st = engine::status(&mut c, &set).await.unwrap();
    assert_eq!(st.migrations[1].checksum_matches, Some(false));
    assert!(st.has_problems());
}

#[tokio::test]
async fn a_changed_checksum_is_refused_naming_version_and_file() {
    let db = TestDb::new().await;
    let set = embedded_set("aethercrown98");
    let mut c = db.conn().await;
    engine::up(&mut c, &set, Some(3), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("UPDATE migrate.history SET checksum = repeat('a', 64) WHERE version = 2")
        .execute(&mut c)
        .await
        .unwrap();
    let err = engine::up(&mut c, &set, None, "5s", &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, EngineError::ChecksumMismatch { version: 2, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("migration 0002 (schema/aethercrown98/0002_core_tables.up.sql)"),
        "{msg}"
    );
    assert!(msg.contains("aaaaaaaaaaaa"), "{msg}");
    // nothing ran: still at 3, and down is refused as well
    assert_eq!(
        engine::status(&mut c, &set).await.unwrap().current_version,
        3
    );
    let err = engine::down(&mut c, &set, DownTarget::Steps(1), "5s", &mut yes, &quiet)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ChecksumMismatch { .. }));
    // the lock was released on the error path
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn an_unknown_applied_version_is_refused() {
    let db = TestDb::new().await;
    let set = embedded_set("aethercrown98");
    let mut c = db.conn().await;
    engine::up(&mut c, &set, Some(1), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO migrate.history (set_name, version, name, namespace, checksum, execution_ms)
         VALUES ('aethercrown98', 42, 'from_the_future', 'public', 'x', 1)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let err = engine::up(&mut c, &set, None, "5s", &quiet)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("migration 0042 (from_the_future)") && msg.contains("does not know"),
        "{msg}"
    );
    assert_eq!(
        engine::status(&mut c, &set)
            .await
            .unwrap()
            .unknown_applied
            .len(),
        1
    );
    // nothing beyond 0001 was applied
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'users'"
        )
        .await,
        0
    );
}

/// Applies fixture set `name`, which must fail; returns the database, a connection to it and
/// the error.
async fn up_fails(name: &str) -> (TestDb, sqlx::PgConnection, EngineError) {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let err = engine::up(&mut c, &fixture_set(name), None, "5s", &quiet)
        .await
        .unwrap_err();
    (db, c, err)
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind_and_names_the_line() {
    let (_db, mut c, err) = up_fails("failing").await;
    let msg = err.to_string();
    assert!(
        matches!(err, EngineError::MigrationFailed { version: 2, .. }),
        "{msg}"
    );
    assert!(msg.contains("failing/0002_broken.up.sql:6:8:"), "{msg}");
    assert!(
        msg.contains("column \"missing_column\" does not exist"),
        "{msg}"
    );
    assert_eq!(err.sqlstate(), Some("42703"));
    assert!(msg.contains("rolled back"), "{msg}");
    // 0001 committed, 0002 left nothing: no table, no history row
    assert_eq!(
        strings(
            &mut c,
            "SELECT version::text FROM migrate.history ORDER BY 1"
        )
        .await,
        vec!["1"]
    );
    assert_eq!(
        strings(
            &mut c,
            "SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'fx_%' ORDER BY 1"
        )
        .await,
        vec!["fx_first"]
    );
}

/// A file's statements go to the server as one query: a failure is still named at its own
/// statement, whether the server says where (a position, counted in the text sent) or not
/// (the statements it completed before the error tell which one failed).
#[tokio::test]
async fn a_failure_in_a_later_statement_is_named_at_its_line() {
    let cases = [
        // no position: a unique violation in the fourth statement, after a comment
        (
            "CREATE TABLE b1 (id int PRIMARY KEY);\nINSERT INTO b1 VALUES (1);\n-- again:\nINSERT INTO b1 VALUES (2);\n\n  INSERT INTO b1\n  VALUES (1);\nCREATE TABLE b2 (id int);\n",
            "0001_a.up.sql:6:3:",
            "duplicate key value violates unique constraint \"b1_pkey\"",
        ),
        // no position, a statement that returns rows before it
        (
            "CREATE TABLE b1 (id int);\nSELECT 1 FROM generate_series(1, 3);\nSELECT 1 / 0;\n",
            "0001_a.up.sql:3:1:",
            "division by zero",
        ),
        // a syntax error in the third statement: the server runs none of them
        (
            "CREATE TABLE b1 (id int);\n/* a comment; with a semicolon */\nINSERT INTO b1 VALUES (1);\nSELEC 1;\n",
            "0001_a.up.sql:4:1:",
            "syntax error at or near \"SELEC\"",
        ),
    ];
    // a file of more than one query's worth (1 MiB): the failure in its second part, line 1202
    let filler = "x".repeat(1000);
    let mut big = String::from("CREATE TABLE b1 (id int PRIMARY KEY, note text);\n");
    for i in 0..1200 {
        big.push_str(&format!("INSERT INTO b1 VALUES ({i}, '{filler}');\n"));
    }
    big.push_str("INSERT INTO b1 VALUES (7, 'again');\n");
    let big_case = (big.as_str(), "0001_a.up.sql:1202:1:", "duplicate key value");
    for (sql, location, message) in cases.into_iter().chain([big_case]) {
        let shown = &sql[..sql.len().min(200)];
        let set = TempSet::new(
            "later",
            &[("0001_a.up.sql", sql), ("0001_a.down.sql", "SELECT 1;\n")],
        );
        let db = TestDb::new().await;
        let mut c = db.conn().await;
        let err = engine::up(&mut c, &set.set(), None, "5s", &quiet)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("later/{location} {message}")),
            "{shown}: {msg}"
        );
        assert!(msg.contains("rolled back"), "{msg}");
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'b_'"
            )
            .await,
            0,
            "{shown}"
        );
    }
}

#[tokio::test]
async fn plpgsql_errors_point_at_the_line_inside_the_block() {
    let (_db, mut c, err) = up_fails("plpgsql").await;
    let msg = err.to_string();
    assert!(msg.contains("plpgsql/0001_do_block.up.sql:5:"), "{msg}");
    assert!(msg.contains("refusing on purpose"), "{msg}");
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'fx_pl'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn no_transaction_files_run_each_statement_alone() {
    let db = TestDb::new().await;
    let set = fixture_set("concurrent_index");
    let mut c = db.conn().await;
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(
        strings(
            &mut c,
            "SELECT i.indexrelid::regclass::text FROM pg_index i
              WHERE i.indrelid = 'fx_ci'::regclass AND i.indisvalid ORDER BY 1"
        )
        .await,
        vec!["fx_ci_a", "fx_ci_b"]
    );
    assert_eq!(
        engine::status(&mut c, &set).await.unwrap().current_version,
        2
    );
    // session settings were reset after the file
    let path: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(path, "\"$user\", public");
    roll_back(&mut c, &set, DownTarget::Steps(1)).await;
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_index WHERE indrelid = 'fx_ci'::regclass"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_failing_no_transaction_file_says_what_stayed() {
    let (_db, mut c, err) = up_fails("notx_failing").await;
    let msg = err.to_string();
    assert!(msg.contains("notx_failing/0001_half.up.sql:4:"), "{msg}");
    assert!(
        msg.contains("2 statement(s) before line 4 were applied and stay"),
        "{msg}"
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        0
    );
}

#[tokio::test]
async fn lock_timeout_stops_a_migration_stuck_behind_a_long_transaction() {
    let db = TestDb::new().await;
    let set = fixture_set("locking");
    let mut c = db.conn().await;
    engine::up(&mut c, &set, Some(1), "5s", &quiet)
        .await
        .unwrap();
    // A long-running reader holds a lock ALTER TABLE must wait for.
    let mut reader = db.conn().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE fx_lock IN ACCESS SHARE MODE")
        .execute(&mut reader)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = engine::up(&mut c, &set, None, "200ms", &quiet)
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("55P03"), "{err}");
    let msg = err.to_string();
    // The reader never lets go: ending at all is what the lock timeout proves. The bound is
    // far above the 200 ms attempts and their backoff, so a loaded CI machine (4.01 s was
    // measured under PostgreSQL 18's run) does not fail it.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(msg.contains("lock timeout"), "{msg}");
    assert!(msg.contains("locking/0002_add_column.up.sql:1:1"), "{msg}");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut reader)
        .await
        .unwrap();
    assert_eq!(
        engine::status(&mut c, &set).await.unwrap().current_version,
        1
    );
    engine::up(&mut c, &set, None, "200ms", &quiet)
        .await
        .unwrap();
    assert_eq!(
        engine::status(&mut c, &set).await.unwrap().current_version,
        2
    );
}

#[tokio::test]
async fn a_second_runner_waits_for_the_lock_and_says_so() {
    let db = TestDb::new().await;
    let set = fixture_set("slow");
    let mut holder = db.conn().await;
    migrate::engine::history::ensure(&mut holder).await.unwrap();
    hold_set_lock(&mut holder, "slow").await;

    let waited = Mutex::new(Vec::new());
    // The lock is released once the runner has said it waits, not after a guessed delay.
    let waiting = tokio::sync::Notify::new();
    let log = |e: &engine::Event| {
        if matches!(e, engine::Event::Waiting { .. }) {
            waiting.notify_one();
        }
        waited.lock().unwrap().push(format!("{e:?}"))
    };
    let mut c = db.conn().await;
    let release = async {
        waiting.notified().await;
        release_set_lock(&mut holder, "slow").await;
    };
    let (steps, ()) = tokio::join!(engine::up(&mut c, &set, Some(2), "5s", &log), release);
    assert_eq!(steps.unwrap().len(), 2);
    let events = waited.lock().unwrap().join("\n");
    assert!(
        events.contains("Waiting") && events.contains("pid "),
        "{events}"
    );
    assert!(events.contains("Locked"), "{events}");
}

#[tokio::test]
async fn a_set_can_live_in_its_own_schema() {
    let db = TestDb::new().await;
    let mut set = embedded_set("aethercrown98");
    set.schema = "ac98".into();
    let mut c = db.conn().await;
    let before = user_objects(&mut c).await;
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'ac98'"
        )
        .await,
        // 5 tables (activity_logs partitioned) + default + 3 monthly partitions
        9
    );
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .await,
        0
    );
    // the schema is reachable by the API roles
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT has_schema_privilege('authenticated', 'ac98', 'USAGE')::int::int8"
        )
        .await,
        1
    );
    // a different configured schema is refused
    let mut elsewhere = set.clone();
    elsewhere.schema = "public".into();
    let msg = engine::up(&mut c, &elsewhere, None, "5s", &quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("installed in schema `ac98`"), "{msg}");
    roll_back(&mut c, &set, DownTarget::To(0)).await;
    assert_eq!(user_objects(&mut c).await, before);
}

/// Signals belong to a run, not to the process: a run that was signalled stops before its
/// first step and leaves nothing behind, while another run in the same process, started
/// after it, applies everything (one process holding several runs, as a fleet or these
/// tests do).
#[tokio::test]
async fn a_signal_stops_its_own_run_and_no_other() {
    use migrate::engine::Limits;
    use migrate::interrupt::Signal;
    use migrate::run::Run;
    let db = TestDb::new().await;
    let set = embedded_set("witchcraft");
    let stopped = Run::new();
    assert!(stopped.signals().raise(Signal::Terminate));
    let refused = engine::connect(&stopped, &db.url).await.unwrap_err();
    assert!(
        matches!(
            refused,
            EngineError::Interrupted {
                signal: Signal::Terminate
            }
        ),
        "{refused:?}"
    );
    let mut conn = db.conn().await;
    let before = user_objects(&mut conn).await;
    let err = engine::up(
        &mut conn,
        &set,
        None,
        Limits::new("5s").in_run(&stopped),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), 143, "{err}");
    // stopped before it created anything, its history table included
    assert_eq!(user_objects(&mut conn).await, before);
    let history_table: i64 = scalar_i64(
        &mut conn,
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'migrate'",
    )
    .await;
    assert_eq!(history_table, 0);
    let other = Run::new();
    let mut conn = engine::connect(&other, &db.url).await.unwrap();
    let steps = engine::up(
        &mut conn,
        &set,
        None,
        Limits::new("5s").in_run(&other),
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(steps.len(), set.migrations.len());
    assert_eq!(history(&db, "witchcraft").await.len(), set.migrations.len());
}
