//! Both sets on the Supabase stand-in (`tests/fixtures/supabase/`), as the role migrations
//! run as there: `postgres`, not a superuser, in a database whose default privileges give
//! the API roles everything `postgres` creates in `public`.

use crate::harness::*;
use migrate::engine::DownTarget;
use migrate::run::Run;

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
        let db = TestDb::in_mode(Mode::Supabase).await;
        let mut c = db.conn().await;
        let platform_before = platform_objects(&mut c).await;
        migrate::engine::up(&mut c, &embedded_set(name), None, "5s", &quiet)
            .await
            .unwrap();
        assert_eq!(
            platform_objects(&mut c).await,
            platform_before,
            "{name}: migrate never creates or alters objects in the platform's schemas"
        );
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
        assert_eq!(platform_objects(&mut c).await, platform_before, "{name}");
    }
}

/// Every relation and function of the platform's schemas (`auth`, `extensions`), with its
/// owner and privileges, and the schemas themselves.
async fn platform_objects(c: &mut sqlx::PgConnection) -> Vec<String> {
    strings(
        c,
        "SELECT 'schema ' || nspname || ' ' || pg_get_userbyid(nspowner) || ' ' || coalesce(nspacl::text, '')
           FROM pg_namespace WHERE nspname IN ('auth', 'extensions')
         UNION ALL
         SELECT 'relation ' || c.oid::regclass::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '')
           FROM pg_class c WHERE c.relnamespace::regnamespace::text IN ('auth', 'extensions')
         UNION ALL
         SELECT 'function ' || p.oid::regprocedure::text || ' ' || pg_get_userbyid(p.proowner) || ' ' || coalesce(p.proacl::text, '')
                || ' ' || md5(p.prosrc)
           FROM pg_proc p WHERE p.pronamespace::regnamespace::text IN ('auth', 'extensions')
         UNION ALL
         SELECT 'policy ' || polname || ' on ' || polrelid::regclass::text FROM pg_policy
          WHERE polrelid::regclass::text LIKE 'auth.%'
         UNION ALL
         SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass::text FROM pg_trigger
          WHERE tgrelid::regclass::text LIKE 'auth.%'
         ORDER BY 1",
    )
    .await
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
    let bcrypt = bcrypt();
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

