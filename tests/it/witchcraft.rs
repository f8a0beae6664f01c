//! The Witchcraft set: the catalog the overview implies, its data flows end to end, quota
//! safety under concurrency, maintenance jobs, row level security by role, index use by the
//! overview's common queries, rollback, both installation layouts, and scheduling.

use crate::harness::*;
use migrate::config::MigrationSet;
use migrate::engine::{self, DownTarget};
use sqlx::PgConnection;

fn witchcraft() -> MigrationSet {
    embedded_set("witchcraft")
}

async fn migrated() -> (TestDb, PgConnection) {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    engine::up(&mut c, &witchcraft(), None, "5s", &quiet)
        .await
        .unwrap();
    (db, c)
}

async fn exec(c: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&mut *c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The SQLSTATE and message of a statement that must fail.
async fn fails(c: &mut PgConnection, sql: &str) -> (String, String) {
    let e = sqlx::raw_sql(sql).execute(&mut *c).await.expect_err(sql);
    let db = e.as_database_error().expect("a database error");
    (
        db.code().unwrap_or_default().to_string(),
        db.message().to_string(),
    )
}

async fn new_user(c: &mut PgConnection, email: &str) -> i64 {
    sqlx::query_scalar("SELECT create_user_with_profile($1, $2, $3)")
        .bind(email)
        .bind(bcrypt())
        .bind(email.split('@').next().unwrap())
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

async fn record(
    c: &mut PgConnection,
    user: i64,
    p: i32,
    m: i32,
    input: i32,
    output: i32,
) -> Result<(i64, String), (String, String)> {
    let r = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, created_at::text FROM record_ai_usage($1, $2, $3, $4, $5)",
    )
    .bind(user)
    .bind(p)
    .bind(m)
    .bind(input)
    .bind(output)
    .fetch_one(&mut *c)
    .await;
    r.map_err(|e| {
        let d = e.as_database_error().unwrap();
        (
            d.code().unwrap_or_default().to_string(),
            d.message().to_string(),
        )
    })
}

#[tokio::test]
async fn tables_view_partitions_and_row_level_security() {
    let (_db, mut c) = migrated().await;
    let tables = strings(
        &mut c,
        "SELECT relname::text FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition
          ORDER BY 1",
    )
    .await;
    assert_eq!(
        tables,
        [
            "access_tokens",
            "agent_feedback",
            "agent_messages",
            "agent_sessions",
            "agent_tool_calls",
            "ai_models",
            "ai_providers",
            "ai_usage_daily",
            "ai_usage_monthly",
            "ai_usage_requests",
            "audit_logs",
            "audit_logs_archive",
            "email_verify_tokens",
            "password_reset_tokens",
            "payment_history",
            "quota_reservations",
            "subscription_tiers",
            "usage_alerts",
            "user_profiles",
            "user_quotas",
            "user_subscriptions",
            "users",
        ]
    );
    assert_eq!(
        strings(
            &mut c,
            "SELECT relkind::text FROM pg_class WHERE relname = 'agent_session_stats'"
        )
        .await,
        ["m"]
    );
    assert_eq!(
        strings(&mut c, "SELECT indexdef FROM pg_indexes WHERE tablename = 'agent_session_stats' ORDER BY 1").await,
        [
            "CREATE INDEX agent_session_stats_user_id ON public.agent_session_stats USING btree (user_id)",
            "CREATE UNIQUE INDEX agent_session_stats_session_id_key ON public.agent_session_stats USING btree (session_id)",
        ]
    );
    // the unique index is what allows a concurrent refresh
    exec(
        &mut c,
        "REFRESH MATERIALIZED VIEW CONCURRENTLY agent_session_stats",
    )
    .await;

    assert_monthly_partitions(&mut c, "ai_usage_requests", 3).await;
    assert_eq!(
        strings(&mut c, "SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'ai_usage_requests'::regclass").await,
        ["r"]
    );
    let no_rls = strings(
        &mut c,
        "SELECT relname::text FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relrowsecurity",
    )
    .await;
    assert!(no_rls.is_empty(), "RLS off on {no_rls:?}");
    // the API roles cannot read the materialized view (it cannot carry RLS)
    for role in ["anon", "authenticated"] {
        assert_eq!(
            strings(
                &mut c,
                &format!(
                    "SELECT has_table_privilege('{role}', 'agent_session_stats', 'SELECT')::text"
                )
            )
            .await,
            ["false"]
        );
    }
}

#[tokio::test]
async fn the_ten_named_indexes_have_the_shape_of_their_query() {
    let (_db, mut c) = migrated().await;
    let named = [
        "idx_ai_usage_user_recent",
        "idx_agent_sessions_user_active",
        "idx_quotas_approaching_limit",
        "idx_access_tokens_token_hash",
        "idx_ai_usage_provider_comparison",
        "idx_model_popularity",
        "idx_ai_usage_monthly_cost",
        "idx_audit_logs_failed_logins",
        "idx_access_tokens_expired",
        "idx_audit_logs_security",
    ];
    let list = named.map(|n| format!("'{n}'")).join(", ");
    let defs = strings(
        &mut c,
        &format!("SELECT indexdef FROM pg_indexes WHERE indexname IN ({list}) ORDER BY indexname"),
    )
    .await;
    assert_eq!(
        defs,
        [
            "CREATE INDEX idx_access_tokens_expired ON public.access_tokens USING btree (expires_at)",
            "CREATE UNIQUE INDEX idx_access_tokens_token_hash ON public.access_tokens USING btree (token_hash)",
            "CREATE INDEX idx_agent_sessions_user_active ON public.agent_sessions USING btree (user_id, last_activity_at DESC) WHERE is_active",
            "CREATE INDEX idx_ai_usage_monthly_cost ON public.ai_usage_monthly USING btree (year, month, cost_usd DESC)",
            "CREATE INDEX idx_ai_usage_provider_comparison ON ONLY public.ai_usage_requests USING btree (provider_id, created_at) INCLUDE (total_tokens, cost_usd, latency_ms)",
            "CREATE INDEX idx_ai_usage_user_recent ON ONLY public.ai_usage_requests USING btree (user_id, created_at DESC)",
            "CREATE INDEX idx_audit_logs_failed_logins ON public.audit_logs USING btree (created_at DESC, user_id) WHERE (event_type = 'login_failed'::text)",
            "CREATE INDEX idx_audit_logs_security ON public.audit_logs USING btree (created_at DESC) WHERE (severity = ANY (ARRAY['warning'::text, 'critical'::text]))",
            "CREATE INDEX idx_model_popularity ON ONLY public.ai_usage_requests USING btree (model_id, created_at)",
            "CREATE INDEX idx_quotas_approaching_limit ON public.user_quotas USING btree (user_id) WHERE ((tokens_limit IS NOT NULL) AND ((tokens_used * 5) >= (tokens_limit * 4)))",
        ]
    );
    // JSONB metadata that is searched has GIN indexes
    assert_eq!(
        strings(&mut c, "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'idx\\_%' AND indexdef LIKE '% USING gin %' ORDER BY 1").await,
        ["idx_ai_usage_requests_metadata", "idx_audit_logs_metadata", "idx_subscription_tiers_features"]
    );
    // every foreign key (partitions' included) leads some full index of its table
    let unindexed = strings(
        &mut c,
        "SELECT f.conrelid::regclass || ' ' || f.conname FROM pg_constraint f
          WHERE f.contype = 'f' AND f.connamespace = 'public'::regnamespace
            AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                 WHERE i.indrelid = f.conrelid AND i.indpred IS NULL
                   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:array_length(f.conkey, 1)] = f.conkey)",
    )
    .await;
    assert!(unindexed.is_empty(), "{unindexed:?}");
    assert!(scalar_i64(&mut c, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace").await >= 25);
}

#[tokio::test]
async fn status_columns_hashes_and_expiry_are_constrained() {
    let (_db, mut c) = migrated().await;
    let user = new_user(&mut c, "a@example.com").await;
    let cases = [
        ("INSERT INTO users (email, password_hash) VALUES ('b@example.com', 'hunter2')", "users_password_hash_check"),
        (&*format!("UPDATE users SET status = 'gone' WHERE id = {user}"), "users_status_check"),
        (&*format!("UPDATE users SET role = 'root' WHERE id = {user}"), "users_role_check"),
        (&*format!("INSERT INTO access_tokens (user_id, token_hash) VALUES ({user}, 'plain-token')"), "access_tokens_token_hash_check"),
        (&*format!("INSERT INTO access_tokens (user_id, token_hash, expires_at) VALUES ({user}, repeat('a', 64), now() + interval '31 days')"), "access_tokens_expires_at_check"),
        (&*format!("INSERT INTO agent_sessions (user_id, is_active, ended_at) VALUES ({user}, true, now())"), "agent_sessions_ended_check"),
        (&*format!("INSERT INTO payment_history (user_id, amount_usd, status, payment_provider) VALUES ({user}, 5, 'maybe', 'stripe')"), "payment_history_status_check"),
        (&*format!("INSERT INTO audit_logs (user_id, event_type) VALUES ({user}, 'coffee_break')"), "audit_logs_event_type_check"),
        (&*format!("UPDATE user_quotas SET tokens_used = tokens_limit + 1 WHERE user_id = {user}"), "user_quotas_tokens_check"),
    ];
    for (sql, constraint) in cases {
        let (code, message) = fails(&mut c, sql).await;
        assert_eq!(code, "23514", "{sql}: {message}");
        assert!(message.contains(constraint), "{sql}: {message}");
    }
    // a token row without an explicit expiry expires in 30 days
    exec(
        &mut c,
        &format!(
            "INSERT INTO access_tokens (user_id, token_hash) VALUES ({user}, repeat('b', 64))"
        ),
    )
    .await;
    assert_eq!(
        strings(
            &mut c,
            "SELECT (expires_at - created_at)::text FROM access_tokens"
        )
        .await,
        ["30 days"]
    );
}

#[tokio::test]
async fn registration_creates_user_profile_free_quota_and_audit_row_atomically() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let id = new_user(&mut c, "  Ada@Example.COM ").await;
        assert_eq!(
        strings(&mut c, &format!(
            "SELECT u.email || ' ' || p.display_name || ' ' || t.name || ' ' || q.tokens_limit || ' ' || q.tokens_used || ' ' || q.cost_limit_usd
               FROM users u JOIN user_profiles p ON p.user_id = u.id JOIN user_quotas q ON q.user_id = u.id
               JOIN subscription_tiers t ON t.id = q.tier_id WHERE u.id = {id}")).await,
        ["ada@example.com   Ada free 100000 0 5.00"]
    );
        assert_eq!(
        strings(&mut c, &format!("SELECT event_type || ' ' || (metadata ->> 'email') FROM audit_logs WHERE user_id = {id}")).await,
        ["user_created ada@example.com"]
    );
        let count = "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM user_profiles) + (SELECT count(*) FROM user_quotas) + (SELECT count(*) FROM audit_logs)";
        let before = scalar_i64(&mut c, count).await;
        let dup = sqlx::query("SELECT create_user_with_profile('ada@example.com', $1, 'Again')")
            .bind(bcrypt())
            .execute(&mut c)
            .await
            .unwrap_err();
        let d = dup.as_database_error().unwrap();
        assert_eq!(d.code().as_deref(), Some("23505"));
        assert_eq!(
            d.message(),
            "a user with email ada@example.com already exists"
        );
        let (code, message) = fails(
            &mut c,
            "SELECT create_user_with_profile('bob@example.com', 'hash', 'Bob')",
        )
        .await;
        assert_eq!(code, "23514");
        assert!(message.contains("bcrypt"), "{message}");
        assert_eq!(scalar_i64(&mut c, count).await, before);
    }
}

#[tokio::test]
async fn an_ai_request_consumes_quota_records_aggregates_and_alerts() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let (p, m) = seed_models(&mut c).await;
        let user = new_user(&mut c, "a@example.com").await;
        let other = new_user(&mut c, "b@example.com").await;
        let state = format!(
        "SELECT q.tokens_used || ' ' || q.cost_used_usd::numeric(10,2)
                || ' | ' || (SELECT count(*) FROM ai_usage_requests WHERE user_id = {user})
                || ' | ' || coalesce((SELECT request_count || ' ' || total_tokens || ' ' || cost_usd::numeric(10,2) FROM ai_usage_daily WHERE user_id = {user}), '-')
                || ' | ' || coalesce((SELECT request_count || ' ' || total_tokens FROM ai_usage_monthly WHERE user_id = {user}), '-')
                || ' | ' || coalesce((SELECT string_agg(alert_type || ' ' || threshold_percent, ', ' ORDER BY threshold_percent) FROM usage_alerts WHERE user_id = {user}), '-')
           FROM user_quotas q WHERE q.user_id = {user}"
    );
        // 40% of the 100k free tokens; cost from the model prices: 30k*0.01/1k + 10k*0.03/1k
        record(&mut c, user, p, m, 30_000, 10_000).await.unwrap();
        assert_eq!(
            strings(&mut c, &state).await,
            ["40000 0.60 | 1 | 1 40000 0.60 | 1 40000 | -"]
        );
        // crossing 80%
        record(&mut c, user, p, m, 30_000, 15_000).await.unwrap();
        assert_eq!(
            strings(&mut c, &state).await,
            ["85000 1.35 | 2 | 2 85000 1.35 | 2 85000 | quota_warning 80"]
        );
        // reaching 100%
        record(&mut c, user, p, m, 10_000, 5_000).await.unwrap();
        assert_eq!(
            strings(&mut c, &state).await,
            ["100000 1.60 | 3 | 3 100000 1.60 | 3 100000 | quota_warning 80, quota_exceeded 100"]
        );
        // over the limit: refused with a clear error, and nothing changes
        let (code, message) = record(&mut c, user, p, m, 1, 0).await.unwrap_err();
        assert_eq!(code, "WQ429");
        assert!(
            message.starts_with(&format!("quota exceeded for user {user}: 1 tokens")),
            "{message}"
        );
        assert_eq!(
            strings(&mut c, &state).await,
            ["100000 1.60 | 3 | 3 100000 1.60 | 3 100000 | quota_warning 80, quota_exceeded 100"]
        );
        // the other user is untouched; a model of another provider is refused
        assert_eq!(
            scalar_i64(
                &mut c,
                &format!("SELECT tokens_used FROM user_quotas WHERE user_id = {other}")
            )
            .await,
            0
        );
        let (code, _) = record(&mut c, other, p + 1, m, 1, 1).await.unwrap_err();
        assert_eq!(code, "23503");
        // the cost limit binds too: $5 at 0.03 per 1k output tokens is 166,666 tokens, more than
        // the token limit, so raise the token limit and spend past $5
        exec(
            &mut c,
            &format!("UPDATE user_quotas SET tokens_limit = NULL WHERE user_id = {other}"),
        )
        .await;
        record(&mut c, other, p, m, 0, 160_000).await.unwrap();
        let (code, _) = record(&mut c, other, p, m, 0, 10_000).await.unwrap_err();
        assert_eq!(code, "WQ429");
        // get_remaining_quota reports what is left
        assert_eq!(
        strings(&mut c, &format!("SELECT tier || ' ' || tokens_remaining || ' ' || cost_remaining_usd::numeric(10,2) || ' ' || usage_percent FROM get_remaining_quota({user})")).await,
        ["free 0 3.40 100.00"]
    );
    }
}

