//! One session advisory lock per set, held on the run's own connection for the whole run.
//!
//! The lock is taken by polling `pg_try_advisory_lock` rather than by a blocking
//! `pg_advisory_lock`: a session blocked in `pg_advisory_lock` is inside a statement with a
//! snapshot, and a `CREATE INDEX CONCURRENTLY` run by the lock holder waits for every such
//! snapshot to end. The holder would wait for the waiter and the waiter for the holder; the
//! deadlock detector then kills one of them, possibly the migration. Between two polls the
//! waiter holds no snapshot, so the holder's migration proceeds.
//!
//! Beside the set's lock a run holds one lock per schema it installs into: two different
//! sets configured into one schema would otherwise both pass the "another set is installed
//! here" check before either had recorded its first migration, and both would install.
//!
//! The lock's own statements are unnamed (not prepared and cached): should a transaction-mode
//! pooler slip past the session check, they still run in whatever server session they land
//! in, and [`held`] can say that the lock is not there.

use super::error::{db, EngineError};
use super::sql::literal;
use super::Event;
use sqlx::{PgConnection, Row};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);

/// How often a waiting run says again who holds the lock.
const REMIND: Duration = Duration::from_secs(30);

/// What an advisory lock of migrate guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard<'a> {
    /// One set: one run applies or reverts it at a time.
    Set(&'a str),
    /// One schema: one set installs into it at a time.
    Schema(&'a str),
}

impl Guard<'_> {
    fn label(&self) -> String {
        match self {
            Guard::Set(set) => format!("migrate:set:{set}"),
            Guard::Schema(schema) => format!("migrate:schema:{schema}"),
        }
    }
}

impl std::fmt::Display for Guard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guard::Set(set) => write!(f, "the lock of set `{set}`"),
            Guard::Schema(schema) => write!(f, "the lock of schema `{schema}`"),
        }
    }
}

async fn key(conn: &mut PgConnection, guard: Guard<'_>) -> Result<i64, EngineError> {
    sqlx::query_scalar("SELECT hashtextextended($1, 0)")
        .persistent(false)
        .bind(guard.label())
        .fetch_one(conn)
        .await
        .map_err(db(format!("computing the key of {guard}")))
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

/// Takes the lock `guard`, waiting (and saying who holds it, again every half minute) while
/// another run holds it, for at most `wait`. Behind a transaction-mode pooler the lock may
/// be taken in a server session the run's next statement does not land in: see
/// [`check_held`].
pub async fn acquire(
    run: &crate::run::Run,
    conn: &mut PgConnection,
    set: &str,
    guard: Guard<'_>,
    wait: Duration,
    events: &dyn Fn(&Event),
) -> Result<(), EngineError> {
    // One simple query an attempt (the server computes the key from the label, as `key`
    // does); the key itself is asked for only to name a holder.
    let take = format!(
        "SELECT pg_try_advisory_lock(hashtextextended({}, 0))",
        literal(&guard.label())
    );
    let started = Instant::now();
    let mut announced: Option<Instant> = None;
    loop {
        run.check()?;
        let got: bool = sqlx::raw_sql(&take)
            .fetch_one(&mut *conn)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db(format!("taking {guard}")))?;
        if got {
            if announced.is_some() {
                events(&Event::Locked {
                    set,
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            return Ok(());
        }
        if announced.is_none_or(|at| at.elapsed() >= REMIND) {
            announced = Some(Instant::now());
            let key = key(conn, guard).await?;
            let who = holder(conn, key).await;
            events(&Event::Waiting {
                set,
                lock: &guard.to_string(),
                holder: who.as_deref(),
            });
        }
        if started.elapsed() >= wait {
            let key = key(conn, guard).await?;
            let holder = holder(conn, key).await;
            return Err(EngineError::LockWait {
                set: set.to_string(),
                lock: guard.to_string(),
                waited: crate::config::format_duration(wait),
                holder: holder.unwrap_or_else(|| "a session that has ended".into()),
            });
        }
        run.sleep(POLL.min(wait.saturating_sub(started.elapsed())))
            .await;
    }
}

/// An SQL condition: the server session evaluating it holds the lock whose label
/// ([`set_label`] for a set's) is the SQL expression `label` (a literal of it). Through a
/// transaction-mode pooler it may be another session than the one that took it. The server
/// computes the key from the label as `key` does, and pg_locks shows it split: `classid`
/// its high 32 bits, `objid` its low ones.
pub fn held_condition(label: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks, hashtextextended({label}, 0) AS k
                  WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                    AND objsubid = 1 AND classid::bigint = (k >> 32) & 4294967295
                    AND objid::bigint = k & 4294967295)"
    )
}

/// Fails with [`EngineError::LockNotHeld`] unless the server session running this statement
/// holds every lock of `guards`, which run `set` took: one statement.
pub async fn check_held(
    conn: &mut PgConnection,
    set: &str,
    guards: &[Guard<'_>],
) -> Result<(), EngineError> {
    let doing = format!("checking the locks of set `{set}`");
    if !all_held(conn, guards, doing).await? {
        return Err(EngineError::LockNotHeld {
            set: set.to_string(),
        });
    }
    Ok(())
}

/// Whether the server session running this statement holds the lock of `set`.
pub async fn held(conn: &mut PgConnection, set: &str) -> Result<bool, EngineError> {
    let guard = Guard::Set(set);
    all_held(conn, &[guard], format!("checking {guard}")).await
}

/// Whether the server session running this statement holds every lock of `guards`.
async fn all_held(
    conn: &mut PgConnection,
    guards: &[Guard<'_>],
    doing: String,
) -> Result<bool, EngineError> {
    let all = guards
        .iter()
        .map(|g| held_condition(&literal(&g.label())))
        .collect::<Vec<_>>()
        .join(" AND ");
    sqlx::raw_sql(&format!("SELECT {all}"))
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(db(doing))
}

/// The label of the lock of `set`, as [`held_condition`] reads it.
pub fn set_label(set: &str) -> String {
    Guard::Set(set).label()
}

/// Releases the locks `guards` (never on a connection the run gave up on: the server
/// releases them when it notices that the connection is gone), in one statement.
pub async fn release(conn: &mut PgConnection, guards: &[Guard<'_>]) -> Result<(), EngineError> {
    // Only locks this session still holds: one a migration released itself (a refused
    // run) would make the server warn that it is not held.
    let keys = guards
        .iter()
        .map(|g| format!("(hashtextextended({}, 0))", literal(&g.label())))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT pg_advisory_unlock(k) FROM pg_locks, (VALUES {keys}) AS v(k)
          WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
            AND ((classid::bigint << 32) | objid::bigint) = k AND objsubid = 1"
    );
    let what = guards
        .iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(" and ");
    sqlx::raw_sql(&sql)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(db(format!("releasing {what}")))
}
