//! Runs one migration file: statement by statement, with the set's `search_path` and
//! `lock_timeout`, inside a transaction together with its history row unless the file says
//! `-- migrate:no-transaction`. A failure is mapped to the file line and column the server
//! pointed at.

use super::error::{db, one_line, EngineError, Outcome};
use super::history;
use crate::config::MigrationSet;
use crate::sets::split::{line_of, split, Statement};
use crate::sets::{Migration, SqlFile};
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{Connection, PgConnection};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Double-quotes an identifier for interpolation into DDL (values are always bound instead).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The SQL [`run`] sends for `m`, in order, as a script: what `--dry-run` prints. Values the
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
        "SELECT set_config('lock_timeout', {}, {local}), set_config('search_path', {}, {local});",
        literal(lock_timeout),
        literal(&quote_ident(&set.schema))
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
    sqlx::query(
        "SELECT set_config('lock_timeout', $1, $3), set_config('search_path', quote_ident($2), $3)",
    )
    .bind(lock_timeout)
    .bind(schema)
    .bind(local)
    .execute(&mut *conn)
    .await?;
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

/// `file:line:column` of a failure in `stmt`, plus the server's message on one line.
fn locate(file: &SqlFile, stmt: &Statement<'_>, e: &sqlx::Error) -> (String, String) {
    let mut offset = stmt.offset;
    let mut message = super::error::reason(e);
    if let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    {
        match pg.position() {
            Some(PgErrorPosition::Original(pos)) => {
                if let Some((b, _)) = stmt.text.char_indices().nth(pos.saturating_sub(1)) {
                    offset = stmt.offset + b;
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

/// Applies (`Up`) or reverts (`Down`) `m`; returns the execution time in milliseconds.
pub async fn run(
    conn: &mut PgConnection,
    set: &MigrationSet,
    m: &Migration,
    direction: Direction,
    lock_timeout: &str,
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
    let failed = |location: String, message: String, outcome: Outcome, source: sqlx::Error| {
        EngineError::MigrationFailed {
            set: set.name.clone(),
            version: m.version,
            location,
            message,
            outcome,
            sqlstate: super::error::sqlstate_of(&source).map(Into::into),
            source: Some(Box::new(source)),
        }
    };
    let set_name = set.name.as_str();
    let record = async |conn: &mut PgConnection, ms: i64| match direction {
        Direction::Up => {
            history::insert(
                conn,
                history::NewRow {
                    set: set_name,
                    version: m.version,
                    name: &m.name,
                    namespace: &set.schema,
                    checksum: &m.checksum,
                    execution_ms: ms,
                },
            )
            .await
        }
        Direction::Down => history::delete(conn, set_name, m.version).await,
    };
    let doing = format!("running {}", file.path);
    let started = Instant::now();

    if !file.no_transaction {
        let mut tx = conn.begin().await.map_err(db(doing.clone()))?;
        if let Err(e) = settings(&mut tx, &set.schema, lock_timeout, true).await {
            let _ = tx.rollback().await;
            return Err(db(doing)(e));
        }
        for stmt in &statements {
            if let Err(e) = sqlx::raw_sql(stmt.text).execute(&mut *tx).await {
                let (location, message) = locate(file, stmt, &e);
                let _ = tx.rollback().await;
                return Err(failed(location, message, Outcome::RolledBack, e));
            }
        }
        let ms = started.elapsed().as_millis() as i64;
        // A file that releases advisory locks (pg_advisory_unlock_all) releases the set's:
        // another runner could be applying the same migration now. Never record then.
        match super::lock::held(&mut tx, set_name).await {
            Ok(true) => {}
            Ok(false) => {
                let _ = tx.rollback().await;
                return Err(EngineError::MigrationFailed {
                    set: set.name.clone(),
                    version: m.version,
                    location: file.path.clone(),
                    message: format!(
                        "the migration released the lock of set `{set_name}` (pg_advisory_unlock_all or pg_advisory_unlock in the file), so another runner may be applying it too; remove the unlock from the file"
                    ),
                    outcome: Outcome::RolledBack,
                    sqlstate: None,
                    source: None,
                });
            }
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        }
        if let Err(e) = record(&mut tx, ms).await {
            let _ = tx.rollback().await;
            return Err(db(format!("recording {} in migrate.history", file.path))(e));
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
            return Err(failed(
                format!("{}:commit", file.path),
                super::error::reason(&e),
                outcome,
                e,
            ));
        }
        return Ok(ms);
    }

    let reset = async |conn: &mut PgConnection| {
        let _ = sqlx::raw_sql("RESET lock_timeout; RESET search_path")
            .execute(conn)
            .await;
    };
    if let Err(e) = settings(conn, &set.schema, lock_timeout, false).await {
        reset(conn).await;
        return Err(db(doing)(e));
    }
    for (i, stmt) in statements.iter().enumerate() {
        if let Err(e) = sqlx::raw_sql(stmt.text).execute(&mut *conn).await {
            let (location, message) = locate(file, stmt, &e);
            reset(conn).await;
            let outcome = if i == 0 {
                Outcome::NothingApplied
            } else {
                Outcome::PartlyApplied {
                    applied: i as u32,
                    line: line_of(&file.sql, stmt.offset) as u32,
                }
            };
            return Err(failed(location, message, outcome, e));
        }
    }
    let ms = started.elapsed().as_millis() as i64;
    let recorded = record(conn, ms).await;
    reset(conn).await;
    recorded.map_err(db(format!("recording {} in migrate.history", file.path)))?;
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

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
