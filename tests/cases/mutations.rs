//! Single changes on freshly migrated databases, one attribute of one object each, judged by
//! `pg_dump --schema-only`: every change it shows must make `diff` exit 1 naming the object,
//! make `verify` fail, be undone by `diff --sql --allow-data-loss` to an equal `pg_dump`,
//! and leave a second `diff --sql` with nothing to do. Each row runs on its own copy of a
//! database the set was migrated into once. The report and the repair come from one run of
//! `diff --sql --allow-data-loss --json`, whose document holds both (the text report prints
//! the same lists, the text repair the same statements).

use crate::harness::*;
use std::sync::OnceLock;

/// One change: the set it is made on, what it changes, the SQL, and the object key the
/// report of `diff` must name.
struct Mutation {
    set: &'static str,
    what: &'static str,
    sql: &'static str,
    names: &'static str,
}

const fn w(what: &'static str, sql: &'static str, names: &'static str) -> Mutation {
    Mutation {
        set: "witchcraft",
        what,
        sql,
        names,
    }
}

const fn a(what: &'static str, sql: &'static str, names: &'static str) -> Mutation {
    Mutation {
        set: "aethercrown98",
        what,
        sql,
        names,
    }
}

static MUTATIONS: &[Mutation] = &[
    // ---- more of each kind, over both sets
    w("index dropped", "DROP INDEX idx_model_popularity", "index idx_model_popularity"),
    w("partitioned index dropped", "DROP INDEX idx_ai_usage_user_recent", "index idx_ai_usage_user_recent"),
    w("index on a materialized view dropped", "DROP INDEX agent_session_stats_user_id", "index agent_session_stats_user_id"),
    w("index predicate changed", "DROP INDEX idx_access_tokens_revoked; CREATE INDEX idx_access_tokens_revoked ON access_tokens (revoked_at) WHERE revoked_at IS NULL", "index idx_access_tokens_revoked"),
    w("index made unique", "DROP INDEX idx_access_tokens_user_id; CREATE UNIQUE INDEX idx_access_tokens_user_id ON access_tokens (user_id, id)", "index idx_access_tokens_user_id"),
    w("extra index", "CREATE INDEX extra_feedback_idx ON agent_feedback (created_at)", "index extra_feedback_idx"),
    w("trigger dropped", "DROP TRIGGER users_set_updated_at ON users", "trigger users.users_set_updated_at"),
    w("trigger enabled always", "ALTER TABLE user_quotas ENABLE ALWAYS TRIGGER user_quotas_set_updated_at", "trigger user_quotas.user_quotas_set_updated_at"),
    w("trigger on a partitioned table's child disabled", "ALTER TABLE agent_messages DISABLE TRIGGER agent_messages_update_session", "trigger agent_messages.agent_messages_update_session"),
    w("function in the set's second schema", "CREATE OR REPLACE FUNCTION witchcraft_auth.is_admin() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT false $$", "function witchcraft_auth.is_admin()"),
    w("function security definer", "ALTER FUNCTION set_updated_at() SECURITY DEFINER", "function set_updated_at()"),
    w("function made strict", "ALTER FUNCTION set_updated_at() STRICT", "function set_updated_at()"),
    w("function cost", "ALTER FUNCTION ensure_ai_usage_partitions(integer) COST 500", "function ensure_ai_usage_partitions(months_ahead integer)"),
    w("function execute granted", "GRANT EXECUTE ON FUNCTION ensure_ai_usage_partitions(integer) TO authenticated", "grants on function ensure_ai_usage_partitions(months_ahead integer)"),
    w("extra function", "CREATE FUNCTION extra_f(a integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a * 2 $$", "function extra_f(a integer)"),
    w("column default dropped", "ALTER TABLE user_profiles ALTER COLUMN timezone DROP DEFAULT", "column user_profiles.timezone"),
    w("column nullable", "ALTER TABLE user_profiles ALTER COLUMN timezone DROP NOT NULL", "column user_profiles.timezone"),
    w("column dropped", "ALTER TABLE user_profiles DROP COLUMN bio", "column user_profiles.bio"),
    w("column collation", "ALTER TABLE user_profiles ALTER COLUMN bio TYPE text COLLATE \"C\"", "column user_profiles.bio"),
    w("column of a partitioned table added", "ALTER TABLE ai_usage_requests ADD COLUMN note text", "column ai_usage_requests.note"),
    w("check constraint dropped", "ALTER TABLE ai_models DROP CONSTRAINT IF EXISTS ai_models_input_cost_per_1k_tokens_check; ALTER TABLE ai_models ADD CONSTRAINT extra_cost_check CHECK (input_cost_per_1k_tokens >= 0)", "constraint ai_models.extra_cost_check"),
    w("foreign key dropped", "ALTER TABLE user_profiles DROP CONSTRAINT user_profiles_user_id_fkey", "constraint user_profiles.user_profiles_user_id_fkey"),
    w("foreign key not valid", "ALTER TABLE user_profiles DROP CONSTRAINT user_profiles_user_id_fkey; ALTER TABLE user_profiles ADD CONSTRAINT user_profiles_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE NOT VALID", "constraint user_profiles.user_profiles_user_id_fkey"),
    w("unique constraint added", "ALTER TABLE ai_providers ADD CONSTRAINT extra_providers_created_key UNIQUE (created_at, id)", "constraint ai_providers.extra_providers_created_key"),
    w("policy dropped", "DROP POLICY user_profiles_select_own_or_admin ON user_profiles", "policy user_profiles.user_profiles_select_own_or_admin"),
    w("policy made restrictive", "DROP POLICY user_profiles_select_own_or_admin ON user_profiles; CREATE POLICY user_profiles_select_own_or_admin ON user_profiles AS RESTRICTIVE FOR SELECT TO authenticated USING (witchcraft_auth.is_admin())", "policy user_profiles.user_profiles_select_own_or_admin"),
    w("policy roles changed", "ALTER POLICY user_profiles_select_own_or_admin ON user_profiles TO PUBLIC", "policy user_profiles.user_profiles_select_own_or_admin"),
    w("extra policy", "CREATE POLICY extra_open ON user_profiles FOR SELECT USING (true)", "policy user_profiles.extra_open"),
    w("table grant to anon", "GRANT SELECT ON user_profiles TO anon", "grants on table user_profiles"),
    w("table grant revoked", "REVOKE ALL ON user_profiles FROM authenticated", "grants on table user_profiles"),
    w("column grant", "GRANT UPDATE (bio) ON user_profiles TO anon", "grants on column user_profiles.bio"),
    w("sequence grant", "GRANT USAGE ON SEQUENCE ai_usage_requests_id_seq TO anon", "grants on table ai_usage_requests_id_seq"),
    w("sequence parameters", "ALTER SEQUENCE ai_usage_requests_id_seq INCREMENT BY 7 CACHE 5", "sequence ai_usage_requests_id_seq"),
    w("extra sequence", "CREATE SEQUENCE extra_seq", "sequence extra_seq"),
    w("table unlogged", "ALTER TABLE usage_alerts SET UNLOGGED", "table usage_alerts"),
    a("table rls off", "ALTER TABLE payments DISABLE ROW LEVEL SECURITY", "table payments"),
    a("partition rls off", "ALTER TABLE activity_logs_default DISABLE ROW LEVEL SECURITY", "table activity_logs_default"),
    a("column type", "ALTER TABLE payments ALTER COLUMN description TYPE varchar(100)", "column payments.description"),
    a("column default", "ALTER TABLE ai_tasks ALTER COLUMN priority SET DEFAULT 'high'", "column ai_tasks.priority"),
    a("enum type added", "CREATE TYPE extra_mood AS ENUM ('a', 'b')", "enum extra_mood"),
    a("domain added", "CREATE DOMAIN extra_positive AS integer CHECK (VALUE > 0)", "domain extra_positive"),
    a("composite type added", "CREATE TYPE extra_pair AS (a integer, b text)", "composite type extra_pair"),
    a("policy expression", "DROP POLICY clone_select_own ON ai_clones; CREATE POLICY clone_select_own ON ai_clones FOR SELECT TO authenticated USING (true)", "policy ai_clones.clone_select_own"),
    a("trigger dropped", "DROP TRIGGER update_payments_updated_at ON payments", "trigger payments.update_payments_updated_at"),
    a("publication member added", "ALTER PUBLICATION supabase_realtime ADD TABLE users", "publication member supabase_realtime:users"),
    // ---- views
    w("view security_invoker off", "ALTER VIEW quotas_approaching_limit SET (security_invoker = false)", "view quotas_approaching_limit"),
    w("view security_invoker reset", "ALTER VIEW quotas_approaching_limit RESET (security_invoker)", "view quotas_approaching_limit"),
    w("view security_barrier", "ALTER VIEW quotas_approaching_limit SET (security_barrier = true)", "view quotas_approaching_limit"),
    w("view check_option", "ALTER VIEW quotas_approaching_limit SET (check_option = local)", "view quotas_approaching_limit"),
    w("view comment", "COMMENT ON VIEW quotas_approaching_limit IS 'x'", "view quotas_approaching_limit"),
    w("view definition", "CREATE OR REPLACE VIEW quotas_approaching_limit WITH (security_invoker = true) AS SELECT q.user_id, q.tokens_used, q.tokens_limit, quota_usage_percent(q) AS usage_percent, q.period_end FROM user_quotas q WHERE false", "view quotas_approaching_limit"),
    w("materialized view storage option", "ALTER MATERIALIZED VIEW agent_session_stats SET (fillfactor = 70)", "materialized view agent_session_stats"),
    w("materialized view comment", "COMMENT ON MATERIALIZED VIEW agent_session_stats IS 'x'", "materialized view agent_session_stats"),
    w("extra view", "CREATE VIEW extra_v WITH (security_invoker = true) AS SELECT 'public.t is here' AS s", "view extra_v"),
    // ---- functions
    w("function literal naming the home schema", "CREATE OR REPLACE FUNCTION lit() RETURNS text LANGUAGE sql AS $$ SELECT 'https://public.example.com/public.t' $$", "function lit()"),
    w("function comment", "COMMENT ON FUNCTION daily_maintenance() IS 'x'", "function daily_maintenance()"),
    w("function volatility", "ALTER FUNCTION daily_maintenance() STABLE", "function daily_maintenance()"),
    w("function search_path", "ALTER FUNCTION daily_maintenance() SET search_path = public", "function daily_maintenance()"),
    w("function grant", "GRANT EXECUTE ON FUNCTION daily_maintenance() TO anon", "grants on function daily_maintenance()"),
    a("function dropped", "DROP FUNCTION update_updated_at_column() CASCADE", "function update_updated_at_column()"),
    // ---- tables
    w("table comment", "COMMENT ON TABLE user_profiles IS 'x'", "table user_profiles"),
    w("table storage option", "ALTER TABLE user_profiles SET (fillfactor = 60)", "table user_profiles"),
    w("table replica identity", "ALTER TABLE user_profiles REPLICA IDENTITY FULL", "table user_profiles"),
    w("table force rls", "ALTER TABLE user_profiles FORCE ROW LEVEL SECURITY", "table user_profiles"),
    w("table rls off", "ALTER TABLE user_profiles DISABLE ROW LEVEL SECURITY", "table user_profiles"),
    a("table grant", "GRANT SELECT ON users TO PUBLIC", "grants on table users"),
    a("extra table", "CREATE TABLE extra_t (id integer)", "table extra_t"),
    // ---- columns
    w("column added", "ALTER TABLE user_profiles ADD COLUMN extra integer", "column user_profiles.extra"),
    w("column comment", "COMMENT ON COLUMN user_profiles.display_name IS 'x'", "column user_profiles.display_name"),
    w("column default", "ALTER TABLE user_profiles ALTER COLUMN display_name SET DEFAULT 'x'", "column user_profiles.display_name"),
    w("column not null", "ALTER TABLE user_profiles ALTER COLUMN display_name SET NOT NULL", "column user_profiles.display_name"),
    w("column type", "ALTER TABLE user_profiles ALTER COLUMN display_name TYPE varchar(500)", "column user_profiles.display_name"),
    a("column storage", "ALTER TABLE users ALTER COLUMN email SET STORAGE EXTERNAL", "column users.email"),
    w("column storage of numeric", "ALTER TABLE ai_models ALTER COLUMN input_cost_per_1k_tokens SET STORAGE EXTERNAL", "column ai_models.input_cost_per_1k_tokens"),
    w("column statistics target", "ALTER TABLE user_profiles ALTER COLUMN display_name SET STATISTICS 500", "column user_profiles.display_name"),
    w("column compression", "ALTER TABLE user_profiles ALTER COLUMN bio SET COMPRESSION pglz", "column user_profiles.bio"),
    w("column attribute options", "ALTER TABLE user_profiles ALTER COLUMN bio SET (n_distinct = 100)", "column user_profiles.bio"),
    // ---- constraints, indexes, triggers, policies
    a("check constraint", "ALTER TABLE users ADD CONSTRAINT users_email_len CHECK (length(email) < 500)", "constraint users.users_email_len"),
    a("index dropped", "DROP INDEX idx_tasks_status", "index idx_tasks_status"),
    a("index predicate literal", "CREATE INDEX extra_i ON users (email) WHERE email <> 'public.x'", "index extra_i"),
    a("trigger disabled", "ALTER TABLE users DISABLE TRIGGER update_users_updated_at", "trigger users.update_users_updated_at"),
    a("policy dropped", "DROP POLICY payment_select_own ON payments", "policy payments.payment_select_own"),
    w("table toast option", "ALTER TABLE user_profiles SET (toast.autovacuum_enabled = false)", "table user_profiles"),
    w("table cluster on", "ALTER TABLE user_profiles CLUSTER ON user_profiles_pkey", "table user_profiles"),
    // ---- publications
    a("publication member column list", "ALTER PUBLICATION supabase_realtime DROP TABLE payments; ALTER PUBLICATION supabase_realtime ADD TABLE payments (id, user_id, status)", "publication member supabase_realtime:payments"),
    a("publication member row filter", "ALTER PUBLICATION supabase_realtime DROP TABLE ai_clones; ALTER PUBLICATION supabase_realtime ADD TABLE ai_clones WHERE (status <> 'archived')", "publication member supabase_realtime:ai_clones"),
    a("publication member dropped", "ALTER PUBLICATION supabase_realtime DROP TABLE ai_tasks", "publication member supabase_realtime:ai_tasks"),
    a("publication option", "ALTER PUBLICATION supabase_realtime SET (publish = 'insert')", "publication supabase_realtime"),
    // ---- owners (the role is made once per cluster, whichever row gets there first)
    a("table owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER TABLE users OWNER TO migrate_mutation_owner", "table users"),
    w("partition owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER TABLE ai_usage_requests_default OWNER TO migrate_mutation_owner", "table ai_usage_requests_default"),
    w("view owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER VIEW quotas_approaching_limit OWNER TO migrate_mutation_owner", "view quotas_approaching_limit"),
    w("materialized view owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER MATERIALIZED VIEW agent_session_stats OWNER TO migrate_mutation_owner", "materialized view agent_session_stats"),
    w("function owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER FUNCTION daily_maintenance() OWNER TO migrate_mutation_owner", "function daily_maintenance()"),
    a("function owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER FUNCTION update_updated_at_column() OWNER TO migrate_mutation_owner", "function update_updated_at_column()"),
    w("schema owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER SCHEMA witchcraft_auth OWNER TO migrate_mutation_owner", "schema witchcraft_auth"),
    a("publication owner", "DO $$ BEGIN CREATE ROLE migrate_mutation_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$; DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO migrate_mutation_owner', current_database()); END $$; ALTER PUBLICATION supabase_realtime OWNER TO migrate_mutation_owner", "publication supabase_realtime"),
    // ---- partitions
    a("default partition detached", "ALTER TABLE activity_logs DETACH PARTITION activity_logs_default", "table activity_logs_default"),
    w("default partition detached", "ALTER TABLE ai_usage_requests DETACH PARTITION ai_usage_requests_default", "table ai_usage_requests_default"),
    // ---- identity columns
    w("identity increment", "ALTER TABLE ai_models ALTER COLUMN id SET INCREMENT BY 10", "column ai_models.id"),
    w("identity cache and cycle", "ALTER TABLE ai_models ALTER COLUMN id SET CACHE 20 SET CYCLE", "column ai_models.id"),
    w("identity sequence renamed", "ALTER SEQUENCE ai_models_id_seq RENAME TO ai_models_ids", "column ai_models.id"),
    w("identity by default", "ALTER TABLE ai_models ALTER COLUMN id SET GENERATED BY DEFAULT", "column ai_models.id"),
    w("identity dropped", "ALTER TABLE ai_models ALTER COLUMN id DROP IDENTITY", "column ai_models.id"),
    // ---- rules and extended statistics
    w("rule added", "CREATE RULE no_profile_delete AS ON DELETE TO user_profiles DO INSTEAD NOTHING", "rule user_profiles.no_profile_delete"),
    a("rule added", "CREATE RULE users_log AS ON UPDATE TO users DO ALSO NOTIFY users_changed", "rule users.users_log"),
    w("extended statistics added", "CREATE STATISTICS user_profiles_tz_locale (ndistinct, dependencies) ON timezone, locale FROM user_profiles", "statistics user_profiles_tz_locale"),
    a("extended statistics on an expression", "CREATE STATISTICS users_lower_email ON (lower(email::text)) FROM users", "statistics users_lower_email"),
    // ---- schemas
    w("CREATE granted on the set's schema", "GRANT CREATE ON SCHEMA public TO PUBLIC", "grants on schema public"),
    a("CREATE granted on the set's schema to an API role", "GRANT CREATE ON SCHEMA public TO authenticated", "grants on schema public"),
    w("an extra empty schema", "CREATE SCHEMA scratch_space", "schema scratch_space"),
    a("an extra schema with a table", "CREATE SCHEMA scratch_space; CREATE TABLE scratch_space.t (id integer)", "schema scratch_space"),
    w("schema comment", "COMMENT ON SCHEMA witchcraft_auth IS 'x'", "schema witchcraft_auth"),
    // ---- default privileges
    w("default privileges on tables in the set's schema", "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC", "default privileges for"),
    a("default privileges everywhere", "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC", "default privileges for"),
    // ---- comments on objects of a table, and on a publication
    a("trigger comment", "COMMENT ON TRIGGER update_users_updated_at ON users IS 'x'", "trigger users.update_users_updated_at"),
    a("policy comment", "COMMENT ON POLICY payment_select_own ON payments IS 'x'", "policy payments.payment_select_own"),
    a("constraint comment", "COMMENT ON CONSTRAINT users_email_key ON users IS 'x'", "constraint users.users_email_key"),
    a("foreign key comment", "COMMENT ON CONSTRAINT payments_user_id_fkey ON payments IS 'x'", "constraint payments.payments_user_id_fkey"),
    a("index comment", "COMMENT ON INDEX idx_tasks_status IS 'x'", "index idx_tasks_status"),
    w("policy comment changed", "COMMENT ON POLICY user_profiles_select_own_or_admin ON user_profiles IS 'x'", "policy user_profiles.user_profiles_select_own_or_admin"),
    // ---- more single changes, over the tables neither list above touches
    w("check constraint changed", "ALTER TABLE payment_history DROP CONSTRAINT payment_history_amount_check; ALTER TABLE payment_history ADD CONSTRAINT payment_history_amount_check CHECK (amount_usd > 1)", "constraint payment_history.payment_history_amount_check"),
    w("check constraint not valid", "ALTER TABLE subscription_tiers DROP CONSTRAINT subscription_tiers_price_check; ALTER TABLE subscription_tiers ADD CONSTRAINT subscription_tiers_price_check CHECK (monthly_price_usd >= 0) NOT VALID", "constraint subscription_tiers.subscription_tiers_price_check"),
    w("unique constraint dropped", "ALTER TABLE email_verify_tokens DROP CONSTRAINT email_verify_tokens_token_hash_key", "constraint email_verify_tokens.email_verify_tokens_token_hash_key"),
    w("unique constraint deferrable", "ALTER TABLE user_subscriptions DROP CONSTRAINT user_subscriptions_external_subscription_id_key; ALTER TABLE user_subscriptions ADD CONSTRAINT user_subscriptions_external_subscription_id_key UNIQUE (external_subscription_id) DEFERRABLE", "constraint user_subscriptions.user_subscriptions_external_subscription_id_key"),
    w("foreign key action changed", "ALTER TABLE agent_tool_calls DROP CONSTRAINT agent_tool_calls_session_id_fkey; ALTER TABLE agent_tool_calls ADD CONSTRAINT agent_tool_calls_session_id_fkey FOREIGN KEY (session_id) REFERENCES agent_sessions (id) ON DELETE RESTRICT", "constraint agent_tool_calls.agent_tool_calls_session_id_fkey"),
    w("foreign key deferrable", "ALTER TABLE quota_reservations ALTER CONSTRAINT quota_reservations_user_id_fkey DEFERRABLE INITIALLY DEFERRED", "constraint quota_reservations.quota_reservations_user_id_fkey"),
    w("primary key dropped under foreign keys", "ALTER TABLE agent_sessions DROP CONSTRAINT agent_sessions_pkey CASCADE", "constraint agent_sessions.agent_sessions_pkey"),
    w("column default on a counter", "ALTER TABLE agent_sessions ALTER COLUMN message_count SET DEFAULT 1", "column agent_sessions.message_count"),
    w("column not null dropped", "ALTER TABLE agent_tool_calls ALTER COLUMN tool_name DROP NOT NULL", "column agent_tool_calls.tool_name"),
    w("column type widened", "ALTER TABLE agent_tool_calls ALTER COLUMN duration_ms TYPE bigint", "column agent_tool_calls.duration_ms"),
    w("column of an archive dropped", "ALTER TABLE audit_logs_archive DROP COLUMN user_agent", "column audit_logs_archive.user_agent"),
    w("column comment on a token table", "COMMENT ON COLUMN email_verify_tokens.token_hash IS 'x'", "column email_verify_tokens.token_hash"),
    w("column storage of jsonb", "ALTER TABLE audit_logs ALTER COLUMN metadata SET STORAGE MAIN", "column audit_logs.metadata"),
    w("index dropped on an archive", "DROP INDEX idx_audit_logs_metadata", "index idx_audit_logs_metadata"),
    w("index method changed", "DROP INDEX idx_agent_tool_calls_session_id; CREATE INDEX idx_agent_tool_calls_session_id ON agent_tool_calls USING hash (session_id)", "index idx_agent_tool_calls_session_id"),
    w("index storage option", "ALTER INDEX idx_agent_tool_calls_message_id SET (fillfactor = 50)", "index idx_agent_tool_calls_message_id"),
    w("index with an included column", "DROP INDEX idx_audit_logs_actor_user_id; CREATE INDEX idx_audit_logs_actor_user_id ON audit_logs (actor_user_id) INCLUDE (created_at)", "index idx_audit_logs_actor_user_id"),
    w("trigger disabled on quotas", "ALTER TABLE user_quotas DISABLE TRIGGER user_quotas_set_updated_at", "trigger user_quotas.user_quotas_set_updated_at"),
    w("trigger enabled on replica", "ALTER TABLE users ENABLE REPLICA TRIGGER users_set_updated_at", "trigger users.users_set_updated_at"),
    w("table rls off on reservations", "ALTER TABLE quota_reservations DISABLE ROW LEVEL SECURITY", "table quota_reservations"),
    w("table grant on a tier table", "GRANT INSERT ON subscription_tiers TO authenticated", "grants on table subscription_tiers"),
    w("column grant revoked by table revoke", "REVOKE SELECT ON ai_usage_daily FROM authenticated", "grants on table ai_usage_daily"),
    w("table comment on an archive", "COMMENT ON TABLE audit_logs_archive IS 'x'", "table audit_logs_archive"),
    w("table autovacuum option", "ALTER TABLE audit_logs SET (autovacuum_vacuum_scale_factor = 0.01)", "table audit_logs"),
    w("function body changed", "CREATE OR REPLACE FUNCTION cleanup_old_audit_logs(p_days integer DEFAULT 90) RETURNS bigint LANGUAGE sql AS $$ SELECT 0::bigint $$", "function cleanup_old_audit_logs(p_days integer)"),
    w("function leakproof", "ALTER FUNCTION quota_usage_percent(user_quotas) LEAKPROOF", "function quota_usage_percent(q user_quotas)"),
    w("function parallel safe", "ALTER FUNCTION get_remaining_quota(bigint) PARALLEL SAFE", "function get_remaining_quota(p_user_id bigint)"),
    w("function rows", "ALTER FUNCTION get_user_activity_summary(bigint, integer) ROWS 50", "function get_user_activity_summary(p_user_id bigint, p_days integer)"),
    w("function execute revoked", "REVOKE EXECUTE ON FUNCTION get_remaining_quota(bigint) FROM authenticated", "grants on function get_remaining_quota(p_user_id bigint)"),
    w("function in the second schema dropped", "DROP FUNCTION witchcraft_auth.user_id() CASCADE", "function witchcraft_auth.user_id()"),
    w("schema create granted", "GRANT CREATE ON SCHEMA witchcraft_auth TO authenticated", "grants on schema witchcraft_auth"),
    w("policy command changed", "DROP POLICY user_profiles_select_own_or_admin ON user_profiles; CREATE POLICY user_profiles_select_own_or_admin ON user_profiles FOR ALL TO authenticated USING (user_id = witchcraft_auth.user_id())", "policy user_profiles.user_profiles_select_own_or_admin"),
    a("column of users made nullable", "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", "column users.email"),
    a("column added to a partitioned log", "ALTER TABLE activity_logs ADD COLUMN source text", "column activity_logs.source"),
    a("index on a partitioned log dropped", "DROP INDEX idx_logs_level", "index idx_logs_level"),
    a("unique key dropped", "ALTER TABLE payments DROP CONSTRAINT payments_order_id_key", "constraint payments.payments_order_id_key"),
    a("foreign key dropped", "ALTER TABLE ai_tasks DROP CONSTRAINT ai_tasks_clone_id_fkey", "constraint ai_tasks.ai_tasks_clone_id_fkey"),
    a("table storage option on clones", "ALTER TABLE ai_clones SET (fillfactor = 80)", "table ai_clones"),
    a("column statistics target on tasks", "ALTER TABLE ai_tasks ALTER COLUMN status SET STATISTICS 1000", "column ai_tasks.status"),
    a("function volatility", "ALTER FUNCTION update_updated_at_column() IMMUTABLE", "function update_updated_at_column()"),
    // the repair makes `quota_usage_percent` before `get_remaining_quota` (its body calls it)
    // and the view on it: the committed catalog's graph orders them, not their names
    w("function dropped with what stands on it", "DROP FUNCTION quota_usage_percent(user_quotas) CASCADE", "function quota_usage_percent(q user_quotas)"),
];

