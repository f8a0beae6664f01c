//! The AetherCrown98 set: after `up`, the catalog holds exactly what the schema document
//! describes, and the triggers, partitions and row level security behave as designed.

use crate::harness::*;
use migrate::engine::{self, DownTarget};
use migrate::run::Run;
use sqlx::PgConnection;

async fn migrated() -> (TestDb, PgConnection) {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    engine::up(&mut c, &embedded_set("aethercrown98"), None, "5s", &quiet)
        .await
        .unwrap();
    (db, c)
}

const TABLES: [&str; 5] = [
    "users",
    "ai_clones",
    "ai_tasks",
    "payments",
    "activity_logs",
];

#[tokio::test]
async fn every_column_has_the_documented_type_default_and_nullability() {
    let (_db, mut c) = migrated().await;
    let actual = strings(
        &mut c,
        "SELECT c.relname || '.' || a.attname || ' | ' || format_type(a.atttypid, a.atttypmod)
                || ' | ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
                || ' | ' || CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE c.relnamespace = 'public'::regnamespace
            AND c.relname IN ('users', 'ai_clones', 'ai_tasks', 'payments', 'activity_logs')
            AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY array_position(ARRAY['users', 'ai_clones', 'ai_tasks', 'payments', 'activity_logs'], c.relname::text), a.attnum",
    )
    .await;
    let expected = "\
users.id | uuid | gen_random_uuid() | not null
users.email | character varying(255) | - | not null
users.name | character varying(255) | - | null
users.password_hash | character varying(255) | - | null
users.role | character varying(50) | 'user'::character varying | null
users.created_at | timestamp with time zone | now() | null
users.updated_at | timestamp with time zone | now() | null
users.last_login | timestamp with time zone | - | null
ai_clones.id | uuid | gen_random_uuid() | not null
ai_clones.name | character varying(255) | - | not null
ai_clones.description | text | - | null
ai_clones.model_type | character varying(100) | - | not null
ai_clones.status | character varying(50) | 'active'::character varying | null
ai_clones.config | jsonb | '{}'::jsonb | null
ai_clones.created_at | timestamp with time zone | now() | null
ai_clones.updated_at | timestamp with time zone | now() | null
ai_clones.user_id | uuid | - | null
ai_tasks.id | uuid | gen_random_uuid() | not null
ai_tasks.clone_id | uuid | - | null
ai_tasks.task_name | character varying(255) | - | not null
ai_tasks.task_input | jsonb | '{}'::jsonb | null
ai_tasks.task_output | jsonb | '{}'::jsonb | null
ai_tasks.status | character varying(50) | 'pending'::character varying | null
ai_tasks.priority | character varying(50) | 'medium'::character varying | null
ai_tasks.error_message | text | - | null
ai_tasks.created_at | timestamp with time zone | now() | null
ai_tasks.updated_at | timestamp with time zone | now() | null
ai_tasks.completed_at | timestamp with time zone | - | null
payments.id | uuid | gen_random_uuid() | not null
payments.order_id | character varying(255) | - | not null
payments.amount | numeric(10,2) | - | not null
payments.currency | character varying(10) | 'USD'::character varying | null
payments.status | character varying(50) | 'created'::character varying | null
payments.description | text | - | null
payments.payment_method | character varying(50) | 'paypal'::character varying | null
payments.metadata | jsonb | '{}'::jsonb | null
payments.created_at | timestamp with time zone | now() | null
payments.updated_at | timestamp with time zone | now() | null
payments.completed_at | timestamp with time zone | - | null
payments.user_id | uuid | - | null
activity_logs.id | uuid | gen_random_uuid() | not null
activity_logs.log_type | character varying(50) | - | not null
activity_logs.entity_id | uuid | - | not null
activity_logs.action | character varying(255) | - | not null
activity_logs.details | jsonb | '{}'::jsonb | null
activity_logs.level | character varying(50) | 'info'::character varying | null
activity_logs.created_at | timestamp with time zone | now() | not null
activity_logs.user_id | uuid | - | null";
    // activity_logs.created_at is NOT NULL because it is part of the partitioned table's key.
    assert_eq!(actual.join("\n"), expected);
}

