//! The migration engine: connects, takes the set's lock, checks the history against the
//! set's files, plans, and applies or reverts migrations one transaction at a time.
//!
//! Every run uses one dedicated connection (never a pool) so that the session advisory lock
//! lives exactly as long as the run and is released on every path, including errors.

pub mod error;
pub mod execute;
pub mod history;
pub mod keepalive;
pub mod lock;
pub mod maintain;
pub mod risk;
pub mod server;
pub mod sockets;
mod sql;

pub use error::EngineError;
pub use execute::{quote_ident, script, Direction};
pub use history::AppliedMigration;

use crate::config::MigrationSet;
use crate::redact::redact_url;
pub use crate::run::Run;
use crate::sets::Migration;
use error::{db, reason};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};
use std::str::FromStr;
use std::time::Duration;

/// How long connecting may take before the run gives up, unless the URL's
/// `connect_timeout` says otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a run waits for another run's lock on its set by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(300);

/// How long the server may leave both a running statement and a health check on a second
/// connection unanswered before the run gives up on it, by default.
pub const DEFAULT_SERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a migration that hit `lock_timeout` is tried again by default.
pub const DEFAULT_LOCK_RETRIES: u32 = 3;

/// The bounds of one run: how long a statement may wait for a table's lock
/// (`lock_timeout`), how long the run waits for its set's lock, how many more times a
/// migration that hit the lock timeout is tried, and how long a server that answers nothing
/// is waited on.
///
/// They carry the run's context too: the engine checks its signal between steps and
/// registers its sessions there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub lock_timeout: String,
    pub lock_wait: Duration,
    pub lock_retries: u32,
    /// How long a frozen or unreachable server is waited on during a statement.
    pub server_timeout: Duration,
    /// The run these limits bound.
    pub run: Run,
}

impl Limits {
    /// The defaults, with `lock_timeout`, in a run of their own (no signal reaches it).
    pub fn new(lock_timeout: &str) -> Limits {
        Limits {
            lock_timeout: lock_timeout.to_string(),
            lock_wait: DEFAULT_LOCK_WAIT,
            lock_retries: DEFAULT_LOCK_RETRIES,
            server_timeout: DEFAULT_SERVER_TIMEOUT,
            run: Run::default(),
        }
    }

    /// These limits, in `run`.
    pub fn in_run(self, run: &Run) -> Limits {
        Limits {
            run: run.clone(),
            ..self
        }
    }
}

impl From<&str> for Limits {
    fn from(lock_timeout: &str) -> Limits {
        Limits::new(lock_timeout)
    }
}

impl From<&String> for Limits {
    fn from(lock_timeout: &String) -> Limits {
        Limits::new(lock_timeout)
    }
}

/// Progress the engine reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    /// Another run holds a lock this run needs (`lock`: "the lock of set `x`"); this run
    /// waits, and says so again every half minute.
    Waiting {
        set: &'a str,
        lock: &'a str,
        holder: Option<&'a str>,
    },
    /// A migration hit `lock_timeout`; it is tried again after `delay_ms`.
    Retrying {
        set: &'a str,
        migration: &'a Migration,
        attempt: u32,
        of: u32,
        delay_ms: u64,
        blockers: &'a str,
    },
    /// An index a no-transaction migration builds was left INVALID by an earlier run that
    /// failed; it is dropped and built again.
    RebuildingInvalidIndex {
        set: &'a str,
        migration: &'a Migration,
        index: &'a str,
    },
    /// The lock was obtained after waiting.
    Locked { set: &'a str, waited_ms: u64 },
    /// A migration starts: the `index`-th (from 1) of the `total` this run applies.
    Applying {
        set: &'a str,
        migration: &'a Migration,
        index: usize,
        total: usize,
    },
    Applied {
        set: &'a str,
        migration: &'a Migration,
        ms: i64,
    },
    /// A migration's down starts: the `index`-th (from 1) of the `total` this run reverts.
    Reverting {
        set: &'a str,
        migration: &'a Migration,
        index: usize,
        total: usize,
    },
    Reverted {
        set: &'a str,
        migration: &'a Migration,
        ms: i64,
    },
    /// The set's own schema was not dropped after a full rollback because it is not empty.
    SchemaKept { set: &'a str, schema: &'a str },
    /// An upkeep statement of `maintain` starts: the `index`-th (from 1) of `total`.
    Upkeep {
        set: &'a str,
        statement: &'a str,
        index: usize,
        total: usize,
    },
    /// An upkeep statement of `maintain` ran, with its rows.
    UpkeepRan {
        set: &'a str,
        run: &'a maintain::MaintenanceRun,
    },
}