/// A database per set with every migration applied ([`applied_once`]), copied for each row,
/// and its dump.
fn pristine(set: &'static str) -> (&'static TestDb, &'static Vec<String>) {
    static WITCHCRAFT: OnceLock<Vec<String>> = OnceLock::new();
    static AETHERCROWN98: OnceLock<Vec<String>> = OnceLock::new();
    let cell = if set == "witchcraft" {
        &WITCHCRAFT
    } else {
        &AETHERCROWN98
    };
    let db = applied_once(Mode::Plain, set);
    (db, cell.get_or_init(|| dump(db)))
}

/// `migrate --set SET ARGS...` on `db`.
fn migrate(db: &TestDb, set: &str, args: &[&str]) -> Output {
    run(db.migrate().args(["--set", set]).args(args))
}

/// Every single change, named `mutations::`, its set and what it changes, and the
/// regression test of views left alone.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials: Vec<_> = MUTATIONS
        .iter()
        .map(|m| {
            let name = format!("mutations::{}: {}", m.set, m.what);
            crate::case(name, move || a_single_change(m))
        })
        .collect();
    trials.push(crate::case(
        "mutations::a_repair_leaves_views_alone_unless_they_read_what_changes".into(),
        a_repair_leaves_views_alone_unless_they_read_what_changes,
    ));
    trials
}