#[tokio::test]
async fn keys_unique_constraints_and_foreign_key_actions() {
    let (_db, mut c) = migrated().await;
    let actual = strings(
        &mut c,
        "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint
          WHERE connamespace = 'public'::regnamespace
            AND conrelid::regclass::text IN ('users', 'ai_clones', 'ai_tasks', 'payments', 'activity_logs')
            -- PostgreSQL 18 records NOT NULL as constraints too; the columns test covers them
            AND contype <> 'n'
          ORDER BY 1",
    )
    .await;
    assert_eq!(
        actual,
        vec![
            "activity_logs activity_logs_pkey PRIMARY KEY (id, created_at)",
            "activity_logs activity_logs_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL",
            "ai_clones ai_clones_pkey PRIMARY KEY (id)",
            "ai_clones ai_clones_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
            "ai_tasks ai_tasks_clone_id_fkey FOREIGN KEY (clone_id) REFERENCES ai_clones(id) ON DELETE CASCADE",
            "ai_tasks ai_tasks_pkey PRIMARY KEY (id)",
            "payments payments_order_id_key UNIQUE (order_id)",
            "payments payments_pkey PRIMARY KEY (id)",
            "payments payments_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL",
            "users users_email_key UNIQUE (email)",
            "users users_pkey PRIMARY KEY (id)",
        ]
    );
}

#[tokio::test]
async fn every_documented_index_with_its_method_columns_and_predicate() {
    let (_db, mut c) = migrated().await;
    let actual = strings(
        &mut c,
        "SELECT indexdef FROM pg_indexes
          WHERE schemaname = 'public' AND indexname LIKE 'idx\\_%' ORDER BY indexname",
    )
    .await;
    let expected = [
        "CREATE INDEX idx_active_tasks ON public.ai_tasks USING btree (clone_id) WHERE ((status)::text = ANY (ARRAY['pending'::text, 'in_progress'::text]))",
        "CREATE INDEX idx_clones_config ON public.ai_clones USING gin (config)",
        "CREATE INDEX idx_clones_created_at ON public.ai_clones USING btree (created_at DESC)",
        "CREATE INDEX idx_clones_status ON public.ai_clones USING btree (status)",
        "CREATE INDEX idx_clones_user_id ON public.ai_clones USING btree (user_id)",
        "CREATE INDEX idx_logs_created_at ON ONLY public.activity_logs USING btree (created_at DESC)",
        "CREATE INDEX idx_logs_details ON ONLY public.activity_logs USING gin (details)",
        "CREATE INDEX idx_logs_entity_id ON ONLY public.activity_logs USING btree (entity_id)",
        "CREATE INDEX idx_logs_level ON ONLY public.activity_logs USING btree (level)",
        "CREATE INDEX idx_logs_type ON ONLY public.activity_logs USING btree (log_type)",
        "CREATE INDEX idx_logs_user_id ON ONLY public.activity_logs USING btree (user_id)",
        "CREATE INDEX idx_payments_amount ON public.payments USING btree (amount)",
        "CREATE INDEX idx_payments_created_at ON public.payments USING btree (created_at DESC)",
        "CREATE INDEX idx_payments_metadata ON public.payments USING gin (metadata)",
        "CREATE INDEX idx_payments_status ON public.payments USING btree (status)",
        "CREATE INDEX idx_payments_user_id ON public.payments USING btree (user_id)",
        "CREATE INDEX idx_tasks_clone_id ON public.ai_tasks USING btree (clone_id)",
        "CREATE INDEX idx_tasks_clone_status ON public.ai_tasks USING btree (clone_id, status)",
        "CREATE INDEX idx_tasks_completed_at ON public.ai_tasks USING btree (completed_at DESC)",
        "CREATE INDEX idx_tasks_created_at ON public.ai_tasks USING btree (created_at DESC)",
        "CREATE INDEX idx_tasks_input ON public.ai_tasks USING gin (task_input)",
        "CREATE INDEX idx_tasks_output ON public.ai_tasks USING gin (task_output)",
        "CREATE INDEX idx_tasks_priority ON public.ai_tasks USING btree (priority)",
        "CREATE INDEX idx_tasks_status ON public.ai_tasks USING btree (status)",
        "CREATE INDEX idx_users_created_at ON public.users USING btree (created_at)",
    ];
    assert_eq!(actual, expected);
    // The document's duplicates are left out: each equals another index's definition.
    // No two indexes of one table share a definition, and every index is valid.
    let duplicates = strings(
        &mut c,
        "SELECT string_agg(indexrelid::regclass::text, ', ') FROM pg_index
          WHERE indrelid::regclass::text NOT LIKE 'pg_%'
          GROUP BY indrelid, indclass::text, indkey::text, coalesce(pg_get_expr(indpred, indrelid), '')
          HAVING count(*) > 1",
    )
    .await;
    assert!(duplicates.is_empty(), "{duplicates:?}");
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM pg_index WHERE NOT indisvalid").await,
        0
    );
}

