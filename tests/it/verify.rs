//! `migrate verify`: every check passes on a freshly migrated database of either set, and
//! each check fails, naming the object or version, when its rule is broken.

use crate::harness::*;
use migrate::engine;
use migrate::run::Run;

/// The `(PASS|FAIL, check, summary)` lines of a verify run.
fn lines(out: &Output) -> Vec<(String, String)> {
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| (l[..4].to_string(), l[6..].to_string()))
        .collect()
}

#[tokio::test]
async fn a_freshly_migrated_database_passes_every_check() {
    for set in ["aethercrown98", "witchcraft"] {
        let (db, _c) = migrated(set).await;
        let out = run(db.migrate().arg("verify"));
        assert_eq!(out.code, 0, "{set}: {}{}", out.stdout, out.stderr);
        let checks = lines(&out);
        assert_eq!(checks.len(), 9, "{}", out.stdout);
        assert!(checks.iter().all(|(s, _)| s == "PASS"), "{}", out.stdout);
        let json = run(db.migrate().args(["verify", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["ok"], true);
        let names: Vec<&str> = v["sets"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "checksums",
                "versions",
                "catalog",
                "row level security",
                "foreign key indexes",
                "definer search_path",
                "definer views",
                "valid indexes",
                "duplicate indexes"
            ]
        );
    }
}

#[tokio::test]
async fn each_check_fails_on_what_it_guards() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("checksums", "UPDATE migrate.history SET checksum = 'x' WHERE version = 4",
         "checksums", "0004 (schema/witchcraft/0004_billing_and_quotas.up.sql) changed since it was applied"),
        ("unknown version", "INSERT INTO migrate.history (set_name, version, name, namespace, checksum, execution_ms) VALUES ('witchcraft', 99, 'ghost', 'public', 'x', 1)",
         "versions", "0099 (ghost) is applied but unknown to this binary"),
        ("skipped version", "DELETE FROM migrate.history WHERE version = 5",
         "versions", "0005 (indexes) was skipped"),
        ("rls on a partition", "ALTER TABLE ai_usage_requests_default DISABLE ROW LEVEL SECURITY",
         "row level security", "disabled on: ai_usage_requests_default"),
        ("rls on a partitioned table", "ALTER TABLE ai_usage_requests DISABLE ROW LEVEL SECURITY",
         "row level security", "disabled on: ai_usage_requests"),
        ("unindexed foreign key", "DROP INDEX idx_payment_history_subscription_id",
         "foreign key indexes", "payment_history payment_history_subscription_id_fkey"),
        ("unpinned definer", "ALTER FUNCTION daily_maintenance() RESET search_path",
         "definer search_path", "daily_maintenance()"),
        ("definer pinned to a schema that does not exist", "ALTER FUNCTION daily_maintenance() SET search_path = '@home', pg_temp",
         "definer search_path", "daily_maintenance()"),
        ("definer searching pg_temp first", "ALTER FUNCTION monthly_maintenance() SET search_path = public",
         "definer search_path", "monthly_maintenance()"),
        ("definer searching a schema of someone else", "CREATE SCHEMA elsewhere; ALTER FUNCTION cleanup_old_audit_logs(integer) SET search_path = elsewhere, public, pg_temp",
         "definer search_path", "cleanup_old_audit_logs(integer)"),
        // Regression: a view switched to its owner's rights returned every user's quota row,
        // and verify passed all its checks.
        ("view without security_invoker", "ALTER VIEW quotas_approaching_limit SET (security_invoker = false)",
         "definer views", "quotas_approaching_limit reads user_quotas"),
        ("view without security_invoker", "ALTER VIEW quotas_approaching_limit SET (security_invoker = false)",
         "catalog", "changed view quotas_approaching_limit"),
        ("view option reset", "ALTER VIEW quotas_approaching_limit RESET (security_invoker)",
         "definer views", "quotas_approaching_limit reads user_quotas"),
        ("new definer view", "CREATE VIEW all_quotas AS SELECT * FROM user_quotas",
         "definer views", "all_quotas reads user_quotas"),
        ("duplicate index", "CREATE INDEX users_email_again ON users (email)",
         "duplicate indexes", "users_email_again, users_email_key"),
    ];
    every_case(
        cases.iter().copied(),
        |c| c.0.to_string(),
        |(what, inject, check, names)| async move {
            let (db, mut c) = migrated("witchcraft").await;
            sqlx::raw_sql(inject).execute(&mut c).await.unwrap();
            let out = run(db.migrate().arg("verify"));
            assert_eq!(out.code, 1, "{what}: {}", out.stdout);
            let failed = lines(&out);
            let line = failed
                .iter()
                .find(|(s, l)| s == "FAIL" && l.starts_with(check))
                .unwrap_or_else(|| panic!("{what}: no failing {check} line in\n{}", out.stdout));
            assert!(line.1.contains(names), "{what}: {}", line.1);
        },
    )
    .await;
}

