//! `snapshot`, `diff` and `verify` (with `--roundtrip`): the verbs that compare a database
//! with what the binary expects.

use super::*;
use anyhow::{bail, Context, Result};
use migrate::config::MigrationSet;
use migrate::engine;
use migrate::run::Run;
use migrate::verify::roundtrip;
use migrate::verify::scratch::ScratchServer;
use serde_json::json;
use sqlx::PgConnection;
use std::cell::Cell;

pub(super) async fn snapshot(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    check: bool,
    server: &ScratchServer,
) -> Result<()> {
    let mut reports = Vec::new();
    let mut stale = Vec::new();
    for set in sets {
        let steps = server
            .with_database("snapshot", async |conn: &mut PgConnection| {
                Ok::<_, anyhow::Error>(
                    migrate::verify::snapshot::per_migration(&g.run, conn, set).await?,
                )
            })
            .await?;
        let built = steps.last().map(|(_, _, c)| c.clone()).unwrap_or_default();
        let files = [
            (
                migrate::config::EXPECTED_CATALOG,
                migrate::catalog::render(&built),
                set.expected_catalog.clone().unwrap_or_default(),
            ),
            (
                migrate::config::EXPECTED_VERSIONS,
                migrate::verify::snapshot::render_versions(&steps),
                set.expected_versions.clone().unwrap_or_default(),
            ),
        ];
        let up_to_date = files.iter().all(|(_, text, committed)| text == committed);
        for (name, text, committed) in &files {
            let file = format!("{}/{name}", set.dir_shown());
            if check {
                if text != committed {
                    if !g.json {
                        out!(
                            "{}",
                            unified_diff(
                                committed,
                                text,
                                &format!("{file} (committed)"),
                                &format!("{file} (from the migrations)"),
                                use_color(g)
                            )
                        );
                    }
                } else if !g.json {
                    outln!(
                        "{}: {file} is up to date ({} objects)",
                        set.name,
                        built.objects.len()
                    );
                }
            } else {
                let dir = set.dir_on_disk.as_ref().ok_or_else(|| {
                    UsageError(format!(
                        "set `{}` was read from the binary, not from disk; run snapshot in a checkout where {} exists",
                        set.name, set.dir_shown()
                    ))
                })?;
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                if !g.json {
                    outln!(
                        "{}: wrote {file} ({} objects)",
                        set.name,
                        built.objects.len()
                    );
                }
            }
        }
        if check && !up_to_date {
            stale.push(set.name.clone());
        }
        reports.push(json!({
            "set": set.name, "files": files.iter().map(|(n, _, _)| format!("{}/{n}", set.dir_shown())).collect::<Vec<_>>(),
            "objects": built.objects.len(), "up_to_date": up_to_date,
        }));
    }
    if g.json {
        print_json(json!({
            "command": "snapshot", "check": check, "ok": stale.is_empty(), "sets": reports,
        }))?;
        if !stale.is_empty() {
            return Err(Reported(1).into());
        }
    }
    if !stale.is_empty() {
        bail!(
            "the expected catalogs of {} are out of date; run `migrate snapshot` and review the change",
            stale.join(", ")
        );
    }
    Ok(())
}

/// The sets a checking verb looks at: those named with --set, else those installed in the
/// database (with rows in migrate.history).
pub(super) async fn installed_sets<'s>(
    g: &Ctx<'_>,
    conn: &mut PgConnection,
    sets: &'s [MigrationSet],
) -> Result<Vec<&'s MigrationSet>> {
    if !g.sets.is_empty() {
        return Ok(sets.iter().collect());
    }
    let mut installed = Vec::new();
    for set in sets {
        if !engine::history::read(conn, &set.name).await?.is_empty() {
            installed.push(set);
        }
    }
    if installed.is_empty() {
        return Err(UsageError(
            "no set is installed in this database (migrate.history has no rows); pass --set NAME to compare anyway".into(),
        )
        .into());
    }
    Ok(installed)
}

