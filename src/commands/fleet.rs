//! `--targets FILE`: `up`, `status`, `verify` or `diff` on many databases in one command,
//! with one report. Each target is run by a child `migrate` of this same binary with
//! `--json` (its URL in the child's environment, never on a command line), so every target
//! has its own connection, its own advisory locks and its own failure, exactly as a single
//! run; at most `--parallel` run at once. The report gives, per target, the versions before
//! and after, what was applied, the time and the error; the exit code is 0 only when every
//! target succeeded.
//!
//! FILE holds one URL per line (`#` comments and blank lines ignored), or TOML:
//! `[[target]]` tables with `name`, `url` and optionally `sets`.

use super::Ctx;
use super::{print_json, UsageError};
use crate::cli::{Command, Global};
use anyhow::{Context, Result};
use migrate::redact::redact_url;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One database of the fleet.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub url: String,
    /// Sets for this target only; empty: those of the command line.
    pub sets: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    target: Vec<TargetEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    name: String,
    url: String,
    #[serde(default)]
    sets: Vec<String>,
}

/// Reads a targets file: TOML with `[[target]]` tables, or one URL per line.
pub fn read_targets(path: &Path) -> Result<Vec<Target>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read targets file {shown}: {e}")))?;
    let bad = |line: usize, what: String| UsageError(format!("{shown}:{line}: {what}"));
    let mut targets = Vec::new();
    // Where each target is written: its line, or for TOML the line of its `[[target]]`.
    let mut lines = Vec::new();
    if text.trim_start().starts_with('[') {
        let file: TargetsFile = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |s| text[..s.start].matches('\n').count() + 1);
            bad(line, migrate::engine::error::one_line(e.message()))
        })?;
        let starts: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[target]]")
            .map(|(i, _)| i + 1)
            .collect();
        for (n, t) in file.target.into_iter().enumerate() {
            lines.push(starts.get(n).copied().unwrap_or(1));
            targets.push(Target {
                name: t.name,
                url: t.url,
                sets: t.sets,
            });
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            lines.push(i + 1);
            targets.push(Target {
                name: default_name(line),
                url: line.to_string(),
                sets: Vec::new(),
            });
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in targets.iter_mut().enumerate() {
        if let Err(e) = migrate::engine::options(&t.url) {
            let e = e.held_by(&format!("the URL of target {}", t.name));
            return Err(bad(lines[i], e.to_string()).into());
        }
        if t.name.trim().is_empty() {
            return Err(bad(lines[i], "a target has an empty name".into()).into());
        }
        let mut name = t.name.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{}#{n}", t.name);
            n += 1;
        }
        t.name = name;
    }
    if targets.is_empty() {
        return Err(UsageError(format!("targets file {shown} lists no database")).into());
    }
    Ok(targets)
}

/// `host:port/dbname` of a URL: a name that shows no secret.
fn default_name(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.path()
        ),
        Err(_) => redact_url(url),
    }
}

/// The command line of every child, rendered from the parsed command and flags: the verb
/// with its options, and the global flags that bound a run. Not passed on: the fleet's own
/// flags, the database URL (each child gets its target's in its environment), the output
/// format (each child writes JSON) and `--set` (each child gets its target's sets, or those
/// of the command line).
fn child_args(g: &Global, command: &Command) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // `--name=value`: a value that starts with `-` stays a value.
    let mut flag = |name: &str, value: Option<String>| {
        out.push(match value {
            Some(value) => format!("{name}={value}"),
            None => name.to_string(),
        });
    };
    match command {
        Command::Up { to, .. } => {
            flag("up", None);
            if let Some(to) = to {
                flag("--to", Some(to.to_string()));
            }
        }
        Command::Status { exit_code } => {
            flag("status", None);
            if *exit_code {
                flag("--exit-code", None);
            }
        }
        Command::Verify { .. } => flag("verify", None),
        Command::Diff {
            against,
            schemas,
            sql,
            allow_data_loss,
            ..
        } => {
            flag("diff", None);
            if let Some(against) = against {
                flag("--against", Some(against.clone()));
            }
            for schema in schemas {
                flag("--schema", Some(schema.clone()));
            }
            if *sql {
                flag("--sql", None);
            }
            if *allow_data_loss {
                flag("--allow-data-loss", None);
            }
        }
        // (refused by verb_of before any child is started)
        _ => {}
    }
    let ms = |d: &std::time::Duration| format!("{}ms", d.as_millis());
    if let Some(config) = &g.config {
        flag("--config", Some(config.display().to_string()));
    }
    if let Some(t) = &g.lock_timeout {
        flag("--lock-timeout", Some(t.clone()));
    }
    if let Some(w) = &g.lock_wait {
        flag("--lock-wait", Some(ms(w)));
    }
    if let Some(r) = g.lock_retries {
        flag("--lock-retries", Some(r.to_string()));
    }
    if let Some(t) = &g.server_timeout {
        flag("--server-timeout", Some(ms(t)));
    }
    if g.quiet {
        flag("--quiet", None);
    }
    for _ in 0..g.verbose {
        flag("--verbose", None);
    }
    out
}