/// A migration that ran, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub version: i64,
    pub name: String,
    pub execution_ms: i64,
}

/// A rollback about to run: the migrations to revert, newest first, and the data their down
/// files would delete.
pub struct RollbackPlan<'a> {
    pub set: &'a MigrationSet,
    pub migrations: &'a [&'a Migration],
    pub data_at_risk: Vec<risk::DataAtRisk>,
}

/// Decides whether a rollback plan may run.
pub type Confirm<'a> = dyn FnMut(&RollbackPlan) -> Result<(), EngineError> + 'a;

/// Where `down` stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownTarget {
    /// Revert this many of the newest applied migrations.
    Steps(usize),
    /// Revert every migration newer than this version (0: all of them).
    To(i64),
}

/// Refuses a URL on port 6543, where Supabase's transaction-mode pooler listens: runs that
/// change the schema need one server session for the whole run (advisory lock, settings).
/// A pooler on another port is caught by [`connect_own_session`] once connected.
pub fn require_session_connection(url: &str) -> Result<(), EngineError> {
    let opts = options(url)?;
    if opts.get_port() == 6543 {
        return Err(EngineError::TransactionPooler {
            url: redact_url(url),
            evidence: "port 6543, Supabase's transaction pooler".into(),
        });
    }
    Ok(())
}

/// Opens the run's connection and proves, from the server's answers, that it has a server
/// session of its own ([`require_session_connection`] first).
///
/// When the server names this connection's own TCP endpoints as its client's and its own
/// ([`reaches_server_directly`]), nothing stands in between. Otherwise (a pooler, a proxy,
/// NAT, a Unix socket) the connection marks its session with a setting; then a second
/// connection opens a transaction and looks for the mark, and the first reads its mark back.
/// A transaction-mode pooler (PgBouncer, Supavisor) hands the second client the server
/// session the first just released, mark included, or hands the first another session than
/// its mark's; a session-mode pooler or a plain proxy does neither. Simple-protocol queries
/// only: a pooler in transaction mode also loses prepared statements between transactions.
pub async fn connect_own_session(run: &Run, url: &str) -> Result<PgConnection, EngineError> {
    require_session_connection(url)?;
    let mut conn = connect(run, url).await?;
    if reaches_server_directly(&mut conn).await {
        return Ok(conn);
    }
    let other = connect(run, url).await?;
    require_own_session(&mut conn, other, url).await?;
    Ok(conn)
}

/// Whether `conn` is the server session's own connection, with nothing in between: the
/// server's client address and port, and its own, are the two endpoints of one of this
/// process's TCP sockets. A pooler or proxy in between has a socket of its own to the
/// server, which the server would name instead. False when it cannot tell (a Unix socket,
/// a system whose sockets cannot be listed).
pub async fn reaches_server_directly(conn: &mut PgConnection) -> bool {
    use sqlx::Row;
    let seen = sqlx::raw_sql(
        "SELECT host(inet_client_addr()), inet_client_port(),
                host(inet_server_addr()), inet_server_port()",
    )
    .fetch_one(&mut *conn)
    .await;
    let Ok(row) = seen else {
        return false;
    };
    let endpoint = |a: usize, p: usize| -> Option<std::net::SocketAddr> {
        let ip: Option<String> = row.try_get(a).ok()?;
        let port: Option<i32> = row.try_get(p).ok()?;
        Some(std::net::SocketAddr::new(
            ip?.parse().ok()?,
            u16::try_from(port?).ok()?,
        ))
    };
    match (endpoint(0, 1), endpoint(2, 3)) {
        (Some(client), Some(server)) => sockets::is_own(client, server),
        _ => false,
    }
}