#[tokio::test]
async fn an_invalid_index_from_a_failed_concurrent_build_fails_verify() {
    let (db, mut c) = migrated("aethercrown98").await;
    sqlx::raw_sql(
        "INSERT INTO users (email) VALUES ('a@x'), ('b@x');
         UPDATE users SET name = 'same';",
    )
    .execute(&mut c)
    .await
    .unwrap();
    // CREATE UNIQUE INDEX CONCURRENTLY on duplicates fails and leaves the index invalid
    let failed = sqlx::raw_sql("CREATE UNIQUE INDEX CONCURRENTLY users_name_key ON users (name)")
        .execute(&mut c)
        .await;
    assert!(failed.is_err());
    let out = run(db.migrate().arg("verify"));
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("FAIL  valid indexes        invalid (a failed CREATE INDEX CONCURRENTLY?): users_name_key"), "{}", out.stdout);
}

#[tokio::test]
async fn drifted_objects_are_attributed_to_their_migration() {
    let (db, mut c) = migrated("aethercrown98").await;
    sqlx::raw_sql("DROP INDEX idx_logs_level; DROP POLICY log_insert_own ON activity_logs")
        .execute(&mut c)
        .await
        .unwrap();
    let out = run(db.migrate().arg("verify"));
    assert_eq!(out.code, 1);
    // the index took its present definition (ON ONLY the partitioned table) in 0006; the
    // policy is defined by 0004 (0006 recreated it unchanged)
    assert!(
        out.stdout
            .contains("missing index idx_logs_level (from 0006 partition_activity_logs)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "missing policy activity_logs.log_insert_own (from 0004 row_level_security_policies)"
        ),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn a_partly_migrated_database_is_checked_against_its_applied_version() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    engine::up(&mut c, &embedded_set("witchcraft"), Some(4), "5s", &quiet)
        .await
        .unwrap();
    let out = run(db.migrate().arg("verify"));
    assert_eq!(out.code, 1, "{}", out.stdout);
    let checks = lines(&out);
    let status = |name: &str| {
        checks
            .iter()
            .find(|(_, l)| l.starts_with(name))
            .map(|(s, l)| format!("{s} {l}"))
            .unwrap()
    };
    assert!(
        status("versions")
            .starts_with("FAIL versions             versions differ: 0005 (indexes) is pending"),
        "{}",
        out.stdout
    );
    assert!(
        status("catalog")
            .starts_with("PASS catalog              matches the expected catalog at 0004"),
        "{}",
        out.stdout
    );
}

/// The checks of `verify` are the library's: called directly, without the binary, they
/// pass on a migrated database and name a dropped index with the migration that made it.
#[tokio::test]
async fn the_checks_of_verify_run_from_the_library() {
    let (_db, mut c) = migrated("witchcraft").await;
    let set = embedded_set("witchcraft");
    let all = [embedded_set("aethercrown98"), set.clone()];
    let checks = migrate::verify::expected::checks(&Run::default(), &mut c, &set, &all)
        .await
        .unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    sqlx::raw_sql("DROP INDEX idx_model_popularity")
        .execute(&mut c)
        .await
        .unwrap();
    let checks = migrate::verify::expected::checks(&Run::default(), &mut c, &set, &all)
        .await
        .unwrap();
    let catalog = checks.iter().find(|c| c.check == "catalog").unwrap();
    assert!(!catalog.ok);
    assert_eq!(
        catalog.problems,
        ["missing index idx_model_popularity (from 0005 indexes)"]
    );
}

/// Regression: when the scratch server of the rollback proof could not be reached, the error
/// told the user to check --database-url, a URL that was never used for it.
#[tokio::test]
async fn an_unreachable_scratch_server_is_named_by_scratch_url_not_database_url() {
    let db = TestDb::new().await;
    let out = run(db.migrate().args([
        "--set",
        "witchcraft",
        "verify",
        "--roundtrip",
        "--scratch-url",
        "postgres://x:secret@127.0.0.1:1/x",
    ]));
    assert_refused(&out, 3, "check --scratch-url and that the server is up");
    assert!(!out.stderr.contains("--database-url"), "{}", out.stderr);
    assert!(!out.stderr.contains("secret"), "{}", out.stderr);
}
