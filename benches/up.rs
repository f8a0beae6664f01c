//! `migrate up` of each set on a fresh database, against its floor: one psql process applying
//! the same up files, each in a transaction of its own (a `-- migrate:no-transaction` file
//! statement by statement, as psql runs it), on a fresh database of the same throwaway
//! server, made before the timing starts. Medians of 19 runs, the two taking turns. Run with
//! `cargo bench --bench up`.

mod common;

use common::{create_database, median, psql_applying, psql_of, run};
use migrate::cluster::{Cluster, ClusterOptions};
use std::process::Command;
use std::time::Duration;

fn main() {
    let cluster = Cluster::start(&ClusterOptions::default()).expect("a throwaway server");
    let psql = psql_of(&cluster);
    // Every database is made before anything is timed, and the server then checkpoints:
    // the writes of making them do not land in a timed run.
    let rounds = 20;
    let mut ready: Vec<String> = (0..2 * 2 * rounds)
        .map(|n| {
            let name = format!("up_{n}");
            create_database(&psql, &cluster, &name);
            cluster.url(&name)
        })
        .collect();
    run(Command::new(&psql).args([
        "-X",
        "-q",
        "-d",
        &cluster.url("postgres"),
        "-c",
        "CHECKPOINT",
    ]));
    let mut fresh = || ready.pop().expect("a database for each run");
    println!(
        "| set | migrate up | psql, a transaction per file | ratio | median of the pairs' ratios (lowest, highest) |"
    );
    println!("|---|---|---|---|---|");
    let (mut all_ours, mut all_theirs) = (Duration::ZERO, Duration::ZERO);
    let mut pair_sums: Vec<(Duration, Duration)> = Vec::new();
    for set in ["aethercrown98", "witchcraft"] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
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
        let pairs: Vec<(Duration, Duration)> =
            ours.iter().copied().zip(theirs.iter().copied()).collect();
        if pair_sums.is_empty() {
            pair_sums = pairs.clone();
        } else {
            for (sum, (m, f)) in pair_sums.iter_mut().zip(&pairs) {
                *sum = (sum.0 + *m, sum.1 + *f);
            }
        }
        let (ours, theirs) = (median(ours), median(theirs));
        all_ours += ours;
        all_theirs += theirs;
        println!(
            "| {set} | {:.0} ms | {:.0} ms | {:.2}x | {} |",
            ours.as_secs_f64() * 1000.0,
            theirs.as_secs_f64() * 1000.0,
            ours.as_secs_f64() / theirs.as_secs_f64(),
            paired(&pairs)
        );
    }
    println!(
        "| both | {:.0} ms | {:.0} ms | {:.2}x | {} |",
        all_ours.as_secs_f64() * 1000.0,
        all_theirs.as_secs_f64() * 1000.0,
        all_ours.as_secs_f64() / all_theirs.as_secs_f64(),
        paired(&pair_sums)
    );
}

/// The median of the ratios of runs that took turns, with the lowest and the highest: a
/// machine whose speed drifts moves both runs of a pair alike.
fn paired(pairs: &[(Duration, Duration)]) -> String {
    let mut ratios: Vec<f64> = pairs
        .iter()
        .map(|(m, f)| m.as_secs_f64() / f.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    format!(
        "{:.2}x ({:.2}x, {:.2}x)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    )
}
