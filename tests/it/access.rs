//! The README's access matrix, measured by doing: for every table of both sets, as `anon`,
//! user A, user B, a Witchcraft admin and `service_role`, each statement a client could send
//! (SELECT, INSERT, UPDATE of every column the design lets clients write and of a protected
//! one, DELETE, TRUNCATE, `nextval` on the table's sequences), with the claims set the way
//! PostgREST sets them: `set_config('request.jwt.claims', …, true)` and `SET LOCAL ROLE`, in
//! a transaction that is rolled back. Writes target one row of user A. Both modes, plain
//! Postgres and the Supabase stand-in, must give the same matrix, and the README must write it.

use crate::harness::*;
use sqlx::PgConnection;
use std::collections::BTreeMap;

/// One table of a set and how to exercise it.
struct Table {
    name: &'static str,
    /// SQL expression of the user a row belongs to; `None` for tables no user owns.
    owner: Option<&'static str>,
    /// Statements run as the owner first (to free a unique slot), then the INSERT of a row of
    /// user A; `None` where nothing is inserted directly (partitions).
    insert: Option<(&'static str, &'static str)>,
    /// The columns a signed-in user may write by design; each is updated to its own value.
    writable: &'static [&'static str],
    /// A change no client may make: `column = value`.
    protected: Option<&'static str>,
    /// Whether the server alone sets `created_at` on the rows clients write: the INSERT with
    /// a `created_at` of its own, and an UPDATE of it, are tried too.
    server_dated: bool,
}

const fn table(name: &'static str, owner: &'static str) -> Table {
    Table {
        name,
        owner: Some(owner),
        insert: None,
        writable: &[],
        protected: None,
        server_dated: false,
    }
}

const AETHERCROWN98: &[Table] = &[
    Table {
        insert: Some((
            "DELETE FROM users WHERE id = {a}",
            "INSERT INTO users (id, email) VALUES ({a}, 'a2@example.com')",
        )),
        writable: &["email", "name", "password_hash", "updated_at", "last_login"],
        protected: Some("role = 'admin'"),
        server_dated: true,
        ..table("users", "id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO ai_clones (name, model_type, user_id) VALUES ('n', 'gpt', {a})",
        )),
        writable: &["name", "description", "model_type", "status", "config"],
        protected: Some("user_id = {b}"),
        server_dated: true,
        ..table("ai_clones", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO ai_tasks (clone_id, task_name) VALUES ({clone}, 'n')",
        )),
        writable: &[
            "task_name",
            "task_input",
            "task_output",
            "status",
            "priority",
            "error_message",
            "completed_at",
        ],
        protected: Some("clone_id = {b_clone}"),
        server_dated: true,
        ..table(
            "ai_tasks",
            "(SELECT c.user_id FROM ai_clones c WHERE c.id = clone_id)",
        )
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO payments (order_id, amount, user_id) VALUES ('n-1', 1, {a})",
        )),
        protected: Some("status = 'completed'"),
        ..table("payments", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO activity_logs (log_type, entity_id, action, user_id) VALUES ('n', {a}, 'n', {a})",
        )),
        protected: Some("action = 'rewritten'"),
        server_dated: true,
        ..table("activity_logs", "user_id")
    },
    Table {
        protected: Some("action = 'rewritten'"),
        ..table("activity_logs_default", "user_id")
    },
];

