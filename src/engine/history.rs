//! The history table `migrate.history`: one row per applied migration, keyed by
//! (set, version). A migration's row is written in the same transaction as its SQL, so the
//! table never claims a migration that did not commit.

use super::error::{db, EngineError};
use super::sql::literal;
use sqlx::{PgConnection, Row};

/// How long the engine's own reads of `migrate.history` wait for a lock on it (someone's
/// `LOCK` or `ALTER TABLE` on the table) before giving up and naming who holds it.
pub const BOOKKEEPING_LOCK_TIMEOUT: &str = "5s";

/// The statements `sql` as one message, bounded by [`BOOKKEEPING_LOCK_TIMEOUT`]: the
/// statements of one message are one transaction, which `SET LOCAL` bounds, and an error
/// rolls all of it back. One round trip.
fn bounded_message(sql: &str) -> String {
    format!(
        "SET LOCAL lock_timeout = {}; {sql}",
        literal(BOOKKEEPING_LOCK_TIMEOUT)
    )
}

/// The error of a bookkeeping statement: when it hit the lock timeout, who holds a lock on
/// `migrate.history` (read on `conn`, once the failed transaction is gone).
async fn failed(conn: &mut PgConnection, doing: String, e: sqlx::Error) -> EngineError {
    if super::error::sqlstate_of(&e) != Some("55P03") {
        return db(doing)(e);
    }
    let holders = super::error::sessions_sql(
        "a.pid IN (SELECT l.pid FROM pg_locks l WHERE l.locktype = 'relation' AND l.granted
                      AND l.relation = 'migrate.history'::regclass AND l.pid <> pg_backend_pid())",
    );
    let holders: Option<String> = sqlx::query_scalar(&holders)
        .fetch_one(conn)
        .await
        .ok()
        .flatten();
    EngineError::HistoryLocked {
        doing,
        waited: BOOKKEEPING_LOCK_TIMEOUT,
        holders: holders.unwrap_or_else(|| "a session that has since ended".into()),
    }
}

/// Creates `migrate.history` when missing. Serialised by a transaction-level advisory lock so
/// that two first runs against an empty database (for different sets) do not race.
const BOOTSTRAP: &str = "
CREATE SCHEMA IF NOT EXISTS migrate;
COMMENT ON SCHEMA migrate IS 'bookkeeping of the migrate tool: which migrations are applied';
CREATE TABLE IF NOT EXISTS migrate.history (
    set_name     text        NOT NULL,
    version      bigint      NOT NULL CHECK (version > 0),
    name         text        NOT NULL,
    namespace    text        NOT NULL,
    checksum     text        NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text        NOT NULL DEFAULT session_user,
    execution_ms bigint      NOT NULL,
    PRIMARY KEY (set_name, version)
)";

/// A row of `migrate.history`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
    pub namespace: String,
    pub checksum: String,
    /// UTC, RFC 3339.
    pub applied_at: String,
    pub applied_by: String,
    pub execution_ms: i64,
}

/// Whether the history table exists, as an SQL expression.
const EXISTS: &str = "to_regclass('migrate.history') IS NOT NULL";

pub async fn exists(conn: &mut PgConnection) -> Result<bool, EngineError> {
    sqlx::raw_sql(&format!("SELECT {EXISTS}"))
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(db("looking for migrate.history"))
}

/// Creates the history table when missing; first refuses a server that takes no writes
/// (a standby, or a read-only session), which would otherwise fail on the first statement.
/// Both asked in one round trip.
pub async fn ensure(conn: &mut PgConnection) -> Result<(), EngineError> {
    if writable_history_exists(conn).await? {
        return Ok(());
    }
    // (one message: one transaction, which the advisory lock lasts for)
    let sql = bounded_message(&format!(
        "SELECT pg_advisory_xact_lock(hashtextextended('migrate:history', 0)); {BOOTSTRAP}"
    ));
    sqlx::raw_sql(&sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(db("creating migrate.history"))
}

/// Refuses a hot standby and a read-only session, saying which and what to do; else says
/// whether the history table exists.
async fn writable_history_exists(conn: &mut PgConnection) -> Result<bool, EngineError> {
    let sql = format!(
        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')::bool, {EXISTS}"
    );
    let (standby, read_only, exists): (bool, bool, bool) = sqlx::raw_sql(&sql)
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .map_err(db("checking that the server takes writes"))?;
    let why = if standby {
        "the server is a standby (in recovery) and takes no writes; point --database-url at the primary"
    } else if read_only {
        "the session is read-only (default_transaction_read_only is on for this database, role or server); connect to a writable primary, or turn it off for the role that runs migrations: ALTER ROLE <role> SET default_transaction_read_only = off"
    } else {
        return Ok(exists);
    };
    Err(EngineError::ReadOnly { why: why.into() })
}

/// The history rows of set `set`, oldest first (the columns [`applied_of`] reads).
fn rows_of(set: &str) -> String {
    format!(
        "SELECT version, name, namespace, checksum,
                to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS applied_at,
                applied_by, execution_ms
           FROM migrate.history WHERE set_name = {} ORDER BY version",
        literal(set)
    )
}

/// A history table whose rows do not read as this version writes them.
fn shape(e: sqlx::Error) -> EngineError {
    EngineError::HistoryShape {
        reason: super::error::reason(&e),
    }
}

/// The applied migration of a row of [`rows_of`].
fn applied_of(r: &sqlx::postgres::PgRow) -> Result<AppliedMigration, EngineError> {
    Ok(AppliedMigration {
        version: r.try_get("version").map_err(shape)?,
        name: r.try_get("name").map_err(shape)?,
        namespace: r.try_get("namespace").map_err(shape)?,
        checksum: r.try_get("checksum").map_err(shape)?,
        applied_at: r.try_get("applied_at").map_err(shape)?,
        applied_by: r.try_get("applied_by").map_err(shape)?,
        execution_ms: r.try_get("execution_ms").map_err(shape)?,
    })
}

/// Applied migrations of `set`, oldest first; empty when the history table does not exist.
pub async fn read(
    conn: &mut PgConnection,
    set: &str,
) -> Result<Vec<AppliedMigration>, EngineError> {
    if !exists(conn).await? {
        return Ok(Vec::new());
    }
    let doing = format!("reading migrate.history for set `{set}`");
    match sqlx::raw_sql(&bounded_message(&rows_of(set)))
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows.iter().map(applied_of).collect(),
        Err(e) => Err(failed(conn, doing, e).await),
    }
}