/// Where a target's run got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// its run ended by itself (with success or not)
    Finished,
    /// a signal stopped its run: its migration rolled back
    Interrupted,
    /// a signal, or `--fail-fast` after a failure, came before it started
    NotStarted,
}

/// What one target's run came to.
struct Outcome {
    target: Target,
    code: i32,
    ms: u128,
    document: Option<Value>,
    error: Option<String>,
    state: State,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.code == 0 && self.state == State::Finished
    }

    /// `ok`, `failed`, `interrupted` or `not started`.
    fn result(&self) -> &'static str {
        match self.state {
            State::NotStarted => "not started",
            State::Interrupted => "interrupted",
            State::Finished if self.code == 0 => "ok",
            State::Finished => "failed",
        }
    }
}

/// The pids of the children running now, and whether the run's signal was passed on to
/// them: a child started after that gets it at once (under the same lock, so each child gets
/// it exactly once).
#[derive(Default)]
struct Children {
    pids: Vec<u32>,
    signalled: Option<migrate::interrupt::Signal>,
}

fn pass_on(pid: u32, signal: migrate::interrupt::Signal) {
    let number = match signal {
        migrate::interrupt::Signal::Interrupt => libc::SIGINT,
        migrate::interrupt::Signal::Terminate => libc::SIGTERM,
    };
    // SAFETY: kill(2) on a pid this process started and has not yet waited for.
    unsafe {
        libc::kill(pid as libc::pid_t, number);
    }
}

/// Runs one target: a child `migrate --json ...` with the URL in its environment, in a
/// process group of its own (a Ctrl-C at the terminal reaches this process, which passes
/// one signal on to each child: the child then cancels its statement on the server and
/// rolls back, as a single run does).
fn run_target(
    run: &migrate::run::Run,
    target: &Target,
    args: &[String],
    default_sets: &[String],
    children: &Mutex<Children>,
) -> Outcome {
    use std::os::unix::process::CommandExt as _;
    let started = Instant::now();
    let mut cmd =
        std::process::Command::new(std::env::current_exe().unwrap_or_else(|_| "migrate".into()));
    cmd.arg("--json")
        .args(args)
        .env("DATABASE_URL", &target.url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let sets = if target.sets.is_empty() {
        default_sets
    } else {
        &target.sets
    };
    if !sets.is_empty() {
        cmd.arg("--set").arg(sets.join(","));
    }
    let out = cmd.spawn().and_then(|child| {
        let pid = child.id();
        if let Ok(mut c) = children.lock() {
            c.pids.push(pid);
            if let Some(signal) = c.signalled {
                pass_on(pid, signal);
            }
        }
        let out = child.wait_with_output();
        if let Ok(mut c) = children.lock() {
            c.pids.retain(|p| *p != pid);
        }
        out
    });
    let ms = started.elapsed().as_millis();
    let (code, document, error) = match out {
        Err(e) => (1, None, Some(format!("cannot start migrate: {e}"))),
        Ok(out) => {
            let code = out.status.code().unwrap_or(1);
            let document: Option<Value> = serde_json::from_slice(&out.stdout).ok();
            let error = document
                .as_ref()
                .and_then(|d| d.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    stderr
                        .lines()
                        .rev()
                        .find(|l| l.starts_with("error"))
                        .map(|l| l.trim_start_matches("error: ").to_string())
                })
                .or_else(|| (code != 0).then(|| failed_checks(document.as_ref())));
            (code, document, error)
        }
    };
    // a child a signal stopped exits 130 or 143
    let state = if run.received().is_some() && code != 0 {
        State::Interrupted
    } else {
        State::Finished
    };
    Outcome {
        target: target.clone(),
        code,
        ms,
        document,
        error: error.map(|e| run.redact(&e)),
        state,
    }
}