const WITCHCRAFT: &[Table] = &[
    Table {
        insert: Some((
            "",
            "INSERT INTO users (email, password_hash) VALUES ('n@example.com', '{bcrypt}')",
        )),
        protected: Some("role = 'admin'"),
        ..table("users", "id")
    },
    Table {
        insert: Some((
            "DELETE FROM user_profiles WHERE user_id = {a}",
            "INSERT INTO user_profiles (user_id) VALUES ({a})",
        )),
        writable: &[
            "display_name",
            "avatar_url",
            "bio",
            "timezone",
            "locale",
            "preferences",
        ],
        protected: Some("created_at = '2000-01-01'"),
        ..table("user_profiles", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO access_tokens (user_id, token_hash) VALUES ({a}, repeat('c', 64))",
        )),
        writable: &["revoked_at"],
        protected: Some("token_hash = repeat('d', 64)"),
        ..table("access_tokens", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO password_reset_tokens (user_id, token_hash) VALUES ({a}, repeat('c', 64))",
        )),
        protected: Some("used_at = now()"),
        ..table("password_reset_tokens", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO email_verify_tokens (user_id, email, token_hash) VALUES ({a}, 'a@example.com', repeat('c', 64))",
        )),
        protected: Some("verified_at = now()"),
        ..table("email_verify_tokens", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO audit_logs (user_id, event_type) VALUES ({a}, 'login')",
        )),
        protected: Some("event_type = 'admin_action'"),
        ..table("audit_logs", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO audit_logs_archive (id, user_id, event_type) VALUES (1000000, {a}, 'login')",
        )),
        protected: Some("event_type = 'admin_action'"),
        ..table("audit_logs_archive", "user_id")
    },
    Table {
        name: "ai_providers",
        owner: None,
        insert: Some((
            "",
            "INSERT INTO ai_providers (name, display_name) VALUES ('n', 'N')",
        )),
        writable: &[],
        protected: Some("is_active = false"),
        server_dated: false,
    },
    Table {
        name: "ai_models",
        owner: None,
        insert: Some((
            "",
            "INSERT INTO ai_models (provider_id, name, display_name) VALUES ({provider}, 'n', 'N')",
        )),
        writable: &[],
        protected: Some("input_cost_per_1k_tokens = 0"),
        server_dated: false,
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO ai_usage_requests (user_id, provider_id, model_id, input_tokens) VALUES ({a}, {provider}, {model}, 1)",
        )),
        protected: Some("cost_usd = 0"),
        ..table("ai_usage_requests", "user_id")
    },
    Table {
        protected: Some("cost_usd = 0"),
        ..table("ai_usage_requests_default", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO ai_usage_daily (user_id, usage_date) VALUES ({a}, '2000-01-01')",
        )),
        protected: Some("cost_usd = 0"),
        ..table("ai_usage_daily", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO ai_usage_monthly (user_id, year, month) VALUES ({a}, 2000, 1)",
        )),
        protected: Some("cost_usd = 0"),
        ..table("ai_usage_monthly", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO agent_sessions (user_id, title) VALUES ({a}, 'n')",
        )),
        writable: &["title", "is_active", "metadata", "ended_at"],
        protected: Some("total_cost_usd = 0"),
        ..table("agent_sessions", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO agent_messages (session_id, role, content) VALUES ({session}, 'user', 'n')",
        )),
        protected: Some("tokens = 1000000"),
        ..table(
            "agent_messages",
            "(SELECT s.user_id FROM agent_sessions s WHERE s.id = session_id)",
        )
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO agent_tool_calls (session_id, message_id, tool_name) VALUES ({session}, {message}, 'n')",
        )),
        protected: Some("status = 'succeeded'"),
        ..table(
            "agent_tool_calls",
            "(SELECT s.user_id FROM agent_sessions s WHERE s.id = session_id)",
        )
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO agent_feedback (user_id, session_id, message_id, rating) VALUES ({a}, {session}, {message}, 4)",
        )),
        protected: Some("rating = 1"),
        ..table("agent_feedback", "user_id")
    },
    Table {
        name: "subscription_tiers",
        owner: None,
        insert: Some((
            "",
            "INSERT INTO subscription_tiers (name, display_name) VALUES ('n', 'N')",
        )),
        writable: &[],
        protected: Some("monthly_price_usd = 0"),
        server_dated: false,
    },
    Table {
        insert: Some((
            "DELETE FROM user_subscriptions WHERE user_id = {a}",
            "INSERT INTO user_subscriptions (user_id, tier_id) VALUES ({a}, {tier})",
        )),
        protected: Some("status = 'canceled'"),
        ..table("user_subscriptions", "user_id")
    },
    Table {
        insert: Some((
            "DELETE FROM user_quotas WHERE user_id = {a}",
            "INSERT INTO user_quotas (user_id, tier_id) VALUES ({a}, {tier})",
        )),
        protected: Some("tokens_limit = NULL"),
        ..table("user_quotas", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO payment_history (user_id, amount_usd, payment_provider) VALUES ({a}, 1, 'stripe')",
        )),
        protected: Some("status = 'refunded'"),
        ..table("payment_history", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO usage_alerts (user_id, alert_type, threshold_percent, usage_percent, period_start) VALUES ({a}, 'quota_warning', 80, 81, '2000-01-01')",
        )),
        writable: &["acknowledged_at"],
        protected: Some("usage_percent = 1"),
        ..table("usage_alerts", "user_id")
    },
    Table {
        insert: Some((
            "",
            "INSERT INTO quota_reservations (user_id, tokens, cost_usd, period_start) VALUES ({a}, 1, 0, now())",
        )),
        protected: Some("tokens = 0"),
        ..table("quota_reservations", "user_id")
    },
    Table {
        name: "agent_session_stats",
        owner: None,
        insert: None,
        writable: &[],
        protected: None,
        server_dated: false,
    },
    table("quotas_approaching_limit", "user_id"),
];

