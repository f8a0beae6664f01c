//! `lint`: the trace of each chosen migration and its findings, as text, one JSON document,
//! or a Markdown table for a pull request.

use super::*;
use anyhow::Result;
use migrate::config::MigrationSet;
use migrate::lint::rules::{duration, Finding, Level, Thresholds};
use migrate::lint::{Lint, LintError, Report};
use serde_json::json;
use std::fmt::Write as _;

/// Which migrations to trace.
pub(super) struct Choice {
    pub versions: Vec<i64>,
    pub all: bool,
}

/// Checks the choice before anything starts: named versions exist in every selected set, and
/// "the pending ones" has a database to be pending in.
pub(super) fn check_choice(g: &Ctx<'_>, sets: &[MigrationSet], choice: &Choice) -> Result<()> {
    for v in &choice.versions {
        for set in sets {
            if set.find(*v).is_none() {
                let known: Vec<String> = set
                    .migrations
                    .iter()
                    .map(|m| format!("{:04}", m.version))
                    .collect();
                return Err(UsageError(format!(
                    "set `{}` has no migration {v:04}; known versions: {} (name the set with --set)",
                    set.name,
                    known.join(", ")
                ))
                .into());
            }
        }
    }
    if choice.versions.is_empty() && !choice.all && g.database_url.is_none() {
        return Err(UsageError(
            "lint traces the migrations the database has pending: pass --database-url (it is only read), --all, or the versions to trace".into(),
        )
        .into());
    }
    Ok(())
}

pub(super) async fn lint(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    choice: &Choice,
    thresholds: Thresholds,
    (scratch_url, scratch_template): (Option<&str>, Option<&str>),
) -> Result<()> {
    let mut live = match g.database_url.as_deref() {
        Some(_) => {
            let url = database_url(g)?;
            let mut conn = connect(&g.run, url).await?;
            // Only read: sizes and the history.
            sqlx::raw_sql("SET default_transaction_read_only = on")
                .execute(&mut conn)
                .await
                .map_err(migrate::engine::error::db("preparing a read-only session"))?;
            Some(conn)
        }
        None => None,
    };
    // After the live database answered: a server is not started for nothing.
    let server = ScratchServer::start(&g.run, scratch_url, scratch_template)?;
    let lint = Lint {
        run: &g.run,
        server: &server,
        thresholds,
    };
    let mut reports = Vec::new();
    for set in sets {
        let chosen: Vec<&migrate::sets::Migration> = if choice.all {
            set.migrations.iter().collect()
        } else if !choice.versions.is_empty() {
            set.migrations
                .iter()
                .filter(|m| choice.versions.contains(&m.version))
                .collect()
        } else {
            let conn = live.as_mut().expect("checked: a database is given");
            migrate::engine::pending(conn, set, None).await?
        };
        for m in chosen {
            crate::ui::spinner(
                "lint",
                &format!("tracing {} {:04} {}", set.name, m.version, m.name),
            );
            let report = lint.migration(set, m, live.as_mut()).await;
            crate::ui::finish();
            // The engine's and the scratch server's errors keep their exit codes (3: a
            // server that cannot be reached).
            reports.push(report.map_err(|e| match e {
                LintError::Engine(e) => anyhow::Error::from(e),
                LintError::Scratch(e) => anyhow::Error::from(e),
                e @ LintError::Statement(_) => anyhow::Error::from(e),
            })?);
        }
    }
    let count = |level: Level| {
        reports
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.level == level && f.ignored.is_none())
            .count()
    };
    let (errors, warnings, infos) = (
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info),
    );
    let ignored = reports
        .iter()
        .flat_map(|r| &r.findings)
        .filter(|f| f.ignored.is_some())
        .count();
    if g.json {
        print_json(json!({
            "command": "lint",
            "ok": errors == 0,
            "live_sizes": live.is_some(),
            "thresholds": {"rows": thresholds.rows, "bytes": thresholds.bytes},
            "errors": errors, "warnings": warnings, "info": infos, "ignored": ignored,
            "migrations": reports,
        }))?;
    } else if g.format == Some(crate::cli::Format::Markdown) {
        out!("{}", markdown(&reports, live.is_some()));
    } else {
        out!("{}", text(&reports, live.is_some(), use_color(g)));
        outln!(
            "lint: {} migration(s) traced: {errors} error(s), {warnings} warning(s), {infos} info{}",
            reports.len(),
            if ignored > 0 {
                format!(", {ignored} accepted with migrate:lint-ignore")
            } else {
                String::new()
            }
        );
    }
    if errors > 0 {
        if !g.json {
            eprintln!(
                "error: {errors} error-level finding(s): rewrite the statements as each `fix:` says, or accept one with `-- migrate:lint-ignore RULE reason` on its statement"
            );
        }
        return Err(Reported(1).into());
    }
    Ok(())
}

/// A finding's size and estimate, in words.
fn weight(f: &Finding) -> Option<String> {
    let e = f.estimate?;
    let rows = f.size.map(|s| s.rows).unwrap_or_default();
    Some(format!(
        "estimate: about {} under the lock ({} on a generated sample of {} rows, scaled to {rows} rows)",
        duration(e.ms),
        duration(e.sample_ms),
        e.sample_rows
    ))
}

