//! Fleet apply: both sets (AetherCrown98 in schema `ac`, Witchcraft in `wc`) applied to 100
//! fresh databases of one throwaway server, by `migrate --targets FILE --parallel N up` for
//! N = 1, 4 and 8, against the same work done by a shell loop of single `migrate up` runs.
//! Prints the wall-clock time of each and its ratio to the loop. Every run starts from 100
//! new empty databases, after one unmeasured pass that warms the server. `cargo bench --bench fleet` (a few minutes).

use migrate::cluster::{Cluster, ClusterOptions};
use sqlx::{Connection, PgConnection};
use std::path::Path;
use std::time::{Duration, Instant};

const DATABASES: usize = 100;

/// Drops and creates the 100 databases; returns the targets file listing them.
async fn fresh_databases(cluster: &Cluster, dir: &Path) -> std::path::PathBuf {
    let mut admin = PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("admin connection");
    let mut urls = String::new();
    for i in 0..DATABASES {
        let db = format!("fleet_{i:03}");
        // One statement each: neither may run inside a transaction block.
        for sql in [
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::raw_sql(&sql)
                .execute(&mut admin)
                .await
                .expect("a fresh database");
        }
        urls.push_str(&cluster.url(&db));
        urls.push('\n');
    }
    let file = dir.join("targets.txt");
    std::fs::write(&file, urls).unwrap();
    file
}

fn timed(cmd: &mut std::process::Command) -> Duration {
    let started = Instant::now();
    let out = cmd.output().expect("running the benchmark command");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_migrate");
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec![("max_connections".into(), "300".into())],
        ..Default::default()
    })
    .expect("a throwaway server");
    let dir = std::env::temp_dir().join(format!("migrate-fleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let config = dir.join("migrations.toml");
    std::fs::write(
        &config,
        format!(
            "[[set]]\nname = \"aethercrown98\"\ndir = \"{root}/schema/aethercrown98\"\nschema = \"ac\"\n\n\
             [[set]]\nname = \"witchcraft\"\ndir = \"{root}/schema/witchcraft\"\nschema = \"wc\"\n"
        ),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "fleet apply: both sets on {DATABASES} fresh databases, one local server, {cores} cores"
    );
    println!("| run | wall clock | per database | ratio to the shell loop |");
    println!("| --- | --- | --- | --- |");
    // A first pass, not measured, so that no run pays for a cold server and page cache.
    let file = runtime.block_on(fresh_databases(&cluster, &dir));
    timed(
        std::process::Command::new(bin)
            .arg("--config")
            .arg(&config)
            .arg("--targets")
            .arg(&file)
            .args(["--parallel", "4", "up"])
            .stderr(std::process::Stdio::null()),
    );
    let file = runtime.block_on(fresh_databases(&cluster, &dir));
    let script = format!(
        "while read -r url; do DATABASE_URL=\"$url\" '{bin}' --config '{}' up >/dev/null || exit 1; done < '{}'",
        config.display(),
        file.display()
    );
    let shell = timed(std::process::Command::new("bash").args(["-c", &script]));
    let row = |label: &str, d: Duration| {
        println!(
            "| {label} | {:.1} s | {:.0} ms | {:.2} |",
            d.as_secs_f64(),
            d.as_secs_f64() * 1000.0 / DATABASES as f64,
            d.as_secs_f64() / shell.as_secs_f64()
        );
    };
    row("shell loop of `migrate up`", shell);
    for parallel in [1, 4, 8] {
        let file = runtime.block_on(fresh_databases(&cluster, &dir));
        let d = timed(
            std::process::Command::new(bin)
                .arg("--config")
                .arg(&config)
                .arg("--targets")
                .arg(&file)
                .args(["--parallel", &parallel.to_string(), "up"])
                .stderr(std::process::Stdio::null()),
        );
        row(&format!("`--targets --parallel {parallel}`"), d);
    }
    std::fs::remove_dir_all(&dir).ok();
    drop(cluster);
}
