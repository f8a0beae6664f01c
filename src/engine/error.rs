//! Engine errors: each carries the set, version, file, line or object it is about, and says
//! what to do next. Messages are one line and never contain a password.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("cannot connect to {url}: {reason}; check {held_by} and that the server is up")]
    Connect {
        url: String,
        reason: String,
        /// the flag or variable that held the URL
        held_by: String,
        #[source]
        source: Option<Box<sqlx::Error>>,
    },

    #[error("cannot connect to {url}: {explanation}")]
    Certificate { url: String, explanation: String },

    #[error("migrate.history is not the table this version writes: {reason}; it was changed by hand: restore its columns (set_name text, version bigint, name text, namespace text, checksum text, applied_at timestamptz, applied_by text, execution_ms bigint) or move it aside")]
    HistoryShape { reason: String },

    #[error("{doing}: migrate.history stayed locked for {waited} by {holders}; end that session (or wait for it to finish), then run again")]
    HistoryLocked {
        doing: String,
        waited: &'static str,
        holders: String,
    },

    /// Never shows the URL: one that does not parse has no password anyone can find.
    #[error("{held_by} is not a valid database URL: {reason}")]
    BadUrl { held_by: String, reason: String },

    #[error("{doing}: {}", reason(source))]
    Database {
        doing: String,
        #[source]
        source: Box<sqlx::Error>,
    },

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
        outcome: Outcome,
        /// The server's SQLSTATE, when the server reported the failure.
        sqlstate: Option<Box<str>>,
        #[source]
        source: Option<Box<sqlx::Error>>,
    },

    #[error("set `{set}`: migration {version:04} ({name}) is irreversible ({file} says so); nothing was rolled back; roll back only to {version:04} or later (--to {version})")]
    Irreversible {
        set: String,
        version: i64,
        name: String,
        file: String,
    },

    #[error("{url} goes through a transaction-mode pooler ({evidence}), which hands each transaction to any server session: the run's lock and settings would not hold; use the direct connection or a session-mode pooler (on Supabase: port 5432)")]
    TransactionPooler { url: String, evidence: String },

    #[error("{why}")]
    ReadOnly { why: String },

    #[error("the lock of set `{set}` did not stay with this session, so the connection goes through a transaction-mode pooler; use a direct or session-mode connection")]
    LockNotHeld { set: String },

    #[error("the rollback changed while it was being confirmed (another run changed the history): it would now roll back {what}; nothing was rolled back; run down again to be asked about this plan")]
    PlanChanged { what: String },

    #[error("rolling back needs confirmation and there is no terminal to ask on; pass --yes to roll back {what}")]
    NeedsConfirmation { what: String },

    #[error("rollback cancelled; nothing was changed")]
    Cancelled,

    #[error("set `{set}`: gave up waiting for {lock} after {waited}; it is held by {holder}; wait for that run to finish, stop it, or pass a longer --lock-wait")]
    LockWait {
        set: String,
        lock: String,
        waited: String,
        holder: String,
    },

    #[error("interrupted by {signal}")]
    Interrupted { signal: crate::interrupt::Signal },

    #[error("set `{set}` is at {at:04} but its maintenance needs all its migrations (newest: {newest:04}); run `migrate up --set {set}` first")]
    NotUpToDate { set: String, at: i64, newest: i64 },
}

impl From<crate::interrupt::Interrupted> for EngineError {
    fn from(i: crate::interrupt::Interrupted) -> EngineError {
        EngineError::Interrupted { signal: i.signal }
    }
}

/// What a failed migration left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The file could not be split; nothing was sent.
    NothingRun,
    /// Its transaction was rolled back.
    RolledBack,
    /// The server answered COMMIT with an error, which rolls back.
    CommitRefused,
    /// The connection was lost after COMMIT was sent: committed or not, nobody knows yet.
    CommitUnknown,
    /// The server stopped answering in the middle of the migration's transaction and the
    /// run gave up on the connection; the server rolls the transaction back once it notices.
    ServerLost,
    /// A no-transaction file failed at its first statement.
    NothingApplied,
    /// A no-transaction file failed after `applied` statements, at `line`.
    PartlyApplied { applied: u32, line: u32 },
    /// A no-transaction file failed after `applied` statements, at `line`, and left the
    /// INVALID indexes of a `CREATE INDEX CONCURRENTLY` that did not finish.
    LeftInvalid(Box<LeftInvalid>),
}

/// What a no-transaction file that stopped in a concurrent build left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftInvalid {
    pub applied: u32,
    pub line: u32,
    /// The INVALID indexes, comma-separated.
    pub indexes: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::NothingRun => write!(f, "nothing was run"),
            Outcome::RolledBack => write!(f, "the migration was rolled back and the history is unchanged"),
            Outcome::CommitRefused => write!(f, "the server refused to commit, so the migration was rolled back and the history is unchanged"),
            Outcome::CommitUnknown => write!(f, "the connection was lost while committing, so the outcome is unknown: the migration and its history row commit together or not at all; run `migrate status` and see whether this migration is applied"),
            Outcome::ServerLost => write!(f, "the run gave up on the connection: the server rolls the migration back when it notices the connection is gone, and the history is unchanged; once the server answers again, run `migrate status`, then `migrate up`"),
            Outcome::NothingApplied => write!(f, "nothing of this no-transaction file was applied; the history is unchanged"),
            Outcome::PartlyApplied { applied, line } => write!(f, "this file runs without a transaction: its {applied} statement(s) before line {line} were applied and stay, and it is not recorded as applied; make its statements idempotent (IF NOT EXISTS) and run again"),
            Outcome::LeftInvalid(left) => write!(f, "this file runs without a transaction: its {} statement(s) before line {} were applied and stay, the unfinished build left the INVALID index(es) {} behind, and it is not recorded as applied; run `migrate up` again: it drops and rebuilds the invalid index(es) of this file", left.applied, left.line, left.indexes),
        }
    }
}

