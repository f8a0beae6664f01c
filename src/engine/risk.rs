//! What a rollback would destroy: the tables, materialized views and columns its down files
//! drop or empty that still hold rows, with their counts, so that `down` can say so before
//! it runs.
//!
//! Statements are read with the splitter's lexer: `DROP TABLE`, `DROP MATERIALIZED VIEW`,
//! `TRUNCATE` (with `CASCADE`: every table referencing it), `ALTER TABLE ... DROP COLUMN`,
//! and `DROP SCHEMA | TYPE | DOMAIN | EXTENSION ... CASCADE`, also inside `DO` blocks and
//! in the string a `DO` block `EXECUTE`s. What a `CASCADE` reaches is read from `pg_depend`,
//! the way the server itself will follow it.
//!
//! Counting is bounded: each count runs under a short `statement_timeout`, and a table too
//! big to count in time gets the planner's estimate, marked as one. A count that fails
//! (permission denied) is "rows unknown", listed like data: a check that cannot see must not
//! say "nothing to lose".

use super::error::{db, reason, sqlstate_of, EngineError};
use crate::config::MigrationSet;
use crate::sets::lexer::{code_tokens, Kind, Token};
use crate::sets::{split::split, Migration};
use serde::Serialize;
use sqlx::{Connection, PgConnection, Row};

/// How long one row count may take before the planner's estimate is used instead.
pub const COUNT_TIMEOUT: &str = "2s";

/// Data a rollback would delete.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DataAtRisk {
    /// Version of the migration whose down file deletes it.
    pub version: i64,
    /// `table payments`, `materialized view s`, or `column users.nickname`.
    pub object: String,
    /// Rows in the table, or rows where the column is not null; `None` when unknown.
    pub rows: Option<i64>,
    /// `rows` is the planner's estimate: counting took longer than [`COUNT_TIMEOUT`].
    pub estimated: bool,
    /// How the down file reaches it when it does not name it: `CASCADE from schema s`.
    pub via: Option<String>,
    /// Why the rows are unknown.
    pub note: Option<String>,
}

impl std::fmt::Display for DataAtRisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (", self.object)?;
        match (self.rows, self.estimated) {
            (Some(n), false) => write!(f, "{n} rows")?,
            (Some(n), true) => write!(
                f,
                "about {n} rows, planner estimate: counting took over {COUNT_TIMEOUT}"
            )?,
            (None, _) => write!(
                f,
                "rows unknown: {}",
                self.note.as_deref().unwrap_or("they could not be counted")
            )?,
        }
        if let Some(via) = &self.via {
            write!(f, ", {via}")?;
        }
        write!(f, ", by {:04})", self.version)
    }
}

/// What a statement drops or empties, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `DROP TABLE`, `DROP MATERIALIZED VIEW` (`kind` says which) or `TRUNCATE`.
    Relation {
        kind: &'static str,
        name: Vec<String>,
        cascade: bool,
        truncate: bool,
    },
    Column {
        table: Vec<String>,
        column: String,
    },
    /// `DROP SCHEMA | TYPE | DOMAIN | EXTENSION ... CASCADE`.
    Cascade {
        kind: &'static str,
        name: Vec<String>,
    },
}