/// Who sends the statements: a database role, and the user id of the JWT's `sub` claim.
struct Actor {
    label: &'static str,
    role: &'static str,
    user: Option<String>,
}

impl Actor {
    /// The actor's user id as an SQL literal (NULL for roles without a user).
    fn me(&self) -> String {
        self.user
            .as_deref()
            .map_or("NULL".to_string(), |u| format!("'{u}'"))
    }
}

/// `template` with every `{name}` replaced by its value.
fn fill(template: &str, values: &BTreeMap<&str, String>) -> String {
    values.iter().fold(template.to_string(), |sql, (k, v)| {
        sql.replace(&format!("{{{k}}}"), v)
    })
}

async fn exec(c: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&mut *c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Opens the transaction of one case: `prepare` as the owner, then the claims and role of
/// `actor`, as PostgREST does for a request.
async fn begin_as(c: &mut PgConnection, actor: &Actor, prepare: &str) {
    exec(c, "BEGIN").await;
    if !prepare.is_empty() {
        exec(c, prepare).await;
    }
    let mut claims = serde_json::json!({ "role": actor.role });
    if let Some(user) = &actor.user {
        claims["sub"] = user.clone().into();
    }
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims.to_string())
        .execute(&mut *c)
        .await
        .unwrap();
    exec(c, &format!("SET LOCAL ROLE {}", actor.role)).await;
}

/// How a refused statement was refused: `denied` (no privilege), `rls` (a row level
/// security check refused the new row), `restrict` (a foreign key keeps the row), or the
/// SQLSTATE and message of anything else.
fn refusal(e: sqlx::Error) -> String {
    let db = e.as_database_error().expect("a database error");
    match db.code().as_deref().unwrap_or_default() {
        "42501" if db.message().contains("row-level security") => "rls".into(),
        "42501" => "denied".into(),
        "23503" => "restrict".into(),
        code => format!("error {code}: {}", db.message()),
    }
}

/// Runs one write as `actor`: `ok` when it changed a row, `none` when row level security
/// hid the row, else how it was refused.
async fn write(c: &mut PgConnection, actor: &Actor, prepare: &str, sql: &str) -> String {
    begin_as(c, actor, prepare).await;
    let result = sqlx::raw_sql(sql).execute(&mut *c).await;
    exec(c, "ROLLBACK").await;
    match result {
        Ok(done) if done.rows_affected() > 0 || !sql.starts_with(['U', 'D', 'I']) => "ok".into(),
        Ok(_) => "none".into(),
        Err(e) => refusal(e),
    }
}

