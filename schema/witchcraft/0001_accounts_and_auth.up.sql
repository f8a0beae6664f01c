-- Witchcraft accounts: users, profiles, hashed credentials and the security audit trail, and
-- the helpers the row level security policies use.
--
-- Design (from the schema overview, which gives names but no DDL):
--   * User ids are bigint identities (the overview's queries use user_id = 123).
--   * Passwords are stored only as bcrypt hashes and tokens only as SHA-256 hex digests;
--     CHECK constraints refuse anything else, so a plain secret can never be written.
--   * Access tokens expire after 30 days at the latest; reset and verification tokens sooner.
--   * Emails are stored lower-case and unique (the index behind "get user with quota").
--   * RLS is enabled in the same transaction that creates each table (policies: 0006).
--
-- The overview's policies call auth.user_id() and auth.is_admin(). Supabase forbids creating
-- functions in its `auth` schema (since April 2025), so the helpers live in the schema
-- `witchcraft_auth`, which this set owns:
--   witchcraft_auth.user_id()  the caller's Witchcraft user id: the numeric `sub` claim of the
--                              JWT in request.jwt.claims (PostgREST sets it per request; the
--                              backend mints tokens whose sub is the users.id). NULL without one.
--   witchcraft_auth.is_admin() whether that user is an active admin, read from users.role
--                              (the database, not a claim, so revoking admin takes effect at
--                              once). SECURITY DEFINER: it reads users past its RLS.

-- Functions created below pin their search_path to this set's schema with pg_temp last, so
-- no caller can redirect them with a temporary table of the same name.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

-- The API roles as Supabase names them, where missing (server-wide; never dropped), made
-- exactly as AetherCrown98's shim makes them, so that whichever set comes first the roles
-- are the same: service_role bypasses row level security, as on Supabase, where the
-- migrating role may grant that (a superuser).
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                IF r = 'service_role' AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                    EXECUTE format('CREATE ROLE %I NOLOGIN BYPASSRLS', r);
                ELSE
                    EXECUTE format('CREATE ROLE %I NOLOGIN', r);
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    IF current_schema() <> 'public' THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO anon, authenticated, service_role', current_schema());
    END IF;
END
$roles$;

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- Revoking a token is final: revoked_at goes from NULL to a time, and never back or to
-- another time (the owner may set it; nobody may undo it).
CREATE FUNCTION access_tokens_revocation_is_final() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'access token % was revoked at %; a revocation cannot be undone or changed',
            OLD.id, OLD.revoked_at
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TABLE users (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email              text NOT NULL,
    password_hash      text NOT NULL,
    name               text,
    role               text NOT NULL DEFAULT 'user',
    status             text NOT NULL DEFAULT 'active',
    email_verified_at  timestamptz,
    last_login_at      timestamptz,
    failed_login_count integer NOT NULL DEFAULT 0,
    locked_until       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_check CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$'),
    CONSTRAINT users_password_hash_check CHECK (password_hash ~ '^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin')),
    CONSTRAINT users_status_check CHECK (status IN ('active', 'suspended', 'deleted')),
    CONSTRAINT users_failed_login_count_check CHECK (failed_login_count >= 0)
);

CREATE TABLE user_profiles (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name text,
    avatar_url   text,
    bio          text,
    timezone     text NOT NULL DEFAULT 'UTC',
    locale       text NOT NULL DEFAULT 'en',
    preferences  jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE access_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   text NOT NULL,
    name         text,
    ip_address   inet,
    user_agent   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '30 days',
    revoked_at   timestamptz,
    CONSTRAINT access_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT access_tokens_expires_at_check
        CHECK (expires_at > created_at AND expires_at <= created_at + interval '30 days')
);

CREATE TRIGGER access_tokens_revocation_is_final
    BEFORE UPDATE OF revoked_at ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION access_tokens_revocation_is_final();

CREATE TABLE password_reset_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash text NOT NULL,
    ip_address inet,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL DEFAULT now() + interval '1 hour',
    used_at    timestamptz,
    CONSTRAINT password_reset_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT password_reset_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT password_reset_tokens_expires_at_check
        CHECK (expires_at > created_at AND expires_at <= created_at + interval '1 day')
);