/// The proof of [`connect_own_session`], on the run's connection `conn` and a second one,
/// `other`, which it closes.
async fn require_own_session(
    conn: &mut PgConnection,
    mut other: PgConnection,
    url: &str,
) -> Result<(), EngineError> {
    use sqlx::Row;
    let doing = "checking that the connection has a server session of its own";
    let token = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    sqlx::raw_sql(&format!(
        "SELECT set_config('migrate.session_probe', '{token}', false)"
    ))
    .execute(&mut *conn)
    .await
    .map_err(db(doing))?;
    let mark = "coalesce(current_setting('migrate.session_probe', true), '')";
    // (one message: one transaction, which the pooler serves from one server session)
    let seen = sqlx::raw_sql(&format!("BEGIN; SELECT {mark}; ROLLBACK"))
        .fetch_one(&mut other)
        .await
        .and_then(|row| row.try_get::<String, _>(0))
        .map_err(db(doing))?;
    let _ = sqlx::Connection::close(other).await;
    // the mark is read before it is cleared: the select list is computed in order
    let mine = sqlx::raw_sql(&format!(
        "SELECT {mark}, set_config('migrate.session_probe', '', false)"
    ))
    .fetch_one(&mut *conn)
    .await
    .and_then(|row| row.try_get::<String, _>(0))
    .map_err(db(doing))?;
    if seen == token || mine != token {
        return Err(EngineError::TransactionPooler {
            url: redact_url(url),
            evidence: if seen == token {
                "a second connection was handed this connection's server session".into()
            } else {
                "this connection's session setting did not survive to its next statement".into()
            },
        });
    }
    Ok(())
}

/// Parses a connection URL (or key=value string) into options; what is wrong with a URL
/// that does not parse is said without any of its text.
pub fn options(url: &str) -> Result<PgConnectOptions, EngineError> {
    let bad = |reason: String| EngineError::BadUrl {
        held_by: "the database URL".into(),
        reason: crate::redact::redact_text(&reason),
    };
    check_url(url).map_err(bad)?;
    let opts = PgConnectOptions::from_str(url).map_err(|e| bad(reason(&e)))?;
    Ok(opts.application_name("migrate").disable_statement_logging())
}

/// The parameters a PostgreSQL URL may carry: libpq's, and sqlx's statement cache size.
const URL_PARAMETERS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "requiressl",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslnegotiation",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
    "require_auth",
    "statement-cache-capacity",
];

/// Refuses what is not a PostgreSQL URL before anything connects: another scheme (a MySQL
/// or HTTP URL would otherwise be tried as PostgreSQL), or a parameter no PostgreSQL client
/// knows (a typo such as `sslmod=require` would silently connect without TLS).
fn check_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        // (the scheme is shown when it is one; nothing after it ever is)
        let starts = match scheme {
            Some(s)
                if !s.is_empty()
                    && s.len() <= 16
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                format!("it starts with {s}://, not postgres:// or postgresql://")
            }
            _ => "it does not start with postgres:// or postgresql://".to_string(),
        };
        return Err(format!(
            "{starts}; write postgres://HOST:PORT/DBNAME, with USER:PASSWORD@ before HOST"
        ));
    }
    if let Ok(parsed) = url::Url::parse(url) {
        if let Some((unknown, _)) = parsed
            .query_pairs()
            .find(|(k, _)| !URL_PARAMETERS.contains(&k.as_ref()))
        {
            return Err(format!(
                "unknown parameter `{unknown}`; PostgreSQL URLs take libpq's parameters (sslmode, connect_timeout, options, ...)"
            ));
        }
        // Whole seconds or counts, as libpq reads them: a value libpq would refuse must not
        // be silently dropped (a bad connect_timeout would wait the default instead).
        for (key, value) in parsed.query_pairs() {
            let whole = matches!(
                key.as_ref(),
                "connect_timeout"
                    | "keepalives"
                    | "keepalives_idle"
                    | "keepalives_interval"
                    | "keepalives_count"
                    | "tcp_user_timeout"
                    | "port"
            );
            // A certificate or key file that cannot be read would otherwise fail as a bare
            // "No such file or directory" while connecting.
            if matches!(key.as_ref(), "sslcert" | "sslkey" | "sslrootcert")
                && !matches!(value.as_ref(), "system" | "")
            {
                if let Err(e) = std::fs::File::open(value.as_ref()) {
                    return Err(format!("{key}={value} cannot be read: {e}"));
                }
            }
            if whole && value.trim().parse::<u32>().is_err() {
                return Err(format!(
                    "`{key}={value}` is not a whole number; write e.g. {key}=10"
                ));
            }
        }
    }
    Ok(())
}

