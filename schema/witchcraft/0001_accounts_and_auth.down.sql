-- Drops everything 0001 created. The API roles are server-wide and stay.
DROP FUNCTION witchcraft_auth.is_admin();
DROP FUNCTION witchcraft_auth.user_id();
DROP SCHEMA witchcraft_auth;
DROP TABLE audit_logs_archive;
DROP TABLE audit_logs;
DROP TABLE email_verify_tokens;
DROP TABLE password_reset_tokens;
DROP TABLE access_tokens;
DROP TABLE user_profiles;
DROP TABLE users;
DROP FUNCTION set_updated_at();
DROP FUNCTION access_tokens_revocation_is_final();

DO $roles$
BEGIN
    IF current_schema() <> 'public' THEN
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM anon, authenticated, service_role', current_schema());
    END IF;
END
$roles$;