/// The findings of `r` (all but the plain `lock` ones), each with its weight, fix and
/// acceptance, appended to `out`.
pub(super) fn findings_text(out: &mut String, r: &Report, color: bool) {
    let shown: Vec<&Finding> = r.findings.iter().filter(|f| f.rule != "lock").collect();
    for f in shown {
        let word = match (f.level, color) {
            (Level::Error, true) => "\x1b[1;31merror\x1b[0m  ".to_string(),
            (Level::Warning, true) => "\x1b[33mwarning\x1b[0m".to_string(),
            (level, _) => format!("{:<7}", level.word()),
        };
        let _ = writeln!(out, "  {word} {} (line {}): {}", f.rule, f.line, f.message);
        if let Some(w) = weight(f) {
            let _ = writeln!(out, "          {w}");
        }
        let _ = writeln!(out, "          fix: {}", f.fix);
        if let Some(reason) = &f.ignored {
            let _ = writeln!(out, "          accepted: {reason}");
        }
    }
}

fn text(reports: &[Report], live: bool, color: bool) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "{} {:04} {} ({}{})",
            r.set,
            r.version,
            r.name,
            r.file,
            if r.no_transaction {
                ", without a transaction"
            } else {
                ""
            }
        );
        let last = r.statements.len().saturating_sub(1);
        for (i, t) in r.statements.iter().enumerate() {
            let live = t
                .estimated_ms
                .map(|e| format!("; about {} on the live tables", duration(e)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  line {}: {} ({:.1} ms{live})",
                t.line, t.statement, t.ms
            );
            for l in &t.locks {
                let via = l
                    .via
                    .as_deref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default();
                let mut held = if r.no_transaction || i == last {
                    "until the statement ends".to_string()
                } else {
                    format!("until COMMIT, {} more statement(s)", last - i)
                };
                if let Some(ms) = l.held_ms {
                    held.push_str(&format!(", about {} (estimate)", duration(ms)));
                }
                let _ = writeln!(
                    out,
                    "      {} on {}{via}: {}, held {held}",
                    l.mode,
                    l.table,
                    l.mode.blocks().words()
                );
            }
            for table in &t.rewritten {
                let _ = writeln!(out, "      rewrote {table}");
            }
            for table in &t.scanned {
                let _ = writeln!(out, "      read all of {table}");
            }
            for b in &t.indexes_built {
                let how = if b.concurrently {
                    "CONCURRENTLY"
                } else {
                    "without CONCURRENTLY"
                };
                let _ = writeln!(out, "      built index {} on {} {how}", b.index, b.table);
            }
            for v in &t.validated {
                let _ = writeln!(out, "      validated {v}");
            }
        }
        findings_text(&mut out, r, color);
        out.push('\n');
    }
    if !live {
        out.push_str("(no --database-url: the live tables' sizes are unknown, so work under a blocking lock on an existing table is a warning)\n");
    }
    out
}

/// One section per migration: the trace as a table, then the findings.
fn markdown(reports: &[Report], live: bool) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "### {} {:04} {}\n\n`{}`{}\n",
            r.set,
            r.version,
            r.name,
            r.file,
            if r.no_transaction {
                " (without a transaction)"
            } else {
                ""
            }
        );
        out.push_str("| line | statement | locks | work |\n| --- | --- | --- | --- |\n");
        for t in &r.statements {
            let locks: Vec<String> = t
                .locks
                .iter()
                .map(|l| {
                    let via = l
                        .via
                        .as_deref()
                        .map(|v| format!(" ({v})"))
                        .unwrap_or_default();
                    format!(
                        "{} on {}{via}: {}",
                        l.mode,
                        l.table,
                        l.mode.blocks().words()
                    )
                })
                .collect();
            let mut work: Vec<String> =
                t.rewritten.iter().map(|x| format!("rewrote {x}")).collect();
            work.extend(t.scanned.iter().map(|x| format!("read all of {x}")));
            work.extend(t.indexes_built.iter().map(|b| {
                format!(
                    "built index {} on {}{}",
                    b.index,
                    b.table,
                    if b.concurrently { " CONCURRENTLY" } else { "" }
                )
            }));
            work.extend(t.validated.iter().map(|v| format!("validated {v}")));
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                t.line,
                cell(&t.statement),
                cell(&locks.join("; ")),
                cell(&work.join("; "))
            );
        }
        out.push('\n');
        for f in r.findings.iter().filter(|f| f.rule != "lock") {
            let _ = write!(
                out,
                "- **{}** `{}` (line {}): {}",
                f.level.word(),
                f.rule,
                f.line,
                cell(&f.message)
            );
            if let Some(w) = weight(f) {
                let _ = write!(out, " {}.", cell(&w));
            }
            let _ = write!(out, " Fix: {}.", cell(&f.fix));
            if let Some(reason) = &f.ignored {
                let _ = write!(out, " Accepted: {}.", cell(reason));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if !live {
        out.push_str("_Sizes unknown: linted without `--database-url`._\n");
    }
    out
}