/// The URL's `connect_timeout` (seconds, as libpq reads it): `None` when absent, and no
/// limit for 0, as in libpq.
fn connect_timeout_of(url: &str) -> Option<Option<Duration>> {
    let parsed = url::Url::parse(url).ok()?;
    let (_, value) = parsed.query_pairs().find(|(k, _)| k == "connect_timeout")?;
    let secs: i64 = value.trim().parse().ok()?;
    Some((secs > 0).then(|| Duration::from_secs(secs.max(2) as u64)))
}

/// Opens the run's connection, within the URL's `connect_timeout` (default 15 s); the URL's
/// password joins the run's secrets and its keepalive settings become the run's.
pub async fn connect(run: &Run, url: &str) -> Result<PgConnection, EngineError> {
    run.secrets().remember_url(url);
    let opts = options(url)?;
    run.use_keepalive_of(url);
    let timeout = connect_timeout_of(url).unwrap_or(Some(CONNECT_TIMEOUT));
    connect_within(run, &opts, &redact_url(url), timeout).await
}

/// Opens a connection from parsed options; `shown` names the server in messages (no password).
pub async fn connect_with(
    run: &Run,
    opts: &PgConnectOptions,
    shown: &str,
) -> Result<PgConnection, EngineError> {
    connect_within(run, opts, shown, Some(CONNECT_TIMEOUT)).await
}

/// Opens a connection, giving up after `timeout` (never, for `None`) or when a signal
/// arrives, turns TCP keepalives on, and registers its server session with the run so that
/// a signal can cancel what it runs.
async fn connect_within(
    run: &Run,
    opts: &PgConnectOptions,
    shown: &str,
    timeout: Option<Duration>,
) -> Result<PgConnection, EngineError> {
    // A run that was told to stop opens nothing new.
    run.check()?;
    let limit = timeout.unwrap_or(Duration::MAX);
    let connected = tokio::time::timeout(limit, async {
        let mut conn = opts.connect().await?;
        keepalive::apply(run.keepalive());
        if let Some((pid, start)) = crate::interrupt::identify(&mut conn).await {
            run.signals().register(opts, pid, start);
        }
        Ok::<_, sqlx::Error>(conn)
    });
    // A signal while the server does not answer stops the wait at once, not after the
    // connect timeout (the signal's own cancel requests connect by themselves).
    let connected = tokio::select! {
        c = connected => c,
        () = run.wait() => {
            let signal = run.received().unwrap_or(crate::interrupt::Signal::Interrupt);
            return Err(EngineError::Interrupted { signal });
        }
    };
    match connected {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => {
            let reason = reason(&e);
            match error::certificate_problem(&reason) {
                Some(explanation) => Err(EngineError::Certificate {
                    url: shown.to_string(),
                    explanation,
                }),
                None => Err(EngineError::Connect {
                    url: shown.to_string(),
                    reason,
                    held_by: error::RUN_DATABASE.into(),
                    source: Some(Box::new(e)),
                }),
            }
        }
        Err(_) => Err(EngineError::Connect {
            url: shown.to_string(),
            reason: format!("no answer within {}s", limit.as_secs()),
            held_by: error::RUN_DATABASE.into(),
            source: None,
        }),
    }
}