async fn consume_repeatedly(url: String, user: i64, times: usize) -> usize {
    let mut c = <PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let mut granted = 0;
    for _ in 0..times {
        // a reservation id when granted, NULL when refused
        let reservation: Option<i64> =
            sqlx::query_scalar("SELECT check_and_consume_quota($1, 1000, 0.01)")
                .bind(user)
                .fetch_one(&mut c)
                .await
                .unwrap();
        granted += usize::from(reservation.is_some());
    }
    granted
}

#[tokio::test]
async fn concurrent_consumers_never_overspend_a_quota() {
    let (db, mut c) = migrated().await;
    let user = new_user(&mut c, "a@example.com").await;
    exec(&mut c, &format!("UPDATE user_quotas SET tokens_limit = 50000, cost_limit_usd = NULL WHERE user_id = {user}")).await;
    // 8 connections x 12 attempts x 1000 tokens = 96,000 tokens asked for 50,000 available
    let u = || db.url.clone();
    let counts = tokio::join!(
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
        consume_repeatedly(u(), user, 12),
    );
    let granted =
        counts.0 + counts.1 + counts.2 + counts.3 + counts.4 + counts.5 + counts.6 + counts.7;
    assert_eq!(granted, 50);
    assert_eq!(
        strings(&mut c, &format!("SELECT tokens_used || ' ' || cost_used_usd::numeric(10,2) FROM user_quotas WHERE user_id = {user}")).await,
        ["50000 0.50"]
    );
    assert_eq!(
        scalar_i64(
            &mut c,
            &format!("SELECT count(*) FROM usage_alerts WHERE user_id = {user}")
        )
        .await,
        2
    );
}

