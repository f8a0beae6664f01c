//! `migrate lint`: what a migration will lock, rewrite and block, measured on a real server
//! and weighed against the live tables.
//!
//! Each migration is traced on a scratch database of its own holding every migration before
//! it (the rollback proof's scratch machinery: `--scratch-url`, or a throwaway server), by
//! [`trace`]. The tables it touches are then sized in the database to migrate (read only:
//! `reltuples` and `pg_total_relation_size`), the work done under a blocking lock is timed
//! on a generated sample of each such table in the scratch database and scaled to the live
//! row count, and [`rules`] turns it all into findings.

pub mod locks;
pub mod rules;
pub mod trace;

use crate::config::MigrationSet;
use crate::engine::{self, error::db, quote_ident, EngineError};
use crate::run::Run;
use crate::sets::split::split;
use crate::sets::Migration;
use crate::verify::scratch::{ScratchError, ScratchServer};
use rules::{Estimate, Estimates, Finding, Live, Size, Thresholds};
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;
use thiserror::Error;
use trace::StatementTrace;

/// Rows of the generated sample an estimate is measured on.
pub const SAMPLE_ROWS: i64 = 10_000;

#[derive(Debug, Error)]
pub enum LintError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Scratch(#[from] ScratchError),
    #[error("{0}")]
    Statement(String),
}

/// The trace and findings of one migration.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub set: String,
    pub version: i64,
    pub name: String,
    pub file: String,
    pub no_transaction: bool,
    pub statements: Vec<StatementTrace>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Error-level findings nobody accepted with `-- migrate:lint-ignore`.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == rules::Level::Error && f.ignored.is_none())
            .count()
    }
}

/// Every table a trace names.
fn tables_of(traces: &[StatementTrace]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in traces {
        out.extend(t.locks.iter().map(|l| l.table.clone()));
        out.extend(t.rewritten.iter().cloned());
        out.extend(t.scanned.iter().cloned());
        out.extend(t.indexes_built.iter().map(|b| b.table.clone()));
    }
    out
}

/// Reads the size of each of `tables` (named as reports name them, relative to the set's
/// schema `home`) in the live database. A table the live database does not hold is left
/// out. Partitioned tables are summed over their partitions; a table never analyzed is
/// counted, for at most two seconds.
pub async fn live_sizes(
    live: &mut PgConnection,
    home: &str,
    tables: &BTreeSet<String>,
) -> Result<HashMap<String, Size>, EngineError> {
    let what = "reading the live tables' sizes";
    sqlx::query("SELECT set_config('search_path', quote_ident($1), false)")
        .bind(home)
        .execute(&mut *live)
        .await
        .map_err(db(what))?;
    let mut out = HashMap::new();
    for table in tables {
        let row: Option<(Option<i64>, Option<i64>, Option<bool>)> = sqlx::query_as(
            "SELECT sum(greatest(c.reltuples, 0))::int8, sum(pg_total_relation_size(c.oid))::int8,
                    bool_or(c.reltuples < 0 AND c.relkind = 'r')
               FROM pg_class c
              WHERE c.relkind <> 'p'
                AND c.oid IN (SELECT to_regclass($1)
                              UNION SELECT relid FROM pg_partition_tree(to_regclass($1)))",
        )
        .bind(table)
        .fetch_optional(&mut *live)
        .await
        .map_err(db(what))?;
        let Some((Some(mut rows), Some(bytes), unanalyzed)) = row else {
            continue;
        };
        if unanalyzed == Some(true) {
            let counted = sqlx::raw_sql(&format!(
                "SET statement_timeout = '2s'; SELECT count(*) FROM {table}; RESET statement_timeout"
            ))
            .fetch_all(&mut *live)
            .await;
            let _ = sqlx::raw_sql("RESET statement_timeout")
                .execute(&mut *live)
                .await;
            if let Ok(rows_out) = counted {
                if let Some(n) = rows_out
                    .iter()
                    .find_map(|r| sqlx::Row::try_get::<i64, _>(r, 0).ok())
                {
                    rows = n;
                }
            }
        }
        out.insert(table.clone(), Size { rows, bytes });
    }
    let _ = sqlx::raw_sql("RESET search_path").execute(&mut *live).await;
    Ok(out)
}

/// What to trace and how to weigh it.
pub struct Lint<'a> {
    pub run: &'a Run,
    pub server: &'a ScratchServer,
    pub thresholds: Thresholds,
}