/// Checks the history of `set` against its files: same namespace, no unknown version, no
/// changed checksum.
pub fn validate(set: &MigrationSet, applied: &[AppliedMigration]) -> Result<(), EngineError> {
    for a in applied {
        if a.namespace != set.schema {
            return Err(EngineError::SchemaMismatch {
                set: set.name.clone(),
                installed: a.namespace.clone(),
                configured: set.schema.clone(),
            });
        }
        let Some(m) = set.find(a.version) else {
            return Err(EngineError::UnknownVersion {
                set: set.name.clone(),
                version: a.version,
                name: a.name.clone(),
                newest: set.latest(),
            });
        };
        if m.checksum != a.checksum {
            return Err(EngineError::ChecksumMismatch {
                set: set.name.clone(),
                version: a.version,
                file: m.up.path.clone(),
                applied: short(&a.checksum),
                current: short(&m.checksum),
            });
        }
    }
    Ok(())
}

fn short(checksum: &str) -> String {
    checksum.chars().take(12).collect()
}

fn known(set: &MigrationSet) -> String {
    let mut v: Vec<String> = vec!["0".into()];
    v.extend(set.migrations.iter().map(|m| format!("{:04}", m.version)));
    v.join(", ")
}

/// The migrations `up` would apply, oldest first.
pub fn plan_up<'s>(
    set: &'s MigrationSet,
    applied: &[AppliedMigration],
    to: Option<i64>,
) -> Result<Vec<&'s Migration>, EngineError> {
    if let Some(v) = to {
        if set.find(v).is_none() {
            return Err(EngineError::UnknownTarget {
                set: set.name.clone(),
                version: v,
                known: known(set),
            });
        }
    }
    let newest_applied = applied.iter().map(|a| a.version).max().unwrap_or(0);
    let mut plan = Vec::new();
    for m in &set.migrations {
        if applied.iter().any(|a| a.version == m.version) {
            continue;
        }
        if m.version < newest_applied {
            return Err(EngineError::OutOfOrder {
                set: set.name.clone(),
                version: m.version,
                file: m.up.path.clone(),
                applied: newest_applied,
            });
        }
        if to.is_some_and(|t| m.version > t) {
            break;
        }
        plan.push(m);
    }
    Ok(plan)
}

/// The migrations `down` would revert, newest first.
pub fn plan_down<'s>(
    set: &'s MigrationSet,
    applied: &[AppliedMigration],
    target: DownTarget,
) -> Result<Vec<&'s Migration>, EngineError> {
    let mut newest_first: Vec<&Migration> = applied
        .iter()
        .rev()
        .filter_map(|a| set.find(a.version))
        .collect();
    match target {
        DownTarget::Steps(n) => newest_first.truncate(n),
        DownTarget::To(v) => {
            if v != 0 && set.find(v).is_none() {
                return Err(EngineError::UnknownTarget {
                    set: set.name.clone(),
                    version: v,
                    known: known(set),
                });
            }
            newest_first.retain(|m| m.version > v);
        }
    }
    if let Some(m) = newest_first.iter().find(|m| m.down.irreversible) {
        return Err(EngineError::Irreversible {
            set: set.name.clone(),
            version: m.version,
            name: m.name.clone(),
            file: m.down.path.clone(),
        });
    }
    Ok(newest_first)
}

/// What `up` would apply, read without creating or locking anything (for `--dry-run`).
pub async fn pending<'s>(
    conn: &mut PgConnection,
    set: &'s MigrationSet,
    to: Option<i64>,
) -> Result<Vec<&'s Migration>, EngineError> {
    let applied = history::read(conn, &set.name).await?;
    validate(set, &applied)?;
    plan_up(set, &applied, to)
}

