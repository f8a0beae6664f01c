//! What a run shows while it works: progress on standard error (a bar on a terminal, plain
//! lines elsewhere) and, with `--format ndjson`, one JSON event per line on standard output.
//!
//! The verbs and the engine report through one [`Ui`], set up by `main` from the flags: the
//! one thing the binary keeps for the whole process, since the process has one terminal
//! (the bar's place, the step running, what was done all live in it; the library keeps
//! nothing, see `migrate::run`). The bar is drawn only when standard error is a terminal, `--quiet` is not given,
//! the output format is not NDJSON and `CI` is not set to true; otherwise each migration gets
//! one plain line when it finishes. `-v` adds a line when each migration starts and when a
//! lock is obtained. The events are documented in docs/verbs.md ("Machine output").

use crate::cli::Format;
use indicatif::{ProgressBar, ProgressStyle};
use migrate::engine::Event;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The version of the format of every `--json` document (its `version` field; NDJSON's
/// `result` event carries the document): raised when a field changes meaning or goes away.
/// New fields may appear without it.
pub const FORMAT_VERSION: u32 = 1;

/// The process's output settings and the progress being shown.
pub struct Ui {
    format: Format,
    /// -1 with --quiet, 0 by default, 1 and more with -v.
    verbosity: i8,
    bar_allowed: bool,
    started: Instant,
    state: Mutex<State>,
    /// Held from the time an event's elapsed_ms is taken until its line is written.
    emitting: Mutex<()>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    current: Option<Current>,
    /// What the run applied and rolled back, oldest first, for the line printed when a
    /// signal stops it.
    done: Vec<String>,
    /// The place of the migration running now, kept between its start and end events.
    place: (usize, usize),
    /// The step of a proof running now in each set, and since when: for its line when it
    /// ends (the sets are proven at once).
    steps: Vec<(String, String, Instant)>,
}

/// The migration running now, for the server-side progress of its statements.
#[derive(Clone)]
pub struct Current {
    pub set: String,
    pub version: i64,
    pub label: String,
    pub since: Instant,
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Sets the output up once, from the flags; later calls change nothing.
pub fn init(format: Format, verbosity: i8) {
    let ci = std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !v.is_empty() && v != "false" && v != "0"
    });
    let bar_allowed =
        std::io::stderr().is_terminal() && verbosity >= 0 && format != Format::Ndjson && !ci;
    let _ = UI.set(Ui {
        format,
        verbosity,
        bar_allowed,
        started: Instant::now(),
        state: Mutex::new(State::default()),
        emitting: Mutex::new(()),
    });
}

fn ui() -> &'static Ui {
    UI.get_or_init(|| Ui {
        format: Format::Text,
        verbosity: 0,
        bar_allowed: false,
        started: Instant::now(),
        state: Mutex::new(State::default()),
        emitting: Mutex::new(()),
    })
}

/// Whether results are NDJSON events.
pub fn ndjson() -> bool {
    ui().format == Format::Ndjson
}

/// Whether something consumes the server's progress of long statements (a bar or events).
pub fn wants_statement_progress() -> bool {
    let ui = ui();
    ui.bar_allowed || ui.format == Format::Ndjson
}

/// What this run applied and rolled back, oldest first.
pub fn done_in_this_run() -> Vec<String> {
    ui().state
        .lock()
        .map(|s| s.done.clone())
        .unwrap_or_default()
}

/// The migration running now, if any.
pub fn current() -> Option<Current> {
    ui().state.lock().ok().and_then(|s| s.current.clone())
}

