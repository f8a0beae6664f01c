//! The server's own progress of a long statement, read from a second connection while a
//! migration runs: `pg_stat_progress_create_index` (phase, blocks and tuples done out of
//! total) for the session that applies the migration. Shown on the bar and as
//! `statement_progress` events; nothing is opened when nobody would see it, nor for a
//! migration that ends within a second.

use crate::ui;
use migrate::engine;
use migrate::run::Run;
use serde_json::json;
use sqlx::{PgConnection, Row};
use std::time::Duration;

/// How often the progress is read.
const INTERVAL: Duration = Duration::from_millis(500);
/// How long a migration runs before a second connection is opened to follow it.
const AFTER: Duration = Duration::from_secs(1);

/// Follows the statements of one connection until dropped.
pub(super) struct Watch(Option<tokio::task::JoinHandle<()>>);

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Starts following what `conn`'s server session runs, when a bar or NDJSON shows it (on
/// the local task set `main` runs the verbs in).
pub(super) async fn statements(run: &Run, conn: &mut PgConnection, url: &str) -> Watch {
    if !ui::wants_statement_progress() {
        return Watch(None);
    }
    let pid = match sqlx::raw_sql("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .and_then(|r| r.try_get::<i32, _>(0))
    {
        Ok(pid) => pid,
        Err(_) => return Watch(None),
    };
    let url = url.to_string();
    Watch(Some(tokio::task::spawn_local(poll(run.clone(), url, pid))))
}

async fn poll(run: Run, url: String, pid: i32) {
    let mut conn: Option<PgConnection> = None;
    let mut last = None;
    loop {
        tokio::time::sleep(INTERVAL).await;
        let Some(current) = ui::current() else {
            continue;
        };
        if current.since.elapsed() < AFTER {
            continue;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match engine::connect(&run, &url).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    ui::verbose(&format!("the server's progress is not shown: {e}"));
                    return;
                }
            },
        };
        let sql = format!(
            "SELECT command, phase, blocks_done, blocks_total, tuples_done, tuples_total, \
                    CASE WHEN index_relid = 0 THEN NULL ELSE index_relid::regclass::text END, \
                    relid::regclass::text \
             FROM pg_stat_progress_create_index WHERE pid = {pid}"
        );
        let row = match sqlx::raw_sql(&sql).fetch_all(&mut *c).await {
            Ok(rows) => rows.into_iter().next(),
            Err(e) => {
                ui::verbose(&format!("the server's progress is not shown: {e}"));
                return;
            }
        };
        let Some(row) = row else {
            continue;
        };
        let get = |i: usize| row.try_get::<Option<String>, _>(i).ok().flatten();
        let num = |i: usize| row.try_get::<Option<i64>, _>(i).ok().flatten();
        let (command, phase) = (get(0).unwrap_or_default(), get(1).unwrap_or_default());
        let (blocks_done, blocks_total) = (num(2), num(3));
        let (tuples_done, tuples_total) = (num(4), num(5));
        let progress = json!({
            "command": command, "phase": phase,
            "blocks_done": blocks_done, "blocks_total": blocks_total,
            "tuples_done": tuples_done, "tuples_total": tuples_total,
            "index": get(6), "table": get(7),
        });
        if last.as_ref() == Some(&progress) {
            continue;
        }
        let text = match (blocks_total, tuples_total) {
            (Some(t), _) if t > 0 => {
                let done = blocks_done.unwrap_or(0);
                format!("{}% of {t} blocks, {phase}", done * 100 / t)
            }
            (_, Some(t)) if t > 0 => {
                format!("{} of {t} tuples, {phase}", tuples_done.unwrap_or(0))
            }
            _ => phase.clone(),
        };
        ui::statement_progress(&current, &progress, &text);
        last = Some(progress);
    }
}
