//! The trace of one migration file, statement by statement, read from the server itself.
//!
//! A transactional file runs in one transaction that is rolled back at the end; after each
//! statement the tracer reads, inside that transaction:
//! - `pg_locks`: the relation locks the transaction holds, and in which mode;
//! - `pg_class` and `pg_relation_filenode()`: a relation whose storage was replaced was
//!   rewritten, one that appeared is an index built (or a table made);
//! - `pg_stat_xact_user_tables.seq_scan`: a table read whole (a constraint validated, a
//!   column checked for NOT NULL, an index built);
//! - `pg_constraint.convalidated` and `pg_attribute.attnotnull`: what was validated.
//!
//! A `-- migrate:no-transaction` file runs statement by statement for real (`CREATE INDEX
//! CONCURRENTLY` cannot run in a transaction block). Its locks are released when each
//! statement ends, so they are read while it runs: a second session holds ACCESS EXCLUSIVE on
//! every table that existed before, the statement waits for its first lock, and the waiting
//! request (relation and mode) is read from `pg_locks` before the second session lets go.
//! Scans are read from `pg_stat_user_tables`, flushed after the statement.
//!
//! Only relations that existed before the migration are reported: a table the migration
//! makes is seen by nobody until it commits. Indexes and TOAST tables are reported as their
//! table.

use super::locks::LockMode;
use super::LintError;
use crate::engine::{error::db, quote_ident, EngineError};
use crate::sets::split::{line_of, split};
use crate::sets::SqlFile;
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A lock a statement took on a relation that existed before the migration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lock {
    /// The table (or view, sequence, materialized view) locked: `users`, `audit.events`.
    pub table: String,
    /// What was locked when it is not the table itself: `index users_email_key`, `TOAST`.
    pub via: Option<String>,
    pub mode: LockMode,
    /// `held`: read from the transaction's own locks, or seen held while a statement outside
    /// a transaction ran; `requested`: the first lock such a statement waited for.
    pub seen: &'static str,
    /// How long it is held on the live tables, estimated: from its statement to COMMIT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_ms: Option<f64>,
}

/// An index a statement built on a table that existed before the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexBuild {
    pub index: String,
    pub table: String,
    /// Built with CONCURRENTLY: reads and writes went on.
    pub concurrently: bool,
}

/// What one statement did, as the server reports it.
#[derive(Debug, Clone, Serialize)]
pub struct StatementTrace {
    /// The line of the file the statement starts on.
    pub line: usize,
    /// The statement's first line, shortened.
    pub statement: String,
    /// The whole statement, for the rules that read what was written.
    #[serde(skip)]
    pub text: String,
    /// How long it took on the scratch database, in milliseconds.
    pub ms: f64,
    /// How long it would take on the live tables, estimated from a timed sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_ms: Option<f64>,
    pub locks: Vec<Lock>,
    /// Tables whose storage was replaced (the table or one of its indexes rewritten).
    pub rewritten: Vec<String>,
    /// Tables read whole without being rewritten.
    pub scanned: Vec<String>,
    pub indexes_built: Vec<IndexBuild>,
    /// Constraints validated and columns checked for NOT NULL: `constraint users_age_check
    /// on users`, `NOT NULL users.email`.
    pub validated: Vec<String>,
    /// The `-- migrate:lint-ignore RULE reason` comments written for the statement.
    pub ignores: Vec<Ignore>,
}

/// A finding a statement's author accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignore {
    pub rule: String,
    pub reason: String,
}

/// A relation as `pg_class` holds it.
#[derive(Debug, Clone)]
struct Rel {
    schema: String,
    name: String,
    kind: char,
    /// For an index, its table; for a TOAST table, the table it belongs to.
    owner: Option<i64>,
    filenode: Option<i64>,
    /// For a partition, the partitioned table (or index) it belongs to.
    parent: Option<i64>,
}

/// A row of [`RELATIONS`]: oid, schema, name, relkind, owning table, filenode, the
/// partitioned table (or index) it is a partition of.
type RelationRow = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// What the tracer reads after each statement.
#[derive(Debug, Clone, Default)]
struct State {
    rels: HashMap<i64, Rel>,
    scans: HashMap<i64, i64>,
    locks: HashMap<i64, LockMode>,
    /// Validated constraints (`c:oid`) and NOT NULL columns (`n:relid:name`), by table.
    valid: BTreeSet<(i64, String)>,
}