/// What a run that applies `set` into `namespace` reads before it plans, in one round trip
/// (the history table must exist): the applied migrations of `set`, oldest first, and
/// another set with migrations applied in `namespace`, if any.
pub async fn read_with_neighbour(
    conn: &mut PgConnection,
    set: &str,
    namespace: &str,
) -> Result<(Vec<AppliedMigration>, Option<String>), EngineError> {
    let doing = format!("reading migrate.history for set `{set}`");
    let sql = bounded_message(&format!(
        "{}; SELECT min(set_name) FROM migrate.history WHERE namespace = {} AND set_name <> {}",
        rows_of(set),
        literal(namespace),
        literal(set)
    ));
    let rows = match sqlx::raw_sql(&sql).fetch_all(&mut *conn).await {
        Ok(rows) => rows,
        Err(e) => return Err(failed(conn, doing, e).await),
    };
    // the rows of the history have seven columns, the other set's one has one
    let (other, history): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.len() == 1);
    let other = match other.first() {
        Some(r) => r.try_get(0).map_err(shape)?,
        None => None,
    };
    let applied = history
        .into_iter()
        .map(applied_of)
        .collect::<Result<_, _>>()?;
    Ok((applied, other))
}

pub struct NewRow<'a> {
    pub set: &'a str,
    pub version: i64,
    pub name: &'a str,
    pub namespace: &'a str,
    pub checksum: &'a str,
    pub execution_ms: i64,
}

impl<'a> NewRow<'a> {
    /// The row of migration `m` of `set`, run in `ms`.
    pub fn of(
        set: &'a crate::config::MigrationSet,
        m: &'a crate::sets::Migration,
        ms: i64,
    ) -> NewRow<'a> {
        NewRow {
            set: &set.name,
            version: m.version,
            name: &m.name,
            namespace: &set.schema,
            checksum: &m.checksum,
            execution_ms: ms,
        }
    }
}

pub async fn insert(conn: &mut PgConnection, row: NewRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("{INSERT} VALUES ($1, $2, $3, $4, $5, $6)"))
        .bind(row.set)
        .bind(row.version)
        .bind(row.name)
        .bind(row.namespace)
        .bind(row.checksum)
        .bind(row.execution_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The history row of a migration, inserted with `INSERT INTO ... VALUES ($1 .. $6)`.
const INSERT: &str =
    "INSERT INTO migrate.history (set_name, version, name, namespace, checksum, execution_ms)";

/// Inserts the history row (`up`) or deletes it (`down`), in one statement with the check
/// that this session still holds the lock of `row.set` ([`lock::held_condition`]): the row
/// is written only when it does. Returns whether it held. Sent with the simple protocol, its
/// values as literals, as the lock's own statements are: one round trip, nothing prepared.
///
/// [`lock::held_condition`]: super::lock::held_condition
pub async fn record_holding_lock(
    conn: &mut PgConnection,
    row: NewRow<'_>,
    up: bool,
) -> Result<bool, sqlx::Error> {
    let (set, version) = (literal(row.set), row.version);
    let change = if up {
        format!(
            "{INSERT} SELECT {set}, {version}, {}, {}, {}, {} FROM held WHERE held.held",
            literal(row.name),
            literal(row.namespace),
            literal(row.checksum),
            row.execution_ms
        )
    } else {
        format!(
            "DELETE FROM migrate.history
              WHERE set_name = {set} AND version = {version} AND (SELECT held FROM held)"
        )
    };
    let sql = format!(
        "WITH held AS (SELECT {} AS held), changed AS ({change}) SELECT held FROM held",
        super::lock::held_condition(&literal(&super::lock::set_label(row.set)))
    );
    sqlx::raw_sql(&sql).fetch_one(conn).await?.try_get(0)
}
