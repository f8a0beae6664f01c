//! What the command-timing benchmarks share: the median of a sample, a command timed to its
//! successful end, and psql beside the throwaway server.

use migrate::cluster::Cluster;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `cmd` to its end, which must be a success, and returns how long it took.
pub fn run(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// The psql of the server's binaries when it is there, else the one on PATH.
pub fn psql_of(cluster: &Cluster) -> PathBuf {
    let beside = cluster.bindir().join("psql");
    if beside.exists() {
        beside
    } else {
        "psql".into()
    }
}

/// Creates database `name` on `cluster` with `psql`.
pub fn create_database(psql: &PathBuf, cluster: &Cluster, name: &str) {
    run(Command::new(psql).args([
        "-X",
        "-q",
        "-d",
        &cluster.url("postgres"),
        "-c",
        &format!("CREATE DATABASE {name}"),
    ]));
}
