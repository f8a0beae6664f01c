//! Runs one migration file: statement by statement, with the set's `search_path` and
//! `lock_timeout`, inside a transaction together with its history row unless the file says
//! `-- migrate:no-transaction`. A failure is mapped to the file line and column the server
//! pointed at.

use super::error::{db, one_line, EngineError, LeftInvalid, Outcome};
use super::history;
use super::sql::literal;
use super::{Event, Limits};
use crate::config::MigrationSet;
use crate::sets::split::{line_of, split, Statement};
use crate::sets::{Migration, SqlFile};
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{ConnectOptions, Connection, PgConnection, Row};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Double-quotes an identifier for interpolation into DDL (values are always bound instead).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The statement that sets `lock_timeout` and `search_path` (the set's schema only) for
/// the transaction (`local`) or the session: sent with the `BEGIN` of a migration's
/// transaction, in one round trip, and printed by `--dry-run`.
fn settings_sql(schema: &str, lock_timeout: &str, local: bool) -> String {
    format!(
        "SELECT set_config('lock_timeout', {}, {local}), set_config('search_path', {}, {local})",
        literal(lock_timeout),
        literal(&quote_ident(schema))
    )
}

/// The SQL a run sends for `m`, in order, as a script: what `--dry-run` prints. Values the
/// engine binds are shown as literals; `<ms>` stands for the execution time it records.
pub fn script(
    set: &MigrationSet,
    m: &Migration,
    direction: Direction,
    lock_timeout: &str,
) -> String {
    let file = match direction {
        Direction::Up => &m.up,
        Direction::Down => &m.down,
    };
    let local = !file.no_transaction;
    let mut out = vec![format!(
        "-- {} {:04} {} ({}){}",
        set.name,
        m.version,
        m.name,
        file.path,
        if local { "" } else { ", without a transaction" }
    )];
    if local {
        out.push("BEGIN;".into());
    }
    out.push(format!(
        "{};",
        settings_sql(&set.schema, lock_timeout, local)
    ));
    if set.schema != "public" {
        out.push(format!(
            "CREATE SCHEMA {};  -- when it does not exist yet",
            quote_ident(&set.schema)
        ));
    }
    for stmt in split(&file.sql).unwrap_or_default() {
        out.push(format!("{};", stmt.text));
    }
    out.push(match direction {
        Direction::Up => format!(
            "INSERT INTO migrate.history (set_name, version, name, namespace, checksum, execution_ms) VALUES ({}, {}, {}, {}, {}, <ms>);",
            literal(&set.name),
            m.version,
            literal(&m.name),
            literal(&set.schema),
            literal(&m.checksum)
        ),
        Direction::Down => format!(
            "DELETE FROM migrate.history WHERE set_name = {} AND version = {};",
            literal(&set.name),
            m.version
        ),
    });
    out.push(if local {
        "COMMIT;".into()
    } else {
        "RESET lock_timeout; RESET search_path;".into()
    });
    out.join("\n") + "\n"
}

/// `search_path` (the set's schema only, so nothing resolves into another set's objects)
/// and `lock_timeout`, for the transaction (`local`) or the session.
async fn settings(
    conn: &mut PgConnection,
    schema: &str,
    lock_timeout: &str,
    local: bool,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(&settings_sql(schema, lock_timeout, local))
        .execute(&mut *conn)
        .await?;
    own_schema(conn, schema).await
}

/// Creates the set's schema when it does not exist yet (`public` always does).
async fn own_schema(conn: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    if schema != "public" {
        // Checked first: CREATE SCHEMA IF NOT EXISTS would send a NOTICE on every migration.
        let missing: bool = sqlx::query_scalar("SELECT to_regnamespace(quote_ident($1)) IS NULL")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await?;
        if missing {
            sqlx::raw_sql(&format!("CREATE SCHEMA {}", quote_ident(schema)))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// `file:line:column` of a failure in `stmt`, sent to the server as part of `sent` (the text
/// sent, which a position in the error counts in), plus the server's message on one line.
fn locate(
    file: &SqlFile,
    sent: &Statement<'_>,
    stmt: &Statement<'_>,
    e: &sqlx::Error,
) -> (String, String) {
    let mut offset = stmt.offset;
    let mut message = super::error::reason(e);
    if let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    {
        match pg.position() {
            Some(PgErrorPosition::Original(pos)) => {
                if let Some((b, _)) = sent.text.char_indices().nth(pos.saturating_sub(1)) {
                    offset = sent.offset + b;
                }
            }
            _ => {
                // PL/pgSQL reports "… inline_code_block line N …" (or "function f() line N"),
                // counted from the line where the dollar-quoted body opens.
                if let Some(n) = pg.r#where().and_then(body_line) {
                    if let Some(body) = stmt.text.find('$') {
                        let first = line_of(&file.sql, stmt.offset + body);
                        let line = first + n - 1;
                        let start = file
                            .sql
                            .split_inclusive('\n')
                            .take(line - 1)
                            .map(str::len)
                            .sum::<usize>();
                        offset = start.min(file.sql.len());
                    }
                }
            }
        }
        if let Some(detail) = pg.detail() {
            message.push_str("; detail: ");
            message.push_str(&one_line(detail));
        }
        if let Some(hint) = pg.hint() {
            message.push_str("; hint: ");
            message.push_str(&one_line(hint));
        }
    }
    let line = line_of(&file.sql, offset);
    let line_start = file.sql[..offset].rfind('\n').map_or(0, |i| i + 1);
    let column = file.sql[line_start..offset].chars().count() + 1;
    (format!("{}:{line}:{column}", file.path), message)
}

/// The `line N` of a PL/pgSQL context line.
fn body_line(context: &str) -> Option<usize> {
    let first = context
        .lines()
        .find(|l| l.starts_with("PL/pgSQL function"))?;
    let rest = &first[first.find(" line ")? + 6..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// How often a running statement is watched from the second connection.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// First delay before a migration that hit `lock_timeout` is tried again; it doubles per
/// attempt, up to [`MAX_RETRY_DELAY`], with jitter so that runners do not retry in step.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// The run's own server session, as the interrupt registry knows it: what a second
/// connection needs to watch it. Looked up once per run: the session does not change
/// between its migrations.
pub(super) struct Session {
    opts: sqlx::postgres::PgConnectOptions,
    pid: i32,
    /// The run's `lock_timeout` (0: none), which the watcher must look before.
    lock_timeout: Duration,
    /// How long the server may leave both the statement and the watcher's health check
    /// unanswered before the run gives up on it (a frozen or unreachable server).
    server_timeout: Duration,
}

pub(super) async fn session(conn: &mut PgConnection, limits: &Limits) -> Option<Session> {
    let (pid, start) = crate::interrupt::identify(conn).await?;
    let lock_timeout = crate::config::parse_duration(&limits.lock_timeout)
        .filter(|d| !d.is_zero())
        .unwrap_or(WATCH_EVERY);
    limits
        .run
        .signals()
        .options_of(pid, &start)
        .map(|opts| Session {
            opts,
            pid,
            lock_timeout,
            server_timeout: limits.server_timeout,
        })
}

/// The sessions blocking `pid` (`$1`), on one line: see [`super::error::sessions_sql`].
fn blockers_sql() -> String {
    super::error::sessions_sql("a.pid = ANY (pg_blocking_pids($1))")
}

/// Sends one statement and, while it runs, watches it from a second connection: who
/// blocks it (kept in `blockers` for the error of a lock timeout), and whether the server
/// still answers at all. The watcher connects only once a statement has run for
/// [`WATCH_EVERY`], so quick statements cost nothing.
async fn send(
    conn: &mut PgConnection,
    session: Option<&Session>,
    sql: &str,
    blockers: &mut Option<String>,
) -> Result<(), sqlx::Error> {
    send_counting(conn, session, sql, blockers)
        .await
        .map_err(|(_, e)| e)
}

/// [`send`] for text that may hold several statements: on failure, also how many of them
/// the server completed before it (the next one failed).
async fn send_counting(
    conn: &mut PgConnection,
    session: Option<&Session>,
    sql: &str,
    blockers: &mut Option<String>,
) -> Result<(), (usize, sqlx::Error)> {
    let lock_timeout = session.map_or(WATCH_EVERY, |s| s.lock_timeout);
    let completed = std::cell::Cell::new(0usize);
    let exec = async {
        let mut results = sqlx::raw_sql(sql).fetch_many(&mut *conn);
        while let Some(result) = std::future::poll_fn(|cx| results.as_mut().poll_next(cx)).await {
            match result {
                Ok(sqlx::Either::Left(_)) => completed.set(completed.get() + 1),
                Ok(sqlx::Either::Right(_)) => {}
                Err(e) => return Err((completed.get(), e)),
            }
        }
        Ok(())
    };
    tokio::pin!(exec);
    let Some(session) = session else {
        return exec.await;
    };
    let mut watcher: Option<PgConnection> = None;
    let mut watching = true;
    let mut answered = Instant::now();
    // The first look comes early enough to see the blocker of a short lock_timeout.
    let first = lock_timeout
        .mul_f64(0.4)
        .clamp(Duration::from_millis(20), WATCH_EVERY);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, WATCH_EVERY);
    loop {
        tokio::select! {
            done = &mut exec => return done,
            _ = tick.tick(), if watching => {
                let probe = async {
                    if watcher.is_none() {
                        watcher = Some(session.opts.connect().await?);
                    }
                    let w = watcher.as_mut().expect("connected above");
                    sqlx::query_scalar::<_, Option<String>>(&blockers_sql())
                        .bind(session.pid)
                        .fetch_one(w)
                        .await
                };
                let patience = session.server_timeout.clamp(Duration::from_millis(100), Duration::from_secs(5));
                match tokio::time::timeout(patience, probe).await {
                    Ok(Ok(found)) => {
                        answered = Instant::now();
                        if found.is_some() {
                            *blockers = found;
                        }
                    }
                    // The server answers but refuses a second session (max_connections,
                    // pg_hba): run unwatched.
                    Ok(Err(_)) => watching = false,
                    Err(_) => {
                        watcher = None;
                        if answered.elapsed() >= session.server_timeout {
                            return Err((completed.get(), sqlx::Error::Io(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!(
                                    "{GAVE_UP} {:.1}s, and a health check on a second connection got no answer either (--server-timeout {})",
                                    answered.elapsed().as_secs_f64(),
                                    crate::config::format_duration(session.server_timeout)
                                ),
                            ))));
                        }
                    }
                }
            }
        }
    }
}

/// How the error of a run that gave up on its connection starts (see [`gave_up`]).
const GAVE_UP: &str = "the server has not answered for";

/// Whether `e` is the run giving up on its connection, whose server answers nothing: that
/// connection is not used again (rolling back or releasing a lock on it would wait
/// forever; the server does both when it notices the connection is gone). It is this one
/// connection's state, carried by its error, not the process's.
pub(crate) fn gave_up(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut
        && io.to_string().starts_with(GAVE_UP))
}

/// Whether a driver error is the server's `lock_timeout` (SQLSTATE 55P03).
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    super::error::sqlstate_of(e) == Some("55P03")
}

/// The delay before retry `attempt` (1-based): doubling from [`FIRST_RETRY_DELAY`], capped,
/// then scaled by a random factor in [0.5, 1).
fn retry_delay(attempt: u32) -> Duration {
    let base = FIRST_RETRY_DELAY
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_RETRY_DELAY);
    let noise = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let factor = 0.5 + f64::from(noise % 1000) / 2000.0;
    base.mul_f64(factor)
}