#[tokio::test]
async fn row_level_security_is_on_for_every_table_and_partition() {
    let (_db, mut c) = migrated().await;
    let off = strings(
        &mut c,
        "SELECT relname::text FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relrowsecurity",
    )
    .await;
    assert!(off.is_empty(), "RLS is off on {off:?}");
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        )
        .await,
        9
    );
}

#[tokio::test]
async fn policies_cover_every_command_the_design_allows() {
    let (_db, mut c) = migrated().await;
    let actual = strings(
        &mut c,
        "SELECT tablename || ' ' || policyname || ' ' || cmd || ' ' || roles::text || ' ' || permissive
           FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename, cmd, policyname",
    )
    .await;
    assert_eq!(
        actual,
        vec![
            "activity_logs log_insert_own INSERT {authenticated} PERMISSIVE",
            "activity_logs log_select_own SELECT {authenticated} PERMISSIVE",
            "ai_clones clone_delete_own DELETE {authenticated} PERMISSIVE",
            "ai_clones clone_insert_own INSERT {authenticated} PERMISSIVE",
            "ai_clones clone_select_own SELECT {authenticated} PERMISSIVE",
            "ai_clones clone_update_own UPDATE {authenticated} PERMISSIVE",
            "ai_tasks task_delete_clone DELETE {authenticated} PERMISSIVE",
            "ai_tasks task_insert_clone INSERT {authenticated} PERMISSIVE",
            "ai_tasks task_select_clone SELECT {authenticated} PERMISSIVE",
            "ai_tasks task_update_clone UPDATE {authenticated} PERMISSIVE",
            "payments payment_select_own SELECT {authenticated} PERMISSIVE",
            "users user_delete_own DELETE {authenticated} PERMISSIVE",
            "users user_insert_own INSERT {authenticated} PERMISSIVE",
            "users user_select_own SELECT {authenticated} PERMISSIVE",
            "users user_update_own UPDATE {authenticated} PERMISSIVE",
        ]
    );
    // Every expression calls auth.uid() through a sub-select (once per query, not per row).
    let exprs = strings(
        &mut c,
        "SELECT policyname || ': ' || coalesce(qual, '') || ' / ' || coalesce(with_check, '')
           FROM pg_policies WHERE schemaname = 'public' ORDER BY 1",
    )
    .await;
    for e in &exprs {
        assert!(e.contains("( SELECT auth.uid() AS uid)"), "{e}");
        assert!(
            !e.replace("( SELECT auth.uid() AS uid)", "")
                .contains("auth.uid()"),
            "{e}"
        );
    }
    let user_update = strings(
        &mut c,
        "SELECT qual || ' / ' || with_check FROM pg_policies WHERE policyname = 'user_update_own'",
    )
    .await;
    assert_eq!(
        user_update,
        vec!["(( SELECT auth.uid() AS uid) = id) / ((( SELECT auth.uid() AS uid) = id) AND ((role)::text = 'user'::text))"]
    );
    let task = strings(
        &mut c,
        "SELECT regexp_replace(qual, '\\s+', ' ', 'g') FROM pg_policies WHERE policyname = 'task_select_clone'",
    )
    .await;
    assert_eq!(
        task,
        vec!["(clone_id IN ( SELECT ai_clones.id FROM ai_clones WHERE (ai_clones.user_id = ( SELECT auth.uid() AS uid))))"]
    );
}