/// What `diff` prints instead of its report: repair statements, and whether those that can
/// lose data are statements or comments.
#[derive(Clone, Copy)]
pub(super) struct Repair {
    pub sql: bool,
    pub allow_data_loss: bool,
}

/// The catalog of a database, with its dependencies when a repair is to be planned.
async fn read_catalog(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
    repair: Repair,
    owner: &str,
) -> Result<migrate::catalog::Catalog> {
    Ok(migrate::verify::expected::read(run, conn, home, repair.sql, Some(owner)).await?)
}

/// Whether any of `sets` has rows in migrate.history.
async fn any_installed(conn: &mut PgConnection, sets: &[MigrationSet]) -> Result<bool> {
    for set in sets {
        if !engine::history::read(conn, &set.name).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The drift of one set (`migrate::verify::expected::drift_of`).
pub(super) async fn drift_of(
    run: &Run,
    conn: &mut PgConnection,
    other: Option<&mut PgConnection>,
    set: &MigrationSet,
    all: &[MigrationSet],
    repair: Repair,
) -> Result<migrate::verify::expected::Comparison> {
    Ok(migrate::verify::expected::drift_of(run, conn, other, set, all, repair.sql).await?)
}

/// The report of one comparison; `head` names what was compared.
pub(super) fn render_drift(
    head: &str,
    drift: &migrate::diff::Drift,
    objects: usize,
    color: bool,
) -> String {
    if drift.is_empty() {
        return format!("{head}: no drift ({objects} objects)\n");
    }
    let mut out = format!(
        "{head}: {} difference{}: {} missing, {} unexpected, {} changed\n",
        drift.count(),
        if drift.count() == 1 { "" } else { "s" },
        drift.missing.len(),
        drift.unexpected.len(),
        drift.changed.len()
    );
    for key in &drift.missing {
        out.push_str(&format!("  missing     {key}\n"));
    }
    for key in &drift.unexpected {
        out.push_str(&format!("  unexpected  {key}\n"));
    }
    for c in &drift.changed {
        out.push_str(&format!("  changed     {}\n", c.object));
    }
    for c in &drift.changed {
        out.push('\n');
        out.push_str(&unified_diff(
            &migrate::catalog::text::render_body(&c.expected),
            &migrate::catalog::text::render_body(&c.actual),
            &format!("expected {}", c.object),
            &format!("actual {}", c.object),
            color,
        ));
    }
    out
}

pub(super) async fn diff(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    all: &[MigrationSet],
    against: Option<&str>,
    schemas: &[String],
    repair: Repair,
) -> Result<()> {
    let sql = repair.sql;
    let url = database_url(g)?;
    if let Some(against) = against {
        super::valid_url(against, "--against")?;
    }
    let mut conn = super::connect(&g.run, url).await?;
    let mut other = match against {
        Some(url) => Some(super::connect_held_by(&g.run, url, "--against").await?),
        None => None,
    };
    let by_schema =
        !schemas.is_empty() || (g.sets.is_empty() && !any_installed(&mut conn, sets).await?);
    if by_schema {
        let (Some(url), Some(other)) = (against, other.as_mut()) else {
            return Err(UsageError(
                "no set is installed in this database (migrate.history has no rows): pass --against URL to compare it with another database, or --set NAME to compare it with a set's expected catalog".into(),
            )
            .into());
        };
        return diff_schemas(g, &mut conn, other, url, schemas, repair).await;
    }
    let selected = installed_sets(g, &mut conn, sets).await?;
    let color = use_color(g);
    let mut reports = Vec::new();
    let mut drifted = false;
    for set in selected {
        let migrate::verify::expected::Comparison {
            drift,
            expected,
            actual,
        } = drift_of(&g.run, &mut conn, other.as_mut(), set, all, repair).await?;
        drifted |= !drift.is_empty();
        if crate::ui::ndjson() {
            let version = engine::status(&mut conn, set).await?.current_version;
            drift_events(Some(&set.name), Some(version), &drift);
        }
        let statements = migrate::diff::plan::statements(
            &drift,
            &expected,
            &actual,
            &set.schema,
            repair.allow_data_loss,
        );
        if !g.json {
            if sql {
                if !drift.is_empty() {
                    outln!("-- {}: repair statements", set.name);
                    outln!("{}", statements.join("\n"));
                }
            } else {
                out!(
                    "{}",
                    render_drift(
                        &format!("{} (schema {})", set.name, set.schema),
                        &drift,
                        expected.objects.len(),
                        color
                    )
                );
            }
        }
        let expected_from = match against {
            Some(url) => format!("database {}", migrate::redact::redact_url(url)),
            None => format!("{}/{}", set.dir_shown(), migrate::config::EXPECTED_CATALOG),
        };
        let mut report = json!({
            "set": set.name, "schema": set.schema, "expected": expected_from,
            "objects": expected.objects.len(), "drift": !drift.is_empty(),
            "missing": drift.missing, "unexpected": drift.unexpected, "changed": drift.changed,
        });
        if sql {
            report["sql"] = json!(statements);
        }
        reports.push(report);
    }
    if g.json {
        print_json(json!({ "command": "diff", "drift": drifted, "sets": reports }))?;
    }
    if drifted {
        return Err(Reported(1).into());
    }
    Ok(())
}

/// `diff --set S --from-file PATH...`: the set's committed catalog (what its migrations
/// build) against the declarative schema files, applied to a scratch database. The files
/// are the expected side: `missing` is what they declare and the migrations do not build.
pub(super) async fn diff_files(
    g: &Ctx<'_>,
    set: &MigrationSet,
    all: &[MigrationSet],
    files: &[(String, String)],
    server: &ScratchServer,
) -> Result<()> {
    let committed = migrate::verify::snapshot::committed(set)?;
    let declared = server
        .with_database("declared", async |conn: &mut PgConnection| {
            super::apply_declared(conn, set, files).await?;
            Ok::<_, anyhow::Error>(
                migrate::verify::expected::read(&g.run, conn, &set.schema, false, None)
                    .await?
                    .as_sets_see_it(&set.schema),
            )
        })
        .await?;
    let migrate::verify::expected::Comparison {
        drift, expected, ..
    } = migrate::verify::expected::compare_set(set, all, &declared, &committed);
    drift_events(Some(&set.name), None, &drift);
    let shown: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    if g.json {
        print_json(json!({
            "command": "diff", "drift": !drift.is_empty(),
            "sets": [{
                "set": set.name, "schema": set.schema,
                "expected": format!("schema files {}", shown.join(", ")),
                "actual": format!("{}/{}", set.dir_shown(), migrate::config::EXPECTED_CATALOG),
                "objects": expected.objects.len(), "drift": !drift.is_empty(),
                "missing": drift.missing, "unexpected": drift.unexpected, "changed": drift.changed,
            }],
        }))?;
    } else {
        out!(
            "{}",
            render_drift(
                &format!(
                    "{} (its migrations) against the schema files {}",
                    set.name,
                    shown.join(", ")
                ),
                &drift,
                expected.objects.len(),
                use_color(g)
            )
        );
    }
    if !drift.is_empty() {
        return Err(Reported(1).into());
    }
    Ok(())
}

/// One `drift_found` event per object that differs (NDJSON only).
fn drift_events(set: Option<&str>, version: Option<i64>, drift: &migrate::diff::Drift) {
    let kinds = [
        ("missing", &drift.missing),
        ("unexpected", &drift.unexpected),
    ];
    for (kind, keys) in kinds {
        for key in keys {
            crate::ui::emit(
                "drift_found",
                set,
                version,
                json!({ "kind": kind, "object": key }),
            );
        }
    }
    for c in &drift.changed {
        crate::ui::emit(
            "drift_found",
            set,
            version,
            json!({ "kind": "changed", "object": c.object }),
        );
    }
}

/// `diff` between two databases, whatever sets they hold: `schemas` of both (every schema but
/// the system's and the platform's when empty), the --against database being the expected.
async fn diff_schemas(
    g: &Ctx<'_>,
    conn: &mut PgConnection,
    other: &mut PgConnection,
    against: &str,
    schemas: &[String],
    repair: Repair,
) -> Result<()> {
    let sql = repair.sql;
    const HOME: &str = "public";
    // Both databases are read relative to one role, the one this run connects to the
    // compared database as: an object owned by anyone else shows its owner on either side,
    // so owners compare as pg_dump's `OWNER TO` lines do.
    let owner: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await?;
    let expected = read_catalog(&g.run, other, HOME, repair, &owner)
        .await?
        .in_schemas(schemas);
    let actual = read_catalog(&g.run, conn, HOME, repair, &owner)
        .await?
        .in_schemas(schemas);
    let drift = migrate::diff::compare(&expected, &actual);
    let statements =
        migrate::diff::plan::statements(&drift, &expected, &actual, HOME, repair.allow_data_loss);
    drift_events(None, None, &drift);
    let shown = if schemas.is_empty() {
        "every schema".to_string()
    } else {
        format!("schema {}", schemas.join(", "))
    };
    if g.json {
        let mut report = json!({
            "command": "diff", "drift": !drift.is_empty(), "schemas": schemas,
            "expected": format!("database {}", migrate::redact::redact_url(against)),
            "objects": expected.objects.len(),
            "missing": drift.missing, "unexpected": drift.unexpected, "changed": drift.changed,
        });
        if sql {
            report["sql"] = json!(statements);
        }
        print_json(report)?;
    } else if sql {
        if !drift.is_empty() {
            outln!("-- {shown}: repair statements");
            outln!("{}", statements.join("\n"));
        }
    } else {
        out!(
            "{}",
            render_drift(&shown, &drift, expected.objects.len(), use_color(g))
        );
    }
    if !drift.is_empty() {
        return Err(Reported(1).into());
    }
    Ok(())
}

/// Every check of `verify` for one set, in order (`migrate::verify::expected::checks`).
pub(super) async fn checks_of(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
    all: &[MigrationSet],
) -> Result<Vec<migrate::verify::Check>> {
    Ok(migrate::verify::expected::checks(run, conn, set, all).await?)
}

/// The check lines of one set, as `verify` prints them.
pub(super) fn render_checks(
    set: &MigrationSet,
    checks: &[migrate::verify::Check],
    color: bool,
) -> String {
    let mut out = format!("{} (schema {})\n", set.name, set.schema);
    for c in checks {
        out.push_str(&format!(
            "  {}  {:<20} {}\n",
            outcome_word(if c.ok { "PASS" } else { "FAIL" }, 4, color),
            c.check,
            c.summary
        ));
    }
    out
}

/// One `check_result` event per check of `set` (NDJSON only).
pub(super) async fn check_events(
    conn: &mut PgConnection,
    set: &MigrationSet,
    checks: &[migrate::verify::Check],
) -> Result<()> {
    if !crate::ui::ndjson() {
        return Ok(());
    }
    let version = engine::status(conn, set).await?.current_version;
    for c in checks {
        crate::ui::emit(
            "check_result",
            Some(&set.name),
            Some(version),
            json!({ "check": c.check, "ok": c.ok, "summary": c.summary }),
        );
    }
    Ok(())
}

pub(super) async fn verify(g: &Ctx<'_>, sets: &[MigrationSet], all: &[MigrationSet]) -> Result<()> {
    let mut conn = super::connect(&g.run, database_url(g)?).await?;
    let selected = installed_sets(g, &mut conn, sets).await?;
    let mut all_ok = true;
    let mut reports = Vec::new();
    for set in selected {
        let checks = checks_of(&g.run, &mut conn, set, all).await?;
        let ok = checks.iter().all(|c| c.ok);
        all_ok &= ok;
        check_events(&mut conn, set, &checks).await?;
        if !g.json {
            out!("{}", render_checks(set, &checks, use_color(g)));
        }
        reports.push(json!({ "set": set.name, "schema": set.schema, "ok": ok, "checks": checks }));
    }
    if g.json {
        print_json(json!({ "command": "verify", "ok": all_ok, "sets": reports }))?;
    }
    if !all_ok {
        return Err(Reported(1).into());
    }
    Ok(())
}

/// Runs `futures` concurrently on this task and returns their outputs in their order.
async fn all_at_once<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// `verify --roundtrip`: every set's rollback proof on scratch databases of `server`, cut into
/// shares for `cores` cores (roundtrip::plan).
pub(super) async fn roundtrip(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    server: &ScratchServer,
    cores: usize,
) -> Result<()> {
    let color = use_color(g);
    let mut all_ok = true;
    let mut reports = Vec::new();
    // Every set is proven at once, in shares (roundtrip::plan), each on a scratch database of
    // its own on the one server: while one waits for the server, another's statements run
    // (two sets took 5.3 s one after the other and 3.4 s at once, on two cores). Reports
    // follow in the sets' order.
    let counts: Vec<(Cell<usize>, Cell<usize>)> =
        sets.iter().map(|_| (Cell::new(0), Cell::new(0))).collect();
    let work: Vec<(usize, roundtrip::Share)> = roundtrip::plan(sets, cores)
        .into_iter()
        .enumerate()
        .flat_map(|(i, shares)| shares.into_iter().map(move |s| (i, s)))
        .collect();
    let proofs = work.iter().map(|&(i, share)| {
        let (set, (begun, done)) = (&sets[i], &counts[i]);
        let total = roundtrip::step_count(set);
        server.with_database("roundtrip", async move |c: &mut PgConnection| {
            let started = |label: &str| {
                begun.set(begun.get() + 1);
                crate::ui::step_started(&set.name, begun.get(), total, label);
            };
            let finished = |label: &str| {
                done.set(done.get() + 1);
                crate::ui::step_finished(&set.name, label, done.get(), total);
            };
            Ok::<_, anyhow::Error>(
                roundtrip::prove_share(&g.run, c, set, share, &started, &finished).await?,
            )
        })
    });
    let mut outcomes = all_at_once(proofs.collect()).await.into_iter();
    for (i, set) in sets.iter().enumerate() {
        let mine = work.iter().filter(|(of, _)| *of == i).count();
        let steps = roundtrip::joined(outcomes.by_ref().take(mine).collect())?;
        crate::ui::finish();
        for s in &steps {
            crate::ui::emit(
                "check_result",
                Some(&set.name),
                None,
                json!({ "check": format!("roundtrip {}", s.step), "ok": s.outcome != "fail", "outcome": s.outcome, "summary": s.detail }),
            );
        }
        let ok = steps.iter().all(|s| s.outcome != "fail");
        all_ok &= ok;
        if !g.json {
            outln!("{}: rollback proof on a scratch database", set.name);
            for s in &steps {
                outln!(
                    "  {} {:<40} {}",
                    outcome_word(&s.outcome.to_uppercase(), 12, color),
                    s.step,
                    s.detail
                );
            }
            for s in steps.iter().filter(|s| !s.changed.is_empty()) {
                for c in &s.changed {
                    out!(
                        "{}",
                        unified_diff(
                            &migrate::catalog::text::render_body(&c.expected),
                            &migrate::catalog::text::render_body(&c.actual),
                            &format!("{}: {} before", s.step, c.object),
                            &format!("{}: {} after", s.step, c.object),
                            color,
                        )
                    );
                }
            }
        }
        // The versions each share proved, first and last (roundtrip::plan).
        let shares: Vec<serde_json::Value> = work
            .iter()
            .filter(|(of, s)| *of == i && s.end > s.first)
            .map(|(_, s)| {
                json!({
                    "first": set.migrations[s.first].version,
                    "last": set.migrations[s.end - 1].version,
                })
            })
            .collect();
        reports.push(json!({ "set": set.name, "ok": ok, "steps": steps, "shares": shares }));
    }
    if g.json {
        print_json(
            json!({ "command": "verify", "roundtrip": true, "ok": all_ok, "sets": reports }),
        )?;
    }
    if !all_ok {
        return Err(Reported(1).into());
    }
    Ok(())
}
