//! The verbs: load configuration, connect, call the engine, and print text or JSON.
//! Progress goes to standard error so that standard output holds only the result. One file
//! per group of verbs: `apply` (up, down, status), `checks` (snapshot, diff, verify),
//! `sandbox`; what they share lives here.

mod apply;
mod checks;
mod sandbox;

use crate::cli::{Cli, Command, Global};
use anyhow::{anyhow, Result};
use migrate::cluster::{Cluster, ClusterOptions};
use migrate::config::{valid_duration, Config};
use migrate::engine;
use sqlx::PgConnection;
use std::io::IsTerminal;

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
        Command::Up { to, dry_run: true } => apply::up_dry_run(g, &sets, *to).await,
        Command::Up { to, dry_run: false } => apply::up(g, &sets, *to).await,
        Command::Down {
            steps,
            to,
            dry_run: true,
            ..
        } => apply::down_dry_run(g, &sets, apply::down_target(*steps, *to)).await,
        Command::Down { steps, to, yes, .. } => {
            apply::down(g, &sets, apply::down_target(*steps, *to), *yes).await
        }
        Command::Status => apply::status(g, &sets).await,
        Command::Sandbox { keep } => sandbox::sandbox(g, &sets, *keep).await,
        Command::Snapshot { check } => checks::snapshot(g, &sets, *check).await,
        Command::Diff { against, sql } => checks::diff(g, &sets, against.as_deref(), *sql).await,
        Command::Verify { roundtrip: true } => checks::roundtrip(g, &sets).await,
        Command::Verify { roundtrip: false } => checks::verify(g, &sets).await,
    }
}

fn database_url(g: &Global) -> Result<&str> {
    g.database_url.as_deref().ok_or_else(|| {
        UsageError("no database given: pass --database-url URL or set DATABASE_URL".into()).into()
    })
}

fn print_json(value: serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
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
            // The work replays migrations, maybe many times: their notices are not news here.
            sqlx::raw_sql("SET client_min_messages = warning")
                .execute(&mut conn)
                .await
                .map_err(|e| {
                    anyhow!(
                        "preparing scratch database {name}: {}",
                        engine::error::reason(&e)
                    )
                })?;
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