#[tokio::test]
async fn triggers_keep_updated_at_current() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "aethercrown98").await;
        let defs = strings(
            &mut c,
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname",
        )
        .await;
        assert_eq!(
        defs,
        vec![
            "CREATE TRIGGER update_clones_updated_at BEFORE UPDATE ON public.ai_clones FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()",
            "CREATE TRIGGER update_payments_updated_at BEFORE UPDATE ON public.payments FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()",
            "CREATE TRIGGER update_tasks_updated_at BEFORE UPDATE ON public.ai_tasks FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()",
            "CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()",
        ]
    );
        // pinned search_path
        assert_eq!(
        strings(&mut c, "SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = 'update_updated_at_column'").await,
        vec!["search_path=\"\""]
    );
        sqlx::raw_sql(
        "INSERT INTO users (id, email, updated_at) VALUES ('00000000-0000-0000-0000-00000000000a', 'a@x', '2000-01-01');
         INSERT INTO ai_clones (id, name, model_type, user_id, updated_at)
           VALUES ('00000000-0000-0000-0000-0000000000c1', 'c', 'gpt', '00000000-0000-0000-0000-00000000000a', '2000-01-01');
         INSERT INTO ai_tasks (clone_id, task_name, updated_at) VALUES ('00000000-0000-0000-0000-0000000000c1', 't', '2000-01-01');
         INSERT INTO payments (order_id, amount, updated_at) VALUES ('o-1', 10, '2000-01-01');
         UPDATE users SET name = 'A'; UPDATE ai_clones SET name = 'C'; UPDATE ai_tasks SET status = 'done';
         UPDATE payments SET status = 'completed';",
    )
    .execute(&mut c)
    .await
    .unwrap();
        for table in ["users", "ai_clones", "ai_tasks", "payments"] {
            let fresh = scalar_i64(
                &mut c,
                &format!(
                    "SELECT count(*) FROM {table} WHERE updated_at > now() - interval '1 minute'"
                ),
            )
            .await;
            assert_eq!(fresh, 1, "{table}.updated_at was not refreshed");
        }
        // an UPDATE that sets updated_at explicitly is still overridden
        sqlx::raw_sql("UPDATE users SET updated_at = '1999-01-01'")
            .execute(&mut c)
            .await
            .unwrap();
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM users WHERE updated_at < '2001-01-01'"
            )
            .await,
            0
        );
    }
}

#[tokio::test]
async fn activity_logs_is_partitioned_by_month_with_a_default_partition() {
    let (_db, mut c) = migrated().await;
    assert_eq!(
        strings(
            &mut c,
            "SELECT partstrat::text || ' ' || (SELECT attname FROM pg_attribute
                     WHERE attrelid = p.partrelid AND attnum = p.partattrs[0])
               FROM pg_partitioned_table p WHERE partrelid = 'activity_logs'::regclass"
        )
        .await,
        vec!["r created_at"]
    );
    assert_monthly_partitions(&mut c, "activity_logs", 2).await;

    // Rows route to their month; a month without a partition lands in the default, and
    // moves into its partition once ensure_activity_logs_partitions() creates it.
    sqlx::raw_sql(
        "INSERT INTO activity_logs (log_type, entity_id, action, created_at) VALUES
           ('t', gen_random_uuid(), 'now', now()),
           ('t', gen_random_uuid(), 'later', date_trunc('month', now()) + interval '3 months 2 days')",
    )
    .execute(&mut c)
    .await
    .unwrap();
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM activity_logs_default").await,
        1
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT ensure_activity_logs_partitions(3)::bigint").await,
        1
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT ensure_activity_logs_partitions(3)::bigint").await,
        0
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM activity_logs_default").await,
        0
    );
    assert_eq!(
        scalar_i64(&mut c, "SELECT count(*) FROM activity_logs").await,
        2
    );
    let newest = strings(
        &mut c,
        "SELECT c.relname::text || ' ' || c.relrowsecurity FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'activity_logs'::regclass ORDER BY c.relname DESC LIMIT 1 OFFSET 1",
    )
    .await;
    assert!(newest[0].ends_with(" true"), "{newest:?}");
    let moved: String = sqlx::query_scalar(
        "SELECT tableoid::regclass::text FROM activity_logs WHERE action = 'later'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(newest[0], format!("{moved} true"));
}

