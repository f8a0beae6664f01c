//! Pairs of databases that differ in one object kind each, compared with `migrate diff
//! --against` when no set is installed: any two databases. Every pair, in both directions,
//! must be found and named, and must converge: `diff --sql --allow-data-loss` applied to the
//! first database makes `diff` clean, a second `diff --sql` prints nothing, and `pg_dump
//! --schema-only` of both databases is then the same (after normalisation).

use crate::harness::*;

struct Pair {
    name: &'static str,
    /// Run in both databases.
    base: &'static str,
    /// Run in the second database only.
    change: &'static str,
    /// The object key the report must name.
    names: &'static str,
}

const PAIRS: &[Pair] = &[
    Pair {
        name: "enum label added",
        base: "CREATE TYPE mood AS ENUM ('sad', 'ok')",
        change: "ALTER TYPE mood ADD VALUE 'happy'",
        names: "enum mood",
    },
    Pair {
        name: "enum labels reordered",
        base: "CREATE TYPE level AS ENUM ('low', 'high')",
        change: "DROP TYPE level; CREATE TYPE level AS ENUM ('high', 'low')",
        names: "enum level",
    },
    Pair {
        name: "domain check added",
        base: "CREATE DOMAIN posint AS integer",
        change: "ALTER DOMAIN posint ADD CONSTRAINT posint_check CHECK (VALUE > 0)",
        names: "domain posint",
    },
    Pair {
        name: "domain not null",
        base: "CREATE DOMAIN label AS text DEFAULT 'x'",
        change: "ALTER DOMAIN label SET NOT NULL",
        names: "domain label",
    },
    Pair {
        name: "composite attribute added",
        base: "CREATE TYPE pair AS (a integer, b integer)",
        change: "ALTER TYPE pair ADD ATTRIBUTE c text",
        names: "composite type pair",
    },
    Pair {
        name: "range type",
        base: "",
        change: "CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi)",
        names: "range type floatrange",
    },
    Pair {
        name: "collation",
        base: "",
        change: "CREATE COLLATION posix_copy FROM \"POSIX\"",
        names: "collation posix_copy",
    },
    Pair {
        name: "schema with a table only on one side",
        base: "",
        change: "CREATE SCHEMA extra; CREATE TABLE extra.t (id integer)",
        names: "table extra.t",
    },
    Pair {
        name: "extension version",
        base: "CREATE EXTENSION hstore VERSION '1.7'",
        change: "ALTER EXTENSION hstore UPDATE TO '1.8'",
        names: "extension hstore",
    },
    Pair {
        name: "grant on a partitioned table",
        base: "CREATE TABLE p (id integer, at date) PARTITION BY RANGE (at)",
        change: "GRANT SELECT ON p TO PUBLIC",
        names: "grants on table p",
    },
    Pair {
        name: "schema grant",
        base: "CREATE SCHEMA s2; CREATE TABLE s2.t (id integer)",
        change: "GRANT USAGE ON SCHEMA s2 TO PUBLIC",
        names: "grants on schema s2",
    },
    Pair {
        name: "schema owner",
        base: "CREATE SCHEMA s3; CREATE TABLE s3.t (id integer)",
        change: "DO $$ BEGIN CREATE ROLE migrate_corpus_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
                 ALTER SCHEMA s3 OWNER TO migrate_corpus_owner",
        names: "schema s3",
    },
    Pair {
        name: "default privileges",
        base: "",
        change: "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC",
        names: "default privileges for",
    },
    Pair {
        name: "sequence options",
        base: "CREATE SEQUENCE s1",
        change: "ALTER SEQUENCE s1 INCREMENT BY 5 MAXVALUE 1000 CYCLE",
        names: "sequence s1",
    },
    Pair {
        name: "sequence owned by",
        base: "CREATE TABLE u (id integer); CREATE SEQUENCE s4",
        change: "ALTER SEQUENCE s4 OWNED BY u.id",
        names: "sequence s4",
    },
    Pair {
        name: "unlogged table",
        base: "CREATE TABLE u (id integer)",
        change: "ALTER TABLE u SET UNLOGGED",
        names: "table u",
    },
    Pair {
        name: "table storage parameter",
        base: "CREATE TABLE u (id integer)",
        change: "ALTER TABLE u SET (fillfactor = 70)",
        names: "table u",
    },
    Pair {
        name: "replica identity",
        base: "CREATE TABLE u (id integer)",
        change: "ALTER TABLE u REPLICA IDENTITY FULL",
        names: "table u",
    },
    Pair {
        name: "inheritance",
        base: "CREATE TABLE parent_t (id integer); CREATE TABLE child_t (id integer)",
        change: "ALTER TABLE child_t INHERIT parent_t",
        names: "table child_t",
    },
    Pair {
        name: "publication options",
        base: "SET client_min_messages = error; CREATE TABLE u (id integer PRIMARY KEY); CREATE PUBLICATION pub1 FOR TABLE u",
        change: "ALTER PUBLICATION pub1 SET (publish = 'insert')",
        names: "publication pub1",
    },
];

