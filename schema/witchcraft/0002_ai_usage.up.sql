-- AI usage tracking: providers and their models (public catalogue), every request, and the
-- daily and monthly aggregates the quota and analytics queries read instead of raw rows.
--
-- ai_usage_requests is the big table (~500k rows a month per 1000 users): it is range
-- partitioned by month on created_at, with a default partition for anything outside the
-- prepared months. Its primary key is (id, created_at) because a partitioned table's key must
-- hold the partition key; id comes from a sequence (Postgres 15 has no identity columns on
-- partitioned tables). ensure_ai_usage_partitions() prepares upcoming months; 0002 calls it
-- and daily_maintenance() (0007) calls it every day.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE TABLE ai_providers (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    display_name text NOT NULL,
    api_base_url text,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_providers_name_key UNIQUE (name),
    CONSTRAINT ai_providers_name_check CHECK (name ~ '^[a-z][a-z0-9_-]*$')
);

CREATE TABLE ai_models (
    id                        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id               integer NOT NULL REFERENCES ai_providers (id) ON DELETE RESTRICT,
    name                      text NOT NULL,
    display_name              text NOT NULL,
    context_window            integer,
    input_cost_per_1k_tokens  numeric(12, 6) NOT NULL DEFAULT 0,
    output_cost_per_1k_tokens numeric(12, 6) NOT NULL DEFAULT 0,
    is_active                 boolean NOT NULL DEFAULT true,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_models_provider_id_name_key UNIQUE (provider_id, name),
    CONSTRAINT ai_models_context_window_check CHECK (context_window IS NULL OR context_window > 0),
    CONSTRAINT ai_models_cost_check CHECK (input_cost_per_1k_tokens >= 0 AND output_cost_per_1k_tokens >= 0)
);

CREATE SEQUENCE ai_usage_requests_id_seq AS bigint;