/// What `actor` reads of `t`: `all` rows, exactly its `own` rows, `some` of them (a subset
/// no user owns, such as the active rows of a catalogue), `none`, or `denied`.
async fn read(c: &mut PgConnection, actor: &Actor, t: &Table) -> String {
    let owner = t.owner.unwrap_or("NULL");
    let me = actor.me();
    let total = scalar_i64(c, &format!("SELECT count(*) FROM {}", t.name)).await;
    let owned = scalar_i64(
        c,
        &format!("SELECT count(*) FROM {} WHERE {owner} = {me}", t.name),
    )
    .await;
    assert!(total > 0, "{}: seed a row", t.name);
    begin_as(c, actor, "").await;
    let seen = sqlx::query_as::<_, (i64, i64)>(&format!(
        "SELECT count(*), count(*) FILTER (WHERE {owner} = {me}) FROM {}",
        t.name
    ))
    .fetch_one(&mut *c)
    .await;
    exec(c, "ROLLBACK").await;
    match seen {
        Err(e) => refusal(e),
        Ok((0, _)) => "none".into(),
        Ok((n, _)) if n == total => "all".into(),
        Ok((n, mine)) if t.owner.is_some() && n == mine && mine == owned => "own".into(),
        Ok(_) => "some".into(),
    }
}

/// The condition naming one row of `t`, of user A where the table has an owner, by its
/// primary key; `false` when there is no such row.
async fn one_row(c: &mut PgConnection, t: &Table, a: &str) -> String {
    let key = strings(
        c,
        &format!(
            "SELECT a.attname::text FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = '{}'::regclass AND i.indisprimary ORDER BY a.attnum",
            t.name
        ),
    )
    .await;
    assert!(!key.is_empty(), "{} has a primary key", t.name);
    let parts: Vec<String> = key
        .iter()
        .map(|k| format!("format('%I::text = %L', '{k}', {k}::text)"))
        .collect();
    let filter = t
        .owner
        .map_or(String::new(), |o| format!("WHERE {o} = '{a}'"));
    let row: Option<String> = sqlx::query_scalar(&format!(
        "SELECT concat_ws(' AND ', {}) FROM {} {filter} ORDER BY 1 LIMIT 1",
        parts.join(", "),
        t.name
    ))
    .fetch_optional(&mut *c)
    .await
    .unwrap();
    row.unwrap_or_else(|| panic!("{}: seed a row of user A", t.name))
}

/// The measured matrix of a set, as README rows:
/// `| table | statement | <one column per actor> |`.
async fn matrix(
    c: &mut PgConnection,
    tables: &[Table],
    actors: &[Actor],
    values: &BTreeMap<&str, String>,
) -> Vec<String> {
    let a = values["a"].trim_matches('\'').to_string();
    let mut rows = Vec::new();
    for t in tables {
        let kind: String = sqlx::query_scalar(&format!(
            "SELECT relkind::text FROM pg_class WHERE oid = '{}'::regclass",
            t.name
        ))
        .fetch_one(&mut *c)
        .await
        .unwrap();
        let mut statements: Vec<(String, String, String)> = Vec::new(); // (label, prepare, sql)
        if let Some((prepare, insert)) = t.insert {
            statements.push(("insert".into(), fill(prepare, values), fill(insert, values)));
            if t.server_dated {
                let dated = insert
                    .replacen(") VALUES (", ", created_at) VALUES (", 1)
                    .trim_end()
                    .strip_suffix(')')
                    .map(|head| format!("{head}, '2020-01-01')"))
                    .expect("an INSERT ... VALUES (...)");
                statements.push((
                    "insert created_at = '2020-01-01'".into(),
                    fill(prepare, values),
                    fill(&dated, values),
                ));
            }
        }
        if matches!(kind.as_str(), "r" | "p") {
            let row = one_row(c, t, &a).await;
            for column in t.writable {
                statements.push((
                    format!("update {column}"),
                    String::new(),
                    format!("UPDATE {} SET {column} = {column} WHERE {row}", t.name),
                ));
            }
            if t.server_dated {
                statements.push((
                    "update created_at = '2020-01-01'".into(),
                    String::new(),
                    format!(
                        "UPDATE {} SET created_at = '2020-01-01' WHERE {row}",
                        t.name
                    ),
                ));
            }
            if let Some(change) = t.protected {
                statements.push((
                    format!("update {change}"),
                    String::new(),
                    format!("UPDATE {} SET {} WHERE {row}", t.name, fill(change, values)),
                ));
            }
            statements.push((
                "delete".into(),
                String::new(),
                format!("DELETE FROM {} WHERE {row}", t.name),
            ));
            statements.push((
                "truncate".into(),
                String::new(),
                format!("TRUNCATE {}", t.name),
            ));
            let sequences = strings(
                c,
                &format!(
                    "SELECT s.oid::regclass::text FROM pg_depend d
                       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                      WHERE d.refobjid = '{}'::regclass AND d.deptype IN ('a', 'i') ORDER BY 1",
                    t.name
                ),
            )
            .await;
            for s in sequences {
                statements.push((
                    format!("nextval {s}"),
                    String::new(),
                    format!("SELECT nextval('{s}')"),
                ));
            }
        }
        let mut cells = Vec::new();
        for actor in actors {
            cells.push(read(c, actor, t).await);
        }
        rows.push(format!("| {} | select | {} |", t.name, cells.join(" | ")));
        for (label, prepare, sql) in statements {
            let mut cells = Vec::new();
            for actor in actors {
                cells.push(write(c, actor, &prepare, &sql).await);
            }
            rows.push(format!(
                "| {} | {} | {} |",
                t.name,
                label.replace('|', "\\|"),
                cells.join(" | ")
            ));
        }
    }
    rows
}

