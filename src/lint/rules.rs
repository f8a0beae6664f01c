//! Findings from a migration's trace, weighed against the live tables.
//!
//! - error: ACCESS EXCLUSIVE held over a rewrite or a whole-table read of a live table above
//!   the size threshold; an index built without CONCURRENTLY on one; a constraint validated
//!   by a read of one while writes wait (no NOT VALID);
//! - warning: the same on a table whose size is unknown (no `--database-url`); ACCESS
//!   EXCLUSIVE requested while the transaction already holds locks on live tables; live
//!   tables locked against writes one statement after another (a deadlock with an
//!   application that takes them in the other order);
//! - info: everything else that blocks reads or writes, and work that blocks nothing.
//!
//! Each finding names the safe rewrite. `-- migrate:lint-ignore RULE reason` on a statement
//! accepts its findings of that rule: they stay in the report, with the reason, and no
//! longer fail the run.

use super::locks::{Blocks, LockMode};
use super::trace::StatementTrace;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// A live table's size, read from the database to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Size {
    /// `reltuples` (or a bounded count when the table was never analyzed).
    pub rows: i64,
    /// `pg_total_relation_size`: the table, its indexes and TOAST.
    pub bytes: i64,
}

/// The sizes of the live database: `None` when no database was given.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub sizes: Option<HashMap<String, Size>>,
}

impl Live {
    /// `None`: unknown; `Some(None)`: not in the live database yet (a pending migration before
    /// this one makes it, so it is empty when this one runs).
    fn size(&self, table: &str) -> Option<Option<Size>> {
        self.sizes.as_ref().map(|s| s.get(table).copied())
    }
}

/// Above these, work under a blocking lock is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    pub rows: i64,
    pub bytes: i64,
}

/// The thresholds `[lint]` of migrations.toml sets (its defaults when it says nothing).
impl From<crate::config::LintConfig> for Thresholds {
    fn from(c: crate::config::LintConfig) -> Thresholds {
        Thresholds {
            rows: c.max_rows,
            bytes: c.max_bytes,
        }
    }
}

/// The time a statement's work on a table would take on the live table: the same work timed
/// on a generated sample in the scratch database, scaled to the live row count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub ms: f64,
    pub sample_rows: i64,
    pub sample_ms: f64,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub level: Level,
    pub rule: &'static str,
    pub line: usize,
    pub statement: String,
    pub table: Option<String>,
    pub message: String,
    /// The safe way to write it.
    pub fix: String,
    pub size: Option<Size>,
    pub estimate: Option<Estimate>,
    /// The reason given with `-- migrate:lint-ignore`, when the finding was accepted.
    pub ignored: Option<String>,
}

/// Estimates by (statement index, table).
pub type Estimates = HashMap<(usize, String), Estimate>;

struct Rules<'a> {
    traces: &'a [StatementTrace],
    live: &'a Live,
    thresholds: Thresholds,
    estimates: &'a Estimates,
    out: Vec<Finding>,
}

impl Rules<'_> {
    fn push(
        &mut self,
        i: usize,
        level: Level,
        rule: &'static str,
        table: Option<&str>,
        message: String,
        fix: &str,
    ) {
        let t = &self.traces[i];
        let ignored = t
            .ignores
            .iter()
            .find(|g| g.rule == rule)
            .map(|g| g.reason.clone());
        let size = table.and_then(|name| self.live.size(name).flatten());
        let estimate = table.and_then(|name| self.estimates.get(&(i, name.to_string())).copied());
        self.out.push(Finding {
            level,
            rule,
            line: t.line,
            statement: t.statement.clone(),
            table: table.map(str::to_string),
            message,
            fix: fix.to_string(),
            size,
            estimate,
            ignored,
        });
    }

    /// The level of work on `table` under a lock that blocks something, and why.
    fn weigh(&self, table: &str) -> (Level, String) {
        match self.live.size(table) {
            None => (
                Level::Warning,
                "its live size is unknown (give --database-url to weigh it)".into(),
            ),
            Some(None) => (
                Level::Info,
                "it is not in the live database yet, so it is empty when this runs".into(),
            ),
            Some(Some(s)) if s.rows >= self.thresholds.rows || s.bytes >= self.thresholds.bytes => {
                (
                    Level::Error,
                    format!(
                        "the live table holds about {} rows, {} (threshold {} rows or {})",
                        s.rows,
                        bytes(s.bytes),
                        self.thresholds.rows,
                        bytes(self.thresholds.bytes)
                    ),
                )
            }
            Some(Some(s)) => (
                Level::Info,
                format!(
                    "the live table holds about {} rows, {}: under the threshold",
                    s.rows,
                    bytes(s.bytes)
                ),
            ),
        }
    }
}

