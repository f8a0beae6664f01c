//! Introspection cost: reads the catalog of databases of growing size and prints the number
//! of queries and the median time of one introspection. Runs on a throwaway server from the
//! local binaries: `cargo bench --bench introspect`.

use migrate::catalog::introspect;
use migrate::cluster::{Cluster, ClusterOptions};
use migrate::config::Config;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(url: &str, home: &str, label: &str) {
    let mut conn = migrate::engine::connect(url).await.expect("connect");
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..15 {
        let start = Instant::now();
        last = Some(introspect(&mut conn, home).await.expect("introspect"));
        times.push(start.elapsed());
    }
    let last = last.expect("one run");
    println!(
        "{label:<45} {:>6} objects {:>3} queries  median {:>7.1} ms",
        last.catalog.objects.len(),
        last.queries,
        median(times).as_secs_f64() * 1000.0
    );
}

fn main() {
    let cluster = Cluster::start(&ClusterOptions::default()).expect("a throwaway server");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut admin = migrate::engine::connect(&cluster.url("postgres")).await.expect("admin");
        let config = Config::parse(migrate::config::EMBEDDED, "embedded", None).expect("config");
        for (db, tables) in [("empty", 0), ("both_sets", 0), ("large_200", 200), ("large_1000", 1000)] {
            sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&mut admin).await.expect("db");
            let url = cluster.url(db);
            let mut conn = migrate::engine::connect(&url).await.expect("connect");
            if db != "empty" {
                for s in &config.sets {
                    let mut set = config.load_set(s).expect("set");
                    set.schema = s.name.clone();
                    migrate::engine::up(&mut conn, &set, None, "5s", &|_| {}).await.expect("up");
                }
            }
            // Extra tables with a key, a foreign key, an index, RLS and a policy each.
            for i in 0..tables {
                sqlx::raw_sql(&format!(
                    "CREATE TABLE t{i} (id bigint PRIMARY KEY, parent bigint REFERENCES t{i} (id), note text DEFAULT 'x', created_at timestamptz NOT NULL DEFAULT now());
                     CREATE INDEX t{i}_created ON t{i} (created_at);
                     ALTER TABLE t{i} ENABLE ROW LEVEL SECURITY;
                     CREATE POLICY t{i}_read ON t{i} FOR SELECT USING (note <> 'hidden');"
                ))
                .execute(&mut conn)
                .await
                .expect("table");
            }
            let label = match tables {
                0 if db == "empty" => "empty database".to_string(),
                0 => "both sets, each in its own schema".to_string(),
                n => format!("both sets + {n} tables"),
            };
            measure(&url, "public", &label).await;
        }
    });
    cluster.stop().expect("stop");
}