/// Users A and B, each with a clone, tasks, a payment and activity in the current month's
/// partition and in the default one.
async fn seed_aethercrown98(c: &mut PgConnection) -> BTreeMap<&'static str, String> {
    let a = "0a0a0a0a-0000-4000-8000-00000000000a";
    let b = "0b0b0b0b-0000-4000-8000-00000000000b";
    let mut values = BTreeMap::new();
    for (key, user) in [("a", a), ("b", b)] {
        exec(
            c,
            &format!(
                "INSERT INTO users (id, email) VALUES ('{user}', '{key}@example.com');
                 INSERT INTO ai_clones (name, model_type, user_id) VALUES ('c', 'gpt', '{user}');
                 INSERT INTO ai_tasks (clone_id, task_name) SELECT id, t FROM ai_clones, unnest(ARRAY['t1', 't2']) t WHERE user_id = '{user}';
                 INSERT INTO payments (order_id, amount, user_id) VALUES ('o-{key}', 10, '{user}');
                 INSERT INTO activity_logs (log_type, entity_id, action, user_id) VALUES ('l', '{user}', 'a', '{user}');
                 INSERT INTO activity_logs (log_type, entity_id, action, user_id, created_at)
                   VALUES ('l', '{user}', 'a', '{user}', '2100-01-01');"
            ),
        )
        .await;
        values.insert(key, format!("'{user}'"));
        let clone: String = sqlx::query_scalar(&format!(
            "SELECT id::text FROM ai_clones WHERE user_id = '{user}'"
        ))
        .fetch_one(&mut *c)
        .await
        .unwrap();
        values.insert(
            if key == "a" { "clone" } else { "b_clone" },
            format!("'{clone}'"),
        );
    }
    values
}