/// `status` says which platform it talks to, in text and JSON, and as whom.
#[tokio::test]
async fn status_tells_supabase_from_plain_postgres() {
    for (mode, platform, line) in [
        (Mode::Plain, "postgres", "server: PostgreSQL 1"),
        (
            Mode::Supabase,
            "supabase",
            "server: Supabase (or set up like it), PostgreSQL 1",
        ),
    ] {
        // AetherCrown98's shim makes an `auth` schema on plain Postgres: still plain
        let (db, _c) = migrated_in(mode, "aethercrown98").await;
        let out = run(db.migrate().arg("status"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.starts_with(line), "{mode:?}: {}", out.stdout);
        let json = run(db.migrate().args(["status", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["server"]["platform"], platform, "{mode:?}");
        assert_eq!(v["server"]["role"], "postgres");
        assert_eq!(v["server"]["superuser"], mode == Mode::Plain);
        assert!(v["server"]["version_num"].as_i64().unwrap() >= 150000);
    }
}

/// A user could un-revoke their own token (`SET revoked_at = NULL` as the owner succeeded),
/// and attach feedback to another user's message. Both refused now, in both modes.
#[tokio::test]
async fn revocation_is_final_and_feedback_cites_a_message_of_its_session() {
    let bcrypt = bcrypt();
    for mode in MODES {
        let (_db, mut c) = migrated_in(mode, "witchcraft").await;
        let mut ids = Vec::new();
        for email in ["a@x", "b@x"] {
            let id: i64 = sqlx::query_scalar("SELECT create_user_with_profile($1, $2, 'n')")
                .bind(email)
                .bind(&bcrypt)
                .fetch_one(&mut c)
                .await
                .unwrap();
            ids.push(id);
        }
        let (a, b) = (ids[0], ids[1]);
        let token: i64 = sqlx::query_scalar(
            "INSERT INTO access_tokens (user_id, token_hash) VALUES ($1, repeat('a', 64)) RETURNING id",
        )
        .bind(a)
        .fetch_one(&mut c)
        .await
        .unwrap();
        let sub_a = a.to_string();
        let update = |value: &str| {
            format!("UPDATE access_tokens SET revoked_at = {value} WHERE id = {token} RETURNING id")
        };
        // the owner revokes: fine; un-revoking or moving the time: refused, for anyone
        assert_eq!(
            as_role(&mut c, "authenticated", Some(&sub_a), &update("now()")).await,
            Ok(token)
        );
        sqlx::raw_sql(&format!(
            "UPDATE access_tokens SET revoked_at = now() - interval '1 hour' WHERE id = {token}"
        ))
        .execute(&mut c)
        .await
        .unwrap();
        for (role, value) in [
            ("authenticated", "NULL"),
            ("authenticated", "now() + interval '1 day'"),
            ("service_role", "NULL"),
        ] {
            let got = as_role(&mut c, role, Some(&sub_a), &update(value)).await;
            assert_eq!(
                got,
                Err("23514".to_string()),
                "{mode:?} {role} sets revoked_at = {value}"
            );
        }

        let session = |user: i64| {
            format!("INSERT INTO agent_sessions (user_id, title) VALUES ({user}, 's') RETURNING id")
        };
        let session_a: i64 = sqlx::query_scalar(&session(a))
            .fetch_one(&mut c)
            .await
            .unwrap();
        let session_b: i64 = sqlx::query_scalar(&session(b))
            .fetch_one(&mut c)
            .await
            .unwrap();
        let message_a: i64 = sqlx::query_scalar(&format!(
            "INSERT INTO agent_messages (session_id, role, content) VALUES ({session_a}, 'user', 'hi') RETURNING id"
        ))
        .fetch_one(&mut c)
        .await
        .unwrap();
        let sub_b = b.to_string();
        let feedback = |user: i64, session: i64| {
            format!("INSERT INTO agent_feedback (user_id, session_id, message_id, rating) VALUES ({user}, {session}, {message_a}, 1) RETURNING id")
        };
        // B, in B's own session, citing A's message
        let got = as_role(
            &mut c,
            "authenticated",
            Some(&sub_b),
            &feedback(b, session_b),
        )
        .await;
        assert_eq!(got, Err("23503".to_string()), "{mode:?}");
        // A on A's message in A's session: fine
        let got = as_role(
            &mut c,
            "authenticated",
            Some(&sub_a),
            &feedback(a, session_a),
        )
        .await;
        assert!(got.is_ok(), "{mode:?}: {got:?}");
    }
}

/// The API roles as a fresh plain server gets them from the sets installed in `order`
/// (each in its own schema), and whether `service_role` then reads Witchcraft's users past
/// row level security, as the backend steps of its flows need.
async fn roles_after(order: &[&str]) -> (Vec<String>, Option<bool>) {
    let cluster = migrate::cluster::Cluster::start(&cluster_options()).unwrap();
    let mut c = migrate::engine::connect(&Run::default(), &cluster.url("postgres"))
        .await
        .unwrap();
    for name in order {
        let mut set = embedded_set(name);
        set.schema = name.to_string();
        migrate::engine::up(&mut c, &set, None, "5s", &quiet)
            .await
            .unwrap();
    }
    let roles = strings(
        &mut c,
        "SELECT rolname || ' login=' || rolcanlogin || ' bypassrls=' || rolbypassrls || ' inherit=' || rolinherit
           FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role') ORDER BY 1",
    )
    .await;
    let backend_sees_users = if order.contains(&"witchcraft") {
        sqlx::raw_sql(&format!(
            "INSERT INTO witchcraft.users (email, password_hash) VALUES ('svc@x', '{}')",
            bcrypt()
        ))
        .execute(&mut c)
        .await
        .unwrap();
        Some(
            as_role(
                &mut c,
                "service_role",
                None,
                "SELECT count(*) FROM witchcraft.users",
            )
            .await
                == Ok(1),
        )
    } else {
        None
    };
    drop(c);
    cluster.stop().unwrap();
    (roles, backend_sees_users)
}

/// On plain Postgres, service_role got BYPASSRLS only from AetherCrown98's shim: Witchcraft
/// installed alone left it without, and its backend steps failed on RLS. Either set alone,
/// or both in either order, now leave the same roles.
#[tokio::test]
async fn the_api_roles_are_the_same_whatever_the_install_order() {
    let (reference, sees) = roles_after(&["witchcraft"]).await;
    assert_eq!(
        sees,
        Some(true),
        "service_role reads users past RLS, as on Supabase"
    );
    assert!(
        reference.contains(&"service_role login=false bypassrls=true inherit=true".to_string()),
        "{reference:?}"
    );
    for order in [
        vec!["aethercrown98"],
        vec!["aethercrown98", "witchcraft"],
        vec!["witchcraft", "aethercrown98"],
    ] {
        let (roles, sees) = roles_after(&order).await;
        assert_eq!(roles, reference, "{order:?}");
        if sees.is_some() {
            assert_eq!(sees, Some(true), "{order:?}");
        }
    }
}

/// AetherCrown98 made partitions for three months and nothing made more: from the fourth
/// month every row fell into the default partition. `migrate maintain` runs each set's
/// upkeep once, for databases without pg_cron, in both modes.
#[tokio::test]
async fn maintain_runs_each_sets_upkeep_once() {
    for mode in MODES {
        let (db, mut c) = migrated_in(mode, "aethercrown98").await;
        // as if a month had passed: the newest partition is not there yet
        let newest: String = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'activity_logs'::regclass AND c.relname <> 'activity_logs_default'
              ORDER BY 1 DESC LIMIT 1",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        sqlx::raw_sql(&format!("DROP TABLE {newest}"))
            .execute(&mut c)
            .await
            .unwrap();
        let out = run(db.migrate().args(["maintain", "--json"]));
        assert_eq!(out.code, 0, "{mode:?}: {}{}", out.stdout, out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["sets"][0]["set"], "aethercrown98");
        assert_eq!(
            v["sets"][0]["ran"][0]["result"],
            serde_json::json!([{ "ensure_activity_logs_partitions": 1 }]),
            "{mode:?}"
        );
        assert_monthly_partitions(&mut c, "activity_logs", 2).await;
        let verify = run(db.migrate().arg("verify"));
        assert_eq!(
            verify.code, 0,
            "{mode:?}: {}{}",
            verify.stdout, verify.stderr
        );

        let (db, _w) = migrated_in(mode, "witchcraft").await;
        let daily = run(db.migrate().arg("maintain"));
        assert_eq!(daily.code, 0, "{}", daily.stderr);
        assert!(
            daily
                .stdout
                .starts_with("witchcraft: SELECT daily_maintenance() -> [{\"daily_maintenance\":"),
            "{}",
            daily.stdout
        );
        assert!(
            !daily.stdout.contains("monthly_maintenance"),
            "{}",
            daily.stdout
        );
        let monthly = run(db.migrate().args(["maintain", "--monthly"]));
        assert_eq!(monthly.code, 0, "{}", monthly.stderr);
        assert!(
            monthly
                .stdout
                .contains("witchcraft: SELECT monthly_maintenance() -> [{\"monthly_maintenance\":"),
            "{}",
            monthly.stdout
        );
    }
}

/// Maintenance calls the functions of the newest version: it refuses a set that is behind.
#[tokio::test]
async fn maintain_refuses_a_set_that_is_behind() {
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    migrate::engine::up(
        &mut c,
        &embedded_set("aethercrown98"),
        Some(5),
        "5s",
        &quiet,
    )
    .await
    .unwrap();
    let out = run(db.migrate().args(["maintain", "--set", "aethercrown98"]));
    assert_refused(&out, 1, "set `aethercrown98` is at 0005 but its maintenance needs all its migrations (newest: 0009); run `migrate up --set aethercrown98` first");
}

/// Witchcraft's 0008 down looked for `cron.unschedule(text)`, which pg_cron 1.4 does not have
/// (it has `unschedule(name)`), reported success and left both jobs behind; its test stood
/// on a fake `cron` schema. Here a server with the real pg_cron: both sets schedule their
/// upkeep on `up`, and every job is gone after `down`.
#[tokio::test]
async fn upkeep_is_scheduled_and_unscheduled_with_the_real_pg_cron() {
    let cluster = migrate::cluster::Cluster::start(&migrate::cluster::ClusterOptions {
        settings: vec![
            ("shared_preload_libraries".into(), "pg_cron".into()),
            ("cron.database_name".into(), "postgres".into()),
        ],
        in_memory: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| {
        panic!("a server with pg_cron (Debian: apt-get install postgresql-15-cron): {e}")
    });
    let mut c = migrate::engine::connect(&Run::default(), &cluster.url("postgres"))
        .await
        .unwrap();
    sqlx::raw_sql("CREATE EXTENSION pg_cron")
        .execute(&mut c)
        .await
        .unwrap();
    let version: String =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(version.starts_with("1."), "{version}");
    let jobs = "SELECT jobname || ' | ' || schedule || ' | ' || command FROM cron.job ORDER BY 1";
    let mut sets = Vec::new();
    for (name, schema) in [("aethercrown98", "ac"), ("witchcraft", "wc")] {
        let mut set = embedded_set(name);
        set.schema = schema.into();
        migrate::engine::up(&mut c, &set, None, "5s", &quiet)
            .await
            .unwrap();
        sets.push(set);
    }
    assert_eq!(
        strings(&mut c, jobs).await,
        [
            "aethercrown98_partitions_ac | 0 1 * * * | SELECT ac.ensure_activity_logs_partitions(2)",
            "witchcraft_daily_maintenance_wc | 0 2 * * * | SELECT wc.daily_maintenance()",
            "witchcraft_monthly_maintenance_wc | 0 0 1 * * | SELECT wc.monthly_maintenance()",
        ],
        "pg_cron {version}"
    );
    // Back to before each set's scheduling migration (0008 in both).
    for set in sets.iter().rev() {
        roll_back(&mut c, set, DownTarget::To(7)).await;
    }
    assert_eq!(
        strings(&mut c, jobs).await,
        Vec::<String>::new(),
        "pg_cron {version}"
    );
    drop(c);
    cluster.stop().unwrap();
}

/// What a Realtime subscriber sees of the partitioned activity_logs, in both modes: the
/// table itself, not partition names that change every month; and the publication-wide
/// option goes back to what it was after a rollback.
#[tokio::test]
async fn realtime_subscribers_see_activity_logs_not_its_partitions() {
    let published = "SELECT tablename::text FROM pg_publication_tables WHERE pubname = 'supabase_realtime' ORDER BY 1";
    let via_root =
        "SELECT pubviaroot::text FROM pg_publication WHERE pubname = 'supabase_realtime'";
    for mode in MODES {
        let db = TestDb::in_mode(mode).await;
        let mut c = db.conn().await;
        let before = strings(&mut c, via_root).await;
        let set = embedded_set("aethercrown98");
        migrate::engine::up(&mut c, &set, None, "5s", &quiet)
            .await
            .unwrap();
        assert_eq!(
            strings(&mut c, published).await,
            ["activity_logs", "ai_clones", "ai_tasks", "payments"],
            "{mode:?}"
        );
        // next month's partition changes nothing for subscribers
        sqlx::raw_sql("SELECT ensure_activity_logs_partitions(5)")
            .execute(&mut c)
            .await
            .unwrap();
        assert_eq!(strings(&mut c, published).await.len(), 4, "{mode:?}");
        roll_back(&mut c, &set, DownTarget::To(6)).await;
        assert_eq!(strings(&mut c, via_root).await, before, "{mode:?}");
        assert_eq!(
            strings(&mut c, published).await,
            Vec::<String>::new(),
            "{mode:?}"
        );
    }
}

/// `bootstrap` on a new project, in both modes: applies, verifies, reports the upkeep; a
/// second run changes nothing and says so.
#[tokio::test]
async fn bootstrap_sets_up_a_new_project_once() {
    for mode in MODES {
        let db = TestDb::in_mode(mode).await;
        let first = run(db
            .migrate()
            .args(["bootstrap", "--set", "witchcraft", "--json"]));
        assert_eq!(first.code, 0, "{mode:?}: {}{}", first.stdout, first.stderr);
        let v: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
        assert_eq!(v["changed"], true);
        assert_eq!(v["ok"], true);
        assert_eq!(
            v["server"]["platform"],
            if mode == Mode::Plain {
                "postgres"
            } else {
                "supabase"
            }
        );
        let set = &v["sets"][0];
        assert_eq!(
            set["applied"].as_array().unwrap().len(),
            embedded_set("witchcraft").migrations.len()
        );
        assert_eq!(set["checks"].as_array().unwrap().len(), 9);
        assert_eq!(set["upkeep"]["pg_cron"], serde_json::Value::Null);
        let again = run(db.migrate().args(["bootstrap", "--set", "witchcraft"]));
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert!(
            again.stdout.contains("witchcraft: nothing to do, at 0013"),
            "{}",
            again.stdout
        );
        assert!(
            again
                .stdout
                .ends_with("bootstrap: nothing to change, the database was bootstrapped already\n"),
            "{}",
            again.stdout
        );
        assert!(
            again
                .stdout
                .contains("  upkeep: pg_cron is not installed: schedule `migrate maintain` daily"),
            "{}",
            again.stdout
        );
    }
}

/// What bootstrap refuses, before changing anything: two sets into one schema, and a role
/// that may not create in the set's schema.
#[tokio::test]
async fn bootstrap_refuses_before_changing_anything() {
    let db = TestDb::in_mode(Mode::Supabase).await;
    let mut c = db.conn().await;
    let both = run(db.migrate().arg("bootstrap"));
    assert_refused(&both, 2, "both install into schema `public`");
    let weak = format!("weak_{}", db.name);
    sqlx::raw_sql(&format!(
        "CREATE ROLE \"{weak}\" LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC"
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let mut u = url::Url::parse(&db.url).unwrap();
    u.set_username(&weak).unwrap();
    let out = run(db.migrate().env("DATABASE_URL", u.to_string()).args([
        "bootstrap",
        "--set",
        "aethercrown98",
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "role {weak} may not create objects in schema public (set `aethercrown98`)"
        )),
        "{}",
        out.stderr
    );
    assert!(!has_history_schema(&mut c).await, "nothing was changed");
    sqlx::raw_sql(&format!("DROP ROLE \"{weak}\""))
        .execute(&mut c)
        .await
        .unwrap();
}

/// The rollback proof and `snapshot` built on scratch databases made from template1: on a
/// Supabase server those lack the auth schema, the default privileges and the publication,
/// so the proof passed while testing something else. On the stand-in they now run on
/// databases cloned from a template carrying the platform, as the role migrations run as;
/// without one they refuse.
#[tokio::test]
async fn the_rollback_proof_runs_on_the_platform_surface() {
    let (scratch, template) = supabase_scratch();
    let db = TestDb::new().await;
    let proof = run(db.migrate().args([
        "verify",
        "--roundtrip",
        "--json",
        "--scratch-url",
        &scratch,
        "--scratch-template",
        &template,
    ]));
    assert_eq!(proof.code, 0, "{}{}", proof.stdout, proof.stderr);
    let v: serde_json::Value = serde_json::from_str(&proof.stdout).unwrap();
    for set in v["sets"].as_array().unwrap() {
        assert!(
            set["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["outcome"] == "pass"),
            "{set}"
        );
    }
    // the expected catalogs hold on the platform surface too (grants included)
    let snapshot = run(db.migrate().args([
        "snapshot",
        "--check",
        "--scratch-url",
        &scratch,
        "--scratch-template",
        &template,
    ]));
    assert_eq!(snapshot.code, 0, "{}{}", snapshot.stdout, snapshot.stderr);
    // from template1 on a Supabase-like server: refused
    let refused = run(db.migrate().args([
        "verify",
        "--roundtrip",
        "--set",
        "aethercrown98",
        "--scratch-url",
        &scratch,
    ]));
    assert_refused(
        &refused,
        1,
        "is Supabase (or set up like it): a scratch database made from template1 would lack",
    );
}

/// Every API role's effective privileges on every object of `public` and `witchcraft_auth`,
/// as README matrix rows: `| object | anon | authenticated | service_role |`. Letters: S
/// select, I insert, U update, D delete, T truncate; `I(c, …)`/`U(c, …)` column grants only;
/// `nextval` on sequences; `execute` on functions; `–` nothing. Monthly partitions collapse
/// to `<parent>_YYYY_MM`.
async fn grants_matrix(c: &mut sqlx::PgConnection) -> Vec<String> {
    let rows = strings(
        c,
        r#"WITH roles(r, n) AS (VALUES ('anon', 1), ('authenticated', 2), ('service_role', 3)),
         rels AS (
             SELECT c.oid, c.relkind,
                    regexp_replace(c.oid::regclass::text, '_[0-9]{4}_[0-9]{2}$', '_YYYY_MM') AS name
               FROM pg_class c
              WHERE c.relnamespace::regnamespace::text IN ('public', 'witchcraft_auth')
                AND c.relkind IN ('r', 'p', 'v', 'm', 'S')),
         cells AS (
             SELECT rels.name, roles.n,
                    CASE WHEN rels.relkind = 'S' THEN
                         CASE WHEN has_sequence_privilege(roles.r, rels.oid, 'USAGE') OR has_sequence_privilege(roles.r, rels.oid, 'UPDATE')
                              THEN 'nextval' ELSE '' END
                    ELSE concat_ws(' ',
                         nullif(concat(
                             CASE WHEN has_table_privilege(roles.r, rels.oid, 'SELECT') THEN 'S' END,
                             CASE WHEN has_table_privilege(roles.r, rels.oid, 'INSERT') THEN 'I' END,
                             CASE WHEN has_table_privilege(roles.r, rels.oid, 'UPDATE') THEN 'U' END,
                             CASE WHEN has_table_privilege(roles.r, rels.oid, 'DELETE') THEN 'D' END,
                             CASE WHEN has_table_privilege(roles.r, rels.oid, 'TRUNCATE') THEN 'T' END), ''),
                         (SELECT 'I(' || string_agg(a.attname, ', ' ORDER BY a.attnum) || ')' FROM pg_attribute a
                           WHERE a.attrelid = rels.oid AND a.attnum > 0 AND NOT a.attisdropped
                             AND NOT has_table_privilege(roles.r, rels.oid, 'INSERT')
                             AND has_column_privilege(roles.r, rels.oid, a.attnum, 'INSERT')),
                         (SELECT 'U(' || string_agg(a.attname, ', ' ORDER BY a.attnum) || ')' FROM pg_attribute a
                           WHERE a.attrelid = rels.oid AND a.attnum > 0 AND NOT a.attisdropped
                             AND NOT has_table_privilege(roles.r, rels.oid, 'UPDATE')
                             AND has_column_privilege(roles.r, rels.oid, a.attnum, 'UPDATE')))
                    END AS cell
               FROM rels CROSS JOIN roles
             UNION ALL
             SELECT p.oid::regprocedure::text, roles.n,
                    CASE WHEN has_function_privilege(roles.r, p.oid, 'EXECUTE') THEN 'execute' ELSE '' END
               FROM pg_proc p CROSS JOIN roles
              WHERE p.pronamespace::regnamespace::text IN ('public', 'witchcraft_auth'))
         SELECT '| ' || name || ' | '
                || string_agg(coalesce(nullif(cell, ''), '–'), ' | ' ORDER BY n) || ' |'
           FROM (SELECT DISTINCT name, n, cell FROM cells) d GROUP BY name ORDER BY 1"#,
    )
    .await;
    rows
}

/// The README's grants matrix is what both modes really give every API role, on every
/// table, partition, view, sequence and function of both sets.
#[tokio::test]
async fn the_readme_grants_matrix_is_what_each_role_gets_in_both_modes() {
    for set in ["aethercrown98", "witchcraft"] {
        let mut measured = Vec::new();
        for mode in MODES {
            let (_db, mut c) = migrated_in(mode, set).await;
            measured.push(grants_matrix(&mut c).await);
        }
        assert_eq!(measured[0], measured[1], "{set}: plain and Supabase differ");
        let header = "| object | anon | authenticated | service_role |";
        let written = readme_table(&format!("grants matrix: {set}"));
        assert!(
            written.first().map(String::as_str) == Some(header) && written[1..] == measured[0],
            "{set}: the README's grants matrix is out of date; it should read:\n<!-- grants matrix: {set} -->\n{header}\n| --- | --- | --- | --- |\n{}\n<!-- end of grants matrix: {set} -->",
            measured[0].join("\n")
        );
    }
}

/// `diff` and `verify` with drift on the stand-in, as `postgres`: a dropped index and a
/// grant the platform's defaults would have given are found, named, and repaired by
/// `diff --sql`.
#[tokio::test]
async fn drift_is_found_and_repaired_on_the_stand_in() {
    let (db, mut c) = migrated_in(Mode::Supabase, "aethercrown98").await;
    sqlx::raw_sql("DROP INDEX idx_tasks_status; GRANT ALL ON payments TO anon")
        .execute(&mut c)
        .await
        .unwrap();
    let diff = run(db.migrate().arg("diff"));
    assert_eq!(diff.code, 1, "{}", diff.stderr);
    assert!(
        diff.stdout.contains("missing     index idx_tasks_status"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("changed     grants on table payments"),
        "{}",
        diff.stdout
    );
    let verify = run(db.migrate().arg("verify"));
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify
            .stdout
            .contains("missing index idx_tasks_status (from 0003 indexes)"),
        "{}",
        verify.stdout
    );
    let sql = run(db.migrate().args(["diff", "--sql"]));
    sqlx::raw_sql(&sql.stdout)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sql.stdout));
    assert_eq!(run(db.migrate().arg("diff")).code, 0, "{}", sql.stdout);
    assert_eq!(run(db.migrate().arg("verify")).code, 0);
    assert_eq!(
        as_role(&mut c, "anon", None, "SELECT count(*) FROM payments").await,
        Err("42501".to_string())
    );
}

/// Makes `db` look migrated by another tool: the set applied up to `to`, migrate's own
/// history gone, and the other tool's history table there.
async fn migrated_by_another_tool(c: &mut sqlx::PgConnection, set: &str, to: i64, table_sql: &str) {
    migrate::engine::up(c, &embedded_set(set), Some(to), "5s", &quiet)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("DROP SCHEMA migrate CASCADE; {table_sql}"))
        .execute(&mut *c)
        .await
        .unwrap();
}

/// `adopt` takes over a database the Supabase CLI, refinery or sqlx migrated: it records
/// the version whose catalog the database holds, and `up`, `status` and `verify` continue
/// from there; it refuses, naming every difference, a database that is no version.
#[tokio::test]
async fn adopt_takes_over_what_another_tool_migrated() {
    for (mode, tool, table) in [
        (Mode::Supabase, "supabase", "CREATE SCHEMA IF NOT EXISTS supabase_migrations; CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, name text, statements text[]); INSERT INTO supabase_migrations.schema_migrations VALUES ('20250101000000', 'init', '{}')"),
        (Mode::Plain, "sqlx", "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text)"),
        (Mode::Plain, "refinery", "CREATE TABLE refinery_schema_history (version int PRIMARY KEY, name text)"),
    ] {
        let db = TestDb::in_mode(mode).await;
        let mut c = db.conn().await;
        migrated_by_another_tool(&mut c, "witchcraft", 5, table).await;
        let out = run(db.migrate().args(["adopt", "--from", tool, "--set", "witchcraft", "--json"]));
        assert_eq!(out.code, 0, "{tool}: {}{}", out.stdout, out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["sets"][0]["version"], 5, "{tool}");
        assert_eq!(v["sets"][0]["recorded"], serde_json::json!([1, 2, 3, 4, 5]));
        let status = run(db.migrate().args(["status", "--set", "witchcraft"]));
        assert!(status.stdout.contains("at 0005, 8 pending"), "{}", status.stdout);
        // a second adopt refuses: migrate keeps this database's history now
        let again = run(db.migrate().args(["adopt", "--from", tool, "--set", "witchcraft"]));
        assert_eq!(again.code, 1);
        assert!(again.stderr.contains("already has a history in migrate.history"), "{}", again.stderr);
        let up = run(db.migrate().args(["up", "--set", "witchcraft"]));
        assert_eq!(up.code, 0, "{}", up.stderr);
        // the other tool's history table, beside the set's tables, is not the set's
        if tool != "supabase" {
            let verify = run(db.migrate().arg("verify"));
            assert_eq!(verify.code, 1, "{tool}");
            assert!(verify.stdout.contains("unexpected table _") || verify.stdout.contains("unexpected table refinery"), "{}", verify.stdout);
            let other = if tool == "sqlx" { "_sqlx_migrations" } else { "refinery_schema_history" };
            sqlx::raw_sql(&format!("DROP TABLE {other}")).execute(&mut c).await.unwrap();
        }
        let verify = run(db.migrate().arg("verify"));
        assert_eq!(verify.code, 0, "{tool}: {}", verify.stdout);
    }
    // a database that is no version of the set: refused, every difference named
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    migrated_by_another_tool(
        &mut c,
        "aethercrown98",
        8,
        "CREATE TABLE _sqlx_migrations (version bigint)",
    )
    .await;
    sqlx::raw_sql("DROP INDEX idx_tasks_status; ALTER TABLE users ADD COLUMN nickname text")
        .execute(&mut c)
        .await
        .unwrap();
    let out = run(db
        .migrate()
        .args(["adopt", "--from", "sqlx", "--set", "aethercrown98"]));
    assert_refused(&out, 1, "the database is no version of this set; nearest is 0008, which differs in: missing index idx_tasks_status, unexpected column users.nickname; nothing was adopted");
    assert!(!has_history_schema(&mut c).await, "nothing was changed");
    // and without the other tool's history table, nothing to adopt
    let out = run(db
        .migrate()
        .args(["adopt", "--from", "refinery", "--set", "aethercrown98"]));
    assert_refused(&out, 1, "has no refinery_schema_history");
}

/// `export --supabase`, applied the way the Supabase CLI applies a migrations folder (each
/// file on its own, its history in supabase_migrations.schema_migrations), then `adopt
/// --from supabase`: the database is what `up` makes, and migrate takes it over.
#[tokio::test]
async fn export_for_the_supabase_cli_then_adopt() {
    let guard = temp_dir("export");
    let dir = guard.path().join("out");
    let db = TestDb::in_mode(Mode::Supabase).await;
    let out = run(db
        .migrate()
        .args(["export", "--set", "aethercrown98", "--json", "--supabase"])
        .arg(&dir));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let files: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted, "file names sort in migration order");
    let set = embedded_set("aethercrown98");
    let concurrent = set.migrations.iter().find(|m| m.up.no_transaction).unwrap();
    let statements = migrate::sets::split::split(&concurrent.up.sql)
        .unwrap()
        .len();
    assert_eq!(files.len(), set.migrations.len() - 1 + statements);
    assert!(
        files[0].starts_with("20240100000100_aethercrown98_supabase_auth_shim"),
        "{files:?}"
    );
    // the Supabase CLI: each file in a transaction of its own, recorded in its history
    let mut c = db.conn().await;
    sqlx::raw_sql("CREATE SCHEMA supabase_migrations; CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, name text)")
        .execute(&mut c)
        .await
        .unwrap();
    for file in &files {
        let sql = std::fs::read_to_string(dir.join(file)).unwrap();
        let single = migrate::sets::split::split(&sql).unwrap().len() == 1;
        let script = if single {
            sql.clone()
        } else {
            format!("BEGIN;\n{sql}\nCOMMIT;")
        };
        sqlx::raw_sql(&script)
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (version, name) = file.trim_end_matches(".sql").split_once('_').unwrap();
        sqlx::query("INSERT INTO supabase_migrations.schema_migrations VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut c)
            .await
            .unwrap();
    }
    let diff = run(db.migrate().args(["diff", "--set", "aethercrown98"]));
    assert_eq!(diff.code, 0, "{}", diff.stdout);
    let adopt = run(db
        .migrate()
        .args(["adopt", "--from", "supabase", "--set", "aethercrown98"]));
    assert_eq!(adopt.code, 0, "{}", adopt.stderr);
    assert!(
        adopt
            .stdout
            .contains("the database is at 0009; recorded 9 migration(s)"),
        "{}",
        adopt.stdout
    );
    assert_eq!(run(db.migrate().arg("verify")).code, 0);
    // a second export into the same folder is the same, and a changed file is not overwritten
    assert_eq!(
        run(db
            .migrate()
            .args(["export", "--set", "aethercrown98", "--supabase"])
            .arg(&dir))
        .code,
        0
    );
    std::fs::write(dir.join(&files[1]), "-- edited by hand\n").unwrap();
    let refused = run(db
        .migrate()
        .args(["export", "--set", "aethercrown98", "--supabase"])
        .arg(&dir));
    assert_refused(&refused, 1, "exists with other contents");
    std::fs::remove_dir_all(&dir).unwrap();
}