CREATE TABLE ai_usage_requests (
    id            bigint NOT NULL DEFAULT nextval('ai_usage_requests_id_seq'),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id   integer NOT NULL REFERENCES ai_providers (id) ON DELETE RESTRICT,
    model_id      integer NOT NULL REFERENCES ai_models (id) ON DELETE RESTRICT,
    request_type  text NOT NULL DEFAULT 'chat',
    status        text NOT NULL DEFAULT 'success',
    input_tokens  integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    total_tokens  integer GENERATED ALWAYS AS (input_tokens + output_tokens) STORED,
    cost_usd      numeric(12, 6) NOT NULL DEFAULT 0,
    latency_ms    integer,
    error_message text,
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_usage_requests_pkey PRIMARY KEY (id, created_at),
    CONSTRAINT ai_usage_requests_request_type_check
        CHECK (request_type IN ('chat', 'completion', 'embedding', 'agent', 'image')),
    CONSTRAINT ai_usage_requests_status_check
        CHECK (status IN ('success', 'error', 'timeout', 'cancelled')),
    CONSTRAINT ai_usage_requests_tokens_check CHECK (input_tokens >= 0 AND output_tokens >= 0),
    CONSTRAINT ai_usage_requests_cost_check CHECK (cost_usd >= 0),
    CONSTRAINT ai_usage_requests_latency_check CHECK (latency_ms IS NULL OR latency_ms >= 0)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE ai_usage_requests_id_seq OWNED BY ai_usage_requests.id;

CREATE TABLE ai_usage_requests_default PARTITION OF ai_usage_requests DEFAULT;

-- One row per user and UTC day (~30 per user a month).
CREATE TABLE ai_usage_daily (
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    usage_date    date NOT NULL,
    request_count integer NOT NULL DEFAULT 0,
    input_tokens  bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    total_tokens  bigint NOT NULL DEFAULT 0,
    cost_usd      numeric(14, 6) NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_usage_daily_pkey PRIMARY KEY (user_id, usage_date),
    CONSTRAINT ai_usage_daily_counts_check
        CHECK (request_count >= 0 AND input_tokens >= 0 AND output_tokens >= 0 AND total_tokens >= 0 AND cost_usd >= 0)
);

-- One row per user and UTC month; its key serves "get monthly usage" (user_id, year, month).
CREATE TABLE ai_usage_monthly (
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    year          smallint NOT NULL,
    month         smallint NOT NULL,
    request_count integer NOT NULL DEFAULT 0,
    input_tokens  bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    total_tokens  bigint NOT NULL DEFAULT 0,
    cost_usd      numeric(14, 6) NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ai_usage_monthly_pkey PRIMARY KEY (user_id, year, month),
    CONSTRAINT ai_usage_monthly_year_check CHECK (year BETWEEN 2000 AND 2200),
    CONSTRAINT ai_usage_monthly_month_check CHECK (month BETWEEN 1 AND 12),
    CONSTRAINT ai_usage_monthly_counts_check
        CHECK (request_count >= 0 AND input_tokens >= 0 AND output_tokens >= 0 AND total_tokens >= 0 AND cost_usd >= 0)
);

ALTER TABLE ai_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_usage_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_usage_requests_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_usage_monthly ENABLE ROW LEVEL SECURITY;

CREATE TRIGGER ai_providers_set_updated_at BEFORE UPDATE ON ai_providers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER ai_models_set_updated_at BEFORE UPDATE ON ai_models
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Privileges of the API roles (granted with the tables, so dropping a table takes them
-- along): what each role may attempt; the policies of 0006 decide which rows. No policy
-- exists yet, so RLS denies every row until then.
-- Exactly these privileges, whatever the platform grants by default (on Supabase: ALL to
-- anon, authenticated and service_role on every table and sequence created in public, and
-- a table-wide grant makes the column grants below moot).
REVOKE ALL ON ai_providers, ai_models, ai_usage_requests, ai_usage_requests_default,
    ai_usage_daily, ai_usage_monthly FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE ai_providers_id_seq, ai_models_id_seq, ai_usage_requests_id_seq FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON ai_providers, ai_models TO anon;
GRANT SELECT ON ai_providers, ai_models, ai_usage_requests, ai_usage_daily, ai_usage_monthly TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON ai_providers, ai_models, ai_usage_requests, ai_usage_daily, ai_usage_monthly TO service_role;
GRANT USAGE ON SEQUENCE ai_usage_requests_id_seq TO service_role;

-- Creates the monthly partitions ai_usage_requests_YYYY_MM for the current UTC month and the
-- next `months_ahead` months, where missing (idempotent). Rows of such a month that reached
-- the default partition before its partition existed move into it. Returns how many
-- partitions it created.
CREATE FUNCTION ensure_ai_usage_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    month date;
    part text;
    lo timestamptz;
    hi timestamptz;
    made integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120, not %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0..months_ahead LOOP
        month := (first_month + make_interval(months => i))::date;
        part := 'ai_usage_requests_' || to_char(month, 'YYYY_MM');
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
        lo := month::timestamp AT TIME ZONE 'UTC';
        hi := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE ai_usage_requests INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)', part);
        EXECUTE format(
            'INSERT INTO %I (id, user_id, provider_id, model_id, request_type, status, input_tokens,
                             output_tokens, cost_usd, latency_ms, error_message, metadata, created_at)
             SELECT id, user_id, provider_id, model_id, request_type, status, input_tokens,
                    output_tokens, cost_usd, latency_ms, error_message, metadata, created_at
               FROM ai_usage_requests_default WHERE created_at >= %L AND created_at < %L',
            part, lo, hi);
        EXECUTE format('DELETE FROM ai_usage_requests_default WHERE created_at >= %L AND created_at < %L', lo, hi);
        EXECUTE format('ALTER TABLE ai_usage_requests ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
        -- no role but the owner reaches a partition directly, whatever the platform's defaults
        EXECUTE format('REVOKE ALL ON TABLE %I FROM PUBLIC, anon, authenticated, service_role', part);
        made := made + 1;
    END LOOP;
    RETURN made;
END;
$$;
REVOKE ALL ON FUNCTION ensure_ai_usage_partitions(integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION ensure_ai_usage_partitions(integer) TO service_role;

SELECT ensure_ai_usage_partitions(3);
