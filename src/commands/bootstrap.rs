//! `bootstrap`: what an operator runs once on a new project (a fresh Supabase project, a new
//! database): check the connection and the role's privileges, apply every selected set in
//! its configured schema, verify it, and say how its upkeep is scheduled. Idempotent: a
//! second run changes nothing and says so.

use super::apply::{check_distinct_schemas, limits, progress, summary};
use super::checks::{checks_of, render_checks};
use super::*;
use anyhow::{bail, Result};
use migrate::config::MigrationSet;
use migrate::engine;
use serde_json::json;
use sqlx::{PgConnection, Row};

/// Refuses before anything runs when the role cannot create what `set` needs: objects in
/// its schema (or the schema itself), and the history schema where it is missing.
async fn require_privileges(conn: &mut PgConnection, set: &MigrationSet) -> Result<()> {
    let row = sqlx::query(
        "SELECT current_user::text AS role,
                CASE WHEN to_regnamespace(quote_ident($1)) IS NOT NULL
                     THEN has_schema_privilege(quote_ident($1), 'CREATE')
                     ELSE has_database_privilege(current_database(), 'CREATE') END AS schema_ok,
                to_regnamespace('migrate') IS NOT NULL
                  OR has_database_privilege(current_database(), 'CREATE') AS history_ok",
    )
    .bind(&set.schema)
    .fetch_one(&mut *conn)
    .await?;
    let role: String = row.get("role");
    if !row.get::<bool, _>("schema_ok") {
        bail!(
            "role {role} may not create objects in schema {} (set `{}`); grant it CREATE on that schema, or connect as its owner (on Supabase: the postgres role, direct connection)",
            set.schema,
            set.name
        );
    }
    if !row.get::<bool, _>("history_ok") {
        bail!("role {role} may not create the schema `migrate` that holds the history; grant it CREATE on the database, or create the schema for it");
    }
    Ok(())
}

/// How `set`'s upkeep runs here: pg_cron's version and the set's jobs, or what to do instead.
async fn upkeep(conn: &mut PgConnection, set: &MigrationSet) -> Result<serde_json::Value> {
    let version: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
            .fetch_optional(&mut *conn)
            .await?;
    let Some(version) = version else {
        return Ok(json!({ "pg_cron": null, "jobs": [],
            "advice": "pg_cron is not installed: schedule `migrate maintain` daily and `migrate maintain --monthly` on the 1st" }));
    };
    let jobs: Vec<String> = sqlx::query_scalar(
        "SELECT jobname::text FROM cron.job WHERE jobname LIKE $1 || '\\_%\\_' || $2 ORDER BY 1",
    )
    .bind(&set.name)
    .bind(&set.schema)
    .fetch_all(&mut *conn)
    .await?;
    let advice = if jobs.is_empty() && !set.maintenance.daily.is_empty() {
        "pg_cron was installed after the set: no job of this set is scheduled; run `migrate maintain` from a scheduler, or roll back and re-apply the set's scheduling migration"
    } else {
        "scheduled with pg_cron"
    };
    Ok(json!({ "pg_cron": version, "jobs": jobs, "advice": advice }))
}

pub(super) async fn bootstrap(
    g: &Ctx<'_>,
    sets: &[MigrationSet],
    all: &[MigrationSet],
) -> Result<()> {
    let url = database_url(g)?;
    check_distinct_schemas(sets)?;
    let mut conn = super::connect_own_session(&g.run, url).await?;
    let server = engine::server::inspect(&mut conn).await?;
    let _watch = super::watch::statements(&g.run, &mut conn, url).await;
    for set in sets {
        require_privileges(&mut conn, set).await?;
    }
    if !g.json {
        outln!("server: {server}");
    }
    let mut reports = Vec::new();
    let (mut changed, mut all_ok) = (false, true);
    for set in sets {
        let done = engine::apply(&mut conn, set, None, limits(g, set), &progress).await?;
        let steps = done.steps;
        changed |= !steps.is_empty();
        let checks = checks_of(&g.run, &mut conn, set, all).await?;
        let ok = checks.iter().all(|c| c.ok);
        all_ok &= ok;
        super::checks::check_events(&mut conn, set, &checks).await?;
        let upkeep = upkeep(&mut conn, set).await?;
        if !g.json {
            let line = summary(set, &steps, done.current_version, "applied");
            outln!("{line}");
            out!("{}", render_checks(set, &checks, super::use_color(g)));
            outln!(
                "  upkeep: {}{}",
                upkeep["advice"].as_str().unwrap_or(""),
                match upkeep["jobs"].as_array() {
                    Some(j) if !j.is_empty() => format!(
                        " ({})",
                        j.iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => String::new(),
                }
            );
        }
        reports.push(json!({
            "set": set.name, "schema": set.schema, "applied": steps,
            "current_version": done.current_version, "ok": ok, "checks": checks, "upkeep": upkeep,
        }));
    }
    if g.json {
        print_json(json!({
            "command": "bootstrap", "server": server, "changed": changed, "ok": all_ok,
            "sets": reports,
        }))?;
    } else if changed {
        outln!("bootstrap: done");
    } else {
        outln!("bootstrap: nothing to change, the database was bootstrapped already");
    }
    if !all_ok {
        return Err(Reported(1).into());
    }
    Ok(())
}
