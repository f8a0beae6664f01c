//! The rollback proof. On an empty scratch database, for every migration k of a set: apply
//! 1..k, revert k, and require the catalog to equal the one after 1..k-1 (what the down file
//! left behind or removed too much is named); apply k again and require the catalog of a
//! plain up. Then revert everything and require the catalog of the empty database, and apply
//! everything again and require the catalog of a plain up. A migration whose down file is
//! `-- migrate:irreversible` is reported as such, not as a failure.

use crate::catalog::{self, Catalog};
use crate::config::MigrationSet;
use crate::diff::{compare, Drift};
use crate::engine::{self, DownTarget};
use crate::run::Run;
use crate::verify::snapshot::SnapshotError;
use serde::Serialize;
use sqlx::PgConnection;

/// The outcome of one step of the proof.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `0001 supabase_auth_shim`, or a whole-set step such as `full rollback`.
    pub step: String,
    /// `pass`, `fail`, `irreversible` or `skipped`.
    pub outcome: &'static str,
    /// One line: what went wrong.
    pub detail: String,
    /// Objects the down file left behind (present after the rollback, absent before `up`).
    pub left_behind: Vec<String>,
    /// Objects the down file removed that existed before the migration.
    pub removed_too_much: Vec<String>,
    /// Objects whose definition the rollback did not restore.
    pub changed: Vec<crate::diff::Changed>,
}

impl Step {
    fn new(step: String, outcome: &'static str, detail: String) -> Step {
        Step {
            step,
            outcome,
            detail,
            left_behind: Vec::new(),
            removed_too_much: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// A step comparing `expected` with `actual`; `what` says what the catalog should be.
    fn compared(step: String, expected: &Catalog, actual: &Catalog, what: &str) -> Step {
        let Drift {
            missing,
            unexpected,
            changed,
        } = compare(expected, actual);
        let mut parts = Vec::new();
        if !unexpected.is_empty() {
            parts.push(format!("left behind: {}", unexpected.join(", ")));
        }
        if !missing.is_empty() {
            parts.push(format!("removed too much: {}", missing.join(", ")));
        }
        if !changed.is_empty() {
            let names: Vec<&str> = changed.iter().map(|c| c.object.as_str()).collect();
            parts.push(format!("not restored: {}", names.join(", ")));
        }
        let ok = parts.is_empty();
        Step {
            step,
            outcome: if ok { "pass" } else { "fail" },
            detail: if ok {
                what.to_string()
            } else {
                parts.join("; ")
            },
            left_behind: unexpected,
            removed_too_much: missing,
            changed,
        }
    }
}

async fn read(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
) -> Result<Catalog, SnapshotError> {
    Ok(catalog::introspect_again(run, conn, &set.schema)
        .await?
        .catalog
        .as_sets_see_it(&set.schema))
}

/// Runs the proof for `set` on the empty database `conn` is connected to. `started` is told
/// each step as it begins: its place (from 1) out of the steps in all, and its name.
pub async fn prove(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
    started: &dyn Fn(usize, usize, &str),
) -> Result<Vec<Step>, SnapshotError> {
    let total = set.migrations.len() + 2;
    let limits = engine::Limits::new(&set.lock_timeout).in_run(run);
    let quiet = |_: &engine::Event| {};
    let mut allow = |_: &engine::RollbackPlan| Ok(());
    let before = read(run, conn, set).await?;
    let mut previous = before.clone();
    let mut steps = Vec::new();
    let mut irreversible = None;
    for (i, m) in set.migrations.iter().enumerate() {
        let label = format!("{:04} {}", m.version, m.name);
        started(i + 1, total, &label);
        engine::up(conn, set, Some(m.version), limits.clone(), &quiet).await?;
        let after = read(run, conn, set).await?;
        if m.down.irreversible {
            steps.push(Step::new(
                label,
                "irreversible",
                format!("{} declares that there is no way back", m.down.path),
            ));
            irreversible.get_or_insert(m.version);
            previous = after;
            continue;
        }
        match engine::down(
            conn,
            set,
            DownTarget::Steps(1),
            &set.lock_timeout,
            &mut allow,
            &quiet,
        )
        .await
        {
            Ok(_) => {
                let reverted = read(run, conn, set).await?;
                let mut step = Step::compared(
                    label.clone(),
                    &previous,
                    &reverted,
                    "its down restores the catalog before it",
                );
                match engine::up(conn, set, Some(m.version), limits.clone(), &quiet).await {
                    Ok(_) => {
                        let again = read(run, conn, set).await?;
                        if step.outcome == "pass" && again != after {
                            step = Step::compared(label, &after, &again, "");
                            step.detail = format!(
                                "applying it again after its down gives another catalog: {}",
                                step.detail
                            );
                        }
                        steps.push(step);
                    }
                    Err(e) => {
                        // What the down left behind stops the migration from applying again;
                        // the database is no longer a known state, so the proof ends here.
                        step.outcome = "fail";
                        step.detail =
                            format!("{}; applying it again then failed: {e}", step.detail);
                        steps.push(step);
                        return Ok(stopped(steps, set, m.version));
                    }
                }
            }
            Err(e) => steps.push(Step::new(label, "fail", format!("its down failed: {e}"))),
        }
        previous = after;
    }
    let full = previous;
    match irreversible {
        Some(v) => {
            let why = format!("{v:04} is irreversible");
            steps.push(Step::new("full rollback".into(), "skipped", why.clone()));
            steps.push(Step::new("up after full rollback".into(), "skipped", why));
        }
        None => {
            started(total - 1, total, "full rollback");
            match engine::down(
                conn,
                set,
                DownTarget::To(0),
                &set.lock_timeout,
                &mut allow,
                &quiet,
            )
            .await
            {
                Ok(_) => {
                    let empty = read(run, conn, set).await?;
                    steps.push(Step::compared(
                        "full rollback".into(),
                        &before,
                        &empty,
                        "leaves the catalog of the empty database",
                    ));
                }
                Err(e) => steps.push(Step::new(
                    "full rollback".into(),
                    "fail",
                    format!("a down failed: {e}"),
                )),
            }
            started(total, total, "up after full rollback");
            engine::up(conn, set, None, &set.lock_timeout, &quiet).await?;
            let again = read(run, conn, set).await?;
            steps.push(Step::compared(
                "up after full rollback".into(),
                &full,
                &again,
                "gives the catalog of a plain up",
            ));
        }
    }
    Ok(steps)
}

/// The proof cut short at `version`: the remaining steps are reported as skipped.
fn stopped(mut steps: Vec<Step>, set: &MigrationSet, version: i64) -> Vec<Step> {
    let why = format!("not run: the proof stopped at {version:04}");
    for m in set.migrations.iter().filter(|m| m.version > version) {
        steps.push(Step::new(
            format!("{:04} {}", m.version, m.name),
            "skipped",
            why.clone(),
        ));
    }
    steps.push(Step::new("full rollback".into(), "skipped", why.clone()));
    steps.push(Step::new("up after full rollback".into(), "skipped", why));
    steps
}
