//! Loading and applying a big migration file (a data backfill, a seed), against `psql -1 -f`
//! on the same file: at 1, 10 and 50 MB of 1,000-character `INSERT`s, the median time of
//! `migrate up` (reading, splitting and checking the file, then applying it in one
//! transaction with its history row) from a fresh process, next to psql's, each on its own
//! new database of one throwaway server. The goal: within 2x of psql at every size (the
//! load was quadratic: 10 s for 5 MB). Run with `cargo bench --bench big_file`.

mod common;

use common::{create_database, median, psql_of, run};
use migrate::cluster::{Cluster, ClusterOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

/// Writes a set of one migration of about `mb` megabytes into `dir`.
fn write_set(dir: &Path, mb: usize) {
    let set = dir.join("big");
    std::fs::create_dir_all(&set).expect("set dir");
    let row = "x".repeat(960);
    let mut up = std::io::BufWriter::new(
        std::fs::File::create(set.join("0001_backfill.up.sql")).expect("up file"),
    );
    writeln!(
        up,
        "CREATE TABLE backfill (id integer PRIMARY KEY, v text);"
    )
    .expect("write");
    let mut written = 0;
    let mut n = 0;
    while written < mb * 1024 * 1024 {
        let line = format!("INSERT INTO backfill VALUES ({n}, '{row}');\n");
        written += line.len();
        up.write_all(line.as_bytes()).expect("write");
        n += 1;
    }
    up.flush().expect("flush");
    std::fs::write(set.join("0001_backfill.down.sql"), "DROP TABLE backfill;\n").expect("down");
    std::fs::write(
        dir.join("migrations.toml"),
        "[[set]]\nname = \"big\"\ndir = \"big\"\n",
    )
    .expect("config");
}

fn main() {
    let cluster = Cluster::start(&ClusterOptions::default()).expect("a throwaway server");
    let psql = psql_of(&cluster);
    let createdb = |name: &str| create_database(&psql, &cluster, name);
    let dir = std::env::temp_dir().join(format!("migrate-bench-big-{}", std::process::id()));
    println!("| file | migrate up | psql -1 -f | ratio |");
    println!("|---|---|---|---|");
    let mut db = 0;
    for (mb, runs) in [(1, 5), (10, 3), (50, 3)] {
        write_set(&dir, mb);
        let file = dir.join("big/0001_backfill.up.sql");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            db += 1;
            let name = format!("big_{db}");
            createdb(&name);
            ours.push(run(Command::new(env!("CARGO_BIN_EXE_migrate"))
                .current_dir(&dir)
                .args([
                    "--set",
                    "big",
                    "up",
                    "--database-url",
                    &cluster.url(&name),
                ])));
            db += 1;
            let name = format!("big_{db}");
            createdb(&name);
            theirs.push(run(Command::new(&psql).args([
                "-X",
                "-q",
                "-1",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &cluster.url(&name),
                "-f",
                file.to_str().expect("path"),
            ])));
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "| {mb} MB | {:.2} s | {:.2} s | {:.2}x |",
            ours.as_secs_f64(),
            theirs.as_secs_f64(),
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