const A: &str = "00000000-0000-0000-0000-0000000000aa";
const B: &str = "00000000-0000-0000-0000-0000000000bb";

/// Rows for users A and B in every table, written as the migrating superuser.
async fn seed_two_users(c: &mut PgConnection) {
    sqlx::raw_sql(&format!(
        "INSERT INTO users (id, email) VALUES ('{A}', 'a@example.com'), ('{B}', 'b@example.com');
         INSERT INTO ai_clones (id, name, model_type, user_id) VALUES
           ('00000000-0000-0000-0000-00000000a001', 'clone a', 'gpt', '{A}'),
           ('00000000-0000-0000-0000-00000000b001', 'clone b', 'gpt', '{B}');
         INSERT INTO ai_tasks (clone_id, task_name) VALUES
           ('00000000-0000-0000-0000-00000000a001', 'task a'),
           ('00000000-0000-0000-0000-00000000b001', 'task b');
         INSERT INTO payments (order_id, amount, user_id) VALUES ('order-a', 1, '{A}'), ('order-b', 2, '{B}');
         INSERT INTO activity_logs (log_type, entity_id, action, user_id) VALUES
           ('auth', '{A}', 'login', '{A}'), ('auth', '{B}', 'login', '{B}');"
    ))
    .execute(c)
    .await
    .unwrap();
}

async fn as_user(c: &mut PgConnection, user: &str, sql: &str) -> Result<i64, String> {
    let sub = (!user.is_empty()).then_some(user);
    as_role(c, "authenticated", sub, sql).await
}

#[tokio::test]
async fn an_authenticated_user_reads_exactly_their_own_rows_in_every_table() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "aethercrown98").await;
        seed_two_users(&mut c).await;
        for table in TABLES {
            assert_eq!(
                scalar_i64(&mut c, &format!("SELECT count(*) FROM {table}")).await,
                2
            );
            for user in [A, B] {
                let visible = as_user(&mut c, user, &format!("SELECT count(*) FROM {table}")).await;
                assert_eq!(visible, Ok(1), "{table} as {user}");
            }
        }
        let own = as_user(
            &mut c,
            A,
            "SELECT count(*) FROM ai_tasks WHERE task_name = 'task a'",
        )
        .await;
        assert_eq!(own, Ok(1));
        let other = as_user(
            &mut c,
            A,
            "SELECT count(*) FROM payments WHERE order_id = 'order-b'",
        )
        .await;
        assert_eq!(other, Ok(0));
        // without claims, an authenticated session sees nothing
        for table in TABLES {
            assert_eq!(
                as_user(&mut c, "", &format!("SELECT count(*) FROM {table}")).await,
                Ok(0)
            );
        }
    }
}

