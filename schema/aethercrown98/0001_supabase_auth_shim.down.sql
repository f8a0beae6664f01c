-- Removes only what 0001 created: objects that carry the shim comment. Supabase's own auth
-- schema never carries it and is left alone. A shim function still used by another set's
-- policies (both sets in one database) is kept, with a notice.
--
-- The roles anon, authenticated and service_role are NOT dropped: roles belong to the whole
-- server, not to this database, and other databases on the same server (other sets, other
-- environments, Supabase itself) use them.

DO $usage$
BEGIN
    IF current_schema() <> 'public' THEN
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM anon, authenticated, service_role', current_schema());
    END IF;
END
$usage$;

DO $shim$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['auth.uid()', 'auth.role()', 'auth.jwt()'] LOOP
        IF to_regprocedure(f) IS NOT NULL
           AND obj_description(to_regprocedure(f), 'pg_proc') = 'migrate shim: supabase auth' THEN
            BEGIN
                EXECUTE 'DROP FUNCTION ' || f;
            EXCEPTION WHEN dependent_objects_still_exist THEN
                RAISE NOTICE 'kept %: other objects still use it', f;
            END;
        END IF;
    END LOOP;

    IF to_regnamespace('auth') IS NOT NULL
       AND obj_description(to_regnamespace('auth'), 'pg_namespace') = 'migrate shim: supabase auth' THEN
        BEGIN
            DROP SCHEMA auth;
        EXCEPTION WHEN dependent_objects_still_exist THEN
            RAISE NOTICE 'kept schema auth: it still holds objects';
        END;
    END IF;
END
$shim$;
