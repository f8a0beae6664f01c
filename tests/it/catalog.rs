//! The catalog model against real databases: the committed expected catalogs match what the
//! migrations create, and the text does not depend on oids or on the schema a set lives in.
//! (What introspection costs is counted on the wire: `promises.rs`.)

use crate::harness::*;
use migrate::catalog::{introspect, render};
use migrate::engine::{self, DownTarget};
use migrate::run::Run;

#[tokio::test]
async fn the_committed_expected_catalogs_match_the_migrations() {
    let run = Run::default();
    for name in ["aethercrown98", "witchcraft"] {
        let db = TestDb::new().await;
        let mut c = db.conn().await;
        let set = embedded_set(name);
        let built = render(
            &migrate::verify::snapshot::build(&run, &mut c, &set)
                .await
                .unwrap(),
        );
        let committed = set.expected_catalog.clone().unwrap_or_default();
        if built != committed {
            let diff = similar::TextDiff::from_lines(&committed, &built)
                .unified_diff()
                .header("committed", "from the migrations")
                .to_string();
            panic!("schema/{name}/expected_catalog.txt is out of date; run `migrate snapshot` and review:\n{diff}");
        }
        // the per-version catalogs that verify replays end where the full one does
        let steps = migrate::verify::snapshot::committed_versions(&set).unwrap();
        let db = TestDb::new().await;
        let mut c = db.conn().await;
        let built = migrate::verify::snapshot::per_migration(&run, &mut c, &set)
            .await
            .unwrap();
        assert!(
            built == steps,
            "schema/{name}/expected_versions.txt is out of date; run `migrate snapshot`"
        );
    }
}

#[tokio::test]
async fn dropping_and_recreating_a_schema_gives_the_same_text() {
    let run = Run::default();
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    for set in [embedded_set("witchcraft")] {
        engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
        let first = render(&introspect(&run, &mut c, "public").await.unwrap().catalog);
        roll_back(&mut c, &set, DownTarget::To(0)).await;
        // something in between takes the oids the first objects had
        sqlx::raw_sql("CREATE TABLE spacer (id int); DROP TABLE spacer;")
            .execute(&mut c)
            .await
            .unwrap();
        engine::up(&mut c, &set, None, "5s", &quiet).await.unwrap();
        let second = render(&introspect(&run, &mut c, "public").await.unwrap().catalog);
        assert_eq!(first, second);
        assert!(first.contains("table users\n"), "{first}");
    }
}

#[tokio::test]
async fn a_set_renders_the_same_in_public_and_in_its_own_schema() {
    let run = Run::default();
    for name in ["aethercrown98", "witchcraft"] {
        let db = TestDb::new().await;
        let mut c = db.conn().await;
        let mut set = embedded_set(name);
        set.schema = format!("{name}_ns");
        let built = render(
            &migrate::verify::snapshot::build(&run, &mut c, &set)
                .await
                .unwrap(),
        );
        assert_eq!(built, set.expected_catalog.clone().unwrap(), "{name}");
    }
}

