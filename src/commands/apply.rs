//! `up`, `down` and `status`, with their dry runs and the rollback question.

use super::*;
use anyhow::Result;
use migrate::config::MigrationSet;
use migrate::engine::{self, DownTarget, EngineError, Event, SetStatus, Step};
use serde_json::json;
use sqlx::PgConnection;
use std::io::{BufRead, IsTerminal, Write};

pub(super) fn down_target(steps: Option<usize>, to: Option<i64>) -> DownTarget {
    match (steps, to) {
        (_, Some(v)) => DownTarget::To(v),
        (Some(n), None) => DownTarget::Steps(n),
        (None, None) => DownTarget::Steps(1),
    }
}

/// `up --dry-run`: the SQL of every pending migration, in order; nothing is changed.
pub(super) async fn up_dry_run(g: &Ctx<'_>, sets: &[MigrationSet], to: Option<i64>) -> Result<()> {
    check_distinct_schemas(sets)?;
    let mut conn = super::connect(&g.run, database_url(g)?).await?;
    let mut reports = Vec::new();
    for set in sets {
        let plan = engine::pending(&mut conn, set, to).await?;
        let scripts: Vec<String> = plan
            .iter()
            .map(|m| engine::script(set, m, engine::Direction::Up, lock_timeout(g, set)))
            .collect();
        if !g.json {
            outln!(
                "-- {}: {} migration(s) would be applied",
                set.name,
                plan.len()
            );
            out!("{}", scripts.join(""));
        }
        reports.push(json!({ "set": set.name, "versions": plan.iter().map(|m| m.version).collect::<Vec<_>>(), "sql": scripts }));
    }
    if g.json {
        print_json(json!({ "command": "up", "dry_run": true, "sets": reports }))?;
    }
    Ok(())
}

/// `down --dry-run`: the SQL of every migration that would be rolled back, in order, and
/// the data it would delete; nothing is changed.
pub(super) async fn down_dry_run(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    target: DownTarget,
) -> Result<()> {
    let mut conn = super::connect(&g.run, database_url(g)?).await?;
    let mut reports = Vec::new();
    for set in sets.iter().rev() {
        let (plan, at_risk) = engine::rollback_preview(&mut conn, set, target).await?;
        let scripts: Vec<String> = plan
            .iter()
            .map(|m| engine::script(set, m, engine::Direction::Down, lock_timeout(g, set)))
            .collect();
        if !g.json {
            outln!(
                "-- {}: {} migration(s) would be rolled back",
                set.name,
                plan.len()
            );
            for r in &at_risk {
                outln!("-- deletes data: {r}");
            }
            out!("{}", scripts.join(""));
        }
        reports.push(json!({
            "set": set.name, "versions": plan.iter().map(|m| m.version).collect::<Vec<_>>(),
            "data_at_risk": at_risk, "sql": scripts,
        }));
    }
    if g.json {
        print_json(json!({ "command": "down", "dry_run": true, "sets": reports }))?;
    }
    Ok(())
}

pub(super) fn lock_timeout<'a>(g: &'a Global, set: &'a MigrationSet) -> &'a str {
    g.lock_timeout.as_deref().unwrap_or(&set.lock_timeout)
}

/// The bounds of a run of `set`: the flags, else the set's configuration, else defaults.
pub(super) fn limits(g: &Ctx<'_>, set: &MigrationSet) -> engine::Limits {
    let mut limits = engine::Limits::new(lock_timeout(g, set)).in_run(&g.run);
    if let Some(w) = g.lock_wait {
        limits.lock_wait = w;
    }
    if let Some(n) = g.lock_retries {
        limits.lock_retries = n;
    }
    if let Some(t) = g.server_timeout {
        limits.server_timeout = t;
    }
    limits
}

/// Shows engine progress: a bar or lines on standard error, NDJSON events.
pub(super) fn progress(e: &Event) {
    crate::ui::event(e);
}

/// Two sets in one schema would collide (both have a `users` table): refuse before anything
/// runs when one `up` is asked to install them side by side.
pub(super) fn check_distinct_schemas(sets: &[MigrationSet]) -> Result<()> {
    for (i, a) in sets.iter().enumerate() {
        if let Some(b) = sets[i + 1..].iter().find(|b| b.schema == a.schema) {
            return Err(UsageError(format!(
                "sets `{}` and `{}` both install into schema `{}` and cannot share one database; pass --set NAME to apply one set per database, or give each set its own `schema` in migrations.toml",
                a.name, b.name, a.schema
            ))
            .into());
        }
    }
    Ok(())
}

