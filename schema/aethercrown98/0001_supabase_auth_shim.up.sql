-- The policies of this schema call auth.uid(), as Supabase's do. On Supabase the `auth`
-- schema, its functions and the API roles already exist, and this migration changes nothing
-- there. On plain Postgres (a laptop, CI) it creates what is missing so the same migrations
-- run everywhere:
--   * roles anon, authenticated, service_role (NOLOGIN; service_role BYPASSRLS when the
--     migrating role may grant it), as Supabase names them;
--   * schema auth with auth.uid(), auth.role() and auth.jwt(), which read the caller's JWT
--     from the request.jwt.claims setting (JSON, as PostgREST sets it per transaction) or the
--     older per-claim settings request.jwt.claim.sub / request.jwt.claim.role.
-- Every object created here carries the comment 'migrate shim: supabase auth' so that the
-- down migration removes exactly what this file created and nothing Supabase owns.

DO $shim$
DECLARE
    r text;
BEGIN
    -- Roles are shared by every database of the server; another database may be creating
    -- them at this very moment, so a duplicate is not an error.
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                -- service_role bypasses RLS on Supabase; only a superuser can grant that.
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

    IF to_regnamespace('auth') IS NULL THEN
        CREATE SCHEMA auth;
        COMMENT ON SCHEMA auth IS 'migrate shim: supabase auth';
        GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
    END IF;

    IF to_regprocedure('auth.jwt()') IS NULL THEN
        CREATE FUNCTION auth.jwt() RETURNS jsonb
            LANGUAGE sql STABLE
            SET search_path = ''
        AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')
            )::jsonb
        $fn$;
        COMMENT ON FUNCTION auth.jwt() IS 'migrate shim: supabase auth';
    END IF;

    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql STABLE
            SET search_path = ''
        AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
            )::uuid
        $fn$;
        COMMENT ON FUNCTION auth.uid() IS 'migrate shim: supabase auth';
    END IF;

    IF to_regprocedure('auth.role()') IS NULL THEN
        CREATE FUNCTION auth.role() RETURNS text
            LANGUAGE sql STABLE
            SET search_path = ''
        AS $fn$
            SELECT coalesce(
                nullif(current_setting('request.jwt.claim.role', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
            )::text
        $fn$;
        COMMENT ON FUNCTION auth.role() IS 'migrate shim: supabase auth';
    END IF;
END
$shim$;

-- The set's own schema must be reachable by the API roles when it is not `public` (in
-- `public` that is the server's default, and Supabase's).
DO $usage$
BEGIN
    IF current_schema() <> 'public' THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO anon, authenticated, service_role', current_schema());
    END IF;
END
$usage$;