impl Lint<'_> {
    /// Traces migration `m` of `set`, sizes what it touches in `live` (when given) and finds
    /// what it blocks.
    pub async fn migration(
        &self,
        set: &MigrationSet,
        m: &Migration,
        live: Option<&mut PgConnection>,
    ) -> Result<Report, LintError> {
        let before = set
            .migrations
            .iter()
            .take_while(|o| o.version < m.version)
            .last()
            .map(|o| o.version);
        let run = self.run;
        let server = self.server;
        let thresholds = self.thresholds;
        server
            .with_database("lint", async |conn: &mut PgConnection| {
                if let Some(v) = before {
                    let limits = engine::Limits::new(&set.lock_timeout).in_run(run);
                    engine::up(conn, set, Some(v), limits, &|_: &engine::Event| {}).await?;
                } else if set.schema != "public" {
                    sqlx::raw_sql(&format!(
                        "CREATE SCHEMA IF NOT EXISTS {}",
                        quote_ident(&set.schema)
                    ))
                    .execute(&mut *conn)
                    .await
                    .map_err(db("preparing the scratch database"))?;
                }
                let database: String = sqlx::query_scalar("SELECT current_database()::text")
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db("preparing the scratch database"))?;
                let mut observer = server.session(&database).await?;
                let traces = trace::trace(conn, &mut observer, &m.up, &set.schema).await?;
                drop(observer);
                let live = match live {
                    Some(l) => Live {
                        sizes: Some(live_sizes(l, &set.schema, &tables_of(&traces)).await?),
                    },
                    None => Live::default(),
                };
                let mut traces = traces;
                let mut estimates = Estimates::new();
                if !m.up.no_transaction {
                    estimate(conn, m, &set.schema, &mut traces, &live, &mut estimates).await;
                }
                let findings =
                    rules::findings(&traces, !m.up.no_transaction, &live, thresholds, &estimates);
                Ok::<_, LintError>(Report {
                    set: set.name.clone(),
                    version: m.version,
                    name: m.name.clone(),
                    file: m.up.path.clone(),
                    no_transaction: m.up.no_transaction,
                    statements: traces,
                    findings,
                })
            })
            .await
    }
}

/// Times the file on a sample of [`SAMPLE_ROWS`] generated rows of each live table a
/// statement rewrites, reads whole or indexes (one table at a time), and scales what the
/// rows added to each statement's time to the table's live row count:
/// - `out` gets, for each such statement and table, the estimate of that work;
/// - each statement's `estimated_ms` becomes its time on the empty scratch database plus
///   what every sampled table added, scaled;
/// - each lock's `held_ms` becomes the estimated time from its statement to the end of the
///   transaction (to the end of the statement outside one).
///
/// A table whose sample cannot be generated (a check the generated values fail) gets no
/// estimate.
async fn estimate(
    conn: &mut PgConnection,
    m: &Migration,
    home: &str,
    traces: &mut [StatementTrace],
    live: &Live,
    out: &mut Estimates,
) {
    let Some(sizes) = &live.sizes else { return };
    let Ok(statements) = split(&m.up.sql) else {
        return;
    };
    let mut tables: BTreeSet<String> = BTreeSet::new();
    for t in traces.iter() {
        tables.extend(t.rewritten.iter().cloned());
        tables.extend(t.scanned.iter().cloned());
        tables.extend(t.indexes_built.iter().map(|b| b.table.clone()));
    }
    let mut estimated: Vec<f64> = traces.iter().map(|t| t.ms).collect();
    for table in &tables {
        // An empty live table adds nothing to any statement: no sample to time.
        let Some(size) = sizes.get(table).filter(|s| s.rows > 0) else {
            continue;
        };
        let Ok(times) = time_on_sample(conn, home, table, &statements).await else {
            continue;
        };
        let scale = size.rows as f64 / SAMPLE_ROWS as f64;
        for (i, t) in traces.iter().enumerate().take(times.len()) {
            let added = (times[i] - t.ms).max(0.0);
            estimated[i] += added * scale;
            let touches = t.rewritten.contains(table)
                || t.scanned.contains(table)
                || t.indexes_built.iter().any(|b| &b.table == table);
            if touches {
                out.insert(
                    (i, table.clone()),
                    Estimate {
                        ms: times[i] * scale,
                        sample_rows: SAMPLE_ROWS,
                        sample_ms: times[i],
                    },
                );
            }
        }
    }
    let last = traces.len();
    for i in 0..last {
        let until = if m.up.no_transaction { i + 1 } else { last };
        let held: f64 = estimated[i..until].iter().sum();
        traces[i].estimated_ms = Some(estimated[i]);
        for l in &mut traces[i].locks {
            l.held_ms = Some(held);
        }
    }
}

