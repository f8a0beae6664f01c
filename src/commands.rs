//! The verbs: load configuration, connect, call the engine, and print text or JSON.
//! Progress goes to standard error so that standard output holds only the result.

use crate::cli::{Cli, Command, Global};
use anyhow::{anyhow, bail, Context, Result};
use migrate::cluster::{Cluster, ClusterOptions};
use migrate::config::{valid_duration, Config, MigrationSet};
use migrate::engine::{self, DownTarget, EngineError, Event, SetStatus, Step};

use serde_json::json;
use sqlx::PgConnection;
use std::io::{BufRead, IsTerminal, Write};

/// A check found drift (exit code 1); the report has been printed already.
#[derive(Debug, thiserror::Error)]
#[error("drift found")]
pub struct DriftFound;

/// A usage or configuration problem (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub async fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    if let Some(t) = &g.lock_timeout {
        if !valid_duration(t) {
            return Err(UsageError(format!(
                "--lock-timeout {t:?} is not a duration; write e.g. 500ms, 5s or 1min"
            ))
            .into());
        }
    }
    let config = Config::load(g.config.as_deref())?;
    let mut sets = Vec::new();
    for s in config.select(&g.sets)? {
        sets.push(config.load_set(s)?);
    }
    match &cli.command {
        Command::Up { to, dry_run: true } => up_dry_run(g, &sets, *to).await,
        Command::Up { to, dry_run: false } => up(g, &sets, *to).await,
        Command::Down {
            steps,
            to,
            dry_run: true,
            ..
        } => down_dry_run(g, &sets, down_target(*steps, *to)).await,
        Command::Down { steps, to, yes, .. } => {
            down(g, &sets, down_target(*steps, *to), *yes).await
        }
        Command::Status => status(g, &sets).await,
        Command::Sandbox { keep } => sandbox(g, &sets, *keep).await,
        Command::Snapshot { check } => snapshot(g, &sets, *check).await,
        Command::Diff { against, sql } => diff(g, &sets, against.as_deref(), *sql).await,
        Command::Verify { roundtrip: true } => roundtrip(g, &sets).await,
        Command::Verify { roundtrip: false } => verify(g, &sets).await,
    }
}

fn down_target(steps: Option<usize>, to: Option<i64>) -> DownTarget {
    match (steps, to) {
        (_, Some(v)) => DownTarget::To(v),
        (Some(n), None) => DownTarget::Steps(n),
        (None, None) => DownTarget::Steps(1),
    }
}

/// `up --dry-run`: the SQL of every pending migration, in order; nothing is changed.
async fn up_dry_run(g: &Global, sets: &[MigrationSet], to: Option<i64>) -> Result<()> {
    check_distinct_schemas(sets)?;
    let mut conn = engine::connect(database_url(g)?).await?;
    let mut reports = Vec::new();
    for set in sets {
        let plan = engine::pending(&mut conn, set, to).await?;
        let scripts: Vec<String> = plan
            .iter()
            .map(|m| engine::script(set, m, engine::Direction::Up, lock_timeout(g, set)))
            .collect();
        if !g.json {
            println!(
                "-- {}: {} migration(s) would be applied",
                set.name,
                plan.len()
            );
            print!("{}", scripts.join(""));
        }
        reports.push(json!({ "set": set.name, "versions": plan.iter().map(|m| m.version).collect::<Vec<_>>(), "sql": scripts }));
    }
    if g.json {
        print_json(json!({ "command": "up", "dry_run": true, "sets": reports }));
    }
    Ok(())
}

/// `down --dry-run`: the SQL of every migration that would be rolled back, in order, and
/// the data it would delete; nothing is changed.
async fn down_dry_run(g: &Global, sets: &[MigrationSet], target: DownTarget) -> Result<()> {
    let mut conn = engine::connect(database_url(g)?).await?;
    let mut reports = Vec::new();
    for set in sets.iter().rev() {
        let (plan, at_risk) = engine::rollback_preview(&mut conn, set, target).await?;
        let scripts: Vec<String> = plan
            .iter()
            .map(|m| engine::script(set, m, engine::Direction::Down, lock_timeout(g, set)))
            .collect();
        if !g.json {
            println!(
                "-- {}: {} migration(s) would be rolled back",
                set.name,
                plan.len()
            );
            for r in &at_risk {
                println!(
                    "-- deletes data: {} ({} rows, by {:04})",
                    r.object, r.rows, r.version
                );
            }
            print!("{}", scripts.join(""));
        }
        reports.push(json!({
            "set": set.name, "versions": plan.iter().map(|m| m.version).collect::<Vec<_>>(),
            "data_at_risk": at_risk, "sql": scripts,
        }));
    }
    if g.json {
        print_json(json!({ "command": "down", "dry_run": true, "sets": reports }));
    }
    Ok(())
}

