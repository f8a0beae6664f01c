//! What the command-timing benchmarks share: the median of a sample, a command timed to its
//! successful end, psql beside the throwaway server, and psql applying a set: the floor the
//! benchmarks measure `migrate` against.

// Each benchmark includes this module and uses a part of it.
#![allow(dead_code)]

use migrate::cluster::Cluster;
use std::path::{Path, PathBuf};
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
    cluster.program("psql").unwrap_or_else(|| "psql".into())
}

/// Creates database `name` on `cluster` with `psql`.
pub fn create_database(psql: &Path, cluster: &Cluster, name: &str) {
    run(Command::new(psql).args([
        "-X",
        "-q",
        "-d",
        &cluster.url("postgres"),
        "-c",
        &format!("CREATE DATABASE {name}"),
    ]));
}

/// The up files of `set` in the project, in version order.
fn up_files(set: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(set);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("set dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
        .collect();
    files.sort();
    files
}

/// One psql applying every up file of `set` to the database `url`: each file in a
/// transaction of its own (BEGIN, the file, COMMIT), a no-transaction file as it is.
pub fn psql_applying(psql: &Path, url: &str, set: &str) -> Command {
    let mut cmd = Command::new(psql);
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]);
    for file in up_files(set) {
        let text = std::fs::read_to_string(&file).expect("up file");
        if text.starts_with("-- migrate:no-transaction") {
            cmd.arg("-f").arg(&file);
        } else {
            cmd.args(["-c", "BEGIN", "-f"])
                .arg(&file)
                .args(["-c", "COMMIT"]);
        }
    }
    cmd
}
