//! Rollback you can trust: the proof for both sets and for deliberately wrong down files,
//! irreversible migrations, the data-loss guard, dry runs, and failures during `down`.

use crate::harness::*;
use migrate::engine::{self, DownTarget, EngineError};
use std::process::Command;

fn fixtures(cmd: &mut Command) -> &mut Command {
    cmd.arg("--config").arg(fixtures_config())
}

/// `(OUTCOME, step, detail)` lines of a `verify --roundtrip` run.
fn proof_lines(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(o, rest)| (o.to_string(), rest.trim().to_string()))
        })
        .collect()
}

#[tokio::test]
async fn every_down_of_both_sets_is_proven() {
    // The scratch databases go on the test server (--scratch-url), and are dropped after.
    let db = TestDb::new().await;
    let out = run(db.migrate().args([
        "verify",
        "--roundtrip",
        "--scratch-url",
        &admin_url(),
        "--json",
    ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (i, set) in ["aethercrown98", "witchcraft"].iter().enumerate() {
        let steps = v["sets"][i]["steps"].as_array().unwrap();
        assert_eq!(v["sets"][i]["set"], *set);
        assert_eq!(steps.len(), embedded_set(set).migrations.len() + 2, "{set}");
        assert!(
            steps.iter().all(|s| s["outcome"] == "pass"),
            "{set}: {steps:?}"
        );
    }
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'migrate\\_scratch\\_%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_down_that_forgets_an_index_is_caught_and_named() {
    let db = TestDb::new().await;
    let out = run(fixtures(&mut db.migrate()).args([
        "verify",
        "--roundtrip",
        "--scratch-url",
        &admin_url(),
        "--set",
        "forgets_index",
    ]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let lines = proof_lines(&out.stdout);
    assert_eq!(lines[0].0, "PASS");
    assert_eq!(lines[1].0, "FAIL");
    assert!(lines[1].1.starts_with("0002 index                               left behind: index fx_fi_a; applying it again then failed:"), "{}", out.stdout);
    // the leftover index stops the migration from applying again: the proof ends there
    assert_eq!(lines[2].0, "SKIPPED");
    assert_eq!(lines[3].0, "SKIPPED");
}

#[tokio::test]
async fn a_down_that_drops_too_much_is_caught_and_named() {
    let db = TestDb::new().await;
    let out = run(fixtures(&mut db.migrate()).args([
        "verify",
        "--roundtrip",
        "--scratch-url",
        &admin_url(),
        "--set",
        "drops_too_much",
        "--json",
    ]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let step = &v["sets"][0]["steps"][1];
    assert_eq!(step["step"], "0002 index");
    assert_eq!(step["outcome"], "fail");
    assert_eq!(
        step["removed_too_much"],
        serde_json::json!(["column fx_keep.a", "table fx_keep"])
    );
    assert!(step["detail"]
        .as_str()
        .unwrap()
        .starts_with("removed too much: column fx_keep.a, table fx_keep"));
}

#[tokio::test]
async fn an_irreversible_migration_is_reported_and_down_stops_before_it() {
    let db = TestDb::new().await;
    let out = run(fixtures(&mut db.migrate()).args([
        "verify",
        "--roundtrip",
        "--scratch-url",
        &admin_url(),
        "--set",
        "irreversible",
    ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let outcomes: Vec<String> = proof_lines(&out.stdout)
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(
        outcomes,
        ["PASS", "IRREVERSIBLE", "PASS", "SKIPPED", "SKIPPED"]
    );

    let up = run(fixtures(&mut db.migrate()).args(["--set", "irreversible", "up"]));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let down = run(fixtures(&mut db.migrate()).args([
        "--set",
        "irreversible",
        "down",
        "--to",
        "0",
        "--yes",
    ]));
    assert_eq!(down.code, 1);
    assert!(
        down.stderr.contains("migration 0002 (lowercase) is irreversible (irreversible/0002_lowercase.down.sql says so); nothing was rolled back; roll back only to 0002 or later (--to 2)"),
        "{}",
        down.stderr
    );
    let mut c = db.conn().await;
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        3
    );
    let to_2 = run(fixtures(&mut db.migrate()).args([
        "--set",
        "irreversible",
        "down",
        "--to",
        "2",
        "--yes",
    ]));
    assert_eq!(to_2.code, 0, "{}", to_2.stderr);
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        2
    );
}

#[tokio::test]
async fn the_data_loss_guard_lists_rows_and_needs_yes() {
    let (db, mut c) = migrated("aethercrown98").await;
    sqlx::raw_sql(
        "INSERT INTO users (email) VALUES ('a@x'), ('b@x');
         INSERT INTO payments (order_id, amount) VALUES ('o1', 1);",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let refused = run(db
        .migrate()
        .args(["--set", "aethercrown98", "down", "--to", "1"]));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(
            "this deletes data: table payments (1 rows, by 0002), table users (2 rows, by 0002)"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM users").await, 2);
    let done = run(db
        .migrate()
        .args(["--set", "aethercrown98", "down", "--to", "1", "--yes"]));
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'users'"
        )
        .await,
        0
    );

    // dropped columns count their non-null values; empty objects are not listed
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = fixture_set("irreversible");
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    sqlx::raw_sql("INSERT INTO fx_irr VALUES ('a', 'kept'), ('b', NULL), ('c', 'kept')")
        .execute(&mut c)
        .await
        .unwrap();
    let seen = std::sync::Mutex::new(Vec::new());
    let mut refuse = |plan: &engine::RollbackPlan| {
        seen.lock().unwrap().extend(
            plan.data_at_risk
                .iter()
                .map(|r| format!("{} {} {}", r.object, r.rows.unwrap_or(-1), r.version)),
        );
        Err(EngineError::Cancelled)
    };
    let err = engine::down(
        &mut c,
        &set,
        DownTarget::Steps(1),
        "5s",
        &mut refuse,
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, EngineError::Cancelled));
    assert_eq!(*seen.lock().unwrap(), ["column fx_irr.note 2 3"]);
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM fx_irr WHERE note IS NOT NULL").await,
        2
    );
}

#[tokio::test]
async fn dry_runs_print_the_sql_and_change_nothing() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let before = user_objects(&mut c).await;
    let out = run(db
        .migrate()
        .args(["--set", "aethercrown98", "up", "--dry-run"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("-- aethercrown98: 9 migration(s) would be applied\n-- aethercrown98 0001 supabase_auth_shim (schema/aethercrown98/0001_supabase_auth_shim.up.sql)\nBEGIN;\n"), "{}", out.stdout);
    assert!(out.stdout.contains("-- aethercrown98 0003 indexes (schema/aethercrown98/0003_indexes.up.sql), without a transaction\nSELECT set_config('lock_timeout', '5s', false)"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("CREATE TABLE users (\n  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("INSERT INTO migrate.history (set_name, version, name, namespace, checksum, execution_ms) VALUES ('aethercrown98', 7, 'realtime_publication', 'public', '"), "{}", out.stdout);
    assert_eq!(out.stdout.matches("\nCOMMIT;\n").count(), 8);
    // nothing at all was created, not even the history table
    assert_eq!(user_objects(&mut c).await, before);
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'migrate'"
        )
        .await,
        0
    );

    engine::up(&mut c, &embedded_set("aethercrown98"), None, "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("INSERT INTO users (email) VALUES ('a@x')")
        .execute(&mut c)
        .await
        .unwrap();
    let objects = user_objects(&mut c).await;
    let out = run(db
        .migrate()
        .args(["--set", "aethercrown98", "down", "--to", "0", "--dry-run"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("-- aethercrown98: 9 migration(s) would be rolled back\n-- deletes data: table users (1 rows, by 0002)\n-- aethercrown98 0009 server_sets_created_at"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "DELETE FROM migrate.history WHERE set_name = 'aethercrown98' AND version = 1;"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(user_objects(&mut c).await, objects);
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM migrate.history").await,
        9
    );
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) FROM users").await, 1);
}

#[tokio::test]
async fn a_failing_down_rolls_back_and_names_file_and_line() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = fixture_set("failing_down");
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    let out = run(fixtures(&mut db.migrate()).args(["--set", "failing_down", "down", "--yes"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("migration failing_down 0002 failed at failing_down/0002_index.down.sql:2:21: relation \"nowhere\" does not exist [SQLSTATE 42P01]; the migration was rolled back and the history is unchanged"),
        "{}",
        out.stderr
    );
    // the index the first statement dropped is back, and 0002 is still recorded
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'fx_fd_a'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT max(version) FROM migrate.history").await,
        2
    );
}

/// A set of nine migrations, each making a table `lc_k` with an index; `downs` replaces the
/// down file of some.
fn long_chain(downs: &[(usize, &str)]) -> TempSet {
    let files: Vec<(String, String)> = (1..=9)
        .flat_map(|k| {
            let up = format!(
                "CREATE TABLE lc_{k} (id int PRIMARY KEY, v int);\nCREATE INDEX lc_{k}_v ON lc_{k} (v);\n"
            );
            let down = downs
                .iter()
                .find(|(of, _)| *of == k)
                .map_or_else(|| format!("DROP TABLE lc_{k};\n"), |(_, d)| d.to_string());
            [
                (format!("000{k}_t{k}.up.sql"), up),
                (format!("000{k}_t{k}.down.sql"), down),
            ]
        })
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    TempSet::new("lc", &files)
}

/// `verify --roundtrip --json` of `set` planned for `jobs` cores, on a throwaway server of its
/// own (the test server's scratch databases are counted by another test): the set's report.
fn proof(db: &TestDb, set: &TempSet, jobs: &str) -> (i32, serde_json::Value) {
    let out = run(db.migrate().arg("--config").arg(&set.config).args([
        "verify",
        "--roundtrip",
        "--json",
        "--jobs",
        jobs,
    ]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    (out.code, v["sets"][0].clone())
}

/// The proof cut into shares reports what the one chain does, step for step: a failure in
/// either share is named at its migration, a proof that stops in the first share ignores what
/// the second found (those steps were never reached), and one that stops in the second keeps
/// the first's steps.
#[tokio::test]
async fn a_proof_in_shares_reports_what_the_one_chain_reports() {
    let db = TestDb::new().await;
    let forgets_index = |k: usize| format!("DROP INDEX lc_{k}_v;\n");
    let leaves_table = "DROP INDEX lc_1_v;\n";
    // (what, the set, (step, outcome) of some steps)
    type Case<'a> = (&'a str, TempSet, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("every down right", long_chain(&[]), vec![]),
        (
            // 3: the table stays, so up 3 fails again and the proof stops in the first share;
            // 8's wrong down is never reached
            "stops in the first share",
            long_chain(&[(3, &forgets_index(3)), (8, &forgets_index(8))]),
            vec![
                ("0003 t3", "fail"),
                ("0004 t4", "skipped"),
                ("0008 t8", "skipped"),
            ],
        ),
        (
            // 8's down drops the index only: its table is left behind, applying 8 again fails
            "stops in the second share",
            long_chain(&[(8, &forgets_index(8))]),
            vec![
                ("0007 t7", "pass"),
                ("0008 t8", "fail"),
                ("0009 t9", "skipped"),
            ],
        ),
        (
            // a down that fails (it drops its table twice) stops nothing; 9's drops another
            // migration's index and leaves its own table, so the proof stops at the end
            "a failing down in each share",
            long_chain(&[
                (2, "DROP TABLE lc_2;\nDROP TABLE lc_2;\n"),
                (9, leaves_table),
            ]),
            vec![
                ("0002 t2", "fail"),
                ("0003 t3", "pass"),
                ("0009 t9", "fail"),
            ],
        ),
    ];
    for (what, set, expected) in cases {
        let (chain_code, chain) = proof(&db, &set, "1");
        let (shared_code, shared) = proof(&db, &set, "2");
        let firsts = |v: &serde_json::Value| {
            v["shares"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["first"].as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(firsts(&chain), [1], "{what}: {chain}");
        assert_eq!(firsts(&shared), [1, 6], "{what}: {shared}");
        assert_eq!(shared["steps"], chain["steps"], "{what}");
        assert_eq!(
            (shared_code, &shared["ok"]),
            (chain_code, &chain["ok"]),
            "{what}"
        );
        let steps = chain["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 11, "{what}: {chain}");
        for (step, outcome) in &expected {
            let found = steps.iter().find(|s| s["step"] == *step).unwrap();
            assert_eq!(found["outcome"], *outcome, "{what}: {step}: {found}");
        }
        if expected.is_empty() {
            assert!(
                steps.iter().all(|s| s["outcome"] == "pass"),
                "{what}: {chain}"
            );
        }
    }
}
