//! `migrate up` of each set on a fresh database, against its floor: one psql process applying
//! the same up files, each in a transaction of its own (a `-- migrate:no-transaction` file
//! statement by statement, as psql runs it), on a fresh database of the same throwaway
//! server. Medians of 9 runs, the two taking turns. Run with `cargo bench --bench up`.

mod common;

use common::{create_database, median, psql_applying, psql_of, run};
use migrate::cluster::{Cluster, ClusterOptions};
use std::process::Command;
use std::time::Duration;

fn main() {
    let cluster = Cluster::start(&ClusterOptions::default()).expect("a throwaway server");
    let psql = psql_of(&cluster);
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        let name = format!("up_{n}");
        create_database(&psql, &cluster, &name);
        cluster.url(&name)
    };
    println!("| set | migrate up | psql, a transaction per file | ratio |");
    println!("|---|---|---|---|");
    let (mut all_ours, mut all_theirs) = (Duration::ZERO, Duration::ZERO);
    for set in ["aethercrown98", "witchcraft"] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..10 {
            let (a, b) = (fresh(), fresh());
            let mine = || {
                run(Command::new(env!("CARGO_BIN_EXE_migrate")).args([
                    "--set",
                    set,
                    "up",
                    "--database-url",
                    &a,
                ]))
            };
            let floor = || run(&mut psql_applying(&psql, &b, set));
            // the first round warms the server's caches and is not counted
            let (m, f) = if round % 2 == 0 {
                (mine(), floor())
            } else {
                let f = floor();
                (mine(), f)
            };
            if round > 0 {
                ours.push(m);
                theirs.push(f);
            }
        }
        let (ours, theirs) = (median(ours), median(theirs));
        all_ours += ours;
        all_theirs += theirs;
        println!(
            "| {set} | {:.0} ms | {:.0} ms | {:.2}x |",
            ours.as_secs_f64() * 1000.0,
            theirs.as_secs_f64() * 1000.0,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    println!(
        "| both | {:.0} ms | {:.0} ms | {:.2}x |",
        all_ours.as_secs_f64() * 1000.0,
        all_theirs.as_secs_f64() * 1000.0,
        all_ours.as_secs_f64() / all_theirs.as_secs_f64()
    );
}