/// `2026-12-03T12:30:01.250Z`: now, in UTC, to the millisecond.
pub fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Writes one NDJSON event (only with `--format ndjson`): `kind`, the set and version it is
/// about (null when none), the time since the run started, a timestamp, and `fields`.
pub fn emit(kind: &str, set: Option<&str>, version: Option<i64>, fields: Value) {
    let ui = ui();
    if ui.format != Format::Ndjson {
        return;
    }
    // One writer at a time from the time is taken to the line written: threads (a fleet's)
    // never print a later elapsed_ms before an earlier one.
    let _one_at_a_time = ui.emitting.lock();
    let mut event = json!({
        "event": kind,
        "set": set,
        "version": version,
        "elapsed_ms": ui.started.elapsed().as_millis() as u64,
        "timestamp": timestamp(),
    });
    if let (Some(e), Value::Object(more)) = (event.as_object_mut(), fields) {
        e.extend(more);
    }
    // An event that cannot be written (the reader has gone) is dropped; the result's own
    // write reports the broken pipe.
    outln_ignore!("{event}");
}

/// The last NDJSON event: the run's `--json` document and its exit code as `result`.
pub fn result_event(document: Value) -> Value {
    let ui = ui();
    json!({
        "event": "result",
        "set": null,
        "version": null,
        "elapsed_ms": ui.started.elapsed().as_millis() as u64,
        "timestamp": timestamp(),
        "document": document,
    })
}

/// A progress line on standard error: above the bar when one is drawn, not at all with
/// `--quiet` or NDJSON (the events say it).
pub fn line(text: &str) {
    let ui = ui();
    if ui.verbosity < 0 || ui.format == Format::Ndjson {
        return;
    }
    always(text);
}

/// A line that shows even with `--quiet` (a server's notice, a warning): above the bar when
/// one is drawn, so the two never share a line.
pub fn always(text: &str) {
    let bar = ui().state.lock().ok().and_then(|s| s.bar.clone());
    match bar {
        Some(bar) => bar.println(text),
        None => errln!("{text}"),
    }
}