/// What `down` would revert and the data it would delete, read without changing anything
/// (for `--dry-run`).
pub async fn rollback_preview<'s>(
    conn: &mut PgConnection,
    set: &'s MigrationSet,
    target: DownTarget,
) -> Result<(Vec<&'s Migration>, Vec<risk::DataAtRisk>), EngineError> {
    let applied = history::read(conn, &set.name).await?;
    validate(set, &applied)?;
    let plan = plan_down(set, &applied, target)?;
    let at_risk = risk::data_at_risk(conn, set, &plan).await?;
    Ok((plan, at_risk))
}

/// Runs `work` while holding the set's lock, and releases it whatever `work` returned.
///
/// The run also holds the lock of the set's schema, so that two sets configured into one
/// schema cannot both find it free and install side by side. Both locks are polled, and
/// always taken in the same order (set, then schema), so two runs never wait for each other.
pub(crate) async fn locked<T>(
    conn: &mut PgConnection,
    set: &MigrationSet,
    limits: &Limits,
    events: &dyn Fn(&Event),
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    use lock::Guard;
    let (run, wait) = (&limits.run, limits.lock_wait);
    run.check()?;
    history::ensure(conn).await?;
    let started = std::time::Instant::now();
    let (own, schema) = (Guard::Set(&set.name), Guard::Schema(&set.schema));
    lock::acquire(run, conn, &set.name, own, wait, events).await?;
    let left = wait.saturating_sub(started.elapsed());
    let (result, taken) = match lock::acquire(run, conn, &set.name, schema, left, events).await {
        // Behind a transaction-mode pooler the next statement may run in another server
        // session, where the locks are not held: both are checked before they are relied on.
        Ok(()) => match lock::check_held(conn, &set.name, &[own, schema]).await {
            Ok(()) => (work(conn).await, &[schema, own][..]),
            Err(e) => (Err(e), &[schema, own][..]),
        },
        Err(e) => (Err(e), &[own][..]),
    };
    if lost(&result) {
        return result;
    }
    let released = lock::release(conn, taken).await;
    let value = result?;
    released?;
    Ok(value)
}

/// Whether the run gave up on its connection (see [`execute::gave_up`]): its locks are not
/// released on it, the server releases them with the session.
fn lost<T>(result: &Result<T, EngineError>) -> bool {
    matches!(result, Err(e) if e.driver_error().is_some_and(execute::gave_up))
}

/// What an `up` of one set did, as the history read under its lock says: the newest version
/// before and after, the migrations it ran, and how many of the set's files are still pending.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub previous_version: i64,
    pub current_version: i64,
    pub steps: Vec<Step>,
    pub pending: usize,
}

/// Applies the pending migrations of `set` (up to and including `to`), oldest first.
pub async fn up(
    conn: &mut PgConnection,
    set: &MigrationSet,
    to: Option<i64>,
    limits: impl Into<Limits>,
    events: &dyn Fn(&Event),
) -> Result<Vec<Step>, EngineError> {
    Ok(apply(conn, set, to, limits, events).await?.steps)
}