#[tokio::test]
async fn the_agent_flow_keeps_session_counters_and_totals() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let (p, m) = seed_models(&mut c).await;
        let user = new_user(&mut c, "a@example.com").await;
        let session: i64 = sqlx::query_scalar("INSERT INTO agent_sessions (user_id, model_id, title) VALUES ($1, $2, 'chat') RETURNING id")
        .bind(user)
        .bind(m)
        .fetch_one(&mut c)
        .await
        .unwrap();
        let totals = format!(
        "SELECT message_count || ' ' || total_tokens || ' ' || total_cost_usd::numeric(10,4) FROM agent_sessions WHERE id = {session}"
    );
        // the user's message, posted through the API role
        let posted = as_role(
        &mut c,
        "authenticated",
        Some(&user.to_string()),
        &format!("WITH i AS (INSERT INTO agent_messages (session_id, role, content) VALUES ({session}, 'user', 'hello') RETURNING 1) SELECT count(*) FROM i"),
    )
    .await;
        assert_eq!(posted, Ok(1));
        exec(&mut c, &format!("INSERT INTO agent_messages (session_id, role, content, tokens) VALUES ({session}, 'user', 'hello', 12)")).await;
        assert_eq!(strings(&mut c, &totals).await, ["1 12 0.0000"]);
        // the AI answers: usage first, then the assistant message linked to it
        let (request, at) = record(&mut c, user, p, m, 100, 50).await.unwrap();
        let link = format!(
        "INSERT INTO agent_messages (session_id, role, content, tokens, usage_request_id, usage_request_created_at)
         VALUES ({session}, 'assistant', 'hi!', 150, {request}, '{at}')"
    );
        exec(&mut c, &link).await;
        // 100*0.01/1000 + 50*0.03/1000 = 0.0025
        assert_eq!(strings(&mut c, &totals).await, ["2 162 0.0025"]);
        // a request belongs to at most one message
        let (code, _) = fails(&mut c, &link).await;
        assert_eq!(code, "23505");
        exec(
            &mut c,
            "DELETE FROM agent_messages WHERE role = 'assistant'",
        )
        .await;
        assert_eq!(strings(&mut c, &totals).await, ["1 12 0.0000"]);
        assert_eq!(
        scalar_i64(&mut c, &format!("SELECT count(*) FROM agent_sessions WHERE id = {session} AND last_activity_at >= started_at")).await,
        1
    );
        // deleting the session takes its messages along without tripping the counters
        exec(
            &mut c,
            &format!("DELETE FROM agent_sessions WHERE id = {session}"),
        )
        .await;
        assert_eq!(
            scalar_i64(&mut c, "SELECT count(*) FROM agent_messages").await,
            0
        );
    }
}

#[tokio::test]
async fn daily_maintenance_cleans_ends_archives_and_prepares_partitions() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let user = new_user(&mut c, "a@example.com").await;
        exec(&mut c, &format!(
        "INSERT INTO access_tokens (user_id, token_hash, created_at, expires_at) VALUES
           ({user}, repeat('1', 64), now() - interval '40 days', now() - interval '10 days'),
           ({user}, repeat('2', 64), now(), now() + interval '30 days');
         INSERT INTO access_tokens (user_id, token_hash, revoked_at) VALUES
           ({user}, repeat('3', 64), now() - interval '2 days'),
           ({user}, repeat('4', 64), now() - interval '1 hour');
         INSERT INTO password_reset_tokens (user_id, token_hash, created_at, expires_at) VALUES
           ({user}, repeat('5', 64), now() - interval '2 hours', now() - interval '1 hour'),
           ({user}, repeat('6', 64), now(), now() + interval '1 hour');
         INSERT INTO email_verify_tokens (user_id, email, token_hash, verified_at) VALUES
           ({user}, 'a@example.com', repeat('7', 64), now()),
           ({user}, 'a@example.com', repeat('8', 64), NULL);
         INSERT INTO agent_sessions (user_id, title, last_activity_at) VALUES
           ({user}, 'stale', now() - interval '25 hours'), ({user}, 'fresh', now() - interval '1 hour');
         INSERT INTO audit_logs (user_id, event_type, created_at) VALUES
           ({user}, 'login', now() - interval '100 days'), ({user}, 'login_failed', now() - interval '91 days'),
           ({user}, 'login', now() - interval '89 days');"
    ))
    .await;
        // a future partition that went missing is made again
        let newest = strings(
        &mut c,
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'ai_usage_requests'::regclass AND c.relname <> 'ai_usage_requests_default'
          ORDER BY 1 DESC LIMIT 1",
    )
    .await
    .remove(0);
        exec(
            &mut c,
            &format!(
                "ALTER TABLE ai_usage_requests DETACH PARTITION {newest}; DROP TABLE {newest}"
            ),
        )
        .await;

        let report: serde_json::Value = sqlx::query_scalar("SELECT daily_maintenance()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(
            report,
            serde_json::json!({
                "expired_access_tokens_deleted": 2, "password_reset_tokens_deleted": 1,
                "email_verify_tokens_deleted": 1, "inactive_sessions_ended": 1,
                "audit_logs_archived": 2, "audit_logs_archive_purged": 0, "partitions_created": 1,
                "quota_reservations_released": 0,
            })
        );
        assert_eq!(
            strings(
                &mut c,
                "SELECT left(token_hash, 1) FROM access_tokens ORDER BY 1"
            )
            .await,
            ["2", "4"]
        );
        assert_eq!(
        strings(&mut c, "SELECT title || ' ' || is_active || ' ' || (ended_at IS NOT NULL) FROM agent_sessions ORDER BY title").await,
        ["fresh true false", "stale false true"]
    );
        assert_eq!(
        strings(&mut c, "SELECT event_type || ' ' || (archived_at IS NOT NULL) FROM audit_logs_archive ORDER BY created_at").await,
        ["login true", "login_failed true"]
    );
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM audit_logs WHERE created_at < now() - interval '90 days'"
            )
            .await,
            0
        );
        assert_eq!(
            scalar_i64(
                &mut c,
                &format!(
                    "SELECT count(*) FROM pg_class WHERE relname = '{newest}' AND relrowsecurity"
                )
            )
            .await,
            1
        );

        // a second run finds nothing to do
        let again: serde_json::Value = sqlx::query_scalar("SELECT daily_maintenance()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert!(
            again.as_object().unwrap().values().all(|v| v == 0),
            "{again}"
        );

        // cleanup_old_audit_logs(90) once deleted from the archive the rows the daily job had
        // just moved there: now it moves hot rows into the archive and never deletes an event
        // before its two years are over
        assert_eq!(
            scalar_i64(&mut c, "SELECT cleanup_old_audit_logs(30)").await,
            1
        );
        assert_eq!(
            strings(
                &mut c,
                "SELECT event_type FROM audit_logs_archive ORDER BY created_at"
            )
            .await,
            ["login", "login_failed", "login"]
        );
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM audit_logs WHERE created_at < now() - interval '30 days'"
            )
            .await,
            0
        );
        // archived events are kept (the overview archives, it never deletes), unless the
        // database asks for a purge; then they leave after that, not before
        exec(
            &mut c,
            &format!(
                "INSERT INTO audit_logs_archive (id, user_id, event_type, created_at) VALUES
           (1001, {user}, 'login', now() - interval '2 years 1 day'),
           (1002, {user}, 'login', now() - interval '1 year 11 months')"
            ),
        )
        .await;
        let report: serde_json::Value = sqlx::query_scalar("SELECT daily_maintenance()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(report["audit_logs_archive_purged"], 0, "{report}");
        assert_eq!(
            scalar_i64(&mut c, "SELECT count(*) FROM audit_logs_archive").await,
            5,
            "daily maintenance deleted archived audit events"
        );
        exec(
            &mut c,
            "SET witchcraft.purge_audit_archive_after = '2 years'",
        )
        .await;
        let report: serde_json::Value = sqlx::query_scalar("SELECT daily_maintenance()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        exec(&mut c, "RESET witchcraft.purge_audit_archive_after").await;
        assert_eq!(report["audit_logs_archive_purged"], 1, "{report}");
        assert_eq!(
            scalar_i64(&mut c, "SELECT count(*) FROM audit_logs_archive").await,
            4
        );
        let (code, _) = fails(&mut c, "SELECT cleanup_old_audit_logs(0)").await;
        assert_eq!(code, "22023");
    }
}

