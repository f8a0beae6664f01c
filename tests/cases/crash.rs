//! Crash safety: `migrate up` killed with SIGKILL at seeded random moments, 50 times per
//! set, half of AetherCrown98's kills aimed inside its no-transaction file (0003, indexes
//! built concurrently). After each kill, once the server has ended the killed session,
//! `status` must tell the truth (its version is the history's, and a half-built
//! no-transaction migration is reported as partly applied exactly when its indexes are
//! there), the next `up` must complete, and `verify` must pass.
//!
//! The seed is `MIGRATE_CRASH_SEED` (default fixed), and every failure names its trial.

use crate::harness::*;
use sqlx::PgConnection;
use std::io::BufRead;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TRIALS_PER_SET: usize = 50;

/// Trials whose kill left the no-transaction file half done (its indexes partly there).
static HALF_DONE: AtomicUsize = AtomicUsize::new(0);
/// Trials run to their end whose kill was aimed inside the no-transaction file.
static AIMED: AtomicUsize = AtomicUsize::new(0);
/// Trials whose kill left the set at each version, per set: how the kills spread.
static AT_VERSION: Mutex<Vec<(&str, i64)>> = Mutex::new(Vec::new());

/// When one trial kills its run.
struct Aim {
    /// Kill this long after the process started, or after it reported `after`.
    delay: Duration,
    /// A line of the run's standard error to wait for before the delay starts.
    after: Option<String>,
    /// Whether the kill is aimed inside AetherCrown98's no-transaction file.
    inside_no_tx: bool,
}

/// A small deterministic generator (xorshift64*), so a failing trial can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, limit).
    fn below(&mut self, limit: Duration) -> Duration {
        let micros = limit.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % micros)
    }
}

/// How long a full `up` of `set` takes on a fresh database, measured once per set.
fn full_run_time(set: &'static str) -> Duration {
    static TIMES: Mutex<Vec<(&str, Duration)>> = Mutex::new(Vec::new());
    let mut times = TIMES.lock().unwrap();
    if let Some((_, t)) = times.iter().find(|t| t.0 == set) {
        return *t;
    }
    let took = block_on(move || full_run(set));
    times.push((set, took));
    took
}

async fn full_run(set: &str) -> Duration {
    let db = TestDb::new().await;
    let started = Instant::now();
    let out = run(db.migrate().args(["--set", set, "up"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    started.elapsed()
}

/// The indexes AetherCrown98's no-transaction file builds, as the library splits it.
fn concurrent_indexes(set: &str) -> Vec<String> {
    let set = embedded_set(set);
    let mut out = Vec::new();
    for m in set.migrations.iter().filter(|m| m.up.no_transaction) {
        for st in migrate::sets::split::split(&m.up.sql).unwrap() {
            if let Some((_, name)) = migrate::sets::lexer::concurrent_index(st.text) {
                out.push(name);
            }
        }
    }
    out
}

/// Waits until no session of `migrate` is left in the database: the server ends a killed
/// client's session once its running statement returns.
async fn sessions_gone(c: &mut PgConnection, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = scalar_i64(
            c,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}'
                  AND application_name = 'migrate' AND pid <> pg_backend_pid()"
            ),
        )
        .await;
        if left == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the killed run's session stayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where trial `number` of `set` kills its run: seeded, so a failing trial can be replayed.
/// Half of AetherCrown98's kills land while its no-transaction file runs: after 0002 is
/// reported, within about the time 0003 takes. The others are spread over the whole run:
/// after a random migration was reported, by up to the mean time of one.
fn aim(set: &'static str, number: usize) -> Aim {
    let whole = full_run_time(set);
    let tag = if set == "aethercrown98" { 1 } else { 2 };
    let mut rng = Rng((seed() ^ (number as u64 * 0x9e37_79b9 + tag)) | 1);
    let count = embedded_set(set).migrations.len() as u64;
    let inside_no_tx = set == "aethercrown98" && number % 2 == 1;
    let (delay, after) = if inside_no_tx {
        (rng.below(whole / 3), Some("applied 0002".to_string()))
    } else {
        let k = rng.next() % count;
        let after = (k > 0).then(|| format!("applied {k:04}"));
        (rng.below(whole / count as u32 * 2), after)
    };
    Aim {
        delay,
        after,
        inside_no_tx,
    }
}

/// Says which kill a failing trial made, next to its failure.
struct Named(String);

impl Drop for Named {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the failing trial: {}", self.0);
        }
    }
}