/// A time for people: `850 ms`, `4.2 s`, `3.1 min`.
pub fn duration(ms: f64) -> String {
    if ms >= 60_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// Bytes for people: `12 MB`.
pub fn bytes(n: i64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GB", n / 1024.0 / 1024.0 / 1024.0)
    } else if n >= 1024.0 * 1024.0 {
        format!("{:.0} MB", n / 1024.0 / 1024.0)
    } else if n >= 1024.0 {
        format!("{:.0} kB", n / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

fn words_of(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The safe rewrite of a statement that rewrites a table.
fn rewrite_fix(text: &str) -> &'static str {
    let w = words_of(text);
    if w.contains(" TYPE ") {
        "add a new column of the new type, backfill it in batches, move reads and writes to it, then drop the old column (or keep the type: a change that needs no rewrite, such as varchar(n) to text, does not rewrite)"
    } else if w.starts_with("VACUUM") || w.starts_with("CLUSTER") {
        "rebuild the table online with pg_repack (or pg_squeeze), or run it in a maintenance window"
    } else if w.contains("ADD COLUMN") || w.contains(" ADD ") {
        "add the column without a default, or with a constant one (no rewrite since PostgreSQL 11), then backfill it in batches"
    } else {
        "avoid the rewrite under the lock: build the new shape in a new column or table, fill it in batches, then switch to it"
    }
}

/// The safe rewrite of a statement that validates something by reading the whole table.
fn validate_fix(what: &str) -> &'static str {
    if what.starts_with("NOT NULL") {
        "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it in a later migration, then SET NOT NULL: the validated check spares the read"
    } else {
        "add the constraint NOT VALID (new writes are checked at once), then VALIDATE CONSTRAINT in a later migration: it takes SHARE UPDATE EXCLUSIVE, and reads and writes go on"
    }
}

/// The findings of one migration file's trace.
pub fn findings(
    traces: &[StatementTrace],
    in_transaction: bool,
    live: &Live,
    thresholds: Thresholds,
    estimates: &Estimates,
) -> Vec<Finding> {
    let mut r = Rules {
        traces,
        live,
        thresholds,
        estimates,
        out: Vec::new(),
    };
    // The locks the transaction holds on live relations, strongest per table, and the
    // statement that took each.
    let mut held: Vec<(String, LockMode, usize)> = Vec::new();
    let mut write_locked: Vec<(String, usize)> = Vec::new();
    let mut after_work: Vec<(usize, String)> = Vec::new();
    for (i, t) in traces.iter().enumerate() {
        if !in_transaction {
            held.clear();
        }
        // ACCESS EXCLUSIVE requested while other locks are held: gathered, and reported
        // once per file below.
        for l in t
            .locks
            .iter()
            .filter(|l| l.mode == LockMode::AccessExclusive)
        {
            let others = held
                .iter()
                .any(|(table, _, at)| *at < i && table != &l.table);
            let upgrade = held
                .iter()
                .any(|(table, mode, at)| *at < i && table == &l.table && *mode < l.mode);
            if in_transaction && i > 0 && (others || upgrade) {
                after_work.push((i, l.table.clone()));
            }
        }
        for l in &t.locks {
            match held.iter_mut().find(|(table, _, _)| table == &l.table) {
                Some(h) if h.1 < l.mode => {
                    h.1 = l.mode;
                    h.2 = i;
                }
                Some(_) => {}
                None => held.push((l.table.clone(), l.mode, i)),
            }
            if l.mode.blocks() >= Blocks::Writes
                && in_transaction
                && !write_locked.iter().any(|(tb, _)| tb == &l.table)
            {
                write_locked.push((l.table.clone(), i));
            }
        }
        let lock_on = |table: &str| -> Option<LockMode> {
            let mut m = held
                .iter()
                .filter(|(tb, _, _)| tb == table)
                .map(|(_, mode, _)| *mode)
                .max();
            for l in t.locks.iter().filter(|l| l.table == table) {
                m = m.max(Some(l.mode));
            }
            m
        };
        let exclusive_elsewhere = |table: &str| -> Vec<String> {
            held.iter()
                .filter(|(tb, mode, _)| tb != table && *mode == LockMode::AccessExclusive)
                .map(|(tb, _, _)| tb.clone())
                .collect()
        };
        for table in &t.rewritten {
            let mode = lock_on(table).unwrap_or(LockMode::AccessExclusive);
            let (level, why) = r.weigh(table);
            let also = exclusive_elsewhere(table);
            let also = if also.is_empty() {
                String::new()
            } else {
                format!(
                    ", and keeps ACCESS EXCLUSIVE on {} meanwhile",
                    also.join(", ")
                )
            };
            let level = if mode.blocks() == Blocks::Nothing {
                Level::Info
            } else {
                level
            };
            r.push(
                i,
                level,
                "rewrite",
                Some(table),
                format!(
                    "rewrites {table} (and its indexes) under {mode}, which {}{also}; {why}",
                    mode.blocks().words()
                ),
                rewrite_fix(&t.text),
            );
        }
        for what in &t.validated {
            let table = what
                .rsplit_once(" on ")
                .map(|(_, t)| t.to_string())
                .or_else(|| {
                    what.strip_prefix("NOT NULL ")
                        .and_then(|c| c.rsplit_once('.'))
                        .map(|(t, _)| t.to_string())
                })
                .unwrap_or_default();
            if !t.scanned.contains(&table) {
                continue; // checked during a rewrite, or nothing to read
            }
            let mode = lock_on(&table).unwrap_or(LockMode::AccessExclusive);
            if mode.blocks() == Blocks::Nothing {
                r.push(
                    i,
                    Level::Info,
                    "validate",
                    Some(&table),
                    format!("validates {what} by reading all of {table} under {mode}: reads and writes go on"),
                    "nothing to change",
                );
                continue;
            }
            let (level, why) = r.weigh(&table);
            r.push(
                i,
                level,
                "validating-scan",
                Some(&table),
                format!(
                    "validates {what} by reading all of {table} under {mode}, which {}; {why}",
                    mode.blocks().words()
                ),
                validate_fix(what),
            );
        }
        for b in &t.indexes_built {
            if b.concurrently {
                r.push(
                    i,
                    Level::Info,
                    "index-concurrently",
                    Some(&b.table),
                    format!(
                        "builds index {} on {} CONCURRENTLY: reads and writes go on",
                        b.index, b.table
                    ),
                    "nothing to change; a failed build leaves an INVALID index, which `up` drops and builds again",
                );
                continue;
            }
            let mode = lock_on(&b.table).unwrap_or(LockMode::Share);
            let (level, why) = r.weigh(&b.table);
            r.push(
                i,
                level,
                "index-without-concurrently",
                Some(&b.table),
                format!(
                    "builds index {} on {} without CONCURRENTLY, under {mode}, which {}; {why}",
                    b.index,
                    b.table,
                    mode.blocks().words()
                ),
                "CREATE INDEX CONCURRENTLY, in a migration of its own marked -- migrate:no-transaction (for a primary key or unique constraint: build the index concurrently, then ADD CONSTRAINT ... USING INDEX)",
            );
        }
        // Whole-table reads no rule above explains (ATTACH PARTITION checking the partition,
        // a backfill), under a lock that blocks.
        let explained: Vec<String> = t
            .indexes_built
            .iter()
            .map(|b| b.table.clone())
            .chain(
                r.out
                    .iter()
                    .filter(|f| f.line == t.line && f.rule.contains("validat"))
                    .filter_map(|f| f.table.clone()),
            )
            .collect();
        for table in t.scanned.iter().filter(|s| !explained.contains(s)) {
            let Some(mode) = lock_on(table) else { continue };
            if mode.blocks() == Blocks::Nothing {
                continue;
            }
            let (level, why) = r.weigh(table);
            let fix = if words_of(&t.text).contains("ATTACH PARTITION") {
                "add a CHECK constraint matching the partition bound NOT VALID, VALIDATE it, then ATTACH PARTITION: the validated check spares the read"
            } else {
                "do the reading outside the lock: in batches in a migration of its own, or after NOT VALID with VALIDATE later"
            };
            r.push(
                i,
                level,
                "scan-under-lock",
                Some(table),
                format!(
                    "reads all of {table} under {mode}, which {}; {why}",
                    mode.blocks().words()
                ),
                fix,
            );
        }
        // Every lock that blocks something, with how long it is held.
        for l in t
            .locks
            .iter()
            .filter(|l| l.mode.blocks() != Blocks::Nothing)
        {
            let later = if in_transaction {
                traces.len() - i - 1
            } else {
                0
            };
            let mut held_for = if later == 0 {
                "until the statement ends".to_string()
            } else {
                format!("until COMMIT, over {later} more statement(s)")
            };
            if let Some(ms) = l.held_ms {
                held_for.push_str(&format!(
                    ": about {} on the live tables (estimate)",
                    duration(ms)
                ));
            }
            let via = l
                .via
                .as_deref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default();
            r.push(
                i,
                Level::Info,
                "lock",
                Some(&l.table),
                format!(
                    "takes {} on {}{via}, which {}, held {held_for}",
                    l.mode,
                    l.table,
                    l.mode.blocks().words()
                ),
                if later > 0 {
                    "keep the statements after it few and fast, or give them a migration of their own"
                } else {
                    "keep lock_timeout short so that a wait for the lock fails fast instead of queueing traffic"
                },
            );
        }
    }
    if let Some((first, table)) = after_work.first() {
        let list: Vec<String> = after_work
            .iter()
            .map(|(i, t)| format!("{t} (line {})", traces[*i].line))
            .collect();
        r.push(
            *first,
            Level::Warning,
            "lock-after-work",
            Some(table),
            format!(
                "takes ACCESS EXCLUSIVE on {} while the transaction already holds locks taken by earlier statements: while it waits for each table, everything queued behind those locks waits too",
                list.join(", ")
            ),
            "take the strongest locks first (LOCK TABLE ... IN ACCESS EXCLUSIVE MODE as the file's first statement), or split the file into migrations of their own; keep lock_timeout short",
        );
    }
    // Tables locked against writes one statement after another: an application that
    // writes them in another order deadlocks with the migration.
    let lines: BTreeSet<usize> = write_locked.iter().map(|(_, i)| *i).collect();
    if lines.len() > 1 {
        let second = write_locked
            .iter()
            .find(|(_, i)| *i != write_locked[0].1)
            .map(|(t, i)| (t.clone(), *i))
            .unwrap_or_default();
        let order: Vec<String> = write_locked
            .iter()
            .map(|(t, i)| format!("{t} (line {})", traces[*i].line))
            .collect();
        r.push(
            second.1,
            Level::Warning,
            "lock-order",
            Some(&second.0),
            format!(
                "locks against writes, one statement after another: {}; an application transaction that writes {} and then {} deadlocks with this migration",
                order.join(", "),
                second.0,
                write_locked[0].0
            ),
            "lock every table the migration changes in one statement at the start of the file (LOCK TABLE a, b IN ... MODE), in the order the application takes them",
        );
    }
    r.out
}