/// The report of `migrate diff` of `actual` against `expected`: exit code and stdout.
fn diff(actual: &TestDb, expected: &TestDb, extra: &[&str]) -> (i32, String) {
    let out = run(actual
        .migrate()
        .args(["diff", "--against", &expected.url])
        .args(extra));
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    (out.code, out.stdout)
}

async fn exec(db: &TestDb, sql: &str) {
    if sql.is_empty() {
        return;
    }
    let mut c = db.conn().await;
    sqlx::raw_sql(sql)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn every_kind_of_difference_is_found_between_two_databases_both_ways() {
    every_case(
        PAIRS,
        |p| p.name.to_string(),
        |p| async move {
            let (a, b) = (TestDb::new().await, TestDb::new().await);
            exec(&a, p.base).await;
            exec(&b, p.base).await;
            let (code, report) = diff(&a, &b, &[]);
            assert_eq!(code, 0, "before the change:\n{report}");
            exec(&b, p.change).await;
            for (actual, expected) in [(&a, &b), (&b, &a)] {
                let (code, report) = diff(actual, expected, &[]);
                assert_eq!(code, 1, "{report}");
                let named = report.lines().any(|l| {
                    let l = l.trim_start();
                    ["missing ", "unexpected ", "changed "]
                        .iter()
                        .any(|w| l.starts_with(w))
                        && l.contains(p.names)
                });
                assert!(named, "the report does not name {}:\n{report}", p.names);
            }
            converge(&a, &b).await;
            // and back: b is made a again, from what a holds now
            let c = TestDb::new().await;
            exec(&c, p.base).await;
            converge(&b, &c).await;
        },
    )
    .await;
}

/// `pg_dump --schema-only` of `db`, normalised: without comments, settings and blank
/// lines, each statement's lines sorted (column order is not part of the model), and the
/// statements sorted.
fn dump(db: &TestDb) -> Vec<String> {
    let beside = migrate::cluster::find_bindir()
        .map(|d| d.join("pg_dump"))
        .ok()
        .filter(|p| p.exists());
    let program = beside.unwrap_or_else(|| "pg_dump".into());
    let out = std::process::Command::new(program)
        .args(["--schema-only", "--no-owner", "--dbname", &db.url])
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut statements = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty()
            || line.starts_with("--")
            || line.starts_with("SET ")
            || line.starts_with("SELECT pg_catalog.set_config")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
        {
            continue;
        }
        current.push(line.trim_end_matches(',').trim().to_string());
        if line.ends_with(';') {
            current.sort();
            statements.push(current.join("\n"));
            current.clear();
        }
    }
    statements.sort();
    statements
}

/// Applies `diff --sql --allow-data-loss` of `actual` against `expected` to `actual`, then
/// checks that nothing differs any more.
async fn converge(actual: &TestDb, expected: &TestDb) {
    let (code, script) = diff(actual, expected, &["--sql", "--allow-data-loss"]);
    assert_eq!(code, 1, "{script}");
    assert!(!script.contains("-- not generated"), "{script}");
    let mut c = actual.conn().await;
    sqlx::raw_sql(&script)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("the repair fails: {e}\n{script}"));
    let (code, report) = diff(actual, expected, &[]);
    assert_eq!(code, 0, "the repair left drift:\n{script}\n{report}");
    let (code, again) = diff(actual, expected, &["--sql"]);
    assert_eq!((code, again.as_str()), (0, ""), "a second repair:\n{again}");
    assert_eq!(
        dump(actual),
        dump(expected),
        "pg_dump differs after:\n{script}"
    );
}

/// `--schema` limits the comparison: a difference in another schema is not looked at.
#[tokio::test]
async fn schema_limits_what_two_databases_compare() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    exec(&a, "CREATE TABLE t (id integer)").await;
    exec(
        &b,
        "CREATE TABLE t (id integer); CREATE SCHEMA other; CREATE TABLE other.x (id integer)",
    )
    .await;
    let (code, report) = diff(&a, &b, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("missing     table other.x"), "{report}");
    let (code, report) = diff(&a, &b, &["--schema", "public"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("schema public: no drift"), "{report}");
    let (code, report) = diff(&a, &b, &["--schema", "other"]);
    assert_eq!(code, 1, "{report}");
    // without --against, a database holding no set is a usage error that says what to pass
    let out = run(a.migrate().arg("diff"));
    assert_refused(&out, 2, "pass --against URL");
}