/// The indexes a no-transaction file builds concurrently, as (schema, name).
fn concurrent_indexes(statements: &[Statement<'_>], schema: &str) -> Vec<(String, String)> {
    statements
        .iter()
        .filter_map(|s| crate::sets::lexer::concurrent_index(s.text))
        .map(|(s, n)| (s.unwrap_or_else(|| schema.to_string()), n))
        .collect()
}

/// Whether each of `indexes` that exists is valid, read in one query.
async fn validity(
    conn: &mut PgConnection,
    indexes: &[(String, String)],
) -> Result<std::collections::HashMap<(String, String), bool>, sqlx::Error> {
    if indexes.is_empty() {
        return Ok(Default::default());
    }
    // Each name resolved by the server, then its index looked up by oid: a plan the server
    // makes in a fraction of a join on names. One simple query, the names as literals.
    let names = indexes
        .iter()
        .map(|(s, n)| format!("({}, {})", literal(s), literal(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT i.s, i.n, x.indisvalid FROM (VALUES {names}) AS i(s, n)
           JOIN pg_index x ON x.indexrelid = to_regclass(quote_ident(i.s) || '.' || quote_ident(i.n))"
    );
    let rows = sqlx::raw_sql(&sql).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
        .collect()
}

/// Which of `indexes` exist and are INVALID: what an unfinished `CREATE INDEX
/// CONCURRENTLY` leaves behind.
async fn invalid_indexes(
    conn: &mut PgConnection,
    indexes: &[(String, String)],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let valid = validity(conn, indexes).await?;
    Ok(indexes
        .iter()
        .filter(|i| valid.get(*i) == Some(&false))
        .cloned()
        .collect())
}

/// What a pending no-transaction migration already left in the database: of the indexes it
/// builds concurrently, how many exist, and which are INVALID. `None` when nothing is there
/// (or the migration runs in a transaction, which leaves nothing behind).
pub async fn partly_applied(
    conn: &mut PgConnection,
    m: &Migration,
    schema: &str,
) -> Result<Option<String>, EngineError> {
    if !m.up.no_transaction {
        return Ok(None);
    }
    let Ok(statements) = split(&m.up.sql) else {
        return Ok(None);
    };
    let indexes = concurrent_indexes(&statements, schema);
    let valid = validity(conn, &indexes).await.map_err(db(
        "looking for the indexes of a pending no-transaction migration",
    ))?;
    let present = indexes.iter().filter(|i| valid.contains_key(*i)).count();
    let invalid: Vec<(String, String)> = indexes
        .iter()
        .filter(|i| valid.get(*i) == Some(&false))
        .cloned()
        .collect();
    if present == 0 {
        return Ok(None);
    }
    let mut text = format!("{present} of the {} indexes it builds exist", indexes.len());
    if !invalid.is_empty() {
        text.push_str(&format!(
            ", INVALID: {}",
            shown(&invalid, schema).join(", ")
        ));
    }
    Ok(Some(text))
}

fn shown(indexes: &[(String, String)], home: &str) -> Vec<String> {
    indexes
        .iter()
        .map(|(s, n)| {
            if s == home {
                n.clone()
            } else {
                format!("{s}.{n}")
            }
        })
        .collect()
}

/// Applies (`Up`) or reverts (`Down`) `m`; returns the execution time in milliseconds.
///
/// A migration that fails on `lock_timeout` is tried again, up to `limits.lock_retries`
/// more times with a growing delay: a transactional one from the start (its transaction was
/// rolled back), a no-transaction one only when its first statement failed, so nothing it
/// did is ever run twice. The error of the last attempt names the sessions that blocked it.
pub(super) async fn run(
    conn: &mut PgConnection,
    set: &MigrationSet,
    m: &Migration,
    direction: Direction,
    (limits, session): (&Limits, Option<&Session>),
    events: &dyn Fn(&Event),
) -> Result<i64, EngineError> {
    let file = match direction {
        Direction::Up => &m.up,
        Direction::Down => &m.down,
    };
    // Checked when the set was loaded; splitting again cannot fail.
    let statements = split(&file.sql).map_err(|e| EngineError::MigrationFailed {
        set: set.name.clone(),
        version: m.version,
        location: format!("{}:{}", file.path, e.line()),
        message: e.to_string(),
        outcome: Outcome::NothingRun,
        sqlstate: None,
        source: None,
    })?;
    let mut attempt = 0;
    loop {
        let mut blockers = None;
        let work = Attempt {
            set,
            m,
            file,
            statements: &statements,
            direction,
            limits,
            session,
        };
        let result = if file.no_transaction {
            run_without_transaction(conn, &work, &mut blockers, events).await
        } else {
            run_in_transaction(conn, &work, &mut blockers).await
        };
        match result {
            Ok(ms) => return Ok(ms),
            Err(f) if f.retryable() && attempt < limits.lock_retries => {
                attempt += 1;
                let delay = retry_delay(attempt);
                events(&Event::Retrying {
                    set: &set.name,
                    migration: m,
                    attempt,
                    of: limits.lock_retries,
                    delay_ms: delay.as_millis() as u64,
                    blockers: blockers.as_deref().unwrap_or("no session seen"),
                });
                limits.run.sleep(delay).await;
                limits.run.check()?;
            }
            Err(f) => {
                let mut error = f.into_engine(set, m);
                if let EngineError::MigrationFailed {
                    message, sqlstate, ..
                } = &mut error
                {
                    if sqlstate.as_deref() == Some("55P03") {
                        let tries = if attempt > 0 {
                            format!(" (after {} attempts)", attempt + 1)
                        } else {
                            String::new()
                        };
                        message.push_str(&format!(
                            "{tries}; blocked by {}",
                            blockers
                                .as_deref()
                                .unwrap_or("a session that had gone by the time it was looked up")
                        ));
                    }
                }
                return Err(error);
            }
        }
    }
}

/// One attempt at a migration file: what both ways of running it need.
struct Attempt<'a> {
    set: &'a MigrationSet,
    m: &'a Migration,
    file: &'a SqlFile,
    statements: &'a [Statement<'a>],
    direction: Direction,
    limits: &'a Limits,
    session: Option<&'a Session>,
}

/// A failed attempt: the engine error, or the driver error of a statement together with
/// whether it was the first statement (which makes a lock timeout retryable).
struct Failure {
    error: FailureKind,
    first_statement: bool,
}

enum FailureKind {
    Engine(EngineError),
    Statement {
        location: String,
        message: String,
        outcome: Outcome,
        source: sqlx::Error,
    },
}

impl Failure {
    /// A lock timeout that left nothing behind: trying again repeats nothing.
    fn retryable(&self) -> bool {
        self.first_statement
            && matches!(&self.error, FailureKind::Statement { source, .. } if is_lock_timeout(source))
    }

    fn engine(e: EngineError) -> Failure {
        Failure {
            error: FailureKind::Engine(e),
            first_statement: false,
        }
    }

    fn into_engine(self, set: &MigrationSet, m: &Migration) -> EngineError {
        match self.error {
            FailureKind::Engine(e) => e,
            FailureKind::Statement {
                location,
                message,
                outcome,
                source,
            } => EngineError::MigrationFailed {
                set: set.name.clone(),
                version: m.version,
                location,
                message,
                outcome,
                sqlstate: super::error::sqlstate_of(&source).map(Into::into),
                source: Some(Box::new(source)),
            },
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        Failure::engine(e)
    }
}

/// What a run says of a migration that released the lock of `set`: another runner may be
/// applying it too.
fn released_lock(set: &str) -> String {
    format!(
        "the migration released the lock of set `{set}` (pg_advisory_unlock_all or pg_advisory_unlock in the file), so another runner may be applying it too; remove the unlock from the file"
    )
}

async fn run_in_transaction(
    conn: &mut PgConnection,
    a: &Attempt<'_>,
    blockers: &mut Option<String>,
) -> Result<i64, Failure> {
    let Attempt {
        set,
        m,
        file,
        statements,
        direction,
        limits,
        session,
    } = *a;
    let doing = format!("running {}", file.path);
    let set_name = set.name.as_str();
    let started = Instant::now();
    // BEGIN and the settings in one round trip.
    let begin = format!(
        "BEGIN; {}",
        settings_sql(&set.schema, &limits.lock_timeout, true)
    );
    let mut tx = conn.begin_with(begin).await.map_err(db(doing.clone()))?;
    if let Err(e) = own_schema(&mut tx, &set.schema).await {
        let _ = tx.rollback().await;
        return Err(db(doing)(e).into());
    }
    // The statements go as one simple query, the file's text from the first to the last
    // (comments between them included): one round trip, where psql makes one per statement
    // (Witchcraft's up files: 130 ms so, 166 ms one by one). A big file goes in parts of
    // about BATCH_BYTES, since the server parses a whole query before running any of it.
    // The server runs a query's statements in order and stops at the first error: the
    // statements it completed before tell which failed, and a position in the error counts
    // in the file's text.
    for part in batches(statements, BATCH_BYTES) {
        if let Err(e) = limits.run.check() {
            let _ = tx.rollback().await;
            return Err(EngineError::from(e).into());
        }
        let (first, last) = (&part[0], &part[part.len() - 1]);
        let sent = Statement {
            text: &file.sql[first.offset..last.offset + last.text.len()],
            offset: first.offset,
        };
        if let Err((completed, e)) = send_counting(&mut tx, session, sent.text, blockers).await {
            let stmt = &part[completed.min(part.len() - 1)];
            let (location, message) = locate(file, &sent, stmt, &e);
            let outcome = if gave_up(&e) {
                Outcome::ServerLost
            } else {
                let _ = tx.rollback().await;
                Outcome::RolledBack
            };
            return Err(Failure {
                error: FailureKind::Statement {
                    location,
                    message,
                    outcome,
                    source: e,
                },
                // The whole transaction was rolled back: trying again repeats nothing.
                first_statement: true,
            });
        }
    }
    let ms = started.elapsed().as_millis() as i64;
    // A file that releases advisory locks (pg_advisory_unlock_all) releases the set's:
    // another runner could be applying the same migration now. Never record then. The
    // check and the history row are one statement: one round trip per migration.
    let row = history::NewRow::of(set, m, ms);
    match history::record_holding_lock(&mut tx, row, direction == Direction::Up).await {
        Ok(true) => {}
        Ok(false) => {
            let _ = tx.rollback().await;
            return Err(EngineError::MigrationFailed {
                set: set.name.clone(),
                version: m.version,
                location: file.path.clone(),
                message: released_lock(set_name),
                outcome: Outcome::RolledBack,
                sqlstate: None,
                source: None,
            }
            .into());
        }
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(db(format!("recording {} in migrate.history", file.path))(e).into());
        }
    }
    if let Err(e) = tx.commit().await {
        let outcome = if e.as_database_error().is_some() {
            // The server answered the COMMIT with an error (a deferred constraint, a
            // serialization failure): it rolled the transaction back.
            Outcome::CommitRefused
        } else {
            // The COMMIT was sent and its answer never came: the server may have
            // committed or not. The history row commits with the migration, so the
            // history tells which.
            Outcome::CommitUnknown
        };
        return Err(Failure {
            error: FailureKind::Statement {
                location: format!("{}:commit", file.path),
                message: super::error::reason(&e),
                outcome,
                source: e,
            },
            first_statement: false,
        });
    }
    Ok(ms)
}

/// How much of a file's text one query carries at most, unless one statement is longer: the
/// server parses a query whole before it runs any of it, and holds every parse tree till the
/// end, so a big file in one query would take memory in proportion to its size, for no gain
/// (a 50 MB file of INSERTs: 1.16 s in one query, 1.05 s in parts of 1 MiB, 7 s with psql).
const BATCH_BYTES: usize = 1 << 20;

/// `statements` in runs of consecutive ones whose text, from the first's start to the last's
/// end, is at most `limit` bytes (a longer statement is a run of its own).
fn batches<'s, 'a>(
    statements: &'s [Statement<'a>],
    limit: usize,
) -> impl Iterator<Item = &'s [Statement<'a>]> {
    let mut rest = statements;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let n = rest
            .iter()
            .position(|s| s.offset + s.text.len() - first.offset > limit)
            .unwrap_or(rest.len())
            .max(1);
        let (part, after) = rest.split_at(n);
        rest = after;
        Some(part)
    })
}