/// Users A, B and an admin, each with a row in every table a user owns, the public
/// catalogue (active and retired providers and models), and a reservation of each.
async fn seed_witchcraft(c: &mut PgConnection) -> BTreeMap<&'static str, String> {
    let bcrypt = bcrypt();
    seed_models(c).await;
    let mut values = BTreeMap::new();
    for key in ["a", "b", "admin"] {
        let id: i64 = sqlx::query_scalar("SELECT create_user_with_profile($1, $2, $3)")
            .bind(format!("{key}@example.com"))
            .bind(&bcrypt)
            .bind(key)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        exec(
            c,
            &format!(
                "SELECT check_and_consume_quota({id}, 10, 0.01);
                 SELECT record_ai_usage({id}, p.id, m.id, 10, 10) FROM ai_providers p JOIN ai_models m ON m.provider_id = p.id
                  WHERE m.name = 'gpt-4';
                 INSERT INTO ai_usage_requests (user_id, provider_id, model_id, created_at)
                   SELECT {id}, provider_id, id, '2100-01-01' FROM ai_models WHERE name = 'gpt-4';
                 INSERT INTO email_verify_tokens (user_id, email, token_hash) VALUES ({id}, '{key}@example.com', md5('e{id}') || md5('z{id}'));
                 INSERT INTO audit_logs_archive (id, user_id, event_type) VALUES ({id} + 500000, {id}, 'login');
                 {}",
                witchcraft_rows_of(id)
            ),
        )
        .await;
        values.insert(key, id.to_string());
    }
    exec(
        c,
        &format!(
            "UPDATE users SET role = 'admin' WHERE id = {};
             UPDATE user_quotas SET tokens_used = tokens_limit * 9 / 10 WHERE user_id IN ({}, {});
             REFRESH MATERIALIZED VIEW agent_session_stats;",
            values["admin"], values["a"], values["b"]
        ),
    )
    .await;
    let a = values["a"].clone();
    for (key, sql) in [
        ("session", format!("SELECT id FROM agent_sessions WHERE user_id = {a}")),
        (
            "message",
            format!("SELECT m.id FROM agent_messages m JOIN agent_sessions s ON s.id = m.session_id WHERE s.user_id = {a}"),
        ),
        ("provider", "SELECT id::bigint FROM ai_providers WHERE name = 'openai'".into()),
        ("model", "SELECT id::bigint FROM ai_models WHERE name = 'gpt-4'".into()),
        ("tier", "SELECT id::bigint FROM subscription_tiers WHERE name = 'team'".into()),
    ] {
        values.insert(key, scalar_i64(c, &sql).await.to_string());
    }
    values.insert("bcrypt", bcrypt);
    values
}

/// The README's access matrix of each set is what both modes really do, case by case.
#[tokio::test]
async fn the_readme_access_matrix_is_what_each_caller_can_do_in_both_modes() {
    for set in ["aethercrown98", "witchcraft"] {
        let mut measured = Vec::new();
        for mode in MODES {
            let (_db, mut c) = migrated_in(mode, set).await;
            let (tables, values) = match set {
                "aethercrown98" => (AETHERCROWN98, seed_aethercrown98(&mut c).await),
                _ => (WITCHCRAFT, seed_witchcraft(&mut c).await),
            };
            let user = |label, key: &str| Actor {
                label,
                role: "authenticated",
                user: Some(values[key].trim_matches('\'').to_string()),
            };
            let mut actors = vec![
                Actor {
                    label: "anon",
                    role: "anon",
                    user: None,
                },
                user("user A", "a"),
                user("user B", "b"),
            ];
            if values.contains_key("admin") {
                actors.push(user("admin", "admin"));
            }
            actors.push(Actor {
                label: "service_role",
                role: "service_role",
                user: None,
            });
            let header = actors
                .iter()
                .map(|a| a.label)
                .collect::<Vec<_>>()
                .join(" | ");
            let mut rows = vec![format!("| table | statement | {header} |")];
            rows.extend(matrix(&mut c, tables, &actors, &values).await);
            measured.push(rows);
        }
        assert_eq!(measured[0], measured[1], "{set}: plain and Supabase differ");
        let marker = format!("access matrix: {set}");
        let written = readme_table(&marker);
        assert!(
            written == measured[0],
            "{set}: the access matrix of docs/schemas.md is out of date; it should read:\n<!-- {marker} -->\n{}\n<!-- end of {marker} -->",
            with_rule(&measured[0]).join("\n")
        );
    }
}

/// A table's header, its `| --- |` rule, then its rows.
fn with_rule(rows: &[String]) -> Vec<String> {
    let columns = rows[0].matches(" | ").count() + 1;
    let mut out = vec![rows[0].clone(), format!("|{}", " --- |".repeat(columns))];
    out.extend(rows[1..].iter().cloned());
    out
}