/// How a URL's source is named before anyone says which flag or variable held it.
pub const RUN_DATABASE: &str = "--database-url or DATABASE_URL";

impl EngineError {
    /// The error with the URL it is about named as `held_by` (a flag, a variable, a line of
    /// a file), so the message says where to fix it.
    pub fn held_by(self, held_by: &str) -> EngineError {
        match self {
            EngineError::BadUrl { reason, .. } => EngineError::BadUrl {
                held_by: held_by.to_string(),
                reason,
            },
            EngineError::Connect {
                url,
                reason,
                source,
                ..
            } => EngineError::Connect {
                url,
                reason,
                held_by: held_by.to_string(),
                source,
            },
            other => other,
        }
    }

    /// The SQLSTATE the server answered with, when this error comes from a server error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            EngineError::MigrationFailed { sqlstate, .. } => sqlstate.as_deref(),
            _ => self.driver_error().and_then(sqlstate_of),
        }
    }

    /// The driver's error this one was caused by, if any.
    pub fn driver_error(&self) -> Option<&sqlx::Error> {
        match self {
            EngineError::Database { source, .. } => Some(source),
            EngineError::Connect { source, .. } | EngineError::MigrationFailed { source, .. } => {
                source.as_deref()
            }
            _ => None,
        }
    }

    /// Process exit code: 3 when the server could not be reached, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Connect { .. } | EngineError::Certificate { .. } => 3,
            EngineError::BadUrl { .. } | EngineError::TransactionPooler { .. } => 2,
            EngineError::Interrupted { signal } => i32::from(signal.exit_code()),
            _ => 1,
        }
    }
}

/// A query that describes the sessions `filter` selects from `pg_stat_activity a`, on one
/// line (NULL when there are none): pid, application, state, when its transaction began, and
/// its query (hidden when it mentions a password).
pub fn sessions_sql(filter: &str) -> String {
    format!(
        "SELECT string_agg(format('pid %s (%s, %s, transaction since %s): %s', a.pid,
           coalesce(nullif(a.application_name, ''), 'no application name'), a.state,
           coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'none'),
           CASE WHEN a.query ILIKE '%password%' THEN '(query hidden: it mentions a password)'
                ELSE left(regexp_replace(a.query, '[[:space:]]+', ' ', 'g'), 200) END), '; ' ORDER BY a.pid)
  FROM pg_stat_activity a WHERE {filter}"
    )
}

/// What is wrong with the server's TLS certificate, and what to do, when the TLS library
/// refused it: its own words (`CaUsedAsEndEntity`) tell an operator little.
pub fn certificate_problem(reason: &str) -> Option<String> {
    let (_, detail) = reason.split_once("invalid peer certificate: ")?;
    let known: &[(&str, &str)] = &[
        (
            "CaUsedAsEndEntity",
            "the server's TLS certificate is a CA certificate (basicConstraints CA:TRUE), as `openssl req -x509` makes it by default and the PostgreSQL documentation shows; libpq accepts that, the TLS library of migrate (rustls) does not. Give the server a certificate signed by a CA, with basicConstraints CA:FALSE and a subjectAltName naming the host (e.g. -addext basicConstraints=critical,CA:FALSE -addext subjectAltName=DNS:db.example.com), and pass that CA as sslrootcert; or use sslmode=require, which encrypts without verifying who the server is",
        ),
        (
            "NotValidForName",
            "the server's TLS certificate does not name the host of the URL in its subjectAltName (the common name is not read); reissue it with subjectAltName=DNS:<host> (or IP:<address>), connect by a name it lists, or use sslmode=verify-ca, which checks the signature but not the name",
        ),
        (
            "UnknownIssuer",
            "the server's TLS certificate is not signed by a CA in sslrootcert (or, without sslrootcert, by a public CA); pass the CA that signed it as sslrootcert=PATH",
        ),
        (
            "Expired",
            "the server's TLS certificate has expired; renew it on the server",
        ),
        (
            "NotValidYet",
            "the server's TLS certificate is not valid yet; check the clocks of both machines",
        ),
        (
            "BadEncoding",
            "the server's TLS certificate cannot be read; check ssl_cert_file on the server",
        ),
    ];
    let (_, explanation) = known.iter().find(|(name, _)| detail.contains(name))?;
    Some(explanation.to_string())
}

/// Folds a driver error into one redacted line.
pub fn reason(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} [SQLSTATE {code}]", db.message()),
            None => db.message().to_string(),
        },
        // sqlx nests a configuration error in another and prefixes both.
        sqlx::Error::Configuration(inner) => {
            let inner = inner.to_string();
            let inner = inner.trim_start_matches("error with configuration: ");
            format!("error with configuration: {inner}")
        }
        other => other.to_string(),
    };
    one_line(&crate::redact::redact_text(&text))
}

/// The SQLSTATE of a driver error the server reported.
pub fn sqlstate_of(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .map(|pg| pg.code()),
        _ => None,
    }
}

/// Collapses whitespace runs (newlines included) into single spaces.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Wraps a driver error with what the engine was doing.
pub fn db(doing: impl Into<String>) -> impl FnOnce(sqlx::Error) -> EngineError {
    let doing = doing.into();
    move |source| EngineError::Database {
        doing,
        source: Box::new(source),
    }
}
