-- Billing and quotas: the tier catalogue, each user's subscription (at most one) and quota
-- (exactly one, created at registration), payments and quota alerts.
--
-- user_quotas' CHECK constraints make overspending impossible at the database level:
-- tokens_used never exceeds tokens_limit, cost_used_usd never exceeds cost_limit_usd (NULL
-- limits mean unlimited). check_and_consume_quota() (0007) consumes atomically within them.
-- payment_history keeps financial records: a user with payments cannot be deleted (users are
-- deactivated with status 'deleted' instead).

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE TABLE subscription_tiers (
    id                     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   text NOT NULL,
    display_name           text NOT NULL,
    monthly_price_usd      numeric(10, 2) NOT NULL DEFAULT 0,
    monthly_token_limit    bigint,
    monthly_cost_limit_usd numeric(12, 2),
    features               jsonb NOT NULL DEFAULT '{}',
    is_public              boolean NOT NULL DEFAULT true,
    is_active              boolean NOT NULL DEFAULT true,
    sort_order             integer NOT NULL DEFAULT 0,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscription_tiers_name_key UNIQUE (name),
    CONSTRAINT subscription_tiers_name_check CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT subscription_tiers_price_check CHECK (monthly_price_usd >= 0),
    CONSTRAINT subscription_tiers_limits_check
        CHECK ((monthly_token_limit IS NULL OR monthly_token_limit > 0)
           AND (monthly_cost_limit_usd IS NULL OR monthly_cost_limit_usd > 0))
);

-- The tiers registration and the billing flows rely on. 'free' must exist: new users get it.
INSERT INTO subscription_tiers
    (name, display_name, monthly_price_usd, monthly_token_limit, monthly_cost_limit_usd, features, is_public, sort_order)
VALUES
    ('free', 'Free', 0, 100000, 5.00, '{"agents": true, "max_active_sessions": 3}', true, 0),
    ('pro', 'Pro', 25, 2000000, 100.00, '{"agents": true, "max_active_sessions": 20, "priority_support": false}', true, 1),
    ('team', 'Team', 99, 10000000, 500.00, '{"agents": true, "max_active_sessions": 100, "priority_support": true}', true, 2),
    ('enterprise', 'Enterprise', 0, NULL, NULL, '{"agents": true, "priority_support": true, "custom_contract": true}', false, 3);

CREATE TABLE user_subscriptions (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tier_id                  integer NOT NULL REFERENCES subscription_tiers (id) ON DELETE RESTRICT,
    status                   text NOT NULL DEFAULT 'active',
    current_period_start     timestamptz NOT NULL DEFAULT now(),
    current_period_end       timestamptz NOT NULL DEFAULT now() + interval '1 month',
    cancel_at_period_end     boolean NOT NULL DEFAULT false,
    canceled_at              timestamptz,
    external_subscription_id text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_subscriptions_user_id_key UNIQUE (user_id),
    CONSTRAINT user_subscriptions_external_subscription_id_key UNIQUE (external_subscription_id),
    CONSTRAINT user_subscriptions_status_check
        CHECK (status IN ('trialing', 'active', 'past_due', 'canceled', 'expired')),
    CONSTRAINT user_subscriptions_period_check CHECK (current_period_end > current_period_start)
);

CREATE TABLE user_quotas (
    user_id        bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tier_id        integer NOT NULL REFERENCES subscription_tiers (id) ON DELETE RESTRICT,
    tokens_limit   bigint,
    tokens_used    bigint NOT NULL DEFAULT 0,
    cost_limit_usd numeric(12, 2),
    cost_used_usd  numeric(14, 6) NOT NULL DEFAULT 0,
    period_start   timestamptz NOT NULL DEFAULT date_trunc('month', now(), 'UTC'),
    period_end     timestamptz NOT NULL DEFAULT date_trunc('month', now(), 'UTC') + interval '1 month',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_quotas_tokens_check
        CHECK (tokens_used >= 0 AND (tokens_limit IS NULL OR (tokens_limit > 0 AND tokens_used <= tokens_limit))),
    CONSTRAINT user_quotas_cost_check
        CHECK (cost_used_usd >= 0 AND (cost_limit_usd IS NULL OR (cost_limit_usd > 0 AND cost_used_usd <= cost_limit_usd))),
    CONSTRAINT user_quotas_period_check CHECK (period_end > period_start)
);