/// The checks of a `verify` document that failed, or what a `diff` found, on one line.
fn failed_checks(document: Option<&Value>) -> String {
    let Some(d) = document else {
        return "failed".into();
    };
    let mut failed = Vec::new();
    for set in d["sets"].as_array().into_iter().flatten() {
        let name = set["set"].as_str().unwrap_or("?");
        for check in set["checks"].as_array().into_iter().flatten() {
            if check["ok"] == false {
                failed.push(format!(
                    "{name}: {} {}",
                    check["check"].as_str().unwrap_or("?"),
                    check["summary"].as_str().unwrap_or("")
                ));
            }
        }
        if set["drift"] == true {
            let count = |k: &str| set[k].as_array().map_or(0, Vec::len);
            failed.push(format!(
                "{name}: drift, {} missing, {} unexpected, {} changed",
                count("missing"),
                count("unexpected"),
                count("changed")
            ));
        }
    }
    if failed.is_empty() {
        "failed".into()
    } else {
        failed.join("; ")
    }
}

/// One set of a target: (set, version before, version after, versions applied).
type SetVersions = (String, Option<i64>, Option<i64>, Vec<i64>);

/// Per set of a child's document: what it was at and is at now.
fn versions(verb: &str, d: Option<&Value>) -> Vec<SetVersions> {
    let Some(d) = d else {
        return Vec::new();
    };
    d["sets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let after = s["current_version"].as_i64();
            let applied: Vec<i64> = s["applied"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["version"].as_i64())
                .collect();
            let before = match verb {
                "up" => s["previous_version"].as_i64(),
                _ => after,
            };
            (
                s["set"].as_str().unwrap_or("?").to_string(),
                before,
                after,
                applied,
            )
        })
        .collect()
}

fn verb_of(command: &Command) -> Option<&'static str> {
    match command {
        Command::Up { dry_run: false, .. } => Some("up"),
        Command::Status { .. } => Some("status"),
        Command::Verify {
            roundtrip: false, ..
        } => Some("verify"),
        Command::Diff { .. } => Some("diff"),
        _ => None,
    }
}