pub(super) async fn up(g: &Ctx<'_>, sets: &[MigrationSet], to: Option<i64>) -> Result<()> {
    check_distinct_schemas(sets)?;
    let url = database_url(g)?;
    let mut conn = super::connect_own_session(&g.run, url).await?;
    let _watch = super::watch::statements(&g.run, &mut conn, url).await;
    let mut reports = Vec::new();
    for set in sets {
        let done = engine::apply(&mut conn, set, to, limits(g, set), &progress).await?;
        if !g.json {
            outln!(
                "{}",
                summary(set, &done.steps, done.current_version, "applied")
            );
        }
        reports.push(json!({
            "set": set.name, "schema": set.schema, "previous_version": done.previous_version,
            "applied": done.steps, "current_version": done.current_version,
            "pending": done.pending,
        }));
    }
    if g.json {
        print_json(json!({ "command": "up", "sets": reports }))?;
    }
    Ok(())
}

/// One line on what a run did to `set`, which it left at version `current`.
pub(super) fn summary(set: &MigrationSet, steps: &[Step], current: i64, verb: &str) -> String {
    if set.migrations.is_empty() {
        return format!("{}: no migrations", set.name);
    }
    let at = format!("at {current:04}");
    match steps.len() {
        0 => format!("{}: nothing to do, {at}", set.name),
        n => format!(
            "{}: {verb} {n} migration{}, now {at}",
            set.name,
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// The question `down` asks about a rollback plan: its migrations and the data it deletes.
fn rollback_question(
    set: &MigrationSet,
    migrations: &[&migrate::sets::Migration],
    data_at_risk: &[migrate::engine::risk::DataAtRisk],
) -> String {
    let list = migrations
        .iter()
        .map(|m| format!("{:04} {}", m.version, m.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut what = format!(
        "{} migration(s) of set `{}`: {list}",
        migrations.len(),
        set.name
    );
    if !data_at_risk.is_empty() {
        let risk = data_at_risk
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        what.push_str(&format!("; this deletes data: {risk}"));
    }
    what
}

/// Asks `question [y/N]` on the terminal without holding anything: the answer is read on a
/// thread of its own, so a signal ends the wait at once (exit 130 or 143), and nothing is
/// locked while a person thinks.
async fn ask(run: &Run, question: &str) -> Result<bool, EngineError> {
    err!("roll back {question}? [y/N] ");
    let _ = std::io::stderr().flush();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // (a detached thread: a pending read must not keep the process from exiting)
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        let _ = tx.send(answer);
    });
    tokio::select! {
        answer = rx => Ok(matches!(
            answer.unwrap_or_default().trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        )),
        () = run.wait() => {
            errln!();
            let signal = run.received().unwrap_or(migrate::interrupt::Signal::Interrupt);
            Err(EngineError::Interrupted { signal })
        }
    }
}

/// Whether `down` may go on with a rollback plan, decided before the set's locks are taken:
/// with `--yes`; on a terminal, when the person says yes to the plan read without locks;
/// never without a terminal. Under the locks the plan is checked again (see [`approved`]).
async fn ask_before_locking(
    run: &Run,
    conn: &mut sqlx::PgConnection,
    set: &MigrationSet,
    target: DownTarget,
    yes: bool,
) -> Result<Option<Vec<i64>>, EngineError> {
    if yes {
        return Ok(None);
    }
    let (versions, data_at_risk) = engine::preview_down(conn, set, target).await?;
    if versions.is_empty() {
        return Ok(Some(versions));
    }
    let migrations: Vec<&migrate::sets::Migration> = versions
        .iter()
        .filter_map(|v| set.migrations.iter().find(|m| m.version == *v))
        .collect();
    let what = rollback_question(set, &migrations, &data_at_risk);
    if !std::io::stdin().is_terminal() {
        return Err(EngineError::NeedsConfirmation { what });
    }
    if ask(run, &what).await? {
        Ok(Some(versions))
    } else {
        Err(EngineError::Cancelled)
    }
}

/// The check `down` makes under the set's locks: the plan is the one approved before they
/// were taken (`None`: `--yes`, anything goes). Another run may have changed the history
/// while the question was on screen.
fn approved(
    asked: Option<Vec<i64>>,
) -> impl FnMut(&engine::RollbackPlan) -> Result<(), EngineError> {
    move |plan| {
        let Some(asked) = &asked else {
            return Ok(());
        };
        let now: Vec<i64> = plan.migrations.iter().map(|m| m.version).collect();
        if &now == asked {
            return Ok(());
        }
        let what = rollback_question(plan.set, plan.migrations, &plan.data_at_risk);
        Err(EngineError::PlanChanged { what })
    }
}

pub(super) async fn down(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    target: DownTarget,
    yes: bool,
) -> Result<()> {
    let url = database_url(g)?;
    let mut conn = super::connect_own_session(&g.run, url).await?;
    let _watch = super::watch::statements(&g.run, &mut conn, url).await;
    let mut reports = Vec::new();
    // Newest set first: the reverse of the order `up` applies them in.
    for set in sets.iter().rev() {
        let asked = ask_before_locking(&g.run, &mut conn, set, target, yes).await?;
        let mut check = approved(asked);
        let steps = engine::down(
            &mut conn,
            set,
            target,
            limits(g, set),
            &mut check,
            &progress,
        )
        .await?;
        let now = engine::status(&mut conn, set).await?;
        if !g.json {
            outln!(
                "{}",
                summary(set, &steps, now.current_version, "rolled back")
            );
        }
        reports.push(json!({
            "set": set.name, "schema": set.schema, "rolled_back": steps,
            "current_version": now.current_version,
        }));
    }
    if g.json {
        print_json(json!({ "command": "down", "sets": reports }))?;
    }
    Ok(())
}

pub(super) fn render_status(s: &SetStatus) -> String {
    let mut out = format!("{} (schema {}, files: {})", s.set, s.schema, s.source);
    if s.migrations.is_empty() {
        out.push_str(": no migrations\n");
        return out;
    }
    out.push_str(&format!(
        ": at {:04}, {} pending\n",
        s.current_version,
        s.pending()
    ));
    if let Some(installed) = &s.installed_schema {
        out.push_str(&format!(
            "  INSTALLED IN SCHEMA {installed}, not {}: up, down and verify refuse this set until `schema` in migrations.toml says {installed}\n",
            s.schema
        ));
    }
    let width = s.migrations.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for m in &s.migrations {
        let detail = match (&m.applied_at, m.checksum_matches) {
            (Some(at), Some(ok)) => format!(
                "applied {at} by {} in {} ms, checksum {}",
                m.applied_by.as_deref().unwrap_or("?"),
                m.execution_ms.unwrap_or(0),
                if ok { "ok" } else { "CHANGED since applied" }
            ),
            _ => match &m.partly_applied {
                Some(left) => format!(
                    "pending, PARTLY APPLIED by an interrupted run ({left}); the next up completes it"
                ),
                None => "pending".to_string(),
            },
        };
        out.push_str(&format!("  {:04} {:width$}  {detail}\n", m.version, m.name));
    }
    for u in &s.unknown_applied {
        out.push_str(&format!(
            "  {:04} {:width$}  applied {} but UNKNOWN to this binary\n",
            u.version, u.name, u.applied_at
        ));
    }
    out
}

pub(super) async fn statuses(
    conn: &mut PgConnection,
    sets: &[MigrationSet],
) -> Result<Vec<SetStatus>> {
    let mut out = Vec::new();
    for set in sets {
        out.push(engine::status(conn, set).await?);
    }
    Ok(out)
}

pub(super) async fn status(g: &Ctx<'_>, sets: &[MigrationSet], exit_code: bool) -> Result<()> {
    let mut conn = super::connect(&g.run, database_url(g)?).await?;
    let server = engine::server::inspect(&mut conn).await?;
    let all = statuses(&mut conn, sets).await?;
    if g.json {
        print_json(json!({ "command": "status", "server": server, "sets": all }))?;
    } else {
        outln!("server: {server}");
        for s in &all {
            out!("{}", render_status(s));
        }
    }
    // `--exit-code`: a CI gate on pending migrations, like `git diff --exit-code`.
    if exit_code && all.iter().any(|s| s.pending() > 0) {
        return Err(super::Reported(1).into());
    }
    Ok(())
}

/// `maintain`: each installed (or named) set's upkeep, once.
pub(super) async fn maintain(g: &Ctx<'_>, sets: &[MigrationSet], monthly: bool) -> Result<()> {
    let url = database_url(g)?;
    let mut conn = super::connect_own_session(&g.run, url).await?;
    let selected = super::checks::installed_sets(g, &mut conn, sets).await?;
    let mut reports = Vec::new();
    for set in selected {
        let ran =
            engine::maintain::maintain(&mut conn, set, monthly, limits(g, set), &progress).await;
        crate::ui::finish();
        let ran = ran?;
        if !g.json {
            for r in &ran {
                outln!(
                    "{}: {} -> {} ({} ms)",
                    set.name,
                    r.statement,
                    r.result,
                    r.ms
                );
            }
            if ran.is_empty() {
                outln!("{}: no maintenance declared", set.name);
            }
        }
        reports.push(json!({ "set": set.name, "schema": set.schema, "ran": ran }));
    }
    if g.json {
        print_json(json!({ "command": "maintain", "monthly": monthly, "sets": reports }))?;
    }
    Ok(())
}