/// A single change is found by diff and named, fails verify, and the repair undoes it.
async fn a_single_change(m: &'static Mutation) {
    let (template, before) = pristine(m.set);
    let db = TestDb::copy_of(template).await;
    let mut c = db.conn().await;
    sqlx::raw_sql(m.sql)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", m.sql));
    drop(c);
    assert_ne!(&dump(&db), before, "pg_dump does not show the change");
    // The report and the repair of one run (`--json` carries both; the text report is the
    // same lists, one line each).
    let out = migrate(
        &db,
        m.set,
        &["diff", "--sql", "--allow-data-loss", "--json"],
    );
    assert_eq!(out.code, 1, "diff: {}{}", out.stdout, out.stderr);
    let repair = Repair::of(&out.stdout);
    assert!(
        repair.names(m.names),
        "diff does not name {}:\n{}",
        m.names,
        out.stdout
    );
    assert!(
        !repair.script.contains("-- not generated"),
        "{}",
        repair.script
    );
    let out = migrate(&db, m.set, &["verify"]);
    assert_eq!(out.code, 1, "verify: {}{}", out.stdout, out.stderr);
    let mut c = db.conn().await;
    sqlx::raw_sql(&repair.script)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("the repair fails: {e}\n{}", repair.script));
    drop(c);
    assert_same_dump(
        &dump(&db),
        before,
        &format!("after the repair:\n{}", repair.script),
    );
    let again = migrate(&db, m.set, &["diff", "--sql"]);
    assert_eq!(again.code, 0, "a second repair:\n{}", again.stdout);
}

