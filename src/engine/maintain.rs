//! `migrate maintain`: a set's upkeep (its `maintenance` statements from migrations.toml:
//! creating next months' partitions, cleaning expired tokens, resetting quotas), run once,
//! for databases without pg_cron (a Kubernetes CronJob, a systemd timer, a CI schedule).
//!
//! It runs under the set's lock, so it never meets a migration of the same set, and only on
//! a set whose migrations are all applied: the functions it calls are those of the newest
//! version. Each statement runs in a transaction of its own with the set's `search_path`,
//! and its result is returned as JSON.

use super::error::{db, EngineError};
use super::{history, locked, Event};
use crate::config::MigrationSet;
use serde::Serialize;
use sqlx::{Connection, PgConnection};
use std::time::Instant;

/// One maintenance statement that ran.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceRun {
    pub statement: String,
    /// Its rows, as a JSON array of objects.
    pub result: serde_json::Value,
    pub ms: i64,
}

/// Runs `set`'s daily maintenance statements, and with `monthly` its monthly ones after.
pub async fn maintain(
    conn: &mut PgConnection,
    set: &MigrationSet,
    monthly: bool,
    limits: impl Into<super::Limits>,
    events: &dyn Fn(&Event),
) -> Result<Vec<MaintenanceRun>, EngineError> {
    let limits = limits.into();
    let lock_timeout = limits.lock_timeout.as_str();
    locked(conn, set, &limits, events, async |conn: &mut PgConnection| {
        let applied = history::read(conn, &set.name).await?;
        super::validate(set, &applied)?;
        let at = applied.iter().map(|a| a.version).max().unwrap_or(0);
        if at < set.latest() {
            return Err(EngineError::NotUpToDate {
                set: set.name.clone(),
                at,
                newest: set.latest(),
            });
        }
        let mut statements: Vec<&String> = set.maintenance.daily.iter().collect();
        if monthly {
            statements.extend(&set.maintenance.monthly);
        }
        let mut out = Vec::new();
        let total = statements.len();
        for (i, statement) in statements.into_iter().enumerate() {
            events(&Event::Upkeep {
                set: &set.name,
                statement,
                index: i + 1,
                total,
            });
            let doing = format!("running the maintenance of set `{}`: {statement}", set.name);
            let started = Instant::now();
            let mut tx = conn.begin().await.map_err(db(doing.clone()))?;
            sqlx::query(
                "SELECT set_config('search_path', quote_ident($1), true), set_config('lock_timeout', $2, true)",
            )
            .bind(&set.schema)
            .bind(lock_timeout)
            .execute(&mut *tx)
            .await
            .map_err(db(doing.clone()))?;
            // Checked when the configuration was loaded: one SELECT.
            let json: String = sqlx::query_scalar(&format!(
                "SELECT coalesce(json_agg(to_json(r)), '[]')::text FROM ({statement}) r"
            ))
            .fetch_one(&mut *tx)
            .await
            .map_err(db(doing.clone()))?;
            tx.commit().await.map_err(db(doing))?;
            let run = MaintenanceRun {
                statement: statement.clone(),
                result: serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)),
                ms: started.elapsed().as_millis() as i64,
            };
            events(&Event::UpkeepRan {
                set: &set.name,
                run: &run,
            });
            out.push(run);
        }
        Ok(out)
    })
    .await
}