const RELATIONS: &str = "
SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
       coalesce(i.indrelid, t.oid)::int8, pg_relation_filenode(c.oid)::int8,
       (SELECT inhparent FROM pg_inherits WHERE inhrelid = c.oid AND c.relispartition)::int8
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
 WHERE c.oid >= 16384 AND n.nspname NOT IN ('pg_catalog', 'information_schema')";

const LOCKS: &str = "
SELECT relation::int8, mode FROM pg_locks
 WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation >= 16384
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

const VALID: &str = "
SELECT conrelid::int8, 'c:' || conname FROM pg_constraint
 WHERE conrelid >= 16384 AND convalidated AND contype IN ('c', 'f', 'n')
UNION ALL
SELECT attrelid::int8, 'n:' || attname FROM pg_attribute
 WHERE attrelid >= 16384 AND attnotnull AND attnum > 0 AND NOT attisdropped";

impl State {
    async fn read(conn: &mut PgConnection, in_transaction: bool) -> Result<State, EngineError> {
        let what = "reading the trace";
        let mut state = State::default();
        // Locks first: the other queries lock only system catalogs, never user relations.
        let locks: Vec<(i64, String)> = sqlx::query_as(LOCKS)
            .fetch_all(&mut *conn)
            .await
            .map_err(db(what))?;
        for (oid, mode) in locks {
            if let Some(mode) = LockMode::from_pg(&mode) {
                let held = state.locks.entry(oid).or_insert(mode);
                *held = (*held).max(mode);
            }
        }
        let rels: Vec<RelationRow> = sqlx::query_as(RELATIONS)
            .fetch_all(&mut *conn)
            .await
            .map_err(db(what))?;
        for (oid, schema, name, kind, owner, filenode, parent) in rels {
            let kind = kind.chars().next().unwrap_or('r');
            state.rels.insert(
                oid,
                Rel {
                    schema,
                    name,
                    kind,
                    owner,
                    filenode,
                    parent,
                },
            );
        }
        let scans = if in_transaction {
            "SELECT relid::int8, seq_scan FROM pg_stat_xact_user_tables"
        } else {
            "SELECT relid::int8, seq_scan FROM pg_stat_user_tables"
        };
        state.scans = sqlx::query_as::<_, (i64, i64)>(scans)
            .fetch_all(&mut *conn)
            .await
            .map_err(db(what))?
            .into_iter()
            .collect();
        state.valid = sqlx::query_as::<_, (i64, String)>(VALID)
            .fetch_all(&mut *conn)
            .await
            .map_err(db(what))?
            .into_iter()
            .collect();
        Ok(state)
    }
}

/// Names relations the way reports do: unqualified in the set's own schema.
struct Names<'a> {
    home: &'a str,
    /// Every relation seen, as first seen: a relation a statement dropped or renamed keeps
    /// the name it had.
    known: HashMap<i64, Rel>,
}

impl Names<'_> {
    /// Relations are named as they were first seen: a table that existed before the
    /// migration keeps the name (and the place in a partition tree) the application knows.
    fn learn(&mut self, state: &State) {
        for (oid, rel) in &state.rels {
            self.known.entry(*oid).or_insert_with(|| rel.clone());
        }
    }

    fn qualified(&self, rel: &Rel) -> String {
        if rel.schema == self.home {
            quote_if_needed(&rel.name)
        } else {
            format!(
                "{}.{}",
                quote_if_needed(&rel.schema),
                quote_if_needed(&rel.name)
            )
        }
    }

    /// The table `oid` stands for, and what it is when not the table itself.
    fn table(&self, oid: i64) -> Option<(i64, String, Option<String>)> {
        let rel = self.known.get(&oid)?;
        match (rel.kind, rel.owner) {
            ('i' | 'I', Some(table)) => {
                let (t, name, via) = self.table(table)?;
                let what = match via {
                    Some(_) => "TOAST index".to_string(),
                    None => format!("index {}", quote_if_needed(&rel.name)),
                };
                Some((t, name, Some(what)))
            }
            ('t', Some(table)) => {
                let (t, name, _) = self.table(table)?;
                Some((t, name, Some("TOAST table".into())))
            }
            (_, _) if rel.parent.is_some() => {
                // a partition is reported as its partitioned table, which locks, sizes and
                // indexes it
                let (t, name, _) = self.table(rel.parent?)?;
                let what = format!("partition {}", quote_if_needed(&rel.name));
                Some((t, name, Some(what)))
            }
            _ => Some((oid, self.qualified(rel), None)),
        }
    }
}

