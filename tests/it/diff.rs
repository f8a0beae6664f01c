//! `migrate diff` against drifted databases: every kind of drift is found and named, the
//! report is stable (insta snapshots), and `--sql` repairs what it claims to repair.

use crate::harness::*;

struct Case {
    name: &'static str,
    inject: &'static str,
    /// The report line naming the drifted object.
    names: &'static str,
    /// Whether `diff --sql` repairs it.
    repairable: bool,
}

const CASES: &[Case] = &[
    Case { name: "dropped_index", inject: "DROP INDEX idx_tasks_status", names: "missing     index idx_tasks_status", repairable: true },
    Case {
        name: "changed_index_predicate",
        inject: "DROP INDEX idx_active_tasks; CREATE INDEX idx_active_tasks ON ai_tasks (clone_id) WHERE status::text = 'pending'::text",
        names: "changed     index idx_active_tasks",
        repairable: true,
    },
    Case { name: "rls_disabled_on_table", inject: "ALTER TABLE payments DISABLE ROW LEVEL SECURITY", names: "changed     table payments", repairable: true },
    Case {
        name: "rls_disabled_on_partition",
        inject: "ALTER TABLE activity_logs_default DISABLE ROW LEVEL SECURITY",
        names: "changed     table activity_logs_default",
        repairable: true,
    },
    Case {
        name: "policy_expression_changed",
        inject: "DROP POLICY clone_select_own ON ai_clones; CREATE POLICY clone_select_own ON ai_clones FOR SELECT TO authenticated USING (true)",
        names: "changed     policy ai_clones.clone_select_own",
        repairable: true,
    },
    Case { name: "policy_dropped", inject: "DROP POLICY payment_select_own ON payments", names: "missing     policy payments.payment_select_own", repairable: true },
    Case { name: "extra_column", inject: "ALTER TABLE users ADD COLUMN nickname text", names: "unexpected  column users.nickname", repairable: false },
    Case {
        name: "changed_column_default",
        inject: "ALTER TABLE ai_tasks ALTER COLUMN priority SET DEFAULT 'high'",
        names: "changed     column ai_tasks.priority",
        repairable: true,
    },
    Case {
        name: "changed_nullability",
        inject: "ALTER TABLE ai_clones ALTER COLUMN description SET NOT NULL",
        names: "changed     column ai_clones.description",
        repairable: true,
    },
    Case { name: "dropped_trigger", inject: "DROP TRIGGER update_users_updated_at ON users", names: "missing     trigger users.update_users_updated_at", repairable: true },
    Case {
        name: "changed_function_body",
        inject: "CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger SET search_path = '' AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
        names: "changed     function update_updated_at_column()",
        repairable: true,
    },
    Case {
        name: "detached_partition",
        inject: "ALTER TABLE activity_logs DETACH PARTITION activity_logs_default",
        names: "changed     table activity_logs_default",
        repairable: true,
    },
    Case { name: "dropped_table", inject: "DROP TABLE payments", names: "missing     table payments", repairable: true },
    Case {
        name: "changed_grants",
        inject: "REVOKE DELETE ON ai_clones FROM authenticated; GRANT SELECT ON ai_clones TO anon",
        names: "changed     grants on table ai_clones",
        repairable: true,
    },
    Case {
        name: "removed_publication_membership",
        inject: "ALTER PUBLICATION supabase_realtime DROP TABLE payments",
        names: "missing     publication member supabase_realtime:payments",
        repairable: true,
    },
];