/// Trial `number` of `set`: a run killed where `aim` says, then checked and completed.
async fn trial(set: &'static str, number: usize) {
    let aim = aim(set, number);
    let _named = Named(format!(
        "{set} trial {number} (seed {}): kill {:?} after {}",
        seed(),
        aim.delay,
        aim.after.as_deref().unwrap_or("the start")
    ));
    let t = &aim;
    let db = TestDb::new().await;
    let mut child = db
        .migrate()
        .args(["--set", set, "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (said, heard) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let after = t.after.clone();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if after.as_deref().is_some_and(|a| line.contains(a)) {
                let _ = said.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    if t.after.is_some() {
        let _ = heard.recv_timeout(Duration::from_secs(60));
    }
    std::thread::sleep(t.delay);
    let _ = child.kill();
    let killed = child.wait().unwrap();
    let before_kill = reader.join().unwrap();
    assert!(
        !before_kill.contains("panicked"),
        "the run panicked:\n{before_kill}"
    );

    let mut c = db.conn().await;
    sessions_gone(&mut c, &db.name).await;
    let recorded = if has_history_schema(&mut c).await {
        scalar_i64(
            &mut c,
            &format!(
                "SELECT coalesce(max(version), 0) FROM migrate.history WHERE set_name = '{}'",
                set
            ),
        )
        .await
    } else {
        0
    };
    let status = run(db.migrate().args(["--json", "--set", set, "status"]));
    assert_eq!(status.code, 0, "status after the kill:\n{}", status.stderr);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let reported = &doc["sets"][0];
    assert_eq!(
        reported["current_version"].as_i64(),
        Some(recorded),
        "status says another version than the history holds ({killed}):\n{}",
        status.stdout
    );
    AT_VERSION.lock().unwrap().push((set, recorded));
    let names = concurrent_indexes(set);
    if !names.is_empty() {
        let listed = names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let built = scalar_i64(
            &mut c,
            &format!("SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relname IN ({listed})"),
        )
        .await;
        let no_tx = embedded_set(set)
            .migrations
            .iter()
            .find(|m| m.up.no_transaction)
            .unwrap()
            .version;
        let entry = reported["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["version"].as_i64() == Some(no_tx))
            .unwrap();
        let pending = entry["state"] == "pending";
        if pending && built > 0 {
            HALF_DONE.fetch_add(1, Ordering::SeqCst);
        }
        assert_eq!(
            pending && built > 0,
            !entry["partly_applied"].is_null(),
            "status must call the no-transaction migration partly applied exactly when it left indexes ({built} there):\n{entry}"
        );
    }

    let up = run(db.migrate().args(["--set", set, "up"]));
    assert_eq!(up.code, 0, "the up after the kill:\n{}", up.stderr);
    let verify = run(db.migrate().args(["--set", set, "verify"]));
    assert_eq!(
        verify.code, 0,
        "verify after the kill and the next up:\n{}{}",
        verify.stdout, verify.stderr
    );
    if t.inside_no_tx {
        AIMED.fetch_add(1, Ordering::SeqCst);
    }
}

fn seed() -> u64 {
    std::env::var("MIGRATE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe)
}

/// Every trial, named `crash::`, its set and its number.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials = Vec::new();
    for set in ["aethercrown98", "witchcraft"] {
        for number in 0..TRIALS_PER_SET {
            let name = format!("crash::{set} trial {number}");
            trials.push(crate::case(name, move || trial(set, number)));
        }
    }
    trials
}

/// After the trials: how the kills spread over the versions, and whether the aimed kills
/// landed. About a third of them land inside the file; none in 25 would mean the aim is off
/// and the no-transaction file goes untested.
pub fn the_kills_spread() -> Result<(), String> {
    let spread = AT_VERSION.lock().unwrap().clone();
    if spread.is_empty() {
        return Ok(());
    }
    for set in ["aethercrown98", "witchcraft"] {
        let mut versions: Vec<i64> = spread.iter().filter(|s| s.0 == set).map(|s| s.1).collect();
        versions.sort();
        eprintln!("{set}: versions left by the kills: {versions:?}");
    }
    let (half, aimed) = (
        HALF_DONE.load(Ordering::SeqCst),
        AIMED.load(Ordering::SeqCst),
    );
    eprintln!(
        "kills that left the no-transaction file half done: {half}; kills aimed inside it: {aimed}"
    );
    if aimed >= TRIALS_PER_SET / 2 && half == 0 {
        return Err(format!(
            "none of {aimed} kills aimed inside the no-transaction file landed there"
        ));
    }
    Ok(())
}