#[tokio::test]
async fn monthly_maintenance_resets_quotas_updates_subscriptions_and_refreshes_stats() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let (p, m) = seed_models(&mut c).await;
        let mut ids = Vec::new();
        for name in ["over", "pro", "canceling", "trial", "pastdue", "current"] {
            ids.push(new_user(&mut c, &format!("{name}@example.com")).await);
        }
        let [over, pro, canceling, trial, pastdue, current] = ids[..] else {
            unreachable!()
        };
        // "over" used its whole quota last month; "current" has used some of this month's
        record(&mut c, over, p, m, 60_000, 40_000).await.unwrap();
        record(&mut c, current, p, m, 1_000, 0).await.unwrap();
        exec(&mut c, &format!(
        "UPDATE user_quotas SET period_start = date_trunc('month', now(), 'UTC') - interval '1 month',
                                period_end = date_trunc('month', now(), 'UTC')
          WHERE user_id <> {current};
         UPDATE usage_alerts SET period_start = date_trunc('month', now(), 'UTC') - interval '1 month';
         INSERT INTO user_subscriptions (user_id, tier_id, status, current_period_start, current_period_end, cancel_at_period_end)
         SELECT u, (SELECT id FROM subscription_tiers WHERE name = t), s, now() - interval '40 days', now() - e, c
           FROM (VALUES ({pro}, 'pro', 'active', interval '-20 days', false),
                        ({canceling}, 'pro', 'active', interval '1 day', true),
                        ({trial}, 'team', 'trialing', interval '1 day', false),
                        ({pastdue}, 'pro', 'past_due', interval '10 days', false)) AS v(u, t, s, e, c);
         INSERT INTO ai_usage_daily (user_id, usage_date, request_count, total_tokens, cost_usd) VALUES
           ({pro}, (date_trunc('month', now(), 'UTC') - interval '1 month')::date, 3, 300, 0.3),
           ({pro}, (date_trunc('month', now(), 'UTC') - interval '1 month' + interval '5 days')::date, 2, 200, 0.2);
         INSERT INTO agent_sessions (user_id, title) VALUES ({pro}, 'stats');
         INSERT INTO agent_messages (session_id, role, content, tokens) SELECT id, 'user', 'x', 7 FROM agent_sessions;"
    ))
    .await;
        assert_eq!(
            scalar_i64(&mut c, "SELECT count(*) FROM agent_session_stats").await,
            0
        );

        let report: serde_json::Value = sqlx::query_scalar("SELECT monthly_maintenance()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(
            report,
            serde_json::json!({
                "subscriptions_canceled": 1, "subscriptions_expired": 2, "quotas_reset": 5,
                "monthly_usage_rows": 1, "session_stats_refreshed": true,
            })
        );
        let quotas = strings(
        &mut c,
        "SELECT split_part(u.email, '@', 1) || ' ' || t.name || ' ' || coalesce(q.tokens_limit::text, 'unlimited') || ' ' || q.tokens_used
                || ' ' || (q.period_start = date_trunc('month', now(), 'UTC'))
           FROM user_quotas q JOIN users u ON u.id = q.user_id JOIN subscription_tiers t ON t.id = q.tier_id
          ORDER BY u.id",
    )
    .await;
        assert_eq!(
            quotas,
            [
                "over free 100000 0 true",
                "pro pro 2000000 0 true",
                "canceling free 100000 0 true",
                "trial free 100000 0 true",
                "pastdue free 100000 0 true",
                "current free 100000 1000 true",
            ]
        );
        assert_eq!(
        strings(&mut c, "SELECT split_part(u.email, '@', 1) || ' ' || s.status FROM user_subscriptions s JOIN users u ON u.id = s.user_id ORDER BY u.id").await,
        ["pro active", "canceling canceled", "trial expired", "pastdue expired"]
    );
        assert_eq!(
        strings(&mut c, &format!(
            "SELECT request_count || ' ' || total_tokens || ' ' || cost_usd::numeric(10,2) FROM ai_usage_monthly
              WHERE user_id = {pro} AND make_date(year, month, 1) = (date_trunc('month', now(), 'UTC') - interval '1 month')::date")).await,
        ["5 500 0.50"]
    );
        assert_eq!(
            strings(
                &mut c,
                "SELECT message_count || ' ' || total_tokens FROM agent_session_stats"
            )
            .await,
            ["1 7"]
        );
        // alerts of the new period can fire again: the old ones belong to the old period
        record(&mut c, over, p, m, 85_000, 0).await.unwrap();
        assert_eq!(
            scalar_i64(
                &mut c,
                &format!("SELECT count(*) FROM usage_alerts WHERE user_id = {over}")
            )
            .await,
            3
        );
    }
}