/// What depends on what, as planning a repair reads it: a view on the view it reads and on
/// the column it shows, a policy on the function it calls and on its column, a function on
/// the enum it takes, a foreign key on the key it references. Plain introspection does not
/// read them (one query less).
#[tokio::test]
async fn dependencies_are_read_for_planning() {
    let run = Run::default();
    let db = TestDb::new().await;
    let mut c = db.conn().await;
    sqlx::raw_sql(
        "CREATE TYPE mood AS ENUM ('sad', 'ok');
         CREATE TABLE t (id integer PRIMARY KEY, amount integer, m mood);
         CREATE TABLE r (t_id integer REFERENCES t (id));
         CREATE VIEW v1 AS SELECT id, amount FROM t;
         CREATE VIEW v2 AS SELECT id FROM v1;
         CREATE FUNCTION allowed(integer) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 > 0 $$;
         CREATE FUNCTION happy(mood) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 = 'ok' $$;
         ALTER TABLE t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY p ON t FOR SELECT USING (allowed(amount));",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let read = migrate::catalog::introspect_with_dependencies(&run, &mut c, "public")
        .await
        .unwrap();
    let needs = |key: &str| -> Vec<String> {
        read.catalog
            .dependencies
            .get(key)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(needs("view v2"), ["view v1"]);
    assert_eq!(needs("view v1"), ["column t.amount", "column t.id"]);
    assert!(
        needs("policy t.p").contains(&"function allowed(integer)".to_string())
            && needs("policy t.p").contains(&"column t.amount".to_string()),
        "{:?}",
        needs("policy t.p")
    );
    assert_eq!(needs("function happy(mood)"), ["enum mood"]);
    assert!(
        needs("constraint r.r_t_id_fkey").contains(&"constraint t.t_pkey".to_string()),
        "{:?}",
        needs("constraint r.r_t_id_fkey")
    );
    let plain = introspect(&run, &mut c, "public").await.unwrap();
    assert!(plain.catalog.dependencies.is_empty());
    assert_eq!(plain.queries + 1, read.queries);
}

/// 600 tables with a key and a TOASTed column: 2,400 relations beside the system's, past the
/// size from which helper sessions share the reading. A copy of a database made once.
async fn large_catalog() -> TestDb {
    static MADE: std::sync::OnceLock<TestDb> = std::sync::OnceLock::new();
    let made = MADE.get_or_init(|| {
        block_on(|| async {
            let db = TestDb::new().await;
            let mut c = db.conn().await;
            sqlx::raw_sql(
                "DO $$ BEGIN FOR i IN 1..600 LOOP
                   EXECUTE format('CREATE TABLE wide_%s (id int PRIMARY KEY, v text DEFAULT %L)', i, 'x');
                 END LOOP; END $$",
            )
            .execute(&mut c)
            .await
            .unwrap();
            drop(c);
            db
        })
    });
    TestDb::copy_of(made).await
}

/// A large catalog is read over the reading session and its helpers (two, one on two
/// cores), and comes out exactly
/// as one session alone reads it, dependencies included. (A connection `migrate` did not
/// open itself has no options to open helpers from, so it reads alone.)
#[tokio::test]
async fn a_large_catalog_is_shared_out_over_helper_sessions_and_reads_the_same() {
    let run = Run::default();
    let db = large_catalog().await;
    let mut alone = db.conn().await;
    let by_one = migrate::catalog::introspect_with_dependencies(&run, &mut alone, "public")
        .await
        .unwrap();
    let mut c = engine::connect(&run, &db.url).await.unwrap();
    let shared = migrate::catalog::introspect_with_dependencies(&run, &mut c, "public")
        .await
        .unwrap();
    assert_eq!(by_one.sessions, 1);
    assert_eq!(shared.sessions, 1 + migrate::catalog::helper_sessions());
    assert!(shared.catalog.objects.len() > 1800);
    assert_eq!(render(&shared.catalog), render(&by_one.catalog));
    assert_eq!(shared.catalog.dependencies, by_one.catalog.dependencies);
    assert_eq!(shared.queries, by_one.queries);
    // the helpers are gone when it returns
    let helpers = scalar_i64(
        &mut alone,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid() AND pid <> {}",
            db.name,
            scalar_i64(&mut c, "SELECT pg_backend_pid()::bigint").await
        ),
    )
    .await;
    assert_eq!(helpers, 0);
}

/// The helpers read from the reading session's snapshot: tables created by another session
/// all through the reading never show up as a table without its columns, or columns
/// without their table, though tables and columns are read by different sessions.
#[tokio::test]
async fn helper_sessions_read_the_same_snapshot_while_tables_are_created() {
    let run = Run::default();
    let db = large_catalog().await;
    let mut writer = db.conn().await;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let churn = async {
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            sqlx::raw_sql(&format!("CREATE TABLE churn_{n} (id int, v text)"))
                .execute(&mut writer)
                .await
                .unwrap();
            n += 1;
        }
        n
    };
    let mut c = engine::connect(&run, &db.url).await.unwrap();
    let reads = async {
        let mut mismatches = Vec::new();
        for _ in 0..5 {
            let read = introspect(&run, &mut c, "public").await.unwrap();
            assert_eq!(read.sessions, 1 + migrate::catalog::helper_sessions());
            let objects = &read.catalog.objects;
            for key in objects.keys() {
                if let Some(table) = key.strip_prefix("table churn_") {
                    for column in ["id", "v"] {
                        if !objects.contains_key(&format!("column churn_{table}.{column}")) {
                            mismatches.push(format!("{key} without column {column}"));
                        }
                    }
                }
                if let Some(column) = key.strip_prefix("column churn_") {
                    let table = column.split('.').next().unwrap();
                    if !objects.contains_key(&format!("table churn_{table}")) {
                        mismatches.push(format!("{key} without its table"));
                    }
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        mismatches
    };
    let (created, mismatches) = tokio::join!(churn, reads);
    assert!(created > 5, "{created}");
    assert!(mismatches.is_empty(), "{mismatches:?}");
}

/// A role allowed one connection cannot open helpers: the reading session reads everything,
/// and the result is the same.
#[tokio::test]
async fn a_helper_that_cannot_connect_leaves_its_share_to_the_reading_session() {
    let run = Run::default();
    let db = large_catalog().await;
    let mut direct = db.conn().await;
    let role = format!("one_conn_{}", db.name);
    sqlx::raw_sql(&format!("CREATE ROLE \"{role}\" LOGIN CONNECTION LIMIT 1"))
        .execute(&mut direct)
        .await
        .unwrap();
    let by_one = introspect(&run, &mut direct, "public").await.unwrap();
    let mut u = url::Url::parse(&db.url).unwrap();
    u.set_username(&role).unwrap();
    let mut c = engine::connect(&run, u.as_str()).await.unwrap();
    // read relative to the same owner, as the first role owns everything
    let owner = strings(&mut direct, "SELECT current_user::text").await;
    let read =
        migrate::catalog::introspect_owned_by(&run, &mut c, "public", false, Some(&owner[0]))
            .await
            .unwrap();
    assert_eq!(read.sessions, 1);
    assert_eq!(render(&read.catalog), render(&by_one.catalog));
}
