//! One session advisory lock per set, held on the run's own connection for the whole run.
//!
//! The lock is taken by polling `pg_try_advisory_lock` rather than by a blocking
//! `pg_advisory_lock`: a session blocked in `pg_advisory_lock` is inside a statement with a
//! snapshot, and a `CREATE INDEX CONCURRENTLY` run by the lock holder waits for every such
//! snapshot to end. The holder would wait for the waiter and the waiter for the holder; the
//! deadlock detector then kills one of them, possibly the migration. Between two polls the
//! waiter holds no snapshot, so the holder's migration proceeds.
//!
//! The lock's own statements are unnamed (not prepared and cached): should a transaction-mode
//! pooler slip past the session check, they still run in whatever server session they land
//! in, and [`held`] can say that the lock is not there.

use super::error::{db, EngineError};
use super::Event;
use sqlx::{PgConnection, Row};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);

async fn key(conn: &mut PgConnection, set: &str) -> Result<i64, EngineError> {
    sqlx::query_scalar("SELECT hashtextextended('migrate:set:' || $1, 0)")
        .persistent(false)
        .bind(set)
        .fetch_one(conn)
        .await
        .map_err(db(format!("computing the lock key of set `{set}`")))
}

/// Who holds the lock `key` in this database, as `pid N (application)`.
async fn holder(conn: &mut PgConnection, key: i64) -> Option<String> {
    let k = key as u64;
    let row = sqlx::query(
        "SELECT l.pid, coalesce(a.application_name, '') AS app
           FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid::bigint = $1 AND l.objid::bigint = $2",
    )
    .bind((k >> 32) as i64)
    .bind((k & 0xffff_ffff) as i64)
    .fetch_optional(conn)
    .await
    .ok()??;
    let pid: i32 = row.get("pid");
    let app: String = row.get("app");
    Some(if app.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid} ({app})")
    })
}

/// Takes the set's lock, waiting (and saying so once) while another run holds it.
pub async fn acquire(
    conn: &mut PgConnection,
    set: &str,
    events: &dyn Fn(&Event),
) -> Result<(), EngineError> {
    let key = key(conn, set).await?;
    let started = Instant::now();
    let mut announced = false;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .persistent(false)
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(db(format!("taking the lock of set `{set}`")))?;
        if got {
            // Behind a transaction-mode pooler the next statement may run in another server
            // session, where this lock is not held: check before relying on it.
            if !held(conn, set).await? {
                return Err(EngineError::LockNotHeld {
                    set: set.to_string(),
                });
            }
            if announced {
                events(&Event::Locked {
                    set,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            return Ok(());
        }
        if !announced {
            announced = true;
            let holder = holder(conn, key).await;
            events(&Event::Waiting {
                set,
                holder: holder.as_deref(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether the server session running this statement holds the lock of `set`. Through a
/// transaction-mode pooler it may be another session than the one that took it.
pub async fn held(conn: &mut PgConnection, set: &str) -> Result<bool, EngineError> {
    let key = key(conn, set).await?;
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND pid = pg_backend_pid() AND objsubid = 1
             AND classid::bigint = $1 AND objid::bigint = $2)",
    )
    .persistent(false)
    .bind(((key as u64) >> 32) as i64)
    .bind(((key as u64) & 0xffff_ffff) as i64)
    .fetch_one(&mut *conn)
    .await
    .map_err(db(format!("checking the lock of set `{set}`")))
}

pub async fn release(conn: &mut PgConnection, set: &str) -> Result<(), EngineError> {
    let key = key(conn, set).await?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .persistent(false)
        .bind(key)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(db(format!("releasing the lock of set `{set}`")))
}