#[tokio::test]
async fn every_kind_of_drift_is_found_named_and_where_possible_repaired() {
    // The set as its migrations leave it has no drift; each case starts from a copy of it.
    let (db, c) = migrated("aethercrown98").await;
    drop(c);
    let clean = run(db.migrate().arg("diff"));
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean
            .stdout
            .starts_with("aethercrown98 (schema public): no drift ("),
        "{}",
        clean.stdout
    );
    every_case(
        CASES.iter(),
        |c| c.name.to_string(),
        |case| async move {
            let (db, mut c) = migrated("aethercrown98").await;
            sqlx::raw_sql(case.inject).execute(&mut c).await.unwrap();
            let out = run(db.migrate().arg("diff").env("NO_COLOR", "1"));
            assert_eq!(out.code, 1, "{}: {}{}", case.name, out.stdout, out.stderr);
            assert!(
                out.stdout.contains(case.names),
                "{}: {}",
                case.name,
                out.stdout
            );
            insta::assert_snapshot!(case.name, out.stdout);

            let json = run(db.migrate().args(["diff", "--json"]));
            assert_eq!(json.code, 1);
            let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
            assert_eq!(v["drift"], true, "{}", case.name);
            let object = case
                .names
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                json.stdout.contains(&object),
                "{}: {}",
                case.name,
                json.stdout
            );

            // verify fails on the same drift, naming the object in its catalog line
            let verify = run(db.migrate().arg("verify"));
            assert_eq!(verify.code, 1, "{}: {}", case.name, verify.stdout);
            let catalog_line = verify
                .stdout
                .lines()
                .find(|l| l.contains("FAIL  catalog"))
                .unwrap_or_default();
            assert!(
                catalog_line.contains(&object),
                "{}: {}",
                case.name,
                verify.stdout
            );

            let sql = run(db.migrate().args(["diff", "--sql"]));
            assert_eq!(sql.code, 1);
            if case.repairable {
                sqlx::raw_sql(&sql.stdout)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}\n{}", case.name, sql.stdout));
                let after = run(db.migrate().arg("diff"));
                assert_eq!(
                    after.code, 0,
                    "{}: repair left drift:\n{}\n{}",
                    case.name, sql.stdout, after.stdout
                );
            } else {
                assert!(
                    sql.stdout.contains("-- not generated: ")
                        || sql.stdout.contains("-- data loss: "),
                    "{}: {}",
                    case.name,
                    sql.stdout
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn diff_never_changes_the_database_and_reports_errors_as_2_or_3() {
    let (db, mut c) = migrated("witchcraft").await;
    sqlx::raw_sql("DROP INDEX idx_model_popularity")
        .execute(&mut c)
        .await
        .unwrap();
    let before = user_objects(&mut c).await;
    let out = run(db.migrate().args(["diff", "--sql"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("CREATE INDEX idx_model_popularity ON ai_usage_requests"),
        "{}",
        out.stdout
    );
    assert_eq!(user_objects(&mut c).await, before);
    // no set installed, no --set: a usage error, exit 2
    let empty = TestDb::new().await;
    let out = run(empty.migrate().arg("diff"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no set is installed in this database"),
        "{}",
        out.stderr
    );
    // an unreachable server is 3, as for every verb: 1 stays drift alone
    let out = run(db.migrate().args([
        "diff",
        "--database-url",
        "postgres://x:secret@127.0.0.1:1/x",
    ]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(!out.stderr.contains("secret"));
}

#[tokio::test]
async fn against_compares_two_databases() {
    let (a, _ca) = migrated("witchcraft").await;
    let (b, mut cb) = migrated("witchcraft").await;
    let out = run(a.migrate().args(["diff", "--against", &b.url]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text")
        .execute(&mut cb)
        .await
        .unwrap();
    // b has the column, a does not: from a's point of view it is missing
    let out = run(a.migrate().args(["diff", "--against", &b.url]));
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("missing     column users.nickname"),
        "{}",
        out.stdout
    );
}

/// On a Supabase-like database `verify` and `diff` of both sets in their own schemas
/// failed: the platform's default privileges in `public` made `public` part of each set's
/// comparison (`unexpected grants on schema public; unexpected schema public`).
#[tokio::test]
async fn both_sets_in_one_database_are_each_compared_in_their_own_schema() {
    for mode in MODES {
        each_in_its_own_schema(mode).await;
    }
}

async fn each_in_its_own_schema(mode: Mode) {
    let db = TestDb::in_mode(mode).await;
    let mut c = db.conn().await;
    let guard = temp_dir("layout");
    let dir = guard.path().to_path_buf();
    let root = crate_root().display().to_string();
    std::fs::write(
        dir.join("migrations.toml"),
        format!(
            "[[set]]\nname = \"aethercrown98\"\ndir = \"{root}/schema/aethercrown98\"\nschema = \"ac\"\n\n\
             [[set]]\nname = \"witchcraft\"\ndir = \"{root}/schema/witchcraft\"\nschema = \"wc\"\n"
        ),
    )
    .unwrap();
    let config = dir.join("migrations.toml");
    let up = run(db.migrate().arg("--config").arg(&config).arg("up"));
    assert_eq!(up.code, 0, "{}", up.stderr);
    let out = run(db.migrate().arg("--config").arg(&config).arg("verify"));
    assert_eq!(out.code, 0, "{mode:?}: {}{}", out.stdout, out.stderr);
    let out = run(db.migrate().arg("--config").arg(&config).arg("diff"));
    assert_eq!(out.code, 0, "{mode:?}: {}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("aethercrown98 (schema ac): no drift"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("witchcraft (schema wc): no drift"),
        "{}",
        out.stdout
    );
    sqlx::raw_sql("DROP POLICY users_select_own_or_admin ON wc.users")
        .execute(&mut c)
        .await
        .unwrap();
    let out = run(db.migrate().arg("--config").arg(&config).arg("diff"));
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("aethercrown98 (schema ac): no drift"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("witchcraft (schema wc): 1 difference: 1 missing"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("missing     policy users.users_select_own_or_admin"),
        "{}",
        out.stdout
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `diff --sql` printed the canonical `'@home'` back into `SET search_path`, so every
/// Witchcraft SECURITY DEFINER function it recreated searched a schema named `@home`; then
/// `diff` and `verify` both reported clean. Repair, then call each function.
#[tokio::test]
async fn diff_sql_restores_the_real_search_path_of_definer_functions() {
    let (db, mut c) = migrated("witchcraft").await;
    let definers = "SELECT p.oid::regprocedure::text || ' ' || array_to_string(p.proconfig, ';')
                      FROM pg_proc p WHERE p.prosecdef
                       AND p.pronamespace::regnamespace::text IN ('public', 'witchcraft_auth')
                     ORDER BY 1";
    let pinned = strings(&mut c, definers).await;
    assert_eq!(pinned.len(), 9, "{pinned:?}");
    // drift every one of them: each gets recreated by the repair
    sqlx::raw_sql(
        "DO $$ DECLARE f regprocedure; BEGIN
           FOR f IN SELECT p.oid FROM pg_proc p WHERE p.prosecdef
                     AND p.pronamespace::regnamespace::text IN ('public', 'witchcraft_auth') LOOP
             EXECUTE format('ALTER FUNCTION %s RESET search_path', f);
           END LOOP; END $$",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let sql = run(db.migrate().args(["diff", "--sql"]));
    assert_eq!(sql.code, 1, "{}", sql.stderr);
    assert_eq!(
        sql.stdout.matches("CREATE OR REPLACE FUNCTION").count(),
        9,
        "{}",
        sql.stdout
    );
    assert!(!sql.stdout.contains("@home"), "{}", sql.stdout);
    sqlx::raw_sql(&sql.stdout).execute(&mut c).await.unwrap();
    assert_eq!(strings(&mut c, definers).await, pinned);
    assert_eq!(run(db.migrate().arg("diff")).code, 0);
    let verify = run(db.migrate().arg("verify"));
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    // and they work: each resolves its tables through the repaired search_path
    sqlx::raw_sql("RESET search_path; SET search_path = pg_catalog")
        .execute(&mut c)
        .await
        .unwrap();
    for call in [
        "SELECT public.create_user_with_profile('fn@example.com', '$2b$12$N9qo8uLOickgx2ZMRZoMyeN9qo8uLOickgx2ZMRZoMyeN9qo8uLOi', 'Fn')::text",
        "SELECT public.check_and_consume_quota((SELECT id FROM public.users WHERE email = 'fn@example.com'), 10, 0.01)::text",
        "SELECT public.ensure_ai_usage_partitions(3)::text",
        "SELECT public.cleanup_old_audit_logs(90)::text",
        "SELECT public.daily_maintenance()::text",
        "SELECT public.monthly_maintenance()::text",
        "SELECT witchcraft_auth.is_admin()::text",
        "SELECT coalesce(witchcraft_auth.user_id()::text, 'none')",
    ] {
        sqlx::query_scalar::<_, String>(call)
            .fetch_one(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{call}: {e}"));
    }
}

/// Grant drift on Witchcraft's column-granted tables: the repair revokes only what is extra,
/// keeps column grants column grants (a table-level REVOKE takes them along, so they are
/// granted again), and converges: after it `diff` is clean and a second `--sql` prints
/// nothing.
#[tokio::test]
async fn grant_repairs_converge_and_keep_column_grants() {
    let (db, mut c) = migrated("witchcraft").await;
    sqlx::raw_sql(
        "GRANT UPDATE, TRUNCATE ON access_tokens TO authenticated;
         REVOKE INSERT (session_id) ON agent_messages FROM authenticated;
         GRANT SELECT ON password_reset_tokens TO authenticated WITH GRANT OPTION;
         GRANT EXECUTE ON FUNCTION daily_maintenance() TO PUBLIC;
         GRANT USAGE ON SCHEMA witchcraft_auth TO PUBLIC;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let sql = run(db.migrate().args(["diff", "--sql"]));
    assert_eq!(sql.code, 1, "{}", sql.stderr);
    assert!(!sql.stdout.contains("REVOKE ALL"), "{}", sql.stdout);
    assert!(
        sql.stdout
            .contains("GRANT UPDATE (\"revoked_at\") ON TABLE \"access_tokens\" TO authenticated;"),
        "{}",
        sql.stdout
    );
    sqlx::raw_sql(&sql.stdout)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sql.stdout));
    let after = run(db.migrate().arg("diff"));
    assert_eq!(after.code, 0, "{}\n{}", sql.stdout, after.stdout);
    let again = run(db.migrate().args(["diff", "--sql"]));
    assert_eq!((again.code, again.stdout.as_str()), (0, ""));
}