/// Whether a stream may carry colour: it is a terminal and NO_COLOR is not set (to
/// anything but the empty string), as no-color.org asks.
pub fn colour_allowed(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A line shown only with `-v`.
pub fn verbose(text: &str) {
    if ui().verbosity > 0 {
        line(text);
    }
}

/// Removes the bar (before an error line or the result is printed).
pub fn finish() {
    if let Ok(mut s) = ui().state.lock() {
        if let Some(bar) = s.bar.take() {
            bar.finish_and_clear();
        }
        s.current = None;
    }
}

fn bar_style(spinner_only: bool) -> ProgressStyle {
    let template = if spinner_only {
        "{spinner} {prefix}: {wide_msg} {elapsed}"
    } else {
        "{spinner} {prefix}: [{pos}/{len}] {wide_msg} {elapsed}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

/// Shows `message` on the bar of `set`, making one (a spinner, or a bar of `total` steps).
fn show(set: &str, total: Option<usize>, position: Option<usize>, message: String) {
    let ui = ui();
    if !ui.bar_allowed {
        return;
    }
    let Ok(mut s) = ui.state.lock() else {
        return;
    };
    let kind_changed = s
        .bar
        .as_ref()
        .is_some_and(|b| b.length().is_some() != total.is_some() || b.prefix() != set);
    if kind_changed {
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
    }
    match &s.bar {
        Some(bar) => {
            // the position changes without a frame of its own (the bar ticks steadily), so
            // no frame pairs the new number with the old message
            if let Some(p) = position {
                bar.update(|state| state.set_pos(p as u64));
                bar.reset_elapsed();
            }
            bar.set_message(message);
            // drawn now, not at the next steady tick: a step shorter than the tick (an 8 ms
            // upkeep statement) is shown too. Forced: with a steady ticker installed `tick`
            // draws nothing, and `set_message`'s own draw is rate-limited.
            bar.force_draw();
        }
        None => {
            // built whole before the first frame is drawn: never a frame without its message
            let bar = match total {
                Some(n) => ProgressBar::new(n as u64).with_style(bar_style(false)),
                None => ProgressBar::new_spinner().with_style(bar_style(true)),
            }
            .with_prefix(set.to_string())
            .with_message(message)
            .with_position(position.unwrap_or(0) as u64);
            // the first frame now, before the ticker's thread draws one (on a busy machine
            // that came after a 5 ms step had ended, and the step was never shown)
            bar.force_draw();
            bar.enable_steady_tick(Duration::from_millis(120));
            s.bar = Some(bar);
        }
    }
}

fn step_done(set: &str, index: usize, total: usize) {
    if let Ok(mut s) = ui().state.lock() {
        s.current = None;
        if let Some(bar) = &s.bar {
            bar.update(|state| state.set_pos(index as u64));
            if index >= total && bar.prefix() == set {
                bar.finish_and_clear();
                s.bar = None;
            }
        }
    }
}

/// Shows an engine event: bar, lines and NDJSON events.
pub fn event(e: &Event) {
    match e {
        Event::Waiting { set, lock, holder } => {
            let text = format!(
                "another migrate run holds {lock}{}; waiting for it to finish",
                holder.map(|h| format!(" ({h})")).unwrap_or_default()
            );
            emit(
                "lock_waiting",
                Some(set),
                None,
                json!({ "lock": lock, "holder": holder }),
            );
            if ui().bar_allowed {
                show(set, None, None, text);
            } else {
                line(&format!("{set}: {text}"));
            }
        }
        Event::Locked { set, waited_ms } => {
            emit(
                "lock_acquired",
                Some(set),
                None,
                json!({ "waited_ms": waited_ms }),
            );
            finish_spinner(set);
            line(&format!("{set}: lock obtained after {waited_ms} ms"));
        }
        Event::Retrying {
            set,
            migration,
            attempt,
            of,
            delay_ms,
            blockers,
        } => {
            emit(
                "lock_retry",
                Some(set),
                Some(migration.version),
                json!({ "name": migration.name, "attempt": attempt, "of": of, "delay_ms": delay_ms, "blockers": blockers }),
            );
            line(&format!(
                "{set}: {:04} {} hit lock_timeout, blocked by {blockers}; trying again in {delay_ms} ms (retry {attempt} of {of})",
                migration.version, migration.name
            ));
        }
        Event::RebuildingInvalidIndex {
            set,
            migration,
            index,
        } => {
            emit(
                "index_rebuild",
                Some(set),
                Some(migration.version),
                json!({ "name": migration.name, "index": index }),
            );
            line(&format!(
                "{set}: {:04} {}: index {index} was left INVALID by an earlier run that failed; dropping it to build it again",
                migration.version, migration.name
            ));
        }
        Event::Applying {
            set,
            migration,
            index,
            total,
        }
        | Event::Reverting {
            set,
            migration,
            index,
            total,
        } => {
            let up = matches!(e, Event::Applying { .. });
            let verb = if up { "applying" } else { "rolling back" };
            let label = format!("{:04} {}", migration.version, migration.name);
            if let Ok(mut s) = ui().state.lock() {
                s.place = (*index, *total);
                s.current = Some(Current {
                    set: set.to_string(),
                    version: migration.version,
                    label: label.clone(),
                    since: Instant::now(),
                });
            }
            emit(
                "migration_started",
                Some(set),
                Some(migration.version),
                json!({ "name": migration.name, "direction": if up { "up" } else { "down" }, "index": index, "total": total }),
            );
            show(set, Some(*total), Some(*index), format!("{verb} {label}"));
            verbose(&format!("{set}: {verb} {label} ({index}/{total})"));
        }
        Event::Upkeep {
            set,
            statement,
            index,
            total,
        } => {
            emit(
                "maintenance_started",
                Some(set),
                None,
                json!({ "statement": statement, "index": index, "total": total }),
            );
            show(
                set,
                Some(*total),
                Some(*index),
                format!("running {statement}"),
            );
            verbose(&format!("{set}: running {statement} ({index}/{total})"));
        }
        Event::UpkeepRan { set, run } => emit(
            "maintenance_ran",
            Some(set),
            None,
            json!({ "statement": run.statement, "result": run.result, "ms": run.ms }),
        ),
        Event::Applied { set, migration, ms } | Event::Reverted { set, migration, ms } => {
            let up = matches!(e, Event::Applied { .. });
            let (kind, verb) = if up {
                ("migration_applied", "applied")
            } else {
                ("migration_reverted", "rolled back")
            };
            if let Ok(mut s) = ui().state.lock() {
                s.done
                    .push(format!("{set} {:04} {verb}", migration.version));
            }
            emit(
                kind,
                Some(set),
                Some(migration.version),
                json!({ "name": migration.name, "direction": if up { "up" } else { "down" }, "ms": ms }),
            );
            line(&format!(
                "{set}: {verb} {:04} {} ({ms} ms)",
                migration.version, migration.name
            ));
            let (index, total) = ui().state.lock().map(|s| s.place).unwrap_or((0, 0));
            step_done(set, index, total);
        }
        Event::SchemaKept { set, schema } => {
            emit("schema_kept", Some(set), None, json!({ "schema": schema }));
            line(&format!(
                "{set}: schema {schema} was kept because it still holds objects of something else"
            ));
        }
    }
}

/// Removes a lock-wait spinner of `set` once the lock is held.
fn finish_spinner(set: &str) {
    if let Ok(mut s) = ui().state.lock() {
        if s.bar
            .as_ref()
            .is_some_and(|b| b.length().is_none() && b.prefix() == set)
        {
            if let Some(b) = s.bar.take() {
                b.finish_and_clear();
            }
        }
    }
}

/// A spinner with `message` for work of `set` that has no steps to count.
pub fn spinner(set: &str, message: &str) {
    show(set, None, None, message.to_string());
}

/// Work that has no steps to count: a spinner named `what` on a terminal, else one plain
/// line (`message...`), none with `--quiet` or NDJSON.
pub fn working(what: &str, message: &str) {
    if ui().bar_allowed {
        spinner(what, message);
    } else {
        line(&format!("{message}..."));
    }
}

/// A step of a longer proof or check (`verify --roundtrip`): shown like a migration.
pub fn step_started(set: &str, index: usize, total: usize, label: &str) {
    if let Ok(mut s) = ui().state.lock() {
        s.current = None;
        s.steps
            .retain(|(of, name, _)| !(of == set && name == label));
        s.steps
            .push((set.to_string(), label.to_string(), Instant::now()));
    }
    show(set, Some(total), Some(index), format!("proving {label}"));
    verbose(&format!("{set}: proving {label} ({index}/{total})"));
}

/// The end of the step `label` started by [`step_started`] (a set's steps may run at once):
/// a line, as a migration gets one (its outcome comes with the proof's report); `index` steps
/// of `total` are done.
pub fn step_finished(set: &str, label: &str, index: usize, total: usize) {
    let step = ui().state.lock().ok().and_then(|mut s| {
        let at = s
            .steps
            .iter()
            .position(|(of, name, _)| of == set && name == label)?;
        Some(s.steps.remove(at))
    });
    if let Some((_, label, since)) = step {
        line(&format!(
            "{set}: checked {label} ({} ms)",
            since.elapsed().as_millis()
        ));
    }
    step_done(set, index, total);
}

/// What the server reports of a statement of the running migration
/// (`pg_stat_progress_create_index`), as an event and on the bar.
pub fn statement_progress(current: &Current, progress: &Value, text: &str) {
    emit(
        "statement_progress",
        Some(&current.set),
        Some(current.version),
        progress.clone(),
    );
    let total = ui().state.lock().map(|s| s.place.1).unwrap_or(1).max(1);
    show(
        &current.set,
        Some(total),
        None,
        format!("applying {}: {text}", current.label),
    );
}