/// In a transaction rolled back afterwards: fills `table` with generated rows, then runs
/// every statement, timing each.
async fn time_on_sample(
    conn: &mut PgConnection,
    home: &str,
    table: &str,
    statements: &[crate::sets::split::Statement<'_>],
) -> Result<Vec<f64>, sqlx::Error> {
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    let result = async {
        sqlx::query("SELECT set_config('search_path', quote_ident($1), true)")
            .bind(home)
            .execute(&mut *conn)
            .await?;
        // Foreign keys and triggers are not what is measured; where the role may not turn
        // them off, the sample is made with them.
        let superuser: bool =
            sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&mut *conn)
                .await?;
        if superuser {
            sqlx::raw_sql("SET LOCAL session_replication_role = replica")
                .execute(&mut *conn)
                .await?;
        }
        let fill = sample_insert(conn, table).await?;
        sqlx::raw_sql(&fill).execute(&mut *conn).await?;
        sqlx::raw_sql("ANALYZE").execute(&mut *conn).await.ok();
        if superuser {
            sqlx::raw_sql("SET LOCAL session_replication_role = origin")
                .execute(&mut *conn)
                .await?;
        }
        // Timed up to the first statement the sample makes fail (a constraint the
        // generated values break): the statements after it get no estimate.
        let mut times = Vec::new();
        for st in statements {
            let started = Instant::now();
            if sqlx::raw_sql(st.text).execute(&mut *conn).await.is_err() {
                break;
            }
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(times)
    }
    .await;
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    result
}

/// `INSERT INTO table (...) SELECT ... FROM generate_series(1, SAMPLE_ROWS)`: a value for
/// every NOT NULL column without a default, made from the row number in the column's type.
async fn sample_insert(conn: &mut PgConnection, table: &str) -> Result<String, sqlx::Error> {
    // Nullable columns are left null (a CHECK on them, a reference to a table that is
    // empty here, would otherwise fail), and a column a CHECK (... IN (...)) limits gets
    // the first value the list allows.
    let columns: Vec<(String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typtype::text,
                a.atttypid::int8,
                (SELECT substring(pg_get_constraintdef(k.oid) FROM '''([^'']*)''')
                   FROM pg_constraint k
                  WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND k.conkey = ARRAY[a.attnum]
                    AND pg_get_constraintdef(k.oid) LIKE '%ANY (ARRAY[''%'
                  LIMIT 1)
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
            AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
          ORDER BY a.attnum",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    for (name, ty, typtype, oid, allowed) in columns {
        let value = if let Some(v) = allowed {
            format!("'{}'", v.replace('\'', "''"))
        } else if typtype == "e" {
            format!("(SELECT enumlabel FROM pg_enum WHERE enumtypid = {oid} ORDER BY enumsortorder LIMIT 1)")
        } else if ty.ends_with("[]") {
            "'{}'".into()
        } else if ty == "smallint" {
            "g % 32000".into()
        } else if matches!(
            ty.as_str(),
            "integer" | "bigint" | "real" | "double precision"
        ) || ty.starts_with("numeric")
        {
            "g".into()
        } else if (ty == "text" || ty.starts_with("character")) && name.contains("email") {
            "'sample' || g || '@example.com'".into()
        } else if ty == "text" || ty.starts_with("character") || ty == "citext" {
            "'sample ' || g".into()
        } else if ty == "uuid" {
            "md5(g::text)::uuid".into()
        } else if ty == "boolean" {
            "g % 2 = 0".into()
        } else if ty.starts_with("timestamp") || ty == "date" {
            "now()".into()
        } else if ty == "jsonb" || ty == "json" {
            "'{}'".into()
        } else if ty == "inet" || ty == "cidr" {
            "'127.0.0.1'".into()
        } else {
            "NULL".into()
        };
        names.push(quote_ident(&name));
        values.push(format!("({value})::{ty}"));
    }
    if names.is_empty() {
        return Ok(format!(
            "INSERT INTO {table} SELECT FROM generate_series(1, {SAMPLE_ROWS}) g"
        ));
    }
    Ok(format!(
        "INSERT INTO {table} ({}) SELECT {} FROM generate_series(1, {SAMPLE_ROWS}) g",
        names.join(", "),
        values.join(", ")
    ))
}