fn database_url(g: &Global) -> Result<&str> {
    g.database_url.as_deref().ok_or_else(|| {
        UsageError("no database given: pass --database-url URL or set DATABASE_URL".into()).into()
    })
}

fn lock_timeout<'a>(g: &'a Global, set: &'a MigrationSet) -> &'a str {
    g.lock_timeout.as_deref().unwrap_or(&set.lock_timeout)
}

/// Prints engine progress on standard error.
fn progress(e: &Event) {
    let line = match e {
        Event::Waiting { set, holder } => format!(
            "{set}: another migrate run holds the lock of this set{}; waiting for it to finish",
            holder.map(|h| format!(" ({h})")).unwrap_or_default()
        ),
        Event::Locked { set, waited_ms } => format!("{set}: lock obtained after {waited_ms} ms"),
        Event::Applying { .. } | Event::Reverting { .. } => return,
        Event::Applied { set, migration, ms } => {
            format!(
                "{set}: applied {:04} {} ({ms} ms)",
                migration.version, migration.name
            )
        }
        Event::Reverted { set, migration, ms } => {
            format!(
                "{set}: rolled back {:04} {} ({ms} ms)",
                migration.version, migration.name
            )
        }
        Event::SchemaKept { set, schema } => format!(
            "{set}: schema {schema} was kept because it still holds objects of something else"
        ),
    };
    eprintln!("{line}");
}

fn print_json(value: serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
}

