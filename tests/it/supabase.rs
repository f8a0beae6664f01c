//! Both sets on the Supabase stand-in (`tests/fixtures/supabase/`), as the role migrations
//! run as there: `postgres`, not a superuser, in a database whose default privileges give
//! the API roles everything `postgres` creates in `public`.

use crate::harness::*;
use migrate::engine::DownTarget;

/// Every privilege the API roles (and PUBLIC) hold on the objects of `public` and
/// `witchcraft_auth`: tables, partitions, views, sequences, columns and functions.
async fn api_privileges(c: &mut sqlx::PgConnection) -> Vec<String> {
    strings(
        c,
        "WITH objects AS (
             SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
                    c.oid::regclass::text AS name, c.relacl AS acl, c.relowner AS owner
               FROM pg_class c
              WHERE c.relnamespace::regnamespace::text IN ('public', 'witchcraft_auth')
                AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
             UNION ALL
             SELECT 'column', a.attrelid::regclass::text || '.' || a.attname, a.attacl, c.relowner
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE c.relnamespace::regnamespace::text IN ('public', 'witchcraft_auth')
                AND a.attnum > 0 AND a.attacl IS NOT NULL
             UNION ALL
             SELECT 'function', p.oid::regprocedure::text,
                    coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
               FROM pg_proc p
              WHERE p.pronamespace::regnamespace::text IN ('public', 'witchcraft_auth'))
         SELECT o.kind || ' ' || o.name || ': '
                || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END
                || ' ' || string_agg(x.privilege_type, ',' ORDER BY x.privilege_type)
           FROM objects o CROSS JOIN LATERAL aclexplode(o.acl) x
          WHERE x.grantee = 0 OR pg_get_userbyid(x.grantee) IN ('anon', 'authenticated', 'service_role')
          GROUP BY o.kind, o.name, x.grantee
          ORDER BY 1",
    )
    .await
}

/// Supabase's default privileges once gave `anon` TRUNCATE on users and payments, EXECUTE
/// on every function and `nextval` on every sequence: the migrations now state exactly what
/// each role gets, so privileges are the same on plain Postgres and on the platform.
#[tokio::test]
async fn privileges_are_the_same_on_plain_postgres_and_on_the_stand_in() {
    for set in ["aethercrown98", "witchcraft"] {
        let (_plain_db, mut plain) = migrated_in(Mode::Plain, set).await;
        let (_supa_db, mut supa) = migrated_in(Mode::Supabase, set).await;
        let on_plain = api_privileges(&mut plain).await;
        let on_supabase = api_privileges(&mut supa).await;
        let only_supabase: Vec<&String> = on_supabase
            .iter()
            .filter(|p| !on_plain.contains(p))
            .collect();
        let only_plain: Vec<&String> = on_plain
            .iter()
            .filter(|p| !on_supabase.contains(p))
            .collect();
        assert!(
            only_supabase.is_empty() && only_plain.is_empty(),
            "{set}: only on the stand-in:\n{}\nonly on plain Postgres:\n{}",
            only_supabase
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            only_plain
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        assert!(
            !on_plain.iter().any(|p| p.contains("TRUNCATE")),
            "{set}: {on_plain:#?}"
        );
    }
}

/// On the stand-in, as `postgres`: apply, status, verify and diff clean, roll everything
/// back, apply again.
#[tokio::test]
async fn both_sets_apply_verify_roll_back_and_reapply_on_the_stand_in() {
    for name in ["aethercrown98", "witchcraft"] {
        let (db, mut c) = migrated_in(Mode::Supabase, name).await;
        let user: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(user, "postgres");
        let status = run(db.migrate().args(["status", "--set", name]));
        assert_eq!(status.code, 0, "{}", status.stderr);
        assert!(status.stdout.contains(", 0 pending"), "{}", status.stdout);
        let diff = run(db.migrate().arg("diff"));
        assert_eq!(diff.code, 0, "{name}: {}{}", diff.stdout, diff.stderr);
        let verify = run(db.migrate().arg("verify"));
        assert_eq!(verify.code, 0, "{name}: {}{}", verify.stdout, verify.stderr);
        let set = embedded_set(name);
        roll_back(&mut c, &set, DownTarget::To(0)).await;
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            )
            .await,
            0,
            "{name}: a full rollback leaves public empty"
        );
        // the platform is untouched
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) FROM pg_proc WHERE pronamespace = 'auth'::regnamespace"
            )
            .await,
            3
        );
        migrate::engine::up(&mut c, &set, None, "5s", &quiet)
            .await
            .unwrap();
        assert_eq!(run(db.migrate().arg("diff")).code, 0, "{name}");
    }
}