#[tokio::test]
async fn row_level_security_by_role() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let (p, m) = seed_models(&mut c).await;
        let a = new_user(&mut c, "a@example.com").await;
        let b = new_user(&mut c, "b@example.com").await;
        let admin = new_user(&mut c, "admin@example.com").await;
        exec(
            &mut c,
            &format!("UPDATE users SET role = 'admin' WHERE id = {admin}"),
        )
        .await;
        for u in [a, b] {
            let (request, at) = record(&mut c, u, p, m, 10, 10).await.unwrap();
            exec(&mut c, &witchcraft_rows_of(u)).await;
            exec(&mut c, &format!(
                "UPDATE agent_messages m SET usage_request_id = {request}, usage_request_created_at = '{at}'
                   FROM agent_sessions s WHERE s.id = m.session_id AND s.user_id = {u}"
            ))
            .await;
        }
        exec(
            &mut c,
            "INSERT INTO audit_logs_archive (id, user_id, event_type) VALUES (999, NULL, 'login')",
        )
        .await;
        let owner = |t: &str| match t {
            "users" => "id",
            "agent_messages" | "agent_tool_calls" => {
                "(SELECT s.user_id FROM agent_sessions s WHERE s.id = session_id)"
            }
            _ => "user_id",
        };
        let protected = [
            "users",
            "user_profiles",
            "access_tokens",
            "ai_usage_requests",
            "ai_usage_daily",
            "ai_usage_monthly",
            "agent_sessions",
            "agent_messages",
            "agent_tool_calls",
            "user_subscriptions",
            "user_quotas",
            "payment_history",
            "audit_logs",
            "agent_feedback",
            "usage_alerts",
        ];
        let (sa, sb, sadmin) = (a.to_string(), b.to_string(), admin.to_string());
        for t in protected {
            let total = scalar_i64(&mut c, &format!("SELECT count(*) FROM {t}")).await;
            let of_a = scalar_i64(
                &mut c,
                &format!("SELECT count(*) FROM {t} WHERE {} = {a}", owner(t)),
            )
            .await;
            assert!(of_a >= 1 && of_a < total, "{t}: {of_a} of {total}");
            let count = format!("SELECT count(*) FROM {t}");
            assert_eq!(
                as_role(&mut c, "authenticated", Some(&sa), &count).await,
                Ok(of_a),
                "{t} as A"
            );
            let of_b_for_a = format!("SELECT count(*) FROM {t} WHERE {} = {b}", owner(t));
            assert_eq!(
                as_role(&mut c, "authenticated", Some(&sa), &of_b_for_a).await,
                Ok(0),
                "{t}: A sees B"
            );
            assert_eq!(
                as_role(&mut c, "authenticated", Some(&sadmin), &count).await,
                Ok(total),
                "{t} as admin"
            );
            assert_eq!(
                as_role(&mut c, "authenticated", None, &count).await,
                Ok(0),
                "{t} without a token"
            );
            assert_eq!(
                as_role(&mut c, "anon", None, &count).await,
                Err("42501".into()),
                "{t} as anon"
            );
        }
        let denied = Err("42501".to_string());
        let writes = [
        ("A edits B's profile", format!("WITH u AS (UPDATE user_profiles SET bio = 'x' WHERE user_id = {b} RETURNING 1) SELECT count(*) FROM u"), Ok(0)),
        ("A edits own profile", format!("WITH u AS (UPDATE user_profiles SET bio = 'x' WHERE user_id = {a} RETURNING 1) SELECT count(*) FROM u"), Ok(1)),
        ("A opens a session for B", format!("WITH i AS (INSERT INTO agent_sessions (user_id) VALUES ({b}) RETURNING 1) SELECT count(*) FROM i"), denied.clone()),
        ("A opens own session", format!("WITH i AS (INSERT INTO agent_sessions (user_id) VALUES ({a}) RETURNING 1) SELECT count(*) FROM i"), Ok(1)),
        ("A posts in B's session", format!("WITH i AS (INSERT INTO agent_messages (session_id, role, content) SELECT id, 'user', 'x' FROM agent_sessions WHERE user_id = {b} RETURNING 1) SELECT count(*) FROM i"), Ok(0)),
        ("A posts as the assistant", format!("WITH i AS (INSERT INTO agent_messages (session_id, role, content) SELECT id, 'assistant', 'x' FROM agent_sessions WHERE user_id = {a} RETURNING 1) SELECT count(*) FROM i"), denied.clone()),
        ("A makes themself admin", format!("WITH u AS (UPDATE users SET role = 'admin' WHERE id = {a} RETURNING 1) SELECT count(*) FROM u"), denied.clone()),
        ("A raises own quota", format!("WITH u AS (UPDATE user_quotas SET tokens_limit = NULL WHERE user_id = {a} RETURNING 1) SELECT count(*) FROM u"), denied.clone()),
        ("A records a payment", format!("WITH i AS (INSERT INTO payment_history (user_id, amount_usd, payment_provider) VALUES ({a}, 1, 'x') RETURNING 1) SELECT count(*) FROM i"), denied.clone()),
        ("A reads reset tokens", "SELECT count(*) FROM password_reset_tokens".to_string(), denied.clone()),
        ("A reads the archive", "SELECT count(*) FROM audit_logs_archive".to_string(), Ok(0)),
        ("A reads session stats", "SELECT count(*) FROM agent_session_stats".to_string(), denied.clone()),
        ("A runs maintenance", "SELECT count(*) FROM daily_maintenance()".to_string(), denied.clone()),
        ("A records usage", format!("SELECT count(*) FROM record_ai_usage({a}, {p}, {m}, 1, 1)"), denied.clone()),
        ("A's remaining quota", format!("SELECT count(*) FROM get_remaining_quota({a})"), Ok(1)),
        ("B's remaining quota, asked by A", format!("SELECT count(*) FROM get_remaining_quota({b})"), Ok(0)),
        ("A's activity", format!("SELECT sum(request_count)::bigint FROM get_user_activity_summary({a}, 7)"), Ok(1)),
        ("B's activity, asked by A", format!("SELECT sum(request_count)::bigint FROM get_user_activity_summary({b}, 7)"), Ok(0)),
    ];
        for (what, sql, expected) in writes {
            assert_eq!(
                as_role(&mut c, "authenticated", Some(&sa), &sql).await,
                expected,
                "{what}"
            );
        }
        assert_eq!(
            as_role(
                &mut c,
                "authenticated",
                Some(&sadmin),
                "SELECT count(*) FROM audit_logs_archive"
            )
            .await,
            Ok(1)
        );
        let _ = sb;

        // the public catalogue: active rows for everyone, all rows for admins, writes for nobody
        for role in ["anon", "authenticated"] {
            let sub = (role == "authenticated").then_some(sa.as_str());
            assert_eq!(
                as_role(&mut c, role, sub, "SELECT count(*) FROM ai_providers").await,
                Ok(1),
                "{role}"
            );
            assert_eq!(
                as_role(&mut c, role, sub, "SELECT count(*) FROM ai_models").await,
                Ok(1),
                "{role}"
            );
            assert_eq!(
                as_role(&mut c, role, sub, "SELECT count(*) FROM subscription_tiers").await,
                Ok(3),
                "{role}"
            );
            for sql in [
            "WITH i AS (INSERT INTO ai_providers (name, display_name) VALUES ('x', 'X') RETURNING 1) SELECT count(*) FROM i",
            "WITH u AS (UPDATE ai_models SET is_active = true RETURNING 1) SELECT count(*) FROM u",
            "WITH d AS (DELETE FROM subscription_tiers RETURNING 1) SELECT count(*) FROM d",
        ] {
            assert_eq!(as_role(&mut c, role, sub, sql).await, denied, "{role}: {sql}");
        }
        }
        assert_eq!(
            as_role(
                &mut c,
                "authenticated",
                Some(&sadmin),
                "SELECT count(*) FROM ai_providers"
            )
            .await,
            Ok(2)
        );
        assert_eq!(
            as_role(
                &mut c,
                "authenticated",
                Some(&sadmin),
                "SELECT count(*) FROM ai_models"
            )
            .await,
            Ok(3)
        );
        assert_eq!(
            as_role(
                &mut c,
                "authenticated",
                Some(&sadmin),
                "SELECT count(*) FROM subscription_tiers"
            )
            .await,
            Ok(4)
        );
    }
}