fn quote_if_needed(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

/// The statement's first line, at most 72 characters.
fn headline(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    let more = text.lines().nth(1).is_some();
    if first.chars().count() > 72 {
        format!("{}…", first.chars().take(71).collect::<String>())
    } else if more {
        format!("{first} …")
    } else {
        first.to_string()
    }
}

/// The `-- migrate:lint-ignore RULE reason` comments of a statement: in its text, or on the
/// lines between the statement before it and its start.
fn ignores(before: &str, text: &str) -> Vec<Ignore> {
    const MARK: &str = "-- migrate:lint-ignore";
    before
        .lines()
        .chain(text.lines())
        .filter_map(|l| l.trim_start().strip_prefix(MARK))
        .filter_map(|rest| {
            let rest = rest.trim();
            let (rule, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            (!rule.is_empty()).then(|| Ignore {
                rule: rule.to_string(),
                reason: reason.trim().to_string(),
            })
        })
        .collect()
}

/// Traces `file` on `conn`, a scratch database holding every migration before it, with
/// `search_path` set to the set's schema `home`. `observer` is a second session on the same
/// database, for a file that runs without a transaction. A transactional file is rolled
/// back; a file without a transaction stays applied.
pub async fn trace(
    conn: &mut PgConnection,
    observer: &mut PgConnection,
    file: &SqlFile,
    home: &str,
) -> Result<Vec<StatementTrace>, LintError> {
    let statements = split(&file.sql).map_err(|e| LintError::Statement(e.to_string()))?;
    let in_tx = !file.no_transaction;
    let what = "tracing";
    if in_tx {
        sqlx::raw_sql("BEGIN")
            .execute(&mut *conn)
            .await
            .map_err(db(what))?;
    }
    sqlx::query("SELECT set_config('search_path', quote_ident($1), $2)")
        .bind(home)
        .bind(in_tx)
        .execute(&mut *conn)
        .await
        .map_err(db(what))?;
    let result = trace_statements(conn, observer, file, &statements, home).await;
    if in_tx {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    } else {
        let _ = sqlx::raw_sql("RESET search_path").execute(&mut *conn).await;
    }
    result
}

async fn trace_statements(
    conn: &mut PgConnection,
    observer: &mut PgConnection,
    file: &SqlFile,
    statements: &[crate::sets::split::Statement<'_>],
    home: &str,
) -> Result<Vec<StatementTrace>, LintError> {
    let in_tx = !file.no_transaction;
    if !in_tx {
        // Scans of earlier work still pending in this session are flushed now, so that they
        // are not counted as the first statement's.
        sqlx::raw_sql("SELECT pg_stat_force_next_flush()")
            .execute(&mut *conn)
            .await
            .map_err(db("tracing"))?;
    }
    let origin = State::read(conn, in_tx).await?;
    let mut names = Names {
        home,
        known: HashMap::new(),
    };
    names.learn(&origin);
    let existed = |oid: i64| origin.rels.contains_key(&oid);
    let mut before = origin.clone();
    let mut out = Vec::new();
    let mut end_of_previous = 0;
    for st in statements {
        let line = line_of(&file.sql, st.offset);
        let started = Instant::now();
        let mut requested = Vec::new();
        if in_tx {
            sqlx::raw_sql(st.text)
                .execute(&mut *conn)
                .await
                .map_err(|e| LintError::Statement(format!("{} line {line}: {e}", file.path)))?;
        } else {
            let tables: Vec<String> = origin
                .rels
                .values()
                .filter(|r| matches!(r.kind, 'r' | 'p'))
                .map(|r| format!("{}.{}", quote_ident(&r.schema), quote_ident(&r.name)))
                .collect();
            requested = run_watched(conn, observer, st.text, &tables)
                .await
                .map_err(|e| LintError::Statement(format!("{} line {line}: {e}", file.path)))?;
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let after = State::read(conn, in_tx).await?;
        names.learn(&after);
        let mut trace = StatementTrace {
            line,
            statement: headline(st.text),
            text: st.text.to_string(),
            ms,
            estimated_ms: None,
            locks: Vec::new(),
            rewritten: Vec::new(),
            scanned: Vec::new(),
            indexes_built: Vec::new(),
            validated: Vec::new(),
            ignores: ignores(&file.sql[end_of_previous..st.offset], st.text),
        };
        end_of_previous = st.offset + st.text.len();
        // Locks newly taken, or taken in a stronger mode, on relations that existed.
        let mut locks: Vec<(i64, LockMode, &'static str)> = after
            .locks
            .iter()
            .filter(|(oid, mode)| existed(**oid) && before.locks.get(oid).is_none_or(|m| m < mode))
            .map(|(oid, mode)| (*oid, *mode, "held"))
            .collect();
        for (oid, mode, seen) in requested {
            if existed(oid) {
                locks.push((oid, mode, seen));
            }
        }
        // One lock per table: the strongest mode on it, or on its indexes and TOAST (named
        // in `via` when the table itself holds less).
        let mut per_table: Vec<(String, LockMode, Vec<Option<String>>, &'static str)> = Vec::new();
        let mut prior: HashMap<String, LockMode> = HashMap::new();
        for (oid, mode) in &before.locks {
            if let Some((_, table, _)) = names.table(*oid) {
                let m = prior.entry(table).or_insert(*mode);
                *m = (*m).max(*mode);
            }
        }
        for (oid, mode, seen) in locks {
            let Some((_, table, via)) = names.table(oid) else {
                continue;
            };
            if prior.get(&table).is_some_and(|m| *m >= mode) {
                continue;
            }
            match per_table.iter_mut().find(|t| t.0 == table) {
                Some(t) if t.1 < mode => *t = (table, mode, vec![via], seen),
                Some(t) if t.1 == mode => t.2.push(via),
                Some(_) => {}
                None => per_table.push((table, mode, vec![via], seen)),
            }
        }
        per_table.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (table, mode, vias, seen) in per_table {
            let via = if vias.iter().any(Option::is_none) {
                None
            } else {
                let mut v: Vec<String> = vias.into_iter().flatten().collect();
                v.sort();
                v.dedup();
                Some(v.join(", "))
            };
            trace.locks.push(Lock {
                table,
                via,
                mode,
                seen,
                held_ms: None,
            });
        }
        // New storage for a table (or its TOAST) is a rewrite; for an index alone, a rebuild.
        let mut rewritten = BTreeSet::new();
        let mut rebuilt = Vec::new();
        for (oid, rel) in &before.rels {
            if !existed(*oid) || rel.filenode.is_none() {
                continue;
            }
            if let Some(now) = after.rels.get(oid) {
                if now.filenode != rel.filenode {
                    if let Some((t, name, via)) = names.table(*oid) {
                        if matches!(rel.kind, 'i' | 'I') && via.as_deref() != Some("TOAST index") {
                            rebuilt.push((t, name, rel.name.clone()));
                        } else {
                            rewritten.insert((t, name));
                        }
                    }
                }
            }
        }
        for (t, table, index) in rebuilt {
            if !rewritten.iter().any(|(r, _)| *r == t) {
                trace.indexes_built.push(IndexBuild {
                    index: quote_if_needed(&index),
                    table,
                    concurrently: !in_tx,
                });
            }
        }
        for (oid, n) in &after.scans {
            if existed(*oid)
                && *n > before.scans.get(oid).copied().unwrap_or(0)
                && !rewritten.iter().any(|(t, _)| t == oid)
            {
                if let Some((_, name, _)) = names.table(*oid) {
                    trace.scanned.push(name);
                }
            }
        }
        trace.scanned.sort();
        trace.rewritten = rewritten.into_iter().map(|(_, n)| n).collect();
        for (oid, rel) in &after.rels {
            if before.rels.contains_key(oid)
                || !matches!(rel.kind, 'i' | 'I')
                || rel.parent.is_some()
            {
                continue;
            }
            let Some(table) = rel.owner.filter(|t| existed(*t)) else {
                continue;
            };
            // indexes made again by a rewrite of their table are part of the rewrite
            if names
                .table(table)
                .is_some_and(|(_, name, _)| trace.rewritten.contains(&name))
            {
                continue;
            }
            if names.known.get(&table).is_some_and(|t| t.kind == 't') {
                continue;
            }
            if let Some((_, table, _)) = names.table(table) {
                trace.indexes_built.push(IndexBuild {
                    index: quote_if_needed(&rel.name),
                    table,
                    concurrently: !in_tx,
                });
            }
        }
        trace.indexes_built.sort_by(|a, b| a.index.cmp(&b.index));
        for (table, key) in after.valid.difference(&before.valid) {
            if !existed(*table) {
                continue;
            }
            let Some((_, name, _)) = names.table(*table) else {
                continue;
            };
            if let Some(column) = key.strip_prefix("n:") {
                trace
                    .validated
                    .push(format!("NOT NULL {name}.{}", quote_if_needed(column)));
            } else if let Some(con) = key.strip_prefix("c:") {
                trace
                    .validated
                    .push(format!("constraint {} on {name}", quote_if_needed(con)));
            }
        }
        out.push(trace);
        before = after;
    }
    Ok(out)
}

/// Runs `sql` (outside a transaction) on `conn` while `observer` holds ACCESS EXCLUSIVE on
/// `tables`: the statement's first lock request on one of them waits, and is read from
/// `pg_locks` before the observer lets go. `None` when the statement ran without waiting.
async fn run_watched(
    conn: &mut PgConnection,
    observer: &mut PgConnection,
    sql: &str,
    tables: &[String],
) -> Result<Vec<(i64, LockMode, &'static str)>, sqlx::Error> {
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await?;
    if tables.is_empty() {
        sqlx::raw_sql(sql).execute(&mut *conn).await?;
        sqlx::raw_sql("SELECT pg_stat_force_next_flush()")
            .execute(&mut *conn)
            .await?;
        return Ok(Vec::new());
    }
    sqlx::raw_sql(&format!(
        "BEGIN; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        tables.join(", ")
    ))
    .execute(&mut *observer)
    .await?;
    let mut seen = Vec::new();
    let mut released = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    let result = {
        let run = sqlx::raw_sql(sql).execute(&mut *conn);
        tokio::pin!(run);
        loop {
            tokio::select! {
                r = &mut run => break r,
                _ = tokio::time::sleep(Duration::from_millis(1)) => {
                    // Before the observer lets go: the request waiting; after: what the
                    // statement holds as it runs (a later, stronger lock).
                    // An index DROP INDEX CONCURRENTLY has made dead (not indislive) is
                    // left out of its table's relation cache: queries of the table no
                    // longer open it, so the ACCESS EXCLUSIVE lock the drop ends with is
                    // not the table's (seen or not, depending on when the poll fell).
                    let rows: Vec<(i64, String)> = sqlx::query_as(
                        "SELECT l.relation::int8, l.mode FROM pg_locks l
                          WHERE l.pid = $1 AND l.granted = $2 AND l.locktype = 'relation'
                            AND NOT EXISTS (SELECT 1 FROM pg_index i
                                             WHERE i.indexrelid = l.relation AND NOT i.indislive)",
                    )
                    .bind(pid)
                    .bind(released)
                    .fetch_all(&mut *observer)
                    .await?;
                    for (oid, mode) in rows {
                        if let Some(m) = LockMode::from_pg(&mode) {
                            seen.push((oid, m, if released { "held" } else { "requested" }));
                        }
                    }
                    if !released && (!seen.is_empty() || Instant::now() > deadline) {
                        sqlx::raw_sql("COMMIT").execute(&mut *observer).await?;
                        released = true;
                    }
                }
            }
        }
    };
    if !released {
        sqlx::raw_sql("COMMIT").execute(&mut *observer).await?;
    }
    result?;
    // The statement's scans are flushed to pg_stat_user_tables as the session goes idle
    // after this, before they are read.
    sqlx::raw_sql("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await?;
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ignore_comment_names_its_rule_and_keeps_its_reason() {
        let got = ignores(
            "\n-- migrate:lint-ignore rewrite the table is empty in production\n",
            "ALTER TABLE t ALTER COLUMN c TYPE bigint",
        );
        assert_eq!(
            got,
            [Ignore {
                rule: "rewrite".into(),
                reason: "the table is empty in production".into()
            }]
        );
        assert!(ignores("-- a comment", "SELECT 1").is_empty());
    }

    #[test]
    fn a_headline_is_the_first_line_shortened() {
        assert_eq!(headline("ALTER TABLE t\n  ADD c int"), "ALTER TABLE t …");
        assert_eq!(headline(&"x".repeat(100)).chars().count(), 72);
        assert_eq!(quote_if_needed("Users"), "\"Users\"");
        assert_eq!(quote_if_needed("users_2"), "users_2");
    }
}
