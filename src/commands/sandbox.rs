//! `sandbox`: a throwaway server with every set applied, each in its own database.

use super::apply::*;
use super::*;
use anyhow::{anyhow, bail, Result};
use migrate::cluster::{Cluster, ClusterOptions};
use migrate::config::MigrationSet;
use migrate::engine;
use serde_json::json;
use std::io::IsTerminal;

pub(super) async fn sandbox(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    keep: bool,
    bindir: Option<std::path::PathBuf>,
) -> Result<()> {
    crate::ui::working("sandbox", "starting a throwaway PostgreSQL server");
    let cluster = Cluster::start(&ClusterOptions {
        keep,
        bindir,
        ..Default::default()
    });
    crate::ui::finish();
    let cluster = cluster?;
    let result = sandbox_apply(g, sets, &cluster).await;
    let databases = match result {
        Ok(d) => d,
        Err(e) => {
            let _ = cluster.stop();
            return Err(e);
        }
    };
    let version = server_version(&g.run, &cluster).await;
    let server = json!({
        "port": cluster.port(), "dir": cluster.root(), "pid": cluster.pid(),
        "bindir": cluster.bindir(), "kept": keep, "version": version,
    });
    let pid = cluster.pid().unwrap_or(0);
    let stop_hint = format!("kill -INT {pid} && rm -rf {}", cluster.root().display());
    if g.json {
        print_json(json!({ "command": "sandbox", "server": server, "databases": databases }))?;
    } else {
        outln!(
            "server: PostgreSQL {} from {}",
            version.as_deref().unwrap_or("?"),
            cluster.bindir().display()
        );
        for d in &databases {
            outln!(
                "{}  {}",
                d["set"].as_str().unwrap_or(""),
                d["url"].as_str().unwrap_or("")
            );
        }
    }
    if keep {
        cluster.keep();
        if !g.json {
            outln!("the server keeps running; stop and remove it with: {stop_hint}");
        }
        return Ok(());
    }
    if std::io::stdin().is_terminal() && !g.json {
        outln!("press Ctrl-C to stop the server and remove it");
        g.run.wait().await;
    }
    cluster.stop()?;
    crate::ui::line("server stopped and removed");
    Ok(())
}

/// Creates one database per set on the sandbox server and applies the set to it.
/// The server's version, as it reports it (`17.10`).
async fn server_version(run: &Run, cluster: &Cluster) -> Option<String> {
    let mut c = engine::connect(run, &cluster.url("postgres")).await.ok()?;
    sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(&mut c)
        .await
        .ok()
}

pub(super) async fn sandbox_apply(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    cluster: &Cluster,
) -> Result<Vec<serde_json::Value>> {
    let mut admin = engine::connect(&g.run, &cluster.url("postgres")).await?;
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
        let mut conn = engine::connect(&g.run, &url).await?;
        engine::up(&mut conn, set, None, limits(g, set), &progress).await?;
        let st = engine::status(&mut conn, set).await?;
        if st.pending() > 0 {
            bail!("set {} still has pending migrations", set.name);
        }
        if !g.json {
            out!("{}", render_status(&st));
        }
        out.push(json!({ "set": set.name, "url": url, "status": st }));
    }
    Ok(out)
}