#[tokio::test]
async fn helpers_and_definer_functions_are_pinned_and_granted_narrowly() {
    let (_db, mut c) = migrated().await;
    let unpinned = strings(
        &mut c,
        "SELECT p.oid::regprocedure::text FROM pg_proc p
          WHERE p.pronamespace IN ('public'::regnamespace, 'witchcraft_auth'::regnamespace) AND p.prosecdef
            AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) s WHERE s LIKE 'search_path=%pg_temp')",
    )
    .await;
    assert!(unpinned.is_empty(), "{unpinned:?}");
    let functions = [
        "create_user_with_profile(text,text,text)",
        "record_ai_usage(bigint,integer,integer,integer,integer,numeric,integer,text,text,text,jsonb,boolean,bigint)",
        "check_and_consume_quota(bigint,bigint,numeric)",
        "get_remaining_quota(bigint)",
        "get_user_activity_summary(bigint,integer)",
        "daily_maintenance()",
        "monthly_maintenance()",
        "cleanup_old_audit_logs(integer)",
        "ensure_ai_usage_partitions(integer)",
        "witchcraft_auth.user_id()",
        "witchcraft_auth.is_admin()",
    ];
    let mut grants = Vec::new();
    for f in functions {
        let row = strings(&mut c, &format!(
            "SELECT '{f}: ' || string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r
              WHERE has_function_privilege(r, '{f}', 'EXECUTE')")).await;
        grants.push(row[0].clone());
    }
    assert_eq!(
        grants,
        [
            "create_user_with_profile(text,text,text): service_role",
            "record_ai_usage(bigint,integer,integer,integer,integer,numeric,integer,text,text,text,jsonb,boolean,bigint): service_role",
            "check_and_consume_quota(bigint,bigint,numeric): service_role",
            "get_remaining_quota(bigint): authenticated,service_role",
            "get_user_activity_summary(bigint,integer): authenticated,service_role",
            "daily_maintenance(): service_role",
            "monthly_maintenance(): service_role",
            "cleanup_old_audit_logs(integer): service_role",
            "ensure_ai_usage_partitions(integer): service_role",
            "witchcraft_auth.user_id(): anon,authenticated,service_role",
            "witchcraft_auth.is_admin(): anon,authenticated,service_role",
        ]
    );
    // user_id() reads the numeric sub claim; anything else is no user
    for (claims, expected) in [
        (r#"{"sub": "42"}"#, "42"),
        (r#"{"sub": "not-a-number"}"#, "none"),
        ("", "none"),
    ] {
        exec(
            &mut c,
            &format!("SELECT set_config('request.jwt.claims', '{claims}', false)"),
        )
        .await;
        assert_eq!(
            strings(
                &mut c,
                "SELECT coalesce(witchcraft_auth.user_id()::text, 'none')"
            )
            .await,
            [expected]
        );
    }
}

/// The overview's "Most Common Queries" on a data set of realistic shape (2,000 users, a year
/// of monthly rows, 20 sessions and 30 requests per user) use the indexes meant for them.
#[tokio::test]
async fn the_common_queries_use_their_indexes() {
    let (_db, mut c) = migrated().await;
    let (p, m) = seed_models(&mut c).await;
    exec(&mut c, &format!(
        "INSERT INTO users (email, password_hash) SELECT 'user' || g || '@example.com', '{h}' FROM generate_series(1, 2000) g;
         INSERT INTO user_quotas (user_id, tier_id, tokens_limit, tokens_used, cost_limit_usd)
           SELECT id, (SELECT id FROM subscription_tiers WHERE name = 'free'), 100000, (id * 37) % 85000, 5 FROM users;
         UPDATE user_quotas SET tokens_used = 95000 WHERE user_id % 100 = 0;
         INSERT INTO ai_usage_monthly (user_id, year, month, request_count, total_tokens, cost_usd)
           SELECT u.id, 2025 + (mo - 1) / 12, (mo - 1) % 12 + 1, 100, 5000, (u.id % 97) * 0.1
             FROM users u, generate_series(1, 13) mo;
         INSERT INTO agent_sessions (user_id, is_active, ended_at, last_activity_at)
           SELECT u.id, s = 1, CASE WHEN s = 1 THEN NULL ELSE now() END, now() - s * interval '1 hour'
             FROM users u, generate_series(1, 20) s;
         INSERT INTO ai_usage_requests (user_id, provider_id, model_id, input_tokens, output_tokens, cost_usd, created_at)
           SELECT u.id, {p}, {m}, 100, 100, 0.01, date_trunc('month', now()) + (r * interval '20 hours') / 30
             FROM users u, generate_series(1, 30) r;
         INSERT INTO access_tokens (user_id, token_hash, created_at, expires_at)
           SELECT u.id, md5(u.id || '-' || t) || md5(t || '-' || u.id), now() - x.age, now() - x.age + interval '29 days'
             FROM users u, generate_series(1, 3) t,
                  LATERAL (SELECT CASE WHEN u.id % 2000 = 0 THEN interval '45 days' ELSE interval '1 day' END AS age) x;
         INSERT INTO audit_logs (user_id, event_type, severity, created_at)
           SELECT (g % 2000) + 1, CASE WHEN g % 50 = 0 THEN 'login_failed' ELSE 'login' END,
                  CASE WHEN g % 40 = 0 THEN 'warning' ELSE 'info' END, now() - (g * interval '1 minute')
             FROM generate_series(1, 40000) g;
         ANALYZE;",
        h = bcrypt()
    ))
    .await;
    let plan = |sql: &str| format!("EXPLAIN {sql}");
    let children = |index: &str| {
        format!("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '{index}'::regclass")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("get user with quota", "SELECT u.*, q.* FROM users u JOIN user_quotas q ON u.id = q.user_id WHERE u.email = 'user123@example.com'".into(), "users_email_key"),
        ("get monthly usage", "SELECT * FROM ai_usage_monthly WHERE user_id = 123 AND year = 2026 AND month = 1".into(), "ai_usage_monthly_pkey"),
        ("get active sessions", "SELECT * FROM agent_sessions WHERE user_id = 123 AND is_active = true ORDER BY last_activity_at DESC".into(), "idx_agent_sessions_user_active"),
        ("quota checks", "SELECT user_id FROM user_quotas WHERE tokens_limit IS NOT NULL AND tokens_used * 5 >= tokens_limit * 4".into(), "idx_quotas_approaching_limit"),
        ("token validation", "SELECT * FROM access_tokens WHERE token_hash = repeat('a', 64)".into(), "idx_access_tokens_token_hash"),
        ("expired tokens", "SELECT id FROM access_tokens WHERE expires_at < now()".into(), "idx_access_tokens_expired"),
        ("who to warn", "SELECT * FROM quotas_approaching_limit".into(), "idx_quotas_approaching_limit"),
        ("cost analysis", "SELECT user_id, cost_usd FROM ai_usage_monthly WHERE year = 2026 AND month = 1 ORDER BY cost_usd DESC LIMIT 10".into(), "idx_ai_usage_monthly_cost"),
        ("failed logins", "SELECT count(*) FROM audit_logs WHERE event_type = 'login_failed' AND created_at > now() - interval '1 hour'".into(), "idx_audit_logs_failed_logins"),
        ("security events", "SELECT * FROM audit_logs WHERE severity IN ('warning', 'critical') ORDER BY created_at DESC LIMIT 50".into(), "idx_audit_logs_security"),
    ];
    for (what, sql, index) in cases {
        let text = strings(&mut c, &plan(&sql)).await.join("\n");
        assert!(
            text.contains(&format!(" using {index} on ")) || text.contains(&format!(" on {index}")),
            "{what}: {sql}\n{text}"
        );
    }
    // "check quota remaining": get_remaining_quota() pins its search_path, so the planner
    // does not inline it and EXPLAIN shows only a function scan; the index's own scan count
    // shows what its query used (the counters are flushed when the session goes idle).
    let scans = async |c: &mut sqlx::PgConnection| {
        exec(c, "SELECT pg_stat_force_next_flush()").await;
        exec(c, "SELECT pg_stat_clear_snapshot()").await;
        scalar_i64(
            c,
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'user_quotas_pkey'",
        )
        .await
    };
    let before = scans(&mut c).await;
    let row = strings(
        &mut c,
        "SELECT tokens_remaining::text FROM get_remaining_quota(123)",
    )
    .await;
    assert_eq!(row.len(), 1, "{row:?}");
    assert!(
        scans(&mut c).await > before,
        "get_remaining_quota() did not use user_quotas_pkey"
    );
    // the token cleanup of daily_maintenance(), its statements as the function has them: each
    // uses an index (the one statement with OR it had could use neither)
    let body = strings(
        &mut c,
        "SELECT pg_get_functiondef('daily_maintenance()'::regprocedure)",
    )
    .await
    .remove(0);
    let deletes: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("DELETE FROM access_tokens"))
        .collect();
    assert_eq!(deletes.len(), 2, "{body}");
    for (delete, index) in deletes
        .iter()
        .zip(["idx_access_tokens_expired", "idx_access_tokens_revoked"])
    {
        let text = strings(&mut c, &plan(delete.trim_end_matches(';')))
            .await
            .join("\n");
        assert!(
            text.contains(&format!(" using {index} on ")) || text.contains(&format!(" on {index}")),
            "{delete}\n{text}"
        );
    }
    // on the partitioned table, the plan names the partitions' copies of the index
    let partitioned = [
        ("user's recent activity", "SELECT * FROM ai_usage_requests WHERE user_id = 123 ORDER BY created_at DESC LIMIT 20".to_string(), "idx_ai_usage_user_recent"),
        ("provider comparison", format!("SELECT count(*), sum(cost_usd) FROM ai_usage_requests WHERE provider_id = {p} AND created_at >= now() - interval '10 minutes'"), "idx_ai_usage_provider_comparison"),
        ("model popularity", format!("SELECT count(*) FROM ai_usage_requests WHERE model_id = {m} AND created_at >= now() - interval '10 minutes'"), "idx_model_popularity"),
    ];
    for (what, sql, index) in partitioned {
        let text = strings(&mut c, &plan(&sql)).await.join("\n");
        let copies = strings(&mut c, &children(index)).await;
        assert!(!copies.is_empty());
        assert!(
            copies
                .iter()
                .any(|i| text.contains(&format!(" using {i} on "))),
            "{what}: {sql}\n{text}"
        );
    }
}

#[tokio::test]
async fn down_to_zero_removes_every_witchcraft_object_and_up_works_again() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let set = witchcraft();
    let before = user_objects(&mut c).await;
    engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    // with data in it, too
    let (p, m) = seed_models(&mut c).await;
    let user = new_user(&mut c, "a@example.com").await;
    record(&mut c, user, p, m, 10, 10).await.unwrap();
    roll_back(&mut c, &set, DownTarget::To(0)).await;
    assert_eq!(user_objects(&mut c).await, before);
    let steps = engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
    assert_eq!(steps.len(), set.migrations.len());
    assert_eq!(new_user(&mut c, "a@example.com").await, 1);
}

#[tokio::test]
async fn both_sets_in_one_database_each_in_its_own_schema() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    let before = user_objects(&mut c).await;
    let mut ac = embedded_set("aethercrown98");
    ac.schema = "aethercrown98".into();
    let mut wc = witchcraft();
    wc.schema = "witchcraft".into();
    engine::up(&mut c, &ac, None, "5s", &quiet).await.unwrap();
    engine::up(&mut c, &wc, None, "5s", &quiet).await.unwrap();
    assert_eq!(
        strings(&mut c, "SELECT schemaname || '.' || tablename FROM pg_tables WHERE tablename = 'users' ORDER BY 1").await,
        ["aethercrown98.users", "witchcraft.users"]
    );
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .await,
        0
    );
    // the functions work from a session whose search_path knows nothing of the set's schema
    exec(&mut c, "SET search_path = public").await;
    let id: i64 =
        sqlx::query_scalar("SELECT witchcraft.create_user_with_profile('a@example.com', $1, 'A')")
            .bind(bcrypt())
            .fetch_one(&mut c)
            .await
            .unwrap();
    let report: serde_json::Value = sqlx::query_scalar("SELECT witchcraft.daily_maintenance()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(report["partitions_created"], 0);
    assert_eq!(
        as_role(
            &mut c,
            "authenticated",
            Some(&id.to_string()),
            "SELECT count(*) FROM witchcraft.users"
        )
        .await,
        Ok(1)
    );
    assert_eq!(
        as_role(
            &mut c,
            "authenticated",
            Some(&id.to_string()),
            "SELECT count(*) FROM witchcraft.ai_providers"
        )
        .await,
        Ok(0)
    );
    // AetherCrown98's policies keep working beside it
    exec(&mut c, "INSERT INTO aethercrown98.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000aa', 'x@y')").await;
    assert_eq!(
        as_role(
            &mut c,
            "authenticated",
            Some("00000000-0000-0000-0000-0000000000aa"),
            "SELECT count(*) FROM aethercrown98.users"
        )
        .await,
        Ok(1)
    );
    exec(&mut c, "RESET search_path").await;
    roll_back(&mut c, &wc, DownTarget::To(0)).await;
    roll_back(&mut c, &ac, DownTarget::To(0)).await;
    assert_eq!(user_objects(&mut c).await, before);
}