async fn run_without_transaction(
    conn: &mut PgConnection,
    a: &Attempt<'_>,
    blockers: &mut Option<String>,
    events: &dyn Fn(&Event),
) -> Result<i64, Failure> {
    let Attempt {
        set,
        m,
        file,
        statements,
        direction,
        limits,
        session,
    } = *a;
    let doing = format!("running {}", file.path);
    let started = Instant::now();
    let reset = async |conn: &mut PgConnection| {
        let _ = sqlx::raw_sql("RESET lock_timeout; RESET search_path")
            .execute(conn)
            .await;
    };
    if let Err(e) = settings(conn, &set.schema, &limits.lock_timeout, false).await {
        reset(conn).await;
        return Err(db(doing)(e).into());
    }
    // An earlier run that failed in the middle of a concurrent build left its index
    // INVALID, and `IF NOT EXISTS` would now skip it: drop it, so that it is built again.
    let concurrent = concurrent_indexes(statements, &set.schema);
    let leftovers = match invalid_indexes(conn, &concurrent).await {
        Ok(l) => l,
        Err(e) => {
            reset(conn).await;
            return Err(db(doing)(e).into());
        }
    };
    for (schema, name) in &leftovers {
        let shown = shown(&[(schema.clone(), name.clone())], &set.schema).join("");
        events(&Event::RebuildingInvalidIndex {
            set: &set.name,
            migration: m,
            index: &shown,
        });
        let drop = format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
            quote_ident(schema),
            quote_ident(name)
        );
        if let Err(e) = send(conn, session, &drop, blockers).await {
            reset(conn).await;
            return Err(db(format!(
                "dropping the invalid index {shown} before {}",
                file.path
            ))(e)
            .into());
        }
    }
    for (i, stmt) in statements.iter().enumerate() {
        let failed = match limits.run.check() {
            Err(e) => Some(Err(e)),
            Ok(()) => send(conn, session, stmt.text, blockers).await.err().map(Ok),
        };
        let Some(failed) = failed else { continue };
        let invalid = if matches!(&failed, Ok(e) if gave_up(e)) {
            Vec::new()
        } else {
            let invalid = invalid_indexes(conn, &concurrent).await.unwrap_or_default();
            reset(conn).await;
            invalid
        };
        let line = line_of(&file.sql, stmt.offset) as u32;
        let outcome = if !invalid.is_empty() {
            Outcome::LeftInvalid(Box::new(LeftInvalid {
                applied: i as u32,
                line,
                indexes: shown(&invalid, &set.schema).join(", "),
            }))
        } else if i == 0 {
            Outcome::NothingApplied
        } else {
            Outcome::PartlyApplied {
                applied: i as u32,
                line,
            }
        };
        return Err(match failed {
            Ok(e) => {
                let (location, message) = locate(file, stmt, stmt, &e);
                Failure {
                    error: FailureKind::Statement {
                        location,
                        message,
                        outcome: outcome.clone(),
                        source: e,
                    },
                    first_statement: i == 0 && invalid.is_empty(),
                }
            }
            Err(interrupted) => {
                if i == 0 && invalid.is_empty() {
                    EngineError::from(interrupted).into()
                } else {
                    EngineError::MigrationFailed {
                        set: set.name.clone(),
                        version: m.version,
                        location: format!("{}:{line}", file.path),
                        message: interrupted.to_string(),
                        outcome,
                        sqlstate: None,
                        source: None,
                    }
                    .into()
                }
            }
        });
    }
    // A build can end without an error and still leave its index unusable (a unique
    // index whose build saw a duplicate reports it; a crash does not): never record a file
    // whose indexes are not valid.
    let invalid = match invalid_indexes(conn, &concurrent).await {
        Ok(i) => i,
        Err(e) => {
            reset(conn).await;
            return Err(db(doing)(e).into());
        }
    };
    if !invalid.is_empty() {
        reset(conn).await;
        let line = line_of(&file.sql, statements.last().map_or(0, |s| s.offset)) as u32;
        return Err(EngineError::MigrationFailed {
            set: set.name.clone(),
            version: m.version,
            location: file.path.clone(),
            message: format!(
                "index(es) {} are INVALID after the file ran",
                shown(&invalid, &set.schema).join(", ")
            ),
            outcome: Outcome::LeftInvalid(Box::new(LeftInvalid {
                applied: statements.len() as u32,
                line,
                indexes: shown(&invalid, &set.schema).join(", "),
            })),
            sqlstate: None,
            source: None,
        }
        .into());
    }
    let ms = started.elapsed().as_millis() as i64;
    // As in a transaction, the row is written only while the set's lock is held; a file
    // that released it ran to its end, and is not recorded.
    let row = history::NewRow::of(set, m, ms);
    let recorded = history::record_holding_lock(conn, row, direction == Direction::Up).await;
    reset(conn).await;
    match recorded {
        Ok(true) => Ok(ms),
        Ok(false) => Err(EngineError::MigrationFailed {
            set: set.name.clone(),
            version: m.version,
            location: file.path.clone(),
            message: released_lock(&set.name),
            outcome: Outcome::PartlyApplied {
                applied: statements.len() as u32,
                line: line_of(&file.sql, file.sql.len()) as u32,
            },
            sqlstate: None,
            source: None,
        }
        .into()),
        Err(e) => Err(Failure::engine(db(format!(
            "recording {} in migrate.history",
            file.path
        ))(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_goes_in_runs_of_statements_no_longer_than_the_limit() {
        let sql = "SELECT 1;\nSELECT 22;\n-- a comment\nSELECT 333;\nSELECT 4444444444;\nSELECT 5;";
        let statements = split(sql).unwrap();
        let runs = |limit| -> Vec<Vec<&str>> {
            batches(&statements, limit)
                .map(|run| run.iter().map(|s| s.text).collect())
                .collect()
        };
        // the whole file when it fits
        assert_eq!(
            runs(1 << 20),
            [vec![
                "SELECT 1",
                "SELECT 22",
                "SELECT 333",
                "SELECT 4444444444",
                "SELECT 5"
            ]]
        );
        // "SELECT 1;\nSELECT 22" is 20 bytes; with the comment, the third would make 44
        assert_eq!(
            runs(20),
            [
                vec!["SELECT 1", "SELECT 22"],
                vec!["SELECT 333"],
                vec!["SELECT 4444444444"],
                vec!["SELECT 5"]
            ]
        );
        // a statement longer than the limit goes alone, none is left out
        assert_eq!(runs(3).concat(), texts(&statements));
        assert!(runs(3).iter().all(|run| run.len() == 1));
        assert_eq!(batches(&[], 10).count(), 0);
    }

    fn texts<'a>(statements: &[Statement<'a>]) -> Vec<&'a str> {
        statements.iter().map(|s| s.text).collect()
    }

    #[test]
    fn literals_read_the_same_whatever_standard_conforming_strings_says() {
        assert_eq!(literal("5s"), "'5s'");
        assert_eq!(literal("it's"), "'it''s'");
        // a backslash is an escape in '...' when standard_conforming_strings is off
        assert_eq!(literal("a\\b'c"), "E'a\\\\b''c'");
        assert_eq!(
            settings_sql("we\\ird", "5s", true),
            "SELECT set_config('lock_timeout', '5s', true), set_config('search_path', E'\"we\\\\ird\"', true)"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("public"), "\"public\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn plpgsql_context_lines() {
        assert_eq!(
            body_line("PL/pgSQL function inline_code_block line 4 at RAISE"),
            Some(4)
        );
        assert_eq!(
            body_line("SQL statement \"x\"\nPL/pgSQL function f() line 12 at SQL statement"),
            Some(12)
        );
        assert_eq!(body_line("SQL function \"f\" statement 1"), None);
    }
}
