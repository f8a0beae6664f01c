//! Introspection and diff cost at 1k, 10k and 100k catalog objects, against `pg_dump
//! --schema-only` on the same database. The databases are a schema-per-tenant layout (the
//! shape that grows a catalog fastest): every tenant schema holds the same tables, each with
//! a key, a foreign key, an index, row level security, a policy, grants and a comment, and a
//! sequence, an enum and a function. Prints one row per size: objects, queries sent, the
//! median introspection time from a new session (connecting included, as in one run of the
//! CLI) and per object, the same on a session that has read the catalog before, the time to
//! compare two such catalogs, and pg_dump's time; then the same for Witchcraft at its head.
//! Runs on a throwaway server from the local binaries:
//! `cargo bench --bench introspect` (the 100k database takes a few minutes to build).

use migrate::catalog::introspect;
use migrate::cluster::{Cluster, ClusterOptions};
use migrate::run::Run;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The DDL of one tenant schema with `tables` tables.
fn tenant(schema: &str, tables: usize) -> String {
    let mut sql = format!(
        "CREATE SCHEMA {schema};
         CREATE TYPE {schema}.state AS ENUM ('new', 'active', 'closed');
         CREATE SEQUENCE {schema}.ticket_seq;
         CREATE FUNCTION {schema}.touch() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$ BEGIN RETURN NEW; END $$;
         GRANT USAGE ON SCHEMA {schema} TO PUBLIC;"
    );
    for t in 0..tables {
        sql.push_str(&format!(
            "CREATE TABLE {schema}.t{t} (id bigint PRIMARY KEY, parent bigint REFERENCES {schema}.t{t} (id),
                 state {schema}.state NOT NULL DEFAULT 'new', note text DEFAULT 'x',
                 created_at timestamptz NOT NULL DEFAULT now());
             CREATE INDEX t{t}_created ON {schema}.t{t} (created_at);
             ALTER TABLE {schema}.t{t} ENABLE ROW LEVEL SECURITY;
             CREATE POLICY t{t}_read ON {schema}.t{t} FOR SELECT USING (note <> 'hidden');
             GRANT SELECT ON {schema}.t{t} TO PUBLIC;
             COMMENT ON TABLE {schema}.t{t} IS 'tenant table {t}';"
        ));
    }
    sql
}

struct Row {
    label: &'static str,
    objects: usize,
    queries: usize,
    introspect: Duration,
    warm: Duration,
    with_dependencies: Duration,
    compare: Duration,
    pg_dump: Duration,
}

async fn measure(cluster: &Cluster, db: &str, label: &'static str, runs: usize) -> Row {
    let run = Run::default();
    let url = cluster.url(db);
    // What one run of `migrate diff` or `verify` pays: a new session (connected, so its
    // caches are cold, as pg_dump's are) for every introspection.
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let mut conn = migrate::engine::connect(&run, &url).await.expect("connect");
        last = Some(
            introspect(&run, &mut conn, "public")
                .await
                .expect("introspect"),
        );
        times.push(start.elapsed());
    }
    let last = last.expect("one run");
    let mut conn = migrate::engine::connect(&run, &url).await.expect("connect");
    let mut warm = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        introspect(&run, &mut conn, "public")
            .await
            .expect("introspect");
        warm.push(start.elapsed());
    }
    let mut planned = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let mut conn = migrate::engine::connect(&run, &url).await.expect("connect");
        migrate::catalog::introspect_with_dependencies(&run, &mut conn, "public")
            .await
            .expect("introspect");
        planned.push(start.elapsed());
    }
    let other = introspect(&run, &mut conn, "public")
        .await
        .expect("introspect");
    let start = Instant::now();
    let drift = migrate::diff::compare(&last.catalog, &other.catalog);
    let compare = start.elapsed();
    assert!(drift.is_empty());
    let mut dumps = Vec::new();
    for _ in 0..runs.min(3) {
        let start = Instant::now();
        let program = cluster
            .program("pg_dump")
            .unwrap_or_else(|| "pg_dump".into());
        let out = std::process::Command::new(program)
            .args(["--schema-only", "--dbname", &url, "--file", "/dev/null"])
            .output()
            .expect("pg_dump");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dumps.push(start.elapsed());
    }
    Row {
        label,
        objects: last.catalog.objects.len(),
        queries: last.queries,
        introspect: median(times),
        warm: median(warm),
        with_dependencies: median(planned),
        compare,
        pg_dump: median(dumps),
    }
}

fn main() {
    let run = Run::default();
    let cluster = Cluster::start(&ClusterOptions::default()).expect("a throwaway server");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rows = runtime.block_on(async {
        let mut admin = migrate::engine::connect(&run, &cluster.url("postgres"))
            .await
            .expect("admin");
        let mut rows = Vec::new();
        // (database, tenant schemas, tables per schema, introspection runs): about 11
        // objects per table and 8 per schema.
        for (db, label, schemas, tables, runs) in [
            ("objects_1k", "1k", 2, 45, 15),
            ("objects_10k", "10k", 20, 45, 7),
            ("objects_100k", "100k", 200, 45, 3),
        ] {
            sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
                .execute(&mut admin)
                .await
                .expect("db");
            let mut conn = migrate::engine::connect(&run, &cluster.url(db))
                .await
                .expect("connect");
            for s in 0..schemas {
                sqlx::raw_sql(&tenant(&format!("tenant_{s}"), tables))
                    .execute(&mut conn)
                    .await
                    .expect("tenant");
            }
            sqlx::raw_sql("VACUUM ANALYZE")
                .execute(&mut conn)
                .await
                .expect("analyze");
            rows.push(measure(&cluster, db, label, runs).await);
        }
        // A real schema: Witchcraft at its head, whose shape (partitions, views, policies
        // calling functions) the tenant layout does not have. Its dependency read ran in a
        // nested loop (93 ms) until the planner's estimate of the edges was fixed.
        sqlx::raw_sql("CREATE DATABASE witchcraft_head")
            .execute(&mut admin)
            .await
            .expect("db");
        let config = migrate::config::Config::parse(migrate::config::EMBEDDED, "embedded", None)
            .expect("the embedded configuration");
        let set = config
            .sets
            .iter()
            .find(|s| s.name == "witchcraft")
            .expect("the witchcraft set");
        let set = config.load_set(set).expect("the witchcraft set loads");
        let mut conn = migrate::engine::connect(&run, &cluster.url("witchcraft_head"))
            .await
            .expect("connect");
        migrate::engine::up(&mut conn, &set, None, "5s", &|_| {})
            .await
            .expect("witchcraft applies");
        rows.push(measure(&cluster, "witchcraft_head", "Witchcraft", 15).await);
        rows
    });
    println!("| size | objects | queries | introspection, new session (median) | per object | same session again | with dependencies (diff --sql) | compare two catalogs | pg_dump --schema-only | introspection / pg_dump |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.0} ms | {:.1} µs | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} |",
            r.label,
            r.objects,
            r.queries,
            ms(r.introspect),
            ms(r.introspect) * 1000.0 / r.objects as f64,
            ms(r.warm),
            ms(r.with_dependencies),
            ms(r.compare),
            ms(r.pg_dump),
            r.introspect.as_secs_f64() / r.pg_dump.as_secs_f64()
        );
    }
    cluster.stop().expect("stop");
}