#[tokio::test]
async fn an_authenticated_user_writes_only_their_own_rows() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "aethercrown98").await;
        seed_two_users(&mut c).await;
        let a_clone = "00000000-0000-0000-0000-00000000a001";
        let b_clone = "00000000-0000-0000-0000-00000000b001";
        let rls = Err("42501".to_string());
        let cases: Vec<(&str, String, Result<i64, String>)> = vec![
        // own rows: allowed
        ("update own user", "WITH u AS (UPDATE users SET name = 'me' RETURNING 1) SELECT count(*) FROM u".into(), Ok(1)),
        ("insert own clone", format!("WITH i AS (INSERT INTO ai_clones (name, model_type, user_id) VALUES ('n', 'm', '{A}') RETURNING 1) SELECT count(*) FROM i"), Ok(1)),
        ("insert task on own clone", format!("WITH i AS (INSERT INTO ai_tasks (clone_id, task_name) VALUES ('{a_clone}', 't') RETURNING 1) SELECT count(*) FROM i"), Ok(1)),
        ("delete own task", "WITH d AS (DELETE FROM ai_tasks RETURNING 1) SELECT count(*) FROM d".into(), Ok(1)),
        ("append own log", format!("WITH i AS (INSERT INTO activity_logs (log_type, entity_id, action, user_id) VALUES ('x', '{A}', 'y', '{A}') RETURNING 1) SELECT count(*) FROM i"), Ok(1)),
        // other user's rows: invisible to UPDATE/DELETE, refused for INSERT
        ("update other's clone", format!("WITH u AS (UPDATE ai_clones SET name = 'x' WHERE id = '{b_clone}' RETURNING 1) SELECT count(*) FROM u"), Ok(0)),
        ("delete other user", format!("WITH d AS (DELETE FROM users WHERE id = '{B}' RETURNING 1) SELECT count(*) FROM d"), Ok(0)),
        ("insert clone for other", format!("WITH i AS (INSERT INTO ai_clones (name, model_type, user_id) VALUES ('n', 'm', '{B}') RETURNING 1) SELECT count(*) FROM i"), rls.clone()),
        ("insert task on other's clone", format!("WITH i AS (INSERT INTO ai_tasks (clone_id, task_name) VALUES ('{b_clone}', 't') RETURNING 1) SELECT count(*) FROM i"), rls.clone()),
        ("move own clone to other", format!("WITH u AS (UPDATE ai_clones SET user_id = '{B}' RETURNING 1) SELECT count(*) FROM u"), rls.clone()),
        ("log for other", format!("WITH i AS (INSERT INTO activity_logs (log_type, entity_id, action, user_id) VALUES ('x', '{B}', 'y', '{B}') RETURNING 1) SELECT count(*) FROM i"), rls.clone()),
        // design decisions: roles, payments and the audit trail are not client-writable
        ("grant self admin", "WITH u AS (UPDATE users SET role = 'admin' RETURNING 1) SELECT count(*) FROM u".into(), rls.clone()),
        ("insert own payment", format!("WITH i AS (INSERT INTO payments (order_id, amount, user_id) VALUES ('o', 1, '{A}') RETURNING 1) SELECT count(*) FROM i"), rls.clone()),
        ("mark own payment paid", "WITH u AS (UPDATE payments SET status = 'completed' RETURNING 1) SELECT count(*) FROM u".into(), Ok(0)),
        ("rewrite own log", "WITH u AS (UPDATE activity_logs SET action = 'x' RETURNING 1) SELECT count(*) FROM u".into(), Ok(0)),
        ("erase own log", "WITH d AS (DELETE FROM activity_logs RETURNING 1) SELECT count(*) FROM d".into(), Ok(0)),
        ("read a partition directly", "SELECT count(*) FROM activity_logs_default".into(), rls.clone()),
    ];
        for (what, sql, expected) in cases {
            assert_eq!(as_user(&mut c, A, &sql).await, expected, "{what}");
        }
    }
}

#[tokio::test]
async fn anon_sees_nothing() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "aethercrown98").await;
        seed_two_users(&mut c).await;
        for table in TABLES {
            // plain Postgres: anon has no grant at all
            sqlx::raw_sql("BEGIN; SET LOCAL ROLE anon")
                .execute(&mut c)
                .await
                .unwrap();
            let denied = sqlx::query(&format!("SELECT * FROM {table}"))
                .fetch_all(&mut c)
                .await;
            sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            let code = denied
                .unwrap_err()
                .as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.to_string());
            assert_eq!(code.as_deref(), Some("42501"), "{table}");
            // Supabase grants anon SELECT on new tables; RLS must still show it nothing
            sqlx::raw_sql(&format!(
                "BEGIN; GRANT SELECT ON {table} TO anon; SET LOCAL ROLE anon"
            ))
            .execute(&mut c)
            .await
            .unwrap();
            let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&mut c)
                .await
                .unwrap();
            sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            assert_eq!(rows, 0, "{table}");
        }
    }
}

