//! Engine errors: each carries the set, version, file, line or object it is about, and says
//! what to do next. Messages are one line and never contain a password.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("cannot connect to {url}: {reason}; check --database-url or DATABASE_URL and that the server is up")]
    Connect { url: String, reason: String },

    #[error("invalid database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("{doing}: {reason}")]
    Database { doing: String, reason: String },

    #[error("set `{set}`: migration {version:04} ({file}) was applied with checksum {applied} but the file now has {current}; restore the file as it was applied, and put the change in a new migration")]
    ChecksumMismatch {
        set: String,
        version: i64,
        file: String,
        applied: String,
        current: String,
    },

    #[error("set `{set}`: the database has migration {version:04} ({name}) applied, which this binary does not know (newest known: {newest:04}); run the migrate build that applied it, or remove the row from migrate.history if it was never real")]
    UnknownVersion {
        set: String,
        version: i64,
        name: String,
        newest: i64,
    },

    #[error("set `{set}`: migration {version:04} ({file}) is pending but the later migration {applied:04} is already applied; give the new migration a version above {applied:04}")]
    OutOfOrder {
        set: String,
        version: i64,
        file: String,
        applied: i64,
    },

    #[error("set `{set}` is installed in schema `{installed}` but the configuration says `{configured}`; fix `schema` in migrations.toml")]
    SchemaMismatch {
        set: String,
        installed: String,
        configured: String,
    },

    #[error("set `{set}` installs into schema `{schema}`, where set `{other}` is already installed in this database; give one of them its own `schema` in migrations.toml or use separate databases")]
    SchemaTaken {
        set: String,
        schema: String,
        other: String,
    },

    #[error("set `{set}` has no migration {version:04}; known versions: {known}")]
    UnknownTarget {
        set: String,
        version: i64,
        known: String,
    },

    #[error("migration {set} {version:04} failed at {location}: {message}; {outcome}")]
    MigrationFailed {
        set: String,
        version: i64,
        /// `file:line:column`
        location: String,
        /// Server message with SQLSTATE, detail and hint, on one line.
        message: String,
        /// What state the database was left in.
        outcome: String,
    },

    #[error("set `{set}`: migration {version:04} ({name}) is irreversible ({file} says so); nothing was rolled back; roll back only to {version:04} or later (--to {version})")]
    Irreversible {
        set: String,
        version: i64,
        name: String,
        file: String,
    },

    #[error("{url} looks like a transaction-mode pooler (port 6543), which hands each transaction to any server session: the run's lock and settings would not hold; use the direct connection or the session pooler (port 5432)")]
    TransactionPooler { url: String },

    #[error("the lock of set `{set}` did not stay with this session, so the connection goes through a transaction-mode pooler; use a direct or session-mode connection")]
    LockNotHeld { set: String },

    #[error("rolling back needs confirmation and there is no terminal to ask on; pass --yes to roll back {what}")]
    NeedsConfirmation { what: String },

    #[error("rollback cancelled; nothing was changed")]
    Cancelled,
}

impl EngineError {
    /// Process exit code: 3 when the server could not be reached, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Connect { .. } => 3,
            EngineError::BadUrl { .. } | EngineError::TransactionPooler { .. } => 2,
            _ => 1,
        }
    }
}

/// Folds a driver error into one redacted line.
pub fn reason(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} [SQLSTATE {code}]", db.message()),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    };
    one_line(&crate::redact::redact_text(&text))
}

/// Collapses whitespace runs (newlines included) into single spaces.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Wraps a driver error with what the engine was doing.
pub fn db(doing: impl Into<String>) -> impl FnOnce(sqlx::Error) -> EngineError {
    let doing = doing.into();
    move |e| EngineError::Database {
        reason: reason(&e),
        doing,
    }
}