/// Regression: a repair that touched any table dropped and made again every view and
/// materialized view of the set, without their options: `quotas_approaching_limit` came back
/// without `security_invoker`, returning every user's quota row.
async fn a_repair_leaves_views_alone_unless_they_read_what_changes() {
    let (template, _) = pristine("witchcraft");
    let db = TestDb::copy_of(template).await;
    let mut c = db.conn().await;
    sqlx::raw_sql("ALTER TABLE user_profiles ADD COLUMN extra integer")
        .execute(&mut c)
        .await
        .unwrap();
    let script = migrate(&db, "witchcraft", &["diff", "--sql", "--allow-data-loss"]);
    assert_eq!(script.code, 1, "{}", script.stderr);
    for view in ["quotas_approaching_limit", "agent_session_stats"] {
        assert!(!script.stdout.contains(view), "{}", script.stdout);
    }
    // An option of a view is altered in place, not by making the view again.
    sqlx::raw_sql(
        "ALTER TABLE user_profiles DROP COLUMN extra;
         ALTER VIEW quotas_approaching_limit SET (security_barrier = true)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let script = migrate(&db, "witchcraft", &["diff", "--sql"]);
    assert!(
        script
            .stdout
            .contains("ALTER VIEW \"quotas_approaching_limit\" RESET (security_barrier);"),
        "{}",
        script.stdout
    );
    assert!(!script.stdout.contains("DROP VIEW"), "{}", script.stdout);
}