/// Runs `statement` as `role` (with the JWT `sub` claim when given), the way PostgREST does:
/// `Ok(())` when it ran, else the SQLSTATE.
async fn attempt(
    c: &mut sqlx::PgConnection,
    role: &str,
    sub: Option<&str>,
    statement: &str,
) -> Result<(), String> {
    let wrapped = format!("DO $attempt$ BEGIN {statement}; END $attempt$");
    match as_role(c, role, sub, &wrapped).await {
        // a DO block returns no row: "ran" shows as RowNotFound
        Err(e) if e.contains("no rows returned") => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// What the review measured on the stand-in before the grants were stated: anon could
/// TRUNCATE users and payments, call nextval on the id sequences and execute the trigger
/// functions; a signed-in user could TRUNCATE, set their own token's hash and expiry, forge
/// session totals and alert percentages. All refused now, in both modes, with 42501.
#[tokio::test]
async fn the_platform_defaults_open_nothing_in_either_mode() {
    let bcrypt = format!("$2b$12${}", &"N9qo8uLOickgx2ZMRZoMye".repeat(3)[..53]);
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "aethercrown98").await;
        let user = "8d0f7a58-30c3-4bd9-a5d3-6f6d1a0e5c01";
        sqlx::query("INSERT INTO users (id, email) VALUES ($1::uuid, 'u@x')")
            .bind(user)
            .execute(&mut c)
            .await
            .unwrap();
        for (role, sub, statement) in [
            ("anon", None, "TRUNCATE users CASCADE"),
            ("anon", None, "TRUNCATE payments"),
            ("anon", None, "TRUNCATE activity_logs"),
            ("anon", None, "PERFORM update_updated_at_column()"),
            ("authenticated", Some(user), "TRUNCATE users CASCADE"),
            ("authenticated", Some(user), "TRUNCATE activity_logs"),
            ("authenticated", Some(user), "TRUNCATE payments"),
            (
                "authenticated",
                Some(user),
                "PERFORM ensure_activity_logs_partitions(2)",
            ),
        ] {
            let got = attempt(&mut c, role, sub, statement).await;
            assert_eq!(
                got,
                Err("42501".to_string()),
                "{mode:?} aethercrown98 {role}: {statement}"
            );
        }
        // the partitions themselves are closed too: nobody reads them past the parent's RLS
        let partition: String = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'activity_logs'::regclass ORDER BY 1 LIMIT 1",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        for role in ["anon", "authenticated", "service_role"] {
            let got = attempt(
                &mut c,
                role,
                Some(user),
                &format!("PERFORM count(*) FROM {partition}"),
            )
            .await;
            assert_eq!(
                got,
                Err("42501".to_string()),
                "{mode:?} {role} on {partition}"
            );
        }

        let (_db, mut w) = migrated_in(mode, "witchcraft").await;
        let id: i64 = sqlx::query_scalar("SELECT create_user_with_profile('w@x', $1, 'W')")
            .bind(&bcrypt)
            .fetch_one(&mut w)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO access_tokens (user_id, token_hash) VALUES ($1, repeat('a', 64));
             ",
        )
        .bind(id)
        .execute(&mut w)
        .await
        .unwrap();
        let sub = id.to_string();
        let me = Some(sub.as_str());
        for (role, sub, statement) in [
            ("anon", None, "PERFORM nextval('users_id_seq')".to_string()),
            ("anon", None, "PERFORM nextval('ai_usage_requests_id_seq')".to_string()),
            ("anon", None, "PERFORM set_updated_at()".to_string()),
            ("anon", None, "TRUNCATE users CASCADE".to_string()),
            ("authenticated", me, "TRUNCATE ai_usage_requests".to_string()),
            ("authenticated", me, "PERFORM nextval('agent_sessions_id_seq')".to_string()),
            ("authenticated", me, format!("UPDATE access_tokens SET token_hash = repeat('b', 64) WHERE user_id = {id}")),
            ("authenticated", me, format!("UPDATE access_tokens SET expires_at = now() + interval '1 year' WHERE user_id = {id}")),
            ("authenticated", me, format!("INSERT INTO agent_sessions (user_id, total_tokens) VALUES ({id}, 5)")),
            ("authenticated", me, format!("UPDATE agent_sessions SET total_cost_usd = 0 WHERE user_id = {id}")),
            ("authenticated", me, "UPDATE usage_alerts SET usage_percent = 1".to_string()),
        ] {
            let got = attempt(&mut w, role, sub, &statement).await;
            assert_eq!(got, Err("42501".to_string()), "{mode:?} witchcraft {role}: {statement}");
        }
        // what the design grants still works: revoking one's own token
        let got = attempt(
            &mut w,
            "authenticated",
            me,
            &format!("UPDATE access_tokens SET revoked_at = now() WHERE user_id = {id}"),
        )
        .await;
        assert_eq!(got, Ok(()), "{mode:?}");
    }
}