#[tokio::test]
async fn the_auth_shim_works_like_supabase_and_stays_out_of_its_way() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = embedded_set("aethercrown98");
    engine::up(&mut c, &set, Some(1), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql(
        "SELECT set_config('request.jwt.claims', '{\"sub\": \"00000000-0000-0000-0000-0000000000aa\", \"role\": \"authenticated\"}', false)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let got = strings(
        &mut c,
        "SELECT auth.uid()::text || ' ' || auth.role() || ' ' || (auth.jwt() ->> 'sub')",
    )
    .await;
    assert_eq!(got, vec![format!("{A} authenticated {A}")]);
    sqlx::raw_sql("SELECT set_config('request.jwt.claims', '', false); SELECT set_config('request.jwt.claim.sub', '00000000-0000-0000-0000-0000000000bb', false)")
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(strings(&mut c, "SELECT auth.uid()::text").await, vec![B]);
    assert_eq!(
        strings(&mut c, "SELECT rolname::text FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role') AND NOT rolcanlogin ORDER BY 1").await,
        vec!["anon", "authenticated", "service_role"]
    );
    roll_back(&mut c, &set, DownTarget::To(0)).await;
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'"
        )
        .await,
        0
    );

    // A database that already has Supabase's auth schema: 0001 changes nothing, and its
    // down leaves Supabase's objects alone.
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    sqlx::raw_sql(
        "CREATE SCHEMA auth;
         CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT '00000000-0000-0000-0000-0000000000cc'::uuid $$;
         CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'platform'::text $$;
         CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let before = user_objects(&mut c).await;
    let sources = "SELECT string_agg(prosrc, '|' ORDER BY proname) FROM pg_proc WHERE pronamespace = 'auth'::regnamespace";
    let src_before = strings(&mut c, sources).await;
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(strings(&mut c, sources).await, src_before);
    roll_back(&mut c, &set, DownTarget::To(0)).await;
    assert_eq!(user_objects(&mut c).await, before);
    assert_eq!(strings(&mut c, sources).await, src_before);
}

async fn realtime_members(c: &mut PgConnection) -> Vec<String> {
    strings(
        c,
        "SELECT c.relname::text FROM pg_publication_rel r
           JOIN pg_publication p ON p.oid = r.prpubid JOIN pg_class c ON c.oid = r.prrelid
          WHERE p.pubname = 'supabase_realtime' ORDER BY 1",
    )
    .await
}

#[tokio::test]
async fn realtime_publishes_the_documented_tables() {
    let (_db, mut c) = migrated().await;
    assert_eq!(
        realtime_members(&mut c).await,
        ["activity_logs", "ai_clones", "ai_tasks", "payments"]
    );

    // Supabase: the publication exists, and realtime was already on for ai_clones.
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = embedded_set("aethercrown98");
    engine::up(&mut c, &set, Some(6), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("CREATE PUBLICATION supabase_realtime FOR TABLE ai_clones")
        .execute(&mut c)
        .await
        .unwrap();
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(
        realtime_members(&mut c).await,
        ["activity_logs", "ai_clones", "ai_tasks", "payments"]
    );
    roll_back(&mut c, &set, DownTarget::To(6)).await;
    // the platform's publication stays; only the tables left it
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_publication WHERE pubname = 'supabase_realtime'"
        )
        .await,
        1
    );
    assert!(realtime_members(&mut c).await.is_empty());
}