/// [`up`], reporting the versions before and after from the history it read under the lock,
/// so that a report needs no second read.
pub async fn apply(
    conn: &mut PgConnection,
    set: &MigrationSet,
    to: Option<i64>,
    limits: impl Into<Limits>,
    events: &dyn Fn(&Event),
) -> Result<Applied, EngineError> {
    let limits = limits.into();
    locked(
        conn,
        set,
        &limits,
        events,
        async |conn: &mut PgConnection| {
            let (applied, other) =
                history::read_with_neighbour(conn, &set.name, &set.schema).await?;
            validate(set, &applied)?;
            let plan = plan_up(set, &applied, to)?;
            if let Some(other) = other.filter(|_| !plan.is_empty()) {
                return Err(EngineError::SchemaTaken {
                    set: set.name.clone(),
                    schema: set.schema.clone(),
                    other,
                });
            }
            let previous_version = applied.iter().map(|a| a.version).max().unwrap_or(0);
            let mut steps = Vec::new();
            let total = plan.len();
            let session = match total {
                0 => None,
                _ => execute::session(conn, &limits).await,
            };
            let run = (&limits, session.as_ref());
            for (i, m) in plan.into_iter().enumerate() {
                let place = (i + 1, total);
                steps.push(step(conn, set, m, Direction::Up, place, run, events).await?);
            }
            let done = |v: i64| {
                applied.iter().any(|a| a.version == v) || steps.iter().any(|s| s.version == v)
            };
            Ok(Applied {
                previous_version,
                current_version: steps.last().map_or(previous_version, |s| s.version),
                pending: set.migrations.iter().filter(|m| !done(m.version)).count(),
                steps,
            })
        },
    )
    .await
}

/// Applies or reverts one migration, the `place.0`-th of `place.1`, reporting it before and
/// after; stops first when a signal has arrived.
async fn step(
    conn: &mut PgConnection,
    set: &MigrationSet,
    m: &Migration,
    direction: Direction,
    (index, total): (usize, usize),
    (limits, session): (&Limits, Option<&execute::Session>),
    events: &dyn Fn(&Event),
) -> Result<Step, EngineError> {
    let name = set.name.as_str();
    events(&match direction {
        Direction::Up => Event::Applying {
            set: name,
            migration: m,
            index,
            total,
        },
        Direction::Down => Event::Reverting {
            set: name,
            migration: m,
            index,
            total,
        },
    });
    limits.run.check()?;
    let ms = execute::run(conn, set, m, direction, (limits, session), events).await?;
    events(&match direction {
        Direction::Up => Event::Applied {
            set: name,
            migration: m,
            ms,
        },
        Direction::Down => Event::Reverted {
            set: name,
            migration: m,
            ms,
        },
    });
    Ok(Step {
        version: m.version,
        name: m.name.clone(),
        execution_ms: ms,
    })
}

/// What `down` would revert of `set` and the data that would go, read without taking the
/// set's locks (the versions, newest first): what a prompt shows before the run takes them
/// and checks the plan again.
pub async fn preview_down(
    conn: &mut PgConnection,
    set: &MigrationSet,
    target: DownTarget,
) -> Result<(Vec<i64>, Vec<risk::DataAtRisk>), EngineError> {
    let applied = history::read(conn, &set.name).await?;
    validate(set, &applied)?;
    let plan = plan_down(set, &applied, target)?;
    if plan.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let data_at_risk = risk::data_at_risk(conn, set, &plan).await?;
    Ok((plan.iter().map(|m| m.version).collect(), data_at_risk))
}

/// Reverts migrations of `set`, newest first. `confirm` sees the plan before anything runs
/// and decides whether to go on (it is not called when there is nothing to revert).
pub async fn down(
    conn: &mut PgConnection,
    set: &MigrationSet,
    target: DownTarget,
    limits: impl Into<Limits>,
    confirm: &mut Confirm<'_>,
    events: &dyn Fn(&Event),
) -> Result<Vec<Step>, EngineError> {
    let limits = limits.into();
    locked(
        conn,
        set,
        &limits,
        events,
        async |conn: &mut PgConnection| {
            let applied = history::read(conn, &set.name).await?;
            validate(set, &applied)?;
            let plan = plan_down(set, &applied, target)?;
            if plan.is_empty() {
                return Ok(Vec::new());
            }
            let data_at_risk = risk::data_at_risk(conn, set, &plan).await?;
            confirm(&RollbackPlan {
                set,
                migrations: &plan,
                data_at_risk,
            })?;
            let mut steps = Vec::new();
            let session = execute::session(conn, &limits).await;
            let run = (&limits, session.as_ref());
            for (i, m) in plan.iter().enumerate() {
                let place = (i + 1, plan.len());
                steps.push(step(conn, set, m, Direction::Down, place, run, events).await?);
            }
            if set.schema != "public" && history::read(conn, &set.name).await?.is_empty() {
                drop_own_schema(conn, set, events).await?;
            }
            Ok(steps)
        },
    )
    .await
}