#[tokio::test]
async fn each_set_in_its_own_database_in_public() {
    let (ac_db, wc_db) = (TestDb::new().await, TestDb::new().await);
    let mut ac = ac_db.conn().await;
    let mut wc = wc_db.conn().await;
    engine::up(&mut ac, &embedded_set("aethercrown98"), None, "5s", &quiet)
        .await
        .unwrap();
    engine::up(&mut wc, &witchcraft(), None, "5s", &quiet)
        .await
        .unwrap();
    assert_eq!(
        strings(&mut ac, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'id'").await,
        ["uuid"]
    );
    assert_eq!(
        strings(&mut wc, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'id'").await,
        ["bigint"]
    );
    assert_eq!(new_user(&mut wc, "a@example.com").await, 1);
}

#[tokio::test]
async fn maintenance_is_scheduled_with_pg_cron_where_it_is_installed() {
    // Without pg_cron the migration changes nothing.
    let (_db, mut c) = migrated().await;
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'cron'"
        )
        .await,
        0
    );
    // With the real pg_cron: supabase::upkeep_is_scheduled_and_unscheduled_with_the_real_pg_cron.
}

/// One AI request in the overview's order, step by step, as a backend makes it: reserve
/// the estimate (check_and_consume_quota), call the provider, record the actual usage
/// (record_ai_usage). Returns whether the request was granted.
async fn ai_request(
    c: &mut PgConnection,
    user: i64,
    (p, m): (i32, i32),
    estimate: (i64, f64),
    actual: (i32, i32),
) -> bool {
    let reservation: Option<i64> =
        sqlx::query_scalar("SELECT check_and_consume_quota($1, $2, $3::numeric)")
            .bind(user)
            .bind(estimate.0)
            .bind(estimate.1)
            .fetch_one(&mut *c)
            .await
            .unwrap();
    if reservation.is_none() {
        return false;
    }
    sqlx::query("SELECT record_ai_usage($1, $2, $3, $4, $5)")
        .bind(user)
        .bind(p)
        .bind(m)
        .bind(actual.0)
        .bind(actual.1)
        .execute(&mut *c)
        .await
        .unwrap();
    true
}

/// Quota used, next to the aggregates: `tokens cost | daily tokens cost | monthly tokens cost`.
async fn quota_and_aggregates(c: &mut PgConnection, user: i64) -> String {
    strings(
        c,
        &format!(
            "SELECT q.tokens_used || ' ' || q.cost_used_usd::numeric(12,6)
                    || ' | ' || coalesce((SELECT sum(total_tokens) || ' ' || sum(cost_usd)::numeric(12,6) FROM ai_usage_daily WHERE user_id = {user}), '0 0.000000')
                    || ' | ' || coalesce((SELECT sum(total_tokens) || ' ' || sum(cost_usd)::numeric(12,6) FROM ai_usage_monthly WHERE user_id = {user}), '0 0.000000')
               FROM user_quotas q WHERE q.user_id = {user}"
        ),
    )
    .await
    .remove(0)
}

/// Followed in the overview's order, `check_and_consume_quota(1, 1500, 0.075)` then
/// `record_ai_usage(...)` charged the request twice (3,000 tokens). Now the check reserves
/// the estimate and recording settles it: the request costs exactly its actual tokens and
/// cost, and quota and aggregates agree, also with requests of one user racing on eight
/// connections against a limit they overrun together.
#[tokio::test]
async fn an_ai_request_is_charged_once_at_its_actual_usage() {
    for mode in MODES {
        let (db, mut c) = migrated_in(mode, "witchcraft").await;
        let models = seed_models(&mut c).await;
        let user = new_user(&mut c, "a@example.com").await;
        // estimate 1,500 tokens and $0.075; actually 1,000 in and 500 out: $0.01 + $0.015
        assert!(ai_request(&mut c, user, models, (1500, 0.075), (1000, 500)).await);
        assert_eq!(
            quota_and_aggregates(&mut c, user).await,
            "1500 0.025000 | 1500 0.025000 | 1500 0.025000"
        );
        // an estimate too low is charged at the actual usage too
        assert!(ai_request(&mut c, user, models, (100, 0.001), (2000, 0)).await);
        assert_eq!(
            quota_and_aggregates(&mut c, user).await,
            "3500 0.045000 | 3500 0.045000 | 3500 0.045000"
        );
        assert_eq!(
        scalar_i64(&mut c, &format!("SELECT count(*) FROM quota_reservations WHERE user_id = {user} AND settled_at IS NULL")).await,
        0
    );

        // concurrency: 8 connections x 10 requests, each reserving 1,000 and using 900 tokens,
        // against 30,000 tokens left
        exec(&mut c, &format!("UPDATE user_quotas SET tokens_limit = 33500, cost_limit_usd = NULL WHERE user_id = {user}")).await;
        let race = |url: String| async move {
            let mut c = <PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let mut granted = 0;
            for _ in 0..10 {
                granted +=
                    usize::from(ai_request(&mut c, user, models, (1000, 0.01), (900, 0)).await);
            }
            granted
        };
        let u = || db.url.clone();
        let n = tokio::join!(
            race(u()),
            race(u()),
            race(u()),
            race(u()),
            race(u()),
            race(u()),
            race(u()),
            race(u())
        );
        let granted = n.0 + n.1 + n.2 + n.3 + n.4 + n.5 + n.6 + n.7;
        assert!(granted >= 30, "{granted}");
        let used = 3500 + 900 * granted as i64;
        assert!(used <= 33500, "{used}");
        let line = quota_and_aggregates(&mut c, user).await;
        let fields: Vec<&str> = line.split(" | ").collect();
        let reservations = strings(&mut c, &format!("SELECT tokens || ' ' || coalesce(settled_by,'open') || ' ' || count(*) FROM quota_reservations WHERE user_id = {user} GROUP BY tokens, settled_by ORDER BY 1")).await;
        assert_eq!(
            fields[0], fields[1],
            "{line}; reservations: {reservations:?}; granted {granted}"
        );
        assert_eq!(fields[1], fields[2], "{line}");
        assert!(fields[0].starts_with(&format!("{used} ")), "{line}");
    }
}

