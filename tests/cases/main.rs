//! The table-driven integration tests, one named test per row: the bad-input catalogue, the
//! corpus of database pairs, the single changes to each set, the killed runs and the kinds
//! of change `new --from` generates migrations for. Each row can
//! be run alone by its name, as with any test (`cargo test --test cases -- 'corpus::view'`),
//! and a failing row is reported by its name.
//!
//! The rows run on libtest-mimic's runner (this target has no libtest harness), on four
//! threads, fewer when `RUST_TEST_THREADS` asks fewer, any number with `--test-threads`.
//! Every row runs against the real Postgres `harness` gives, in a fresh database of its own.

#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;

mod catalogue;
mod corpus;
mod crash;
mod generate;
mod mutations;

use libtest_mimic::{Arguments, Trial};
use std::future::Future;

/// One named row: `check` run to its end on a tokio runtime of its own. A panic fails the row.
pub fn case<F, Fut>(name: String, check: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    Trial::test(name, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(check());
        Ok(())
    })
}

/// The threads the rows run on unless `--test-threads` says otherwise.
const ROW_THREADS: usize = 4;

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        // RUST_TEST_THREADS up to four, else four. The rows keep two cores busy with four
        // threads and are slower with more (measured: 106 s with 4, 111 s with 8), while the
        // project's `.cargo/config.toml` asks eight for the tests that wait on a server's
        // clock; `--test-threads N` gives any number.
        let wanted = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0);
        args.test_threads = Some(wanted.map_or(ROW_THREADS, |n| n.min(ROW_THREADS)));
    }
    let mut trials = Vec::new();
    trials.extend(catalogue::trials());
    trials.extend(corpus::trials());
    trials.extend(crash::trials());
    trials.extend(generate::trials());
    trials.extend(mutations::trials());
    let conclusion = libtest_mimic::run(&args, trials);
    if let Err(why) = crash::the_kills_spread() {
        eprintln!("error: {why}");
        std::process::exit(101);
    }
    conclusion.exit();
}