/// After a full rollback, drops the set's schema if nothing else lives in it.
async fn drop_own_schema(
    conn: &mut PgConnection,
    set: &MigrationSet,
    events: &dyn Fn(&Event),
) -> Result<(), EngineError> {
    let sql = format!("DROP SCHEMA IF EXISTS {}", quote_ident(&set.schema));
    match sqlx::raw_sql(&sql).execute(&mut *conn).await {
        Ok(_) => Ok(()),
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("2BP01") => {
            events(&Event::SchemaKept {
                set: &set.name,
                schema: &set.schema,
            });
            Ok(())
        }
        Err(e) => Err(db(format!("dropping schema {}", set.schema))(e)),
    }
}

/// One migration's state in `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    /// `applied` or `pending`.
    pub state: &'static str,
    pub applied_at: Option<String>,
    pub applied_by: Option<String>,
    pub execution_ms: Option<i64>,
    /// Whether the applied checksum equals the file's; `None` while pending.
    pub checksum_matches: Option<bool>,
    /// A pending no-transaction migration that an interrupted run left half done: what it
    /// left (the next `up` completes it, rebuilding what is INVALID).
    pub partly_applied: Option<String>,
}

/// The state of one set in a database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetStatus {
    pub set: String,
    pub schema: String,
    pub source: String,
    /// Newest applied version, 0 when none.
    pub current_version: i64,
    pub migrations: Vec<MigrationStatus>,
    /// Applied versions this binary does not know.
    pub unknown_applied: Vec<AppliedMigration>,
    /// The schema the history says the set was installed in, when it is not the configured
    /// one (every other run refuses the set until the configuration says where it is).
    pub installed_schema: Option<String>,
}

impl SetStatus {
    pub fn pending(&self) -> usize {
        self.migrations
            .iter()
            .filter(|m| m.state == "pending")
            .count()
    }
    /// True when the history and the files disagree (changed checksum or unknown version).
    pub fn has_problems(&self) -> bool {
        !self.unknown_applied.is_empty()
            || self.installed_schema.is_some()
            || self
                .migrations
                .iter()
                .any(|m| m.checksum_matches == Some(false))
    }
}

/// Reads the state of `set` without changing anything (no lock, no history table created).
pub async fn status(conn: &mut PgConnection, set: &MigrationSet) -> Result<SetStatus, EngineError> {
    let applied = history::read(conn, &set.name).await?;
    let mut partial = Vec::new();
    for m in &set.migrations {
        let pending = !applied.iter().any(|a| a.version == m.version);
        partial.push(match pending {
            true => execute::partly_applied(conn, m, &set.schema).await?,
            false => None,
        });
    }
    let migrations = set
        .migrations
        .iter()
        .zip(partial)
        .map(|(m, partly_applied)| {
            let a = applied.iter().find(|a| a.version == m.version);
            MigrationStatus {
                partly_applied,
                version: m.version,
                name: m.name.clone(),
                state: if a.is_some() { "applied" } else { "pending" },
                applied_at: a.map(|a| a.applied_at.clone()),
                applied_by: a.map(|a| a.applied_by.clone()),
                execution_ms: a.map(|a| a.execution_ms),
                checksum_matches: a.map(|a| a.checksum == m.checksum),
            }
        })
        .collect();
    Ok(SetStatus {
        set: set.name.clone(),
        schema: set.schema.clone(),
        source: set.source.clone(),
        current_version: applied.iter().map(|a| a.version).max().unwrap_or(0),
        migrations,
        unknown_applied: applied
            .iter()
            .filter(|a| set.find(a.version).is_none())
            .cloned()
            .collect(),
        installed_schema: applied
            .iter()
            .map(|a| &a.namespace)
            .find(|n| **n != set.schema)
            .cloned(),
    })
}
