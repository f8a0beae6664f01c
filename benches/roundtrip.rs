//! The rollback proof of both sets next to its floor on the same machine. Ours:
//! `migrate verify --roundtrip` from a fresh process, on its own throwaway server (with the
//! cache of initialised data directories warm, as after a first run, and cold). The floor:
//! initdb, start a server, one psql per set applying its up files (each set on a database of
//! its own, a transaction per file but for no-transaction files), stop. The goal: within 1.5x of
//! the floor. Run with `cargo bench --bench roundtrip`.

mod common;

use common::{create_database, median, psql_applying, run};
use migrate::cluster::{Cluster, ClusterOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

/// One floor run: a new server (its directory in memory when `in_memory`), both sets applied
/// by psql, the server stopped.
fn floor(psql: &Path, in_memory: bool) -> Duration {
    let started = Instant::now();
    let cluster = Cluster::start(&ClusterOptions {
        // initdb, and nothing cached
        cache_dir: Some(PathBuf::new()),
        in_memory,
        ..Default::default()
    })
    .expect("a throwaway server");
    for set in ["aethercrown98", "witchcraft"] {
        create_database(psql, &cluster, set);
        run(&mut psql_applying(psql, &cluster.url(set), set));
    }
    cluster.stop().expect("stop");
    started.elapsed()
}

/// One proof of both sets, from a fresh process, with `cache` as its cache directory.
fn proof(cache: &Path) -> Duration {
    let started = Instant::now();
    run(Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["verify", "--roundtrip", "-q"])
        .env("MIGRATE_CACHE_DIR", cache)
        .env_remove("DATABASE_URL"));
    started.elapsed()
}

fn main() {
    let bindir = migrate::cluster::find_bindir().expect("server binaries");
    let psql = migrate::cluster::program_of(&bindir, "psql").unwrap_or_else(|| "psql".into());
    let warm = tempfile::tempdir().expect("cache");
    proof(warm.path());
    let (mut floors, mut memory_floors) = (Vec::new(), Vec::new());
    let (mut warms, mut colds) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        floors.push(floor(&psql, false));
        memory_floors.push(floor(&psql, true));
        warms.push(proof(warm.path()));
        let cold = tempfile::tempdir().expect("cache");
        colds.push(proof(cold.path()));
    }
    let floor = median(floors);
    println!("| run (median of {RUNS}) | time | ratio to the floor |");
    println!("|---|---|---|");
    println!(
        "| floor: initdb, start, psql applying both sets, stop | {:.2} s | 1.00 |",
        floor.as_secs_f64()
    );
    for (what, times) in [
        (
            "floor with the server's directory in memory (/dev/shm)",
            memory_floors,
        ),
        ("verify --roundtrip, data directory cached", warms),
        ("verify --roundtrip, first run (initdb)", colds),
    ] {
        let t = median(times);
        println!(
            "| {what} | {:.2} s | {:.2} |",
            t.as_secs_f64(),
            t.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