/// Runs the command on every target of `--targets`. The targets run on threads of their
/// own while this task waits, so a signal is seen at once: no target starts after it, the
/// running ones get it passed on and stop (rolled back), the report names each target as
/// finished, interrupted or not started, and the run exits 130 or 143; `--retry-failed` on
/// its `--json` report resumes with what did not finish.
pub(super) async fn fleet(g: &Ctx<'_>, command: &Command) -> Result<()> {
    let Some(verb) = verb_of(command) else {
        return Err(UsageError(
            "--targets works with up, status, verify and diff; run other verbs on one database at a time".into(),
        )
        .into());
    };
    let path = g.targets.as_deref().context("--targets")?;
    let mut targets = read_targets(path)?;
    if let Some(report) = &g.retry_failed {
        let failed = failed_in_report(report)?;
        targets.retain(|t| failed.contains(&t.name));
        if targets.is_empty() {
            if g.json {
                print_json(
                    json!({ "command": verb, "targets": [], "summary": {"total": 0, "ok": 0, "failed": 0} }),
                )?;
            } else {
                outln!(
                    "fleet: no target failed in {}; nothing to retry",
                    report.display()
                );
            }
            return Ok(());
        }
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let parallel = g
        .parallel
        .map_or(cores * 4, usize::from)
        .clamp(1, targets.len());
    let total = targets.len();
    let started = Instant::now();
    let children: Arc<Mutex<Children>> = Arc::default();
    let work = {
        let fleet = Fleet {
            run: g.run.clone(),
            targets,
            args: child_args(g, command),
            sets: g.sets.clone(),
            verb,
            fail_fast: g.fail_fast,
            parallel,
            children: Arc::clone(&children),
        };
        tokio::task::spawn_blocking(move || fleet.all())
    };
    tokio::pin!(work);
    let outcomes = tokio::select! {
        done = &mut work => done,
        () = g.run.wait() => {
            if let (Some(signal), Ok(mut c)) = (g.run.received(), children.lock()) {
                c.signalled = Some(signal);
                for pid in &c.pids {
                    pass_on(*pid, signal);
                }
            }
            work.await
        }
    }
    .context("the fleet's workers")?;
    let ok = outcomes.iter().filter(|o| o.ok()).count();
    let elapsed = started.elapsed().as_millis();
    let signal = g.run.received();
    let count = |state: State| outcomes.iter().filter(|o| o.state == state).count();
    if g.json {
        let targets: Vec<Value> = outcomes.iter().map(|o| target_json(verb, o)).collect();
        let mut summary = json!({ "total": total, "ok": ok, "failed": total - ok, "parallel": parallel, "ms": elapsed });
        if let Some(signal) = signal {
            summary["interrupted_by"] = json!(signal.name());
            summary["interrupted"] = json!(count(State::Interrupted));
            summary["not_started"] = json!(count(State::NotStarted));
        }
        print_json(json!({ "command": verb, "targets": targets, "summary": summary }))?;
    } else {
        outln!("{}", table(verb, &outcomes));
        outln!(
            "fleet: {ok} of {total} target(s) succeeded, {} failed, in {:.1} s ({parallel} at a time)",
            total - ok,
            elapsed as f64 / 1000.0
        );
        if let Some(signal) = signal {
            outln!(
                "fleet: interrupted by {}: {} finished, {} interrupted (rolled back), {} not started; run again with --json to keep a report, and --retry-failed REPORT to resume",
                signal.name(),
                count(State::Finished),
                count(State::Interrupted),
                count(State::NotStarted)
            );
        }
    }
    match signal {
        Some(signal) => Err(super::Reported(signal.exit_code()).into()),
        None if ok == total => Ok(()),
        None => Err(super::Reported(1).into()),
    }
}

/// What the fleet's worker threads share.
struct Fleet {
    /// The run's context: a signal stops starting targets.
    run: migrate::run::Run,
    targets: Vec<Target>,
    args: Vec<String>,
    sets: Vec<String>,
    verb: &'static str,
    fail_fast: bool,
    parallel: usize,
    children: Arc<Mutex<Children>>,
}

impl Fleet {
    /// Runs every target, at most `parallel` at once, in the order of the file; the
    /// outcomes in that order.
    fn all(&self) -> Vec<Outcome> {
        let total = self.targets.len();
        let verb = self.verb;
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let failures = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..total).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..self.parallel {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(target) = self.targets.get(i) else {
                        break;
                    };
                    let interrupted = self.run.received().is_some();
                    let outcome = if stop.load(Ordering::SeqCst) || interrupted {
                        Outcome {
                            target: target.clone(),
                            code: 1,
                            ms: 0,
                            document: None,
                            error: Some(if interrupted {
                                "not started: the run was interrupted".into()
                            } else {
                                "not started: an earlier target failed (--fail-fast)".into()
                            }),
                            state: State::NotStarted,
                        }
                    } else {
                        crate::ui::emit(
                            "target_started",
                            None,
                            None,
                            json!({ "target": target.name, "url": redact_url(&target.url) }),
                        );
                        crate::ui::line(&format!("fleet: {verb} {} ...", target.name));
                        run_target(&self.run, target, &self.args, &self.sets, &self.children)
                    };
                    let done = finished.fetch_add(1, Ordering::SeqCst) + 1;
                    if !outcome.ok() {
                        failures.fetch_add(1, Ordering::SeqCst);
                        if self.fail_fast {
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    let failed = failures.load(Ordering::SeqCst);
                    let mut event = outcome_fields(verb, &outcome);
                    event.extend([
                        ("target".into(), json!(outcome.target.name)),
                        ("done".into(), json!(done)),
                        ("total".into(), json!(total)),
                        ("failed".into(), json!(failed)),
                    ]);
                    crate::ui::emit("target_finished", None, None, Value::Object(event));
                    if outcome.state != State::NotStarted {
                        crate::ui::line(&format!(
                            "fleet: [{done}/{total}, {failed} failed] {}",
                            line_of(verb, &outcome)
                        ));
                    }
                    if let Ok(mut all) = outcomes.lock() {
                        all[i] = Some(outcome);
                    }
                });
            }
        });
        outcomes
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect()
    }
}