/// A request refused at the limit left no trace: no alert, no audit row (the error rolled
/// back whatever the function wrote). Refusals are recorded: the `quota_exceeded` alert once
/// per user, threshold and period, and an audit row every time.
#[tokio::test]
async fn refused_requests_are_recorded() {
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let user = new_user(&mut c, "a@example.com").await;
        exec(
            &mut c,
            &format!("UPDATE user_quotas SET tokens_used = 99000 WHERE user_id = {user}"),
        )
        .await;
        for _ in 0..3 {
            let reservation: Option<i64> =
                sqlx::query_scalar("SELECT check_and_consume_quota($1, 5000, 0.01)")
                    .bind(user)
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
            assert_eq!(reservation, None);
        }
        assert_eq!(
        strings(&mut c, &format!("SELECT alert_type || ' ' || threshold_percent || ' ' || usage_percent FROM usage_alerts WHERE user_id = {user}")).await,
        ["quota_exceeded 100 104.00"]
    );
        assert_eq!(
        strings(&mut c, &format!(
            "SELECT event_type || ' ' || success || ' ' || (metadata ->> 'tokens_requested') || ' ' || (metadata ->> 'tokens_used')
               FROM audit_logs WHERE user_id = {user} AND event_type = 'quota_exceeded'")).await,
        ["quota_exceeded false 5000 99000"; 3]
    );
        // nothing was consumed
        assert_eq!(
            scalar_i64(
                &mut c,
                &format!("SELECT tokens_used FROM user_quotas WHERE user_id = {user}")
            )
            .await,
            99000
        );
    }
}

/// A reservation whose request never came back (the provider call failed, the backend
/// crashed) is given back by the daily maintenance an hour later.
#[tokio::test]
async fn unsettled_reservations_are_released_by_daily_maintenance() {
    let (_db, mut c) = migrated().await;
    let user = new_user(&mut c, "a@example.com").await;
    let reservation: Option<i64> =
        sqlx::query_scalar("SELECT check_and_consume_quota($1, 4000, 0.02)")
            .bind(user)
            .fetch_one(&mut c)
            .await
            .unwrap();
    let tokens = format!("SELECT tokens_used FROM user_quotas WHERE user_id = {user}");
    assert_eq!(scalar_i64(&mut c, &tokens).await, 4000);
    // a fresh reservation stays; one older than an hour goes
    let report: serde_json::Value = sqlx::query_scalar("SELECT daily_maintenance()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(report["quota_reservations_released"], 0);
    exec(
        &mut c,
        &format!(
            "UPDATE quota_reservations SET created_at = now() - interval '2 hours' WHERE id = {}",
            reservation.unwrap()
        ),
    )
    .await;
    let report: serde_json::Value = sqlx::query_scalar("SELECT daily_maintenance()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(report["quota_reservations_released"], 1);
    assert_eq!(scalar_i64(&mut c, &tokens).await, 0);
}

/// Moving a month out of the default partition (when its partition is made) cut every
/// link of that month's messages to their usage requests (`ON DELETE SET NULL` fired by
/// the DELETE), and a request committed between the copy and the delete was lost. Now the
/// rows move in one statement under a lock, and the links are put back: a request recorded
/// while the month moves waits, then lands in the new partition.
#[tokio::test]
async fn a_month_moved_out_of_the_default_partition_keeps_its_rows_and_links() {
    let (db, mut c) = migrated().await;
    let (p, m) = seed_models(&mut c).await;
    let user = new_user(&mut c, "mover@example.com").await;
    // a month beyond the partitions upkeep keeps: its requests land in the default one
    let month: String = sqlx::query_scalar(
        "SELECT (date_trunc('month', now(), 'UTC') + interval '7 months' + interval '9 days')::text",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    exec(
        &mut c,
        &format!(
            "WITH s AS (INSERT INTO agent_sessions (user_id, title) VALUES ({user}, 'moving') RETURNING id),
                  r AS (INSERT INTO ai_usage_requests (user_id, provider_id, model_id, created_at)
                        SELECT {user}, {p}, {m}, '{month}'::timestamptz + g * interval '1 hour'
                          FROM generate_series(1, 3) g RETURNING id, created_at)
             INSERT INTO agent_messages (session_id, role, content, usage_request_id, usage_request_created_at)
             SELECT s.id, 'assistant', 'x', r.id, r.created_at FROM s, r"
        ),
    )
    .await;
    let in_default = "SELECT count(*) FROM ONLY ai_usage_requests_default";
    assert_eq!(scalar_i64(&mut c, in_default).await, 3);
    // the move runs in a transaction left open, while another session records a request
    exec(&mut c, "BEGIN; SELECT ensure_ai_usage_partitions(8)").await;
    let mut w = db.conn().await;
    let mut probe = db.conn().await;
    let insert = format!(
        "INSERT INTO ai_usage_requests (user_id, provider_id, model_id, created_at)
         VALUES ({user}, {p}, {m}, '{month}'::timestamptz + interval '5 hours')"
    );
    let (recorded, ()) = tokio::join!(sqlx::raw_sql(&insert).execute(&mut w), async {
        // the writer waits for the move's lock; the move then commits
        wait_until(
            &mut probe,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database())",
        )
        .await;
        exec(&mut c, "COMMIT").await;
    });
    recorded.expect("the concurrent request is recorded");
    // every request of the month is in its partition, none lost, none left behind
    assert_eq!(scalar_i64(&mut c, in_default).await, 0);
    assert_eq!(
        scalar_i64(
            &mut c,
            &format!(
                "SELECT count(*) FROM ai_usage_requests WHERE created_at >= date_trunc('month', '{month}'::timestamptz, 'UTC')
                    AND tableoid <> 'ai_usage_requests_default'::regclass"
            )
        )
        .await,
        4
    );
    // and every message still points at its request
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) FROM agent_messages m JOIN ai_usage_requests r
                 ON r.id = m.usage_request_id AND r.created_at = m.usage_request_created_at",
        )
        .await,
        3
    );
}

/// With 99,999 of 100,000 tokens used, a reservation with an estimate of zero was granted,
/// three times, and each request of 50,000 tokens was charged only up to the limit: about
/// 100,000 tokens were never charged. A full quota now refuses every reservation; the one
/// request that ends beyond the limit is charged up to it and its excess noted, and what is
/// recorded is exactly what the quota charged plus the overshoot noted.
#[tokio::test]
async fn an_exhausted_quota_grants_no_reservation() {
    let (_db, mut c) = migrated().await;
    let models = seed_models(&mut c).await;
    let user = new_user(&mut c, "full@example.com").await;
    exec(
        &mut c,
        &format!("UPDATE user_quotas SET tokens_limit = 100000, tokens_used = 99999, cost_limit_usd = NULL WHERE user_id = {user}"),
    )
    .await;
    let mut granted = Vec::new();
    for _ in 0..3 {
        granted.push(ai_request(&mut c, user, models, (0, 0.0), (20_000, 30_000)).await);
    }
    assert_eq!(granted, [true, false, false]);
    let used = scalar_i64(
        &mut c,
        &format!("SELECT tokens_used FROM user_quotas WHERE user_id = {user}"),
    )
    .await;
    assert_eq!(used, 100_000);
    let recorded = scalar_i64(
        &mut c,
        &format!("SELECT coalesce(sum(total_tokens), 0)::bigint FROM ai_usage_requests WHERE user_id = {user}"),
    )
    .await;
    let overshoot = scalar_i64(
        &mut c,
        &format!(
            "SELECT coalesce(sum((metadata->>'quota_overshoot_tokens')::bigint), 0)::bigint
               FROM ai_usage_requests WHERE user_id = {user}"
        ),
    )
    .await;
    assert_eq!((recorded, overshoot), (50_000, 49_999));
    // what was recorded is what the quota charged (from 99,999) plus the overshoot noted
    assert_eq!(recorded, (used - 99_999) + overshoot);
    // and recording without a reservation is refused too, recording nothing
    let refused = record(&mut c, user, models.0, models.1, 10, 10).await;
    assert_eq!(refused.map_err(|(code, _)| code), Err("WQ429".to_string()));
}