CREATE TABLE payment_history (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    subscription_id     bigint REFERENCES user_subscriptions (id) ON DELETE SET NULL,
    amount_usd          numeric(12, 2) NOT NULL,
    currency            text NOT NULL DEFAULT 'USD',
    status              text NOT NULL DEFAULT 'pending',
    payment_provider    text NOT NULL,
    external_payment_id text,
    description         text,
    metadata            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_history_amount_check CHECK (amount_usd >= 0),
    CONSTRAINT payment_history_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT payment_history_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    CONSTRAINT payment_history_external_payment_key UNIQUE (payment_provider, external_payment_id)
);

-- One alert per user, threshold and quota period: 80% (warning) and 100% (exceeded).
CREATE TABLE usage_alerts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    alert_type        text NOT NULL,
    threshold_percent smallint NOT NULL,
    usage_percent     numeric(7, 2) NOT NULL,
    period_start      timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    acknowledged_at   timestamptz,
    CONSTRAINT usage_alerts_alert_type_check CHECK (alert_type IN ('quota_warning', 'quota_exceeded')),
    CONSTRAINT usage_alerts_threshold_check
        CHECK ((alert_type = 'quota_warning' AND threshold_percent = 80)
            OR (alert_type = 'quota_exceeded' AND threshold_percent = 100)),
    CONSTRAINT usage_alerts_once_per_period_key UNIQUE (user_id, threshold_percent, period_start)
);

ALTER TABLE subscription_tiers ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_alerts ENABLE ROW LEVEL SECURITY;

-- Quota held for an AI request in flight: check_and_consume_quota() reserves the request's
-- estimate before the provider is called, and record_ai_usage() settles the reservation to
-- the actual tokens and cost afterwards (refunding or charging the difference), so a request
-- is charged exactly once, at its actual usage. daily_maintenance() releases a reservation
-- nobody settled within an hour (the request failed) and deletes settled ones after 31 days.
CREATE TABLE quota_reservations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tokens       bigint NOT NULL,
    cost_usd     numeric(14, 6) NOT NULL,
    period_start timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    settled_at   timestamptz,
    settled_by   text,
    CONSTRAINT quota_reservations_amounts_check CHECK (tokens >= 0 AND cost_usd >= 0),
    CONSTRAINT quota_reservations_settled_check
        CHECK ((settled_at IS NULL) = (settled_by IS NULL) AND settled_by IN ('request', 'released'))
);
ALTER TABLE quota_reservations ENABLE ROW LEVEL SECURITY;

CREATE TRIGGER subscription_tiers_set_updated_at BEFORE UPDATE ON subscription_tiers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER user_subscriptions_set_updated_at BEFORE UPDATE ON user_subscriptions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER user_quotas_set_updated_at BEFORE UPDATE ON user_quotas
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Privileges of the API roles (granted with the tables, so dropping a table takes them
-- along): what each role may attempt; the policies of 0006 decide which rows. No policy
-- exists yet, so RLS denies every row until then.
-- Exactly these privileges, whatever the platform grants by default (on Supabase: ALL to
-- anon, authenticated and service_role on every table and sequence created in public, and
-- a table-wide grant makes the column grants below moot).
REVOKE ALL ON subscription_tiers, user_subscriptions, user_quotas, payment_history, usage_alerts,
    quota_reservations FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE subscription_tiers_id_seq, user_subscriptions_id_seq, payment_history_id_seq,
    usage_alerts_id_seq, quota_reservations_id_seq FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON subscription_tiers TO anon;
GRANT SELECT ON subscription_tiers, user_subscriptions, user_quotas, payment_history, usage_alerts TO authenticated;
GRANT UPDATE (acknowledged_at) ON usage_alerts TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON subscription_tiers, user_subscriptions, user_quotas, payment_history, usage_alerts TO service_role;
GRANT SELECT ON quota_reservations TO service_role;