CREATE TABLE email_verify_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       text NOT NULL,
    token_hash  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    verified_at timestamptz,
    CONSTRAINT email_verify_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT email_verify_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT email_verify_tokens_expires_at_check
        CHECK (expires_at > created_at AND expires_at <= created_at + interval '7 days')
);

-- Security events. actor_user_id is who acted when it is not the user (an admin
-- impersonating, an admin changing a role): the "admin impersonation logging" item.
CREATE TABLE audit_logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    actor_user_id bigint REFERENCES users (id) ON DELETE SET NULL,
    event_type    text NOT NULL,
    severity      text NOT NULL DEFAULT 'info',
    success       boolean NOT NULL DEFAULT true,
    ip_address    inet,
    user_agent    text,
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_event_type_check CHECK (event_type IN (
        'user_created', 'login', 'login_failed', 'logout', 'password_changed',
        'password_reset_requested', 'email_verified', 'token_created', 'token_revoked',
        'role_changed', 'impersonation_started', 'impersonation_ended',
        'subscription_changed', 'quota_exceeded', 'account_locked', 'admin_action')),
    CONSTRAINT audit_logs_severity_check CHECK (severity IN ('info', 'warning', 'critical'))
);

-- Where daily_maintenance() moves audit rows older than 90 days (the overview: archive old
-- audit logs, keep the hot table small). Same columns plus archived_at; no foreign keys, so
-- the archive outlives deleted users; cleanup_old_audit_logs() deletes from both.
CREATE TABLE audit_logs_archive (
    LIKE audit_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    archived_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_archive_pkey PRIMARY KEY (id)
);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE password_reset_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_verify_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs_archive ENABLE ROW LEVEL SECURITY;

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER user_profiles_set_updated_at BEFORE UPDATE ON user_profiles
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE SCHEMA witchcraft_auth;
COMMENT ON SCHEMA witchcraft_auth IS
    'Row level security helpers of the Witchcraft schema (Supabase keeps its auth schema closed)';
GRANT USAGE ON SCHEMA witchcraft_auth TO anon, authenticated, service_role;

CREATE FUNCTION witchcraft_auth.user_id() RETURNS bigint
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN sub ~ '^[0-9]{1,18}$' THEN sub::bigint END
      FROM (SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub' AS sub) AS claims
$$;

CREATE FUNCTION witchcraft_auth.is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
    SELECT EXISTS (
        SELECT 1 FROM users
         WHERE id = witchcraft_auth.user_id() AND role = 'admin' AND status = 'active')
$$;

REVOKE ALL ON FUNCTION witchcraft_auth.user_id(), witchcraft_auth.is_admin() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION witchcraft_auth.user_id(), witchcraft_auth.is_admin()
    TO anon, authenticated, service_role;
REVOKE ALL ON FUNCTION set_updated_at() FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON FUNCTION access_tokens_revocation_is_final() FROM PUBLIC, anon, authenticated, service_role;

-- Privileges of the API roles (granted with the tables, so dropping a table takes them
-- along): what each role may attempt; the policies of 0006 decide which rows. No policy
-- exists yet, so RLS denies every row until then.
-- Exactly these privileges, whatever the platform grants by default (on Supabase: ALL to
-- anon, authenticated and service_role on every table and sequence created in public, and
-- a table-wide grant makes the column grants below moot).
REVOKE ALL ON users, user_profiles, access_tokens, password_reset_tokens,
    email_verify_tokens, audit_logs, audit_logs_archive FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE users_id_seq, access_tokens_id_seq, password_reset_tokens_id_seq,
    email_verify_tokens_id_seq, audit_logs_id_seq FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON users, user_profiles, access_tokens, audit_logs, audit_logs_archive TO authenticated;
GRANT UPDATE (display_name, avatar_url, bio, timezone, locale, preferences) ON user_profiles TO authenticated;
GRANT UPDATE (revoked_at) ON access_tokens TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, user_profiles, access_tokens, password_reset_tokens, email_verify_tokens, audit_logs, audit_logs_archive TO service_role;