/// Waits until a session running `migrate` waits for a lock (what a concurrent writer's
/// open transaction makes the migration do), without guessing a delay.
async fn until_migrate_waits_for_a_lock(c: &mut PgConnection) {
    for _ in 0..3000 {
        let waiting = scalar_i64(
            c,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrate'
               AND datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await;
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("migrate never waited for a lock");
}

/// 0006 copied activity_logs with INSERT ... SELECT and then swapped the tables without
/// locking first: a row another session committed meanwhile was lost, both on `up` and on
/// `down --to 5`. The table is now locked before the copy; a writer that commits while the
/// migration waits keeps its row, in both directions.
#[tokio::test]
async fn partitioning_activity_logs_loses_no_concurrent_write() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = embedded_set("aethercrown98");
    migrate::engine::up(&mut c, &set, Some(5), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql("INSERT INTO activity_logs (log_type, entity_id, action) VALUES ('a', gen_random_uuid(), 'before')")
        .execute(&mut c)
        .await
        .unwrap();
    let mut watcher = db.conn().await;
    for (direction, target) in [("up", 6), ("down", 5)] {
        let mut writer = db.conn().await;
        sqlx::raw_sql(&format!(
            "BEGIN; INSERT INTO activity_logs (log_type, entity_id, action) VALUES ('a', gen_random_uuid(), 'during {direction}')"
        ))
        .execute(&mut writer)
        .await
        .unwrap();
        let migrate_conn = async {
            let mut m = migrate::engine::connect(&Run::default(), &db.url)
                .await
                .unwrap();
            if direction == "up" {
                migrate::engine::up(&mut m, &set, Some(target), "30s", &quiet)
                    .await
                    .map(|_| ())
            } else {
                migrate::engine::down(
                    &mut m,
                    &set,
                    DownTarget::To(target),
                    "30s",
                    &mut |_| Ok(()),
                    &quiet,
                )
                .await
                .map(|_| ())
            }
        };
        let commit = async {
            until_migrate_waits_for_a_lock(&mut watcher).await;
            sqlx::raw_sql("COMMIT").execute(&mut writer).await.unwrap();
        };
        let (migrated, ()) = tokio::join!(migrate_conn, commit);
        migrated.unwrap();
        let actions = strings(&mut c, "SELECT action FROM activity_logs ORDER BY action").await;
        let mut expected = vec!["before".to_string(), "during up".to_string()];
        if direction == "down" {
            expected.push("during down".into());
        }
        expected.sort();
        assert_eq!(actions, expected, "{direction}");
    }
}

/// A signed-in user cannot backdate their own audit entry: an activity log they write gets
/// the server's time, and naming created_at (on insert or update, of a log, clone or task) is
/// refused; service_role may still write it (imports, backfills).
#[tokio::test]
async fn a_user_cannot_backdate_their_own_activity_log() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "aethercrown98").await;
        seed_two_users(&mut c).await;
        let log = |dated: bool| {
            format!(
                "WITH r AS (INSERT INTO activity_logs (log_type, entity_id, action, user_id{})
                            VALUES ('auth', '{A}', 'login', '{A}'{}) RETURNING created_at)
                 SELECT CASE WHEN created_at = now() THEN 0 ELSE extract(year FROM created_at)::bigint END FROM r",
                if dated { ", created_at" } else { "" },
                if dated { ", '2027-06-15'" } else { "" },
            )
        };
        // 0: the server's time
        assert_eq!(as_user(&mut c, A, &log(false)).await, Ok(0), "{mode:?}");
        assert_eq!(
            as_user(&mut c, A, &log(true)).await,
            Err("42501".into()),
            "{mode:?}"
        );
        for update in [
            "UPDATE ai_clones SET created_at = '2001-01-01' RETURNING 1::bigint",
            "UPDATE ai_tasks SET created_at = '2001-01-01' RETURNING 1::bigint",
            "UPDATE users SET created_at = '2001-01-01' RETURNING 1::bigint",
        ] {
            assert_eq!(
                as_user(&mut c, A, update).await,
                Err("42501".into()),
                "{mode:?}: {update}"
            );
        }
        // service_role keeps the date it gives
        assert_eq!(
            as_role(&mut c, "service_role", None, &log(true)).await,
            Ok(2027),
            "{mode:?}"
        );
    }
}