/// Two sets in one schema would collide (both have a `users` table): refuse before anything
/// runs when one `up` is asked to install them side by side.
fn check_distinct_schemas(sets: &[MigrationSet]) -> Result<()> {
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

async fn up(g: &Global, sets: &[MigrationSet], to: Option<i64>) -> Result<()> {
    check_distinct_schemas(sets)?;
    let mut conn = engine::connect(database_url(g)?).await?;
    let mut reports = Vec::new();
    for set in sets {
        let steps = engine::up(&mut conn, set, to, lock_timeout(g, set), &progress).await?;
        let now = engine::status(&mut conn, set).await?;
        if !g.json {
            println!("{}", summary(set, &steps, &now, "applied"));
        }
        reports.push(json!({
            "set": set.name, "schema": set.schema, "applied": steps,
            "current_version": now.current_version, "pending": now.pending(),
        }));
    }
    if g.json {
        print_json(json!({ "command": "up", "sets": reports }));
    }
    Ok(())
}

fn summary(set: &MigrationSet, steps: &[Step], now: &SetStatus, verb: &str) -> String {
    if set.migrations.is_empty() {
        return format!("{}: no migrations", set.name);
    }
    let at = format!("at {:04}", now.current_version);
    match steps.len() {
        0 => format!("{}: nothing to do, {at}", set.name),
        n => format!(
            "{}: {verb} {n} migration{}, now {at}",
            set.name,
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// Asks before rolling back: `--yes` skips the question; without a terminal it refuses.
/// The question (and the refusal) lists the data the down files would delete.
fn confirm(yes: bool) -> impl FnMut(&engine::RollbackPlan) -> Result<(), EngineError> {
    move |plan| {
        let list = plan
            .migrations
            .iter()
            .map(|m| format!("{:04} {}", m.version, m.name))
            .collect::<Vec<_>>()
            .join(", ");
        let mut what = format!(
            "{} migration(s) of set `{}`: {list}",
            plan.migrations.len(),
            plan.set.name
        );
        if !plan.data_at_risk.is_empty() {
            let risk = plan
                .data_at_risk
                .iter()
                .map(|r| format!("{} ({} rows, by {:04})", r.object, r.rows, r.version))
                .collect::<Vec<_>>()
                .join(", ");
            what.push_str(&format!("; this deletes data: {risk}"));
        }
        if yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(EngineError::NeedsConfirmation { what });
        }
        eprint!("roll back {what}? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Ok(()),
            _ => Err(EngineError::Cancelled),
        }
    }
}

async fn down(g: &Global, sets: &[MigrationSet], target: DownTarget, yes: bool) -> Result<()> {
    let mut conn = engine::connect(database_url(g)?).await?;
    let mut reports = Vec::new();
    let mut ask = confirm(yes);
    // Newest set first: the reverse of the order `up` applies them in.
    for set in sets.iter().rev() {
        let steps = engine::down(
            &mut conn,
            set,
            target,
            lock_timeout(g, set),
            &mut ask,
            &progress,
        )
        .await?;
        let now = engine::status(&mut conn, set).await?;
        if !g.json {
            println!("{}", summary(set, &steps, &now, "rolled back"));
        }
        reports.push(json!({
            "set": set.name, "schema": set.schema, "rolled_back": steps,
            "current_version": now.current_version,
        }));
    }
    if g.json {
        print_json(json!({ "command": "down", "sets": reports }));
    }
    Ok(())
}

fn render_status(s: &SetStatus) -> String {
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
    let width = s.migrations.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for m in &s.migrations {
        let detail = match (&m.applied_at, m.checksum_matches) {
            (Some(at), Some(ok)) => format!(
                "applied {at} by {} in {} ms, checksum {}",
                m.applied_by.as_deref().unwrap_or("?"),
                m.execution_ms.unwrap_or(0),
                if ok { "ok" } else { "CHANGED since applied" }
            ),
            _ => "pending".to_string(),
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

async fn statuses(conn: &mut PgConnection, sets: &[MigrationSet]) -> Result<Vec<SetStatus>> {
    let mut out = Vec::new();
    for set in sets {
        out.push(engine::status(conn, set).await?);
    }
    Ok(out)
}

async fn status(g: &Global, sets: &[MigrationSet]) -> Result<()> {
    let mut conn = engine::connect(database_url(g)?).await?;
    let all = statuses(&mut conn, sets).await?;
    if g.json {
        print_json(json!({ "command": "status", "sets": all }));
    } else {
        for s in &all {
            print!("{}", render_status(s));
        }
    }
    Ok(())
}

async fn sandbox(g: &Global, sets: &[MigrationSet], keep: bool) -> Result<()> {
    if !g.json {
        eprintln!("starting a throwaway PostgreSQL server...");
    }
    let cluster = Cluster::start(&ClusterOptions { keep })?;
    let result = sandbox_apply(g, sets, &cluster).await;
    let databases = match result {
        Ok(d) => d,
        Err(e) => {
            let _ = cluster.stop();
            return Err(e);
        }
    };
    let server = json!({
        "port": cluster.port(), "dir": cluster.root(), "pid": cluster.pid(),
        "bindir": cluster.bindir(), "kept": keep,
    });
    let pid = cluster.pid().unwrap_or(0);
    let stop_hint = format!("kill -INT {pid} && rm -rf {}", cluster.root().display());
    if g.json {
        print_json(json!({ "command": "sandbox", "server": server, "databases": databases }));
    } else {
        for d in &databases {
            println!(
                "{}  {}",
                d["set"].as_str().unwrap_or(""),
                d["url"].as_str().unwrap_or("")
            );
        }
    }
    if keep {
        cluster.keep();
        if !g.json {
            println!("the server keeps running; stop and remove it with: {stop_hint}");
        }
        return Ok(());
    }
    if std::io::stdin().is_terminal() && !g.json {
        println!("press Ctrl-C to stop the server and remove it");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    cluster.stop()?;
    if !g.json {
        eprintln!("server stopped and removed");
    }
    Ok(())
}

/// Creates one database per set on the sandbox server and applies the set to it.
async fn sandbox_apply(
    g: &Global,
    sets: &[MigrationSet],
    cluster: &Cluster,
) -> Result<Vec<serde_json::Value>> {
    let mut admin = engine::connect(&cluster.url("postgres")).await?;
    let mut out = Vec::new();
    for set in sets {
        sqlx::raw_sql(&format!(
            "CREATE DATABASE {}",
            engine::quote_ident(&set.name)
        ))
        .execute(&mut admin)
        .await
        .map_err(|e| {
            anyhow!(
                "creating database {}: {}",
                set.name,
                engine::error::reason(&e)
            )
        })?;
        let url = cluster.url(&set.name);
        let mut conn = engine::connect(&url).await?;
        engine::up(&mut conn, set, None, lock_timeout(g, set), &progress).await?;
        let st = engine::status(&mut conn, set).await?;
        if st.pending() > 0 {
            bail!("set {} still has pending migrations", set.name);
        }
        if !g.json {
            print!("{}", render_status(&st));
        }
        out.push(json!({ "set": set.name, "url": url, "status": st }));
    }
    Ok(out)
}

/// A server to make scratch databases on: the given one, or a throwaway cluster.
struct ScratchServer {
    admin_url: String,
    _cluster: Option<Cluster>,
}

impl ScratchServer {
    fn start(g: &Global) -> Result<ScratchServer> {
        Ok(match &g.database_url {
            Some(url) => ScratchServer {
                admin_url: url.clone(),
                _cluster: None,
            },
            None => {
                let cluster = Cluster::start(&ClusterOptions::default())?;
                ScratchServer {
                    admin_url: cluster.url("postgres"),
                    _cluster: Some(cluster),
                }
            }
        })
    }

    /// Runs `work` on a new empty database, dropped afterwards whatever happened.
    async fn with_database<T>(
        &self,
        purpose: &str,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let name = format!("migrate_{purpose}_{}", std::process::id());
        let mut admin = engine::connect(&self.admin_url).await?;
        let quoted = engine::quote_ident(&name);
        sqlx::raw_sql(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await
            .map_err(|e| {
                anyhow!(
                    "creating scratch database {name}: {}",
                    engine::error::reason(&e)
                )
            })?;
        let result = async {
            let mut conn = engine::connect(&engine::with_database(&self.admin_url, &name)).await?;
            let value = work(&mut conn).await;
            drop(conn);
            value
        }
        .await;
        let dropped = sqlx::raw_sql(&format!("DROP DATABASE {quoted} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
        let value = result?;
        dropped.map_err(|e| {
            anyhow!(
                "dropping scratch database {name}: {}",
                engine::error::reason(&e)
            )
        })?;
        Ok(value)
    }
}

/// A unified diff of two texts, coloured when `color` is set.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str, color: bool) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    if !color {
        return text;
    }
    text.lines()
        .map(|l| match l.chars().next() {
            Some('+') if !l.starts_with("+++") => format!("\x1b[32m{l}\x1b[0m"),
            Some('-') if !l.starts_with("---") => format!("\x1b[31m{l}\x1b[0m"),
            Some('@') => format!("\x1b[36m{l}\x1b[0m"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Whether to colour output: standard output is a terminal and NO_COLOR is not set.
pub fn use_color(g: &Global) -> bool {
    !g.json
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn snapshot(g: &Global, sets: &[MigrationSet], check: bool) -> Result<()> {
    let server = ScratchServer::start(g)?;
    let mut reports = Vec::new();
    let mut stale = Vec::new();
    for set in sets {
        let built = server
            .with_database("snapshot", async |conn: &mut PgConnection| {
                Ok(migrate::snapshot::build(conn, set).await?)
            })
            .await?;
        let text = migrate::catalog::render(&built);
        let file = format!(
            "{}/{}",
            set_dir_shown(set),
            migrate::config::EXPECTED_CATALOG
        );
        let committed = set.expected_catalog.clone().unwrap_or_default();
        let up_to_date = committed == text;
        if check {
            if !up_to_date {
                stale.push(set.name.clone());
                if !g.json {
                    print!(
                        "{}",
                        unified_diff(
                            &committed,
                            &text,
                            &format!("{file} (committed)"),
                            &format!("{file} (from the migrations)"),
                            use_color(g)
                        )
                    );
                }
            } else if !g.json {
                println!(
                    "{}: {file} is up to date ({} objects)",
                    set.name,
                    built.objects.len()
                );
            }
        } else {
            let dir = set.dir_on_disk.as_ref().ok_or_else(|| {
                UsageError(format!(
                    "set `{}` was read from the binary, not from disk; run snapshot in a checkout where {} exists",
                    set.name, file
                ))
            })?;
            let path = dir.join(migrate::config::EXPECTED_CATALOG);
            std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
            if !g.json {
                println!(
                    "{}: wrote {file} ({} objects)",
                    set.name,
                    built.objects.len()
                );
            }
        }
        reports.push(json!({ "set": set.name, "file": file, "objects": built.objects.len(), "up_to_date": up_to_date }));
    }
    if g.json {
        print_json(json!({ "command": "snapshot", "check": check, "sets": reports }));
    }
    if !stale.is_empty() {
        bail!(
            "the expected catalog of {} is out of date; run `migrate snapshot` and review the change",
            stale.join(", ")
        );
    }
    Ok(())
}

fn set_dir_shown(set: &MigrationSet) -> String {
    format!("schema/{}", set.name)
}

/// The sets a checking verb looks at: those named with --set, else those installed in the
/// database (with rows in migrate.history).
async fn installed_sets<'s>(
    g: &Global,
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

/// Expected and actual catalogs of one set, limited to the schemas the set owns.
async fn drift_of(
    conn: &mut PgConnection,
    other: Option<&mut PgConnection>,
    set: &MigrationSet,
) -> Result<(migrate::diff::Drift, migrate::catalog::Catalog)> {
    let committed = migrate::snapshot::committed(set);
    let expected = match other {
        Some(other) => {
            migrate::catalog::introspect(other, &set.schema)
                .await?
                .catalog
        }
        None => committed.as_ref().map_err(|e| anyhow!("{e}"))?.clone(),
    };
    let mut scope = vec![set.schema.clone()];
    scope.extend(expected.schema_names());
    if let Ok(c) = &committed {
        scope.extend(c.schema_names());
    }
    let expected = expected.scoped(&scope);
    let actual = migrate::catalog::introspect(conn, &set.schema)
        .await?
        .catalog
        .scoped(&scope);
    Ok((migrate::diff::compare(&expected, &actual), expected))
}

fn render_drift(
    set: &MigrationSet,
    drift: &migrate::diff::Drift,
    objects: usize,
    color: bool,
) -> String {
    let head = format!("{} (schema {})", set.name, set.schema);
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

async fn diff(g: &Global, sets: &[MigrationSet], against: Option<&str>, sql: bool) -> Result<()> {
    let mut conn = engine::connect(database_url(g)?).await?;
    let mut other = match against {
        Some(url) => Some(engine::connect(url).await?),
        None => None,
    };
    let selected = installed_sets(g, &mut conn, sets).await?;
    let color = use_color(g);
    let mut reports = Vec::new();
    let mut drifted = false;
    for set in selected {
        let (drift, expected) = drift_of(&mut conn, other.as_mut(), set).await?;
        drifted |= !drift.is_empty();
        let statements = migrate::diff::repair::statements(&drift, &expected, &set.schema);
        if !g.json {
            if sql {
                if !drift.is_empty() {
                    println!("-- {}: repair statements", set.name);
                    println!("{}", statements.join("\n"));
                }
            } else {
                print!(
                    "{}",
                    render_drift(set, &drift, expected.objects.len(), color)
                );
            }
        }
        let expected_from = match against {
            Some(url) => format!("database {}", migrate::redact::redact_url(url)),
            None => format!("schema/{}/{}", set.name, migrate::config::EXPECTED_CATALOG),
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
        print_json(json!({ "command": "diff", "drift": drifted, "sets": reports }));
    }
    if drifted {
        return Err(DriftFound.into());
    }
    Ok(())
}

/// The catalog check of `verify`: the database against the expected catalog of the applied
/// version, each drifted object attributed to the migration that made it where that can be
/// worked out on a scratch database.
async fn catalog_check(
    g: &Global,
    conn: &mut PgConnection,
    set: &MigrationSet,
    applied_version: i64,
) -> Result<migrate::verify::Check> {
    let fully_applied = applied_version == set.latest();
    let committed = migrate::snapshot::committed(set);
    let mut steps = None;
    if !fully_applied || committed.is_err() {
        let server = ScratchServer::start(g)?;
        steps = Some(
            server
                .with_database("verify", async |c: &mut PgConnection| {
                    Ok(migrate::snapshot::per_migration(c, set).await?)
                })
                .await?,
        );
    }
    let expected = match (&steps, committed) {
        (Some(steps), _) if !fully_applied => steps
            .iter()
            .rfind(|(v, _, _)| *v <= applied_version)
            .map(|(_, _, c)| c.clone())
            .unwrap_or_default(),
        (_, Ok(c)) => c,
        (Some(steps), Err(_)) => steps.last().map(|(_, _, c)| c.clone()).unwrap_or_default(),
        (None, Err(e)) => return Err(e.into()),
    };
    let mut scope = vec![set.schema.clone()];
    scope.extend(expected.schema_names());
    let expected = expected.scoped(&scope);
    let actual = migrate::catalog::introspect(conn, &set.schema)
        .await?
        .catalog
        .scoped(&scope);
    let drift = migrate::diff::compare(&expected, &actual);
    if !drift.is_empty() && steps.is_none() {
        // Which migration made what: worth a scratch database only when something drifted.
        if let Ok(server) = ScratchServer::start(g) {
            steps = server
                .with_database("verify", async |c: &mut PgConnection| {
                    Ok(migrate::snapshot::per_migration(c, set).await?)
                })
                .await
                .ok();
        }
    }
    let from = |key: &str| -> String {
        steps
            .as_ref()
            .and_then(|s| migrate::snapshot::made_by(s, key))
            .map(|(v, n)| format!(" (from {v:04} {n})"))
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    problems.extend(
        drift
            .missing
            .iter()
            .map(|k| format!("missing {k}{}", from(k))),
    );
    problems.extend(drift.unexpected.iter().map(|k| format!("unexpected {k}")));
    problems.extend(
        drift
            .changed
            .iter()
            .map(|c| format!("changed {}{}", c.object, from(&c.object))),
    );
    Ok(migrate::verify::Check::new(
        "catalog",
        problems,
        &format!(
            "matches the expected catalog at {applied_version:04} ({} objects)",
            expected.objects.len()
        ),
        "differs from the expected catalog (migrate diff shows how)",
    ))
}

async fn verify(g: &Global, sets: &[MigrationSet]) -> Result<()> {
    let mut conn = engine::connect(database_url(g)?).await?;
    let selected = installed_sets(g, &mut conn, sets).await?;
    let mut all_ok = true;
    let mut reports = Vec::new();
    for set in selected {
        let applied = engine::history::read(&mut conn, &set.name).await?;
        let mut checks = migrate::verify::history_checks(set, &applied);
        let applied_version = applied.iter().map(|a| a.version).max().unwrap_or(0);
        checks.push(catalog_check(g, &mut conn, set, applied_version).await?);
        let mut schemas = vec![set.schema.clone()];
        if let Some(text) = &set.expected_catalog {
            if let Ok(c) = migrate::catalog::parse(text) {
                schemas.extend(c.schema_names());
            }
        }
        checks.extend(migrate::verify::invariants(&mut conn, &schemas).await?);
        let ok = checks.iter().all(|c| c.ok);
        all_ok &= ok;
        if !g.json {
            println!("{} (schema {})", set.name, set.schema);
            for c in &checks {
                println!(
                    "  {}  {:<20} {}",
                    if c.ok { "PASS" } else { "FAIL" },
                    c.check,
                    c.summary
                );
            }
        }
        reports.push(json!({ "set": set.name, "schema": set.schema, "ok": ok, "checks": checks }));
    }
    if g.json {
        print_json(json!({ "command": "verify", "ok": all_ok, "sets": reports }));
    }
    if !all_ok {
        return Err(DriftFound.into());
    }
    Ok(())
}

async fn roundtrip(g: &Global, sets: &[MigrationSet]) -> Result<()> {
    let server = ScratchServer::start(g)?;
    let color = use_color(g);
    let mut all_ok = true;
    let mut reports = Vec::new();
    for set in sets {
        let steps = server
            .with_database("roundtrip", async |c: &mut PgConnection| {
                Ok(migrate::roundtrip::prove(c, set).await?)
            })
            .await?;
        let ok = steps.iter().all(|s| s.outcome != "fail");
        all_ok &= ok;
        if !g.json {
            println!("{}: rollback proof on a scratch database", set.name);
            for s in &steps {
                println!(
                    "  {:<12} {:<40} {}",
                    s.outcome.to_uppercase(),
                    s.step,
                    s.detail
                );
            }
            for s in steps.iter().filter(|s| !s.changed.is_empty()) {
                for c in &s.changed {
                    print!(
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
        reports.push(json!({ "set": set.name, "ok": ok, "steps": steps }));
    }
    if g.json {
        print_json(
            json!({ "command": "verify", "roundtrip": true, "ok": all_ok, "sets": reports }),
        );
    }
    if !all_ok {
        return Err(DriftFound.into());
    }
    Ok(())
}