/// One line for the progress of a finished target.
fn line_of(verb: &str, o: &Outcome) -> String {
    if let Some(e) = o.error.as_deref().filter(|_| !o.ok()) {
        return format!("{}: FAILED in {} ms: {e}", o.target.name, o.ms);
    }
    let sets: Vec<String> = versions(verb, o.document.as_ref())
        .iter()
        .map(|(set, before, after, applied)| match verb {
            "up" => format!(
                "{set} {:04} -> {:04} ({} applied)",
                before.unwrap_or(0),
                after.unwrap_or(0),
                applied.len()
            ),
            _ => format!("{set} at {:04}", after.unwrap_or(0)),
        })
        .collect();
    format!("{}: ok in {} ms, {}", o.target.name, o.ms, sets.join(", "))
}

fn target_json(verb: &str, o: &Outcome) -> Value {
    let mut fields = outcome_fields(verb, o);
    fields.insert("name".into(), json!(o.target.name));
    fields.insert("document".into(), json!(o.document));
    Value::Object(fields)
}

/// What a target's run came to, as the report and the `target_finished` event give it.
fn outcome_fields(verb: &str, o: &Outcome) -> serde_json::Map<String, Value> {
    let sets: Vec<Value> = versions(verb, o.document.as_ref())
        .into_iter()
        .map(|(set, before, after, applied)| {
            json!({ "set": set, "before": before, "after": after, "applied": applied })
        })
        .collect();
    serde_json::Map::from_iter([
        ("url".into(), json!(redact_url(&o.target.url))),
        ("result".into(), json!(o.result())),
        ("exit_code".into(), json!(o.code)),
        ("ms".into(), json!(o.ms as u64)),
        ("sets".into(), json!(sets)),
        (
            "error".into(),
            json!(o.error.as_deref().filter(|_| !o.ok())),
        ),
    ])
}

fn table(verb: &str, outcomes: &[Outcome]) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.target.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!("{:width$}  result       time      detail\n", "target");
    for o in outcomes {
        let result = match o.result() {
            "failed" => "FAILED",
            other => other,
        };
        let detail = match o.error.as_deref().filter(|_| !o.ok()) {
            Some(e) => e.to_string(),
            None => line_of(verb, o)
                .split_once(", ")
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_default(),
        };
        out.push_str(&format!(
            "{:width$}  {result:11}  {:>6} ms  {detail}\n",
            o.target.name, o.ms
        ));
    }
    out.trim_end().to_string()
}

/// The names of the targets a previous run's `--json` report did not finish with success.
fn failed_in_report(path: &Path) -> Result<std::collections::BTreeSet<String>> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read report {shown}: {e}")))?;
    let report: Value = serde_json::from_str(&text).map_err(|e| {
        UsageError(format!(
            "{shown}: not a JSON report of a --targets run ({e}); pass the file a `--json` run wrote"
        ))
    })?;
    let Some(targets) = report["targets"].as_array() else {
        return Err(UsageError(format!(
            "{shown}: has no \"targets\"; pass the file a `--targets ... --json` run wrote"
        ))
        .into());
    };
    Ok(targets
        .iter()
        .filter(|t| t["result"] != "ok")
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    /// Every child gets the run's command and bounds, whatever form they were written in,
    /// and none of the fleet's own flags: its command line parses back to the same command.
    #[test]
    fn a_child_runs_the_same_command_with_the_same_bounds() {
        let cli = Cli::parse_from([
            "migrate",
            "--targets=fleet.toml",
            "--parallel",
            "2",
            "--fail-fast",
            "--set=witchcraft",
            "--format",
            "ndjson",
            "--lock-timeout=2s",
            "--lock-wait",
            "1min",
            "-vv",
            "diff",
            "--schema=--json",
            "--sql",
            "--against=postgres://u:p@h/other",
        ]);
        let args = child_args(&cli.global, &cli.command);
        assert_eq!(
            args,
            [
                "diff",
                "--against=postgres://u:p@h/other",
                "--schema=--json",
                "--sql",
                "--lock-timeout=2s",
                "--lock-wait=60000ms",
                "--verbose",
                "--verbose",
            ]
        );
        let child = Cli::parse_from(std::iter::once("migrate".to_string()).chain(args));
        assert_eq!(format!("{:?}", child.command), format!("{:?}", cli.command));
        assert_eq!(child.global.lock_wait, cli.global.lock_wait);
        assert_eq!(child.global.verbose, 2);
        assert!(child.global.targets.is_none() && child.global.sets.is_empty());
    }
}