/// A possibly qualified name starting at `t[i]`: its parts and the index after it.
fn name_at(t: &[Token<'_>], mut i: usize) -> Option<(Vec<String>, usize)> {
    let mut parts = vec![t.get(i)?.name()?];
    i += 1;
    while t.get(i).is_some_and(|p| p.is_punct('.')) {
        parts.push(t.get(i + 1)?.name()?);
        i += 2;
    }
    Some((parts, i))
}

/// Names separated by commas from `t[i]`; `*` after a name (inheritance) is skipped.
fn names_at(t: &[Token<'_>], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut out = Vec::new();
    while let Some((name, next)) = name_at(t, i) {
        out.push(name);
        i = next;
        if t.get(i).is_some_and(|p| p.is_punct('*')) {
            i += 1;
        }
        if !t.get(i).is_some_and(|p| p.is_punct(',')) {
            break;
        }
        i += 1;
    }
    (out, i)
}

fn skip_if_exists(t: &[Token<'_>], i: usize) -> usize {
    if t.get(i).is_some_and(|w| w.is("IF")) && t.get(i + 1).is_some_and(|w| w.is("EXISTS")) {
        i + 2
    } else {
        i
    }
}

fn has_cascade(t: &[Token<'_>]) -> bool {
    t.iter().any(|w| w.is("CASCADE"))
}

/// What the statement whose code tokens are `t` drops or empties.
pub fn targets(t: &[Token<'_>]) -> Vec<Target> {
    let word = |i: usize| t.get(i).filter(|w| w.kind == Kind::Word);
    let is = |i: usize, k: &str| word(i).is_some_and(|w| w.is(k));
    let mut out = Vec::new();
    if is(0, "DROP") {
        let (kind, at) = if is(1, "TABLE") {
            ("table", 2)
        } else if is(1, "MATERIALIZED") && is(2, "VIEW") {
            ("materialized view", 3)
        } else if is(1, "SCHEMA") {
            ("schema", 2)
        } else if is(1, "TYPE") {
            ("type", 2)
        } else if is(1, "DOMAIN") {
            ("domain", 2)
        } else if is(1, "EXTENSION") {
            ("extension", 2)
        } else {
            return out;
        };
        let (names, _) = names_at(t, skip_if_exists(t, at));
        let cascade = has_cascade(t);
        for name in names {
            match kind {
                "table" | "materialized view" => out.push(Target::Relation {
                    kind,
                    name,
                    cascade,
                    truncate: false,
                }),
                // Without CASCADE these fail while anything depends on them: nothing lost.
                _ if cascade => out.push(Target::Cascade { kind, name }),
                _ => {}
            }
        }
    } else if is(0, "TRUNCATE") {
        let mut i = 1;
        if is(i, "TABLE") {
            i += 1;
        }
        if is(i, "ONLY") {
            i += 1;
        }
        let (names, _) = names_at(t, i);
        let cascade = has_cascade(t);
        out.extend(names.into_iter().map(|name| Target::Relation {
            kind: "table",
            name,
            cascade,
            truncate: true,
        }));
    } else if is(0, "ALTER") && is(1, "TABLE") {
        let mut i = skip_if_exists(t, 2);
        if is(i, "ONLY") {
            i += 1;
        }
        let Some((table, mut i)) = name_at(t, i) else {
            return out;
        };
        if t.get(i).is_some_and(|p| p.is_punct('*')) {
            i += 1;
        }
        // actions, separated by commas outside parentheses
        let mut depth = 0usize;
        let mut at_action_start = true;
        while i < t.len() {
            let tok = &t[i];
            if tok.is_punct('(') {
                depth += 1;
            } else if tok.is_punct(')') {
                depth = depth.saturating_sub(1);
            } else if tok.is_punct(',') && depth == 0 {
                at_action_start = true;
                i += 1;
                continue;
            } else if at_action_start && tok.is("DROP") {
                let mut j = i + 1;
                let other = ["CONSTRAINT", "DEFAULT", "NOT", "IDENTITY", "EXPRESSION"];
                if is(j, "COLUMN") {
                    j += 1;
                } else if other.iter().any(|k| is(j, k)) {
                    at_action_start = false;
                    i += 1;
                    continue;
                }
                j = skip_if_exists(t, j);
                if let Some(column) = t.get(j).and_then(Token::name) {
                    out.push(Target::Column {
                        table: table.clone(),
                        column,
                    });
                }
                i = j;
            }
            at_action_start = false;
            i += 1;
        }
    } else if is(0, "DO") {
        for body in t.iter().filter_map(Token::dollar_body) {
            out.extend(targets_in_code(body));
        }
    }
    out
}

/// Targets of procedural code (a `DO` body): every statement in it that starts, after any
/// leading words such as `BEGIN`, with `DROP`, `TRUNCATE` or `ALTER TABLE`, and the
/// constant strings it `EXECUTE`s.
fn targets_in_code(body: &str) -> Vec<Target> {
    let Ok(t) = code_tokens(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for piece in t.split(|tok| tok.is_punct(';')) {
        if let Some(start) = piece
            .iter()
            .position(|w| w.is("DROP") || w.is("TRUNCATE") || w.is("ALTER"))
        {
            out.extend(targets(&piece[start..]));
        }
        for s in piece.iter().filter_map(Token::plain_string) {
            if let Ok(inner) = code_tokens(&s) {
                out.extend(targets(&inner));
            }
        }
    }
    out
}

/// Every target of a down file's statements, less the tables whose rows the file copies
/// whole into a table it keeps before dropping them (`INSERT INTO kept SELECT ... FROM t`
/// with no `WHERE`, then `DROP TABLE t`: a table rebuilt under its name keeps its rows).
pub fn dropped(sql: &str) -> Vec<Target> {
    let Ok(statements) = split(sql) else {
        return Vec::new();
    };
    let tokens: Vec<Vec<Token<'_>>> = statements
        .iter()
        .filter_map(|s| code_tokens(s.text).ok())
        .collect();
    let all: Vec<Target> = tokens.iter().flat_map(|t| targets(t)).collect();
    let goes = |name: &[String]| {
        all.iter()
            .any(|t| matches!(t, Target::Relation { name: n, .. } if same_name(n, name)))
    };
    // (source, kept) of every whole copy, in file order
    let mut copies: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for t in &tokens {
        if let Some((into, from)) = whole_copy(t) {
            if !goes(&into) {
                copies.push(from);
            }
        }
        out.extend(targets(t).into_iter().filter(|target| {
            !matches!(target, Target::Relation { name, truncate: false, cascade: false, .. }
                if copies.iter().any(|c| same_name(c, name)))
        }));
    }
    out
}

/// `INSERT INTO a [(...)] SELECT ... FROM b` with nothing after `b`: every row of `b`
/// copied into `a`. `(a, b)`.
fn whole_copy(t: &[Token<'_>]) -> Option<(Vec<String>, Vec<String>)> {
    if !(t.first()?.is("INSERT") && t.get(1)?.is("INTO")) {
        return None;
    }
    let (into, _) = name_at(t, 2)?;
    let from = t.iter().rposition(|w| w.is("FROM"))?;
    let (source, end) = name_at(t, from + 1)?;
    let selects = t.iter().any(|w| w.is("SELECT"));
    (selects && end == t.len()).then_some((into, source))
}

/// Whether two possibly qualified names are the same relation (an unqualified one matches
/// any schema's).
fn same_name(a: &[String], b: &[String]) -> bool {
    a.last() == b.last() && (a.len() == 1 || b.len() == 1 || a == b)
}

fn quoted(name: &[String]) -> String {
    name.iter()
        .map(|p| super::quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// Relations (r, p, m) and their columns reached from one object through `pg_depend`, the
/// way DROP ... CASCADE follows dependencies; `$1`/`$2` are the object's catalog and oid.
const CASCADE_REACH: &str = "
WITH RECURSIVE reach(classid, objid, objsubid) AS (
    SELECT $1::oid, $2::oid, 0
  UNION
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d JOIN reach r
        ON d.refclassid = r.classid AND d.refobjid = r.objid
       AND (r.objsubid = 0 OR d.refobjsubid = r.objsubid)
     WHERE d.deptype IN ('n', 'a', 'i')
)
SELECT DISTINCT c.oid::bigint AS rel, r.objsubid::smallint AS attnum
  FROM reach r JOIN pg_class c ON r.classid = 'pg_class'::regclass AND c.oid = r.objid
 WHERE c.relkind IN ('r', 'p', 'm') AND NOT (r.classid = $1::oid AND r.objid = $2::oid)";

/// Tables whose foreign keys reach `$1`, which `TRUNCATE ... CASCADE` empties too.
const TRUNCATE_REACH: &str = "
WITH RECURSIVE reach(rel) AS (
    SELECT $1::oid
  UNION
    SELECT c.conrelid FROM pg_constraint c JOIN reach r ON c.confrelid = r.rel
     WHERE c.contype = 'f'
)
SELECT rel::bigint, 0::smallint FROM reach WHERE rel <> $1::oid";

/// One relation or column the rollback would empty, before counting.
struct Reached {
    rel: i64,
    attnum: i16,
    via: Option<String>,
}

/// Resolves a target to the relations and columns it empties, or nothing when its object
/// does not exist (the down file drops it `IF EXISTS`, or a later statement would fail).
async fn reach(conn: &mut PgConnection, target: &Target) -> Result<Vec<Reached>, sqlx::Error> {
    let mut out = Vec::new();
    let follow = async |conn: &mut PgConnection,
                        out: &mut Vec<Reached>,
                        sql: &str,
                        class: &str,
                        oid: i64,
                        via: String|
           -> Result<(), sqlx::Error> {
        let rows = sqlx::query(sql)
            .bind(class_oid(conn, class).await?)
            .bind(oid)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            out.push(Reached {
                rel: r.get(0),
                attnum: r.get(1),
                via: Some(via.clone()),
            });
        }
        Ok(())
    };
    match target {
        Target::Relation {
            kind,
            name,
            cascade,
            truncate,
        } => {
            let Some(rel) =
                oid_of(conn, "SELECT to_regclass($1)::oid::bigint", &quoted(name)).await?
            else {
                return Ok(out);
            };
            out.push(Reached {
                rel,
                attnum: 0,
                via: None,
            });
            if *cascade {
                let via = format!("CASCADE from {kind} {}", name.join("."));
                if *truncate {
                    let rows = sqlx::query(TRUNCATE_REACH)
                        .bind(rel)
                        .fetch_all(&mut *conn)
                        .await?;
                    out.extend(rows.into_iter().map(|r| Reached {
                        rel: r.get(0),
                        attnum: 0,
                        via: Some(via.clone()),
                    }));
                } else {
                    follow(conn, &mut out, CASCADE_REACH, "pg_class", rel, via).await?;
                }
            }
        }
        Target::Column { table, column } => {
            let row = sqlx::query(
                "SELECT a.attrelid::bigint, a.attnum FROM pg_attribute a
                  WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
            )
            .bind(quoted(table))
            .bind(column)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(r) = row {
                out.push(Reached {
                    rel: r.get(0),
                    attnum: r.get(1),
                    via: None,
                });
            }
        }
        Target::Cascade { kind, name } => {
            let (class, sql) = match *kind {
                "schema" => (
                    "pg_namespace",
                    "SELECT oid::bigint FROM pg_namespace WHERE nspname = $1",
                ),
                "extension" => (
                    "pg_extension",
                    "SELECT oid::bigint FROM pg_extension WHERE extname = $1",
                ),
                _ => ("pg_type", "SELECT to_regtype($1)::oid::bigint"),
            };
            let key = if class == "pg_type" {
                quoted(name)
            } else {
                name.join(".")
            };
            if let Some(oid) = oid_of(conn, sql, &key).await? {
                let via = format!("CASCADE from {kind} {}", name.join("."));
                follow(conn, &mut out, CASCADE_REACH, class, oid, via).await?;
            }
        }
    }
    Ok(out)
}

async fn oid_of(conn: &mut PgConnection, sql: &str, key: &str) -> Result<Option<i64>, sqlx::Error> {
    let found: Option<Option<i64>> = sqlx::query_scalar(sql)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.flatten())
}

async fn class_oid(conn: &mut PgConnection, class: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT $1::regclass::oid::bigint")
        .bind(class)
        .fetch_one(conn)
        .await
}

/// Counts the rows of one reached relation or column, within [`COUNT_TIMEOUT`]; a count
/// that times out falls back to the planner's estimate, one that fails is unknown.
async fn count(
    conn: &mut PgConnection,
    version: i64,
    r: &Reached,
) -> Result<DataAtRisk, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.oid::regclass::text AS rel, c.relkind::text AS kind, a.attname::text AS col
           FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = $2
          WHERE c.oid = $1::oid",
    )
    .bind(r.rel)
    .bind(r.attnum)
    .fetch_one(&mut *conn)
    .await?;
    let rel: String = row.get("rel");
    let kind: String = row.get("kind");
    let col: Option<String> = row.get("col");
    let shown = rel.replace('"', "");
    let (object, sql) = match &col {
        Some(c) if r.attnum > 0 => (
            format!("column {shown}.{c}"),
            format!(
                "SELECT count(*) FROM {rel} WHERE {} IS NOT NULL",
                super::quote_ident(c)
            ),
        ),
        _ => (
            format!(
                "{} {shown}",
                if kind == "m" {
                    "materialized view"
                } else {
                    "table"
                }
            ),
            format!("SELECT count(*) FROM {rel}"),
        ),
    };
    let mut risk = DataAtRisk {
        version,
        object,
        rows: None,
        estimated: false,
        via: r.via.clone(),
        note: None,
    };
    sqlx::raw_sql("SAVEPOINT risk").execute(&mut *conn).await?;
    match sqlx::query_scalar::<_, i64>(&sql)
        .fetch_one(&mut *conn)
        .await
    {
        Ok(n) => risk.rows = Some(n),
        Err(e) => {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT risk")
                .execute(&mut *conn)
                .await?;
            if sqlstate_of(&e) == Some("57014") {
                // From the catalog only: the table itself may be locked by whoever made
                // counting slow, and pg_partition_tree() would wait for that lock.
                risk.rows = sqlx::query_scalar(
                    "WITH RECURSIVE tree(oid) AS (
                         SELECT $1::oid
                       UNION
                         SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid)
                     SELECT CASE WHEN bool_and(c.reltuples >= 0) THEN sum(c.reltuples)::bigint END
                       FROM tree JOIN pg_class c ON c.oid = tree.oid WHERE c.relkind IN ('r', 'm')",
                )
                .bind(r.rel)
                .fetch_one(&mut *conn)
                .await?;
                risk.estimated = risk.rows.is_some();
                if risk.rows.is_none() {
                    risk.note = Some(format!(
                        "counting took over {COUNT_TIMEOUT} and the table was never analyzed"
                    ));
                }
            } else {
                risk.note = Some(reason(&e));
            }
        }
    }
    Ok(risk)
}

/// The data the down files of `plan` would delete, counted now. Objects that do not exist,
/// and those counted empty, are left out; those that could not be counted are kept.
pub async fn data_at_risk(
    conn: &mut PgConnection,
    set: &MigrationSet,
    plan: &[&Migration],
) -> Result<Vec<DataAtRisk>, EngineError> {
    let doing = "finding the data a rollback would delete";
    let mut tx = conn.begin().await.map_err(db(doing))?;
    sqlx::query("SELECT set_config('search_path', quote_ident($1), true), set_config('statement_timeout', $2, true)")
        .bind(&set.schema)
        .bind(COUNT_TIMEOUT)
        .execute(&mut *tx)
        .await
        .map_err(db(doing))?;
    let mut out: Vec<DataAtRisk> = Vec::new();
    for m in plan {
        let mut reached: Vec<Reached> = Vec::new();
        for target in dropped(&m.down.sql) {
            reached.extend(reach(&mut tx, &target).await.map_err(db(doing))?);
        }
        // A relation named directly wins over the same one reached by a cascade, and a
        // column of a relation that goes whole is not listed on its own.
        let whole: Vec<i64> = reached
            .iter()
            .filter(|r| r.attnum == 0)
            .map(|r| r.rel)
            .collect();
        let mut seen: Vec<(i64, i16)> = Vec::new();
        reached.sort_by_key(|r| r.via.is_some());
        for r in reached {
            if seen.contains(&(r.rel, r.attnum)) || (r.attnum > 0 && whole.contains(&r.rel)) {
                continue;
            }
            seen.push((r.rel, r.attnum));
            let partition_of_listed: bool = sqlx::query_scalar(
                "WITH RECURSIVE up(oid) AS (
                     SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = $1::oid
                   UNION
                     SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid)
                 SELECT EXISTS (SELECT 1 FROM up WHERE up.oid::bigint = ANY($2))",
            )
            .bind(r.rel)
            .bind(&whole)
            .fetch_one(&mut *tx)
            .await
            .map_err(db(doing))?;
            if partition_of_listed {
                continue;
            }
            let risk = count(&mut tx, m.version, &r).await.map_err(db(doing))?;
            if risk.rows != Some(0) || risk.estimated {
                out.push(risk);
            }
        }
    }
    tx.rollback().await.map_err(db(doing))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sql: &str) -> Vec<Target> {
        dropped(sql)
    }

    fn rel(name: &[&str], cascade: bool, truncate: bool) -> Target {
        Target::Relation {
            kind: "table",
            name: name.iter().map(|s| s.to_string()).collect(),
            cascade,
            truncate,
        }
    }

    fn col(table: &str, column: &str) -> Target {
        Target::Column {
            table: vec![table.into()],
            column: column.into(),
        }
    }

    /// `down` of AetherCrown98 0006 warned that `activity_logs` data would be deleted, yet
    /// the file copies every row into the table it rebuilds under that name.
    #[test]
    fn a_table_whose_rows_are_copied_whole_before_its_drop_is_not_at_risk() {
        let down = include_str!("../../schema/aethercrown98/0006_partition_activity_logs.down.sql");
        assert!(
            !d(down)
                .iter()
                .any(|t| matches!(t, Target::Relation { name, .. } if name.last().map(String::as_str) == Some("activity_logs"))),
            "{:?}",
            d(down)
        );
        // a copy of some rows, a copy into a table the file drops, a copy after the drop:
        // the data is still at risk
        for sql in [
            "INSERT INTO keep SELECT * FROM t WHERE id > 10; DROP TABLE t;",
            "INSERT INTO scratch SELECT * FROM t; DROP TABLE t; DROP TABLE scratch;",
            "DROP TABLE t; INSERT INTO keep SELECT * FROM t;",
        ] {
            assert!(d(sql).contains(&rel(&["t"], false, false)), "{sql}");
        }
        assert_eq!(
            d("INSERT INTO keep (a, b) SELECT a, b FROM t; DROP TABLE t;"),
            Vec::<Target>::new()
        );
    }

    #[test]
    fn drops_and_truncates_are_recognised() {
        assert_eq!(d("DROP TABLE payments"), [rel(&["payments"], false, false)]);
        assert_eq!(
            d("drop table if exists a, public.b cascade"),
            [rel(&["a"], true, false), rel(&["public", "b"], true, false)]
        );
        assert_eq!(d("TRUNCATE TABLE ONLY logs"), [rel(&["logs"], false, true)]);
        assert_eq!(
            d("ALTER TABLE users DROP COLUMN nickname, ADD COLUMN x int, DROP IF EXISTS \"Age\""),
            [col("users", "nickname"), col("users", "Age")]
        );
        assert!(d("ALTER TABLE users DROP CONSTRAINT users_pkey").is_empty());
        assert!(d("ALTER TABLE users ALTER COLUMN x DROP DEFAULT").is_empty());
        assert!(d("DROP INDEX i").is_empty());
        assert!(d("-- DROP TABLE t\nSELECT 1").is_empty());
    }

    /// `TRUNCATE t RESTART IDENTITY` once listed tables named RESTART and IDENTITY.
    #[test]
    fn truncate_options_are_not_tables() {
        assert_eq!(
            d("TRUNCATE t, u RESTART IDENTITY CASCADE"),
            [rel(&["t"], true, true), rel(&["u"], true, true)]
        );
        assert_eq!(
            d("TRUNCATE t* CONTINUE IDENTITY"),
            [rel(&["t"], false, true)]
        );
    }

    /// The old tokenizer missed these, and stepped one byte over multi-byte text.
    #[test]
    fn schemas_types_views_and_do_blocks_are_seen() {
        assert_eq!(
            d("DROP SCHEMA app CASCADE"),
            [Target::Cascade {
                kind: "schema",
                name: vec!["app".into()]
            }]
        );
        assert!(d("DROP SCHEMA app").is_empty());
        assert_eq!(
            d("DROP TYPE IF EXISTS mood CASCADE; DROP DOMAIN email RESTRICT"),
            [Target::Cascade {
                kind: "type",
                name: vec!["mood".into()]
            }]
        );
        assert_eq!(
            d("DROP MATERIALIZED VIEW stats"),
            [Target::Relation {
                kind: "materialized view",
                name: vec!["stats".into()],
                cascade: false,
                truncate: false
            }]
        );
        assert_eq!(
            d("DO $$ BEGIN DROP TABLE a; EXECUTE 'TRUNCATE b'; END $$"),
            [rel(&["a"], false, false), rel(&["b"], false, true)]
        );
        assert_eq!(
            d("COMMENT ON TABLE t IS 'café'; DROP TABLE \"Ünïcode\""),
            [rel(&["Ünïcode"], false, false)]
        );
    }

    #[test]
    fn risks_read_as_one_line() {
        let mut r = DataAtRisk {
            version: 2,
            object: "table payments".into(),
            rows: Some(12),
            estimated: false,
            via: None,
            note: None,
        };
        assert_eq!(r.to_string(), "table payments (12 rows, by 0002)");
        r.rows = None;
        r.note = Some("permission denied for table payments".into());
        r.via = Some("CASCADE from schema app".into());
        assert_eq!(
            r.to_string(),
            "table payments (rows unknown: permission denied for table payments, CASCADE from schema app, by 0002)"
        );
    }
}
