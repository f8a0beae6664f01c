//! `migrate lint`'s trace against the lock documentation ("Explicit Locking" and each
//! command's page, PostgreSQL 15 to 18): a corpus of statements with known lock modes,
//! rewrites, whole-table reads, index builds and validations, each traced on a real server
//! the way `lint` traces a migration file. Then the verb itself: levels weighed against a
//! live table, the estimate, `migrate:lint-ignore`, exit codes and the three outputs.

use crate::harness::*;
use migrate::lint::locks::LockMode::{self, *};
use migrate::lint::trace::{trace, StatementTrace};
use migrate::sets::SqlFile;
use std::process::Command;

/// What every case starts from: tables with rows, a referenced table, a materialized view,
/// a partitioned table and a table to attach to it.
const BASE: &str = "
CREATE TABLE t (id int PRIMARY KEY, n int, s text, p int, v varchar(10));
INSERT INTO t SELECT g, g, 'x', g, 'v' FROM generate_series(1, 20000) g;
CREATE INDEX t_n_idx ON t (n);
ALTER TABLE t ADD CONSTRAINT p_not_null CHECK (p IS NOT NULL);
ALTER TABLE t ADD CONSTRAINT n_small CHECK (n < 100000) NOT VALID;
CREATE TABLE r (id int PRIMARY KEY);
INSERT INTO r SELECT g FROM generate_series(1, 20000) g;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE TABLE parted (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE part1 (id int, k int);
INSERT INTO part1 SELECT g, 1 FROM generate_series(1, 10) g;
CREATE TABLE part2 (id int, k int NOT NULL CHECK (k >= 10 AND k < 20));
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
";

/// One statement and what the server must show for table `table`.
struct Case {
    sql: &'static str,
    /// Runs outside a transaction (`-- migrate:no-transaction`).
    no_tx: bool,
    table: &'static str,
    /// The strongest mode the statement takes on the table, its indexes or TOAST.
    mode: LockMode,
    rewrite: bool,
    scan: bool,
    /// An index built or rebuilt on the table: `Some(concurrently)`.
    index: Option<bool>,
    validates: bool,
}

const fn case(sql: &'static str, table: &'static str, mode: LockMode) -> Case {
    Case {
        sql,
        no_tx: false,
        table,
        mode,
        rewrite: false,
        scan: false,
        index: None,
        validates: false,
    }
}

impl Case {
    const fn rewrite(mut self) -> Case {
        self.rewrite = true;
        self
    }
    const fn scan(mut self) -> Case {
        self.scan = true;
        self
    }
    const fn validates(mut self) -> Case {
        self.validates = true;
        self.scan = true;
        self
    }
    /// Marked valid without reading the table.
    const fn marked_valid(mut self) -> Case {
        self.validates = true;
        self
    }
    const fn index(mut self, concurrently: bool) -> Case {
        self.index = Some(concurrently);
        self
    }
    const fn no_tx(mut self) -> Case {
        self.no_tx = true;
        self
    }
}

const CORPUS: &[Case] = &[
    case("ALTER TABLE t ADD COLUMN c int", "t", AccessExclusive),
    // a constant default is stored in the catalog: no rewrite since PostgreSQL 11
    case(
        "ALTER TABLE t ADD COLUMN c int DEFAULT 0",
        "t",
        AccessExclusive,
    ),
    case(
        "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp()",
        "t",
        AccessExclusive,
    )
    .rewrite(),
    case(
        "ALTER TABLE t ALTER COLUMN n TYPE bigint",
        "t",
        AccessExclusive,
    )
    .rewrite(),
    // binary-compatible type changes keep the storage
    case(
        "ALTER TABLE t ALTER COLUMN v TYPE varchar(20)",
        "t",
        AccessExclusive,
    ),
    case(
        "ALTER TABLE t ALTER COLUMN v TYPE text",
        "t",
        AccessExclusive,
    ),
    case(
        "ALTER TABLE t ALTER COLUMN n SET NOT NULL",
        "t",
        AccessExclusive,
    )
    .validates(),
    // a validated CHECK (p IS NOT NULL) spares the read
    case(
        "ALTER TABLE t ALTER COLUMN p SET NOT NULL",
        "t",
        AccessExclusive,
    )
    .marked_valid(),
    case(
        "ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0)",
        "t",
        AccessExclusive,
    )
    .validates(),
    case(
        "ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0) NOT VALID",
        "t",
        AccessExclusive,
    ),
    case(
        "ALTER TABLE t VALIDATE CONSTRAINT n_small",
        "t",
        ShareUpdateExclusive,
    )
    .validates(),
    case(
        "ALTER TABLE t ADD CONSTRAINT t_p_fkey FOREIGN KEY (p) REFERENCES r (id)",
        "t",
        ShareRowExclusive,
    )
    .validates(),
    case(
        "ALTER TABLE t ADD CONSTRAINT t_p_fkey FOREIGN KEY (p) REFERENCES r (id)",
        "r",
        ShareRowExclusive,
    )
    .scan(),
    case(
        "ALTER TABLE t ADD CONSTRAINT t_p_fkey FOREIGN KEY (p) REFERENCES r (id) NOT VALID",
        "t",
        ShareRowExclusive,
    ),
    case("CREATE INDEX t_s_idx ON t (s)", "t", Share)
        .index(false)
        .scan(),
    case(
        "CREATE INDEX CONCURRENTLY t_s_idx ON t (s)",
        "t",
        ShareUpdateExclusive,
    )
    .index(true)
    .scan()
    .no_tx(),
    case("DROP INDEX t_n_idx", "t", AccessExclusive),
    case("DROP INDEX CONCURRENTLY t_n_idx", "t", ShareUpdateExclusive).no_tx(),
    // the index is locked ACCESS EXCLUSIVE: a query planned on the table waits for it
    case("REINDEX INDEX t_n_idx", "t", AccessExclusive)
        .index(false)
        .scan(),
    case(
        "ALTER TABLE parted ATTACH PARTITION part1 FOR VALUES FROM (0) TO (10)",
        "part1",
        AccessExclusive,
    )
    .scan(),
    case(
        "ALTER TABLE parted ATTACH PARTITION part1 FOR VALUES FROM (0) TO (10)",
        "parted",
        ShareUpdateExclusive,
    ),
    // a validated CHECK matching the bound spares the read
    case(
        "ALTER TABLE parted ATTACH PARTITION part2 FOR VALUES FROM (10) TO (20)",
        "part2",
        AccessExclusive,
    ),
    case("VACUUM FULL t", "t", AccessExclusive)
        .rewrite()
        .no_tx(),
    case("CLUSTER t USING t_pkey", "t", AccessExclusive).rewrite(),
    case("REFRESH MATERIALIZED VIEW mv", "mv", AccessExclusive).rewrite(),
    case("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "mv", Exclusive).scan(),
    case(
        "CREATE TRIGGER t_noop BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION noop()",
        "t",
        ShareRowExclusive,
    ),
    case(
        "ALTER TABLE t SET (fillfactor = 70)",
        "t",
        ShareUpdateExclusive,
    ),
    case(
        "ALTER TABLE t ALTER COLUMN n SET STATISTICS 200",
        "t",
        ShareUpdateExclusive,
    ),
    case(
        "ALTER TABLE t ALTER COLUMN n SET DEFAULT 5",
        "t",
        AccessExclusive,
    ),
    case(
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
        "t",
        AccessExclusive,
    ),
    case(
        "CREATE POLICY t_all ON t USING (true)",
        "t",
        AccessExclusive,
    ),
    case("ALTER TABLE t RENAME COLUMN s TO s2", "t", AccessExclusive),
    case("ALTER TABLE t DROP COLUMN s", "t", AccessExclusive),
    case("COMMENT ON TABLE t IS 'rows'", "t", ShareUpdateExclusive),
    case("UPDATE t SET n = n + 1", "t", RowExclusive).scan(),
    case("LOCK TABLE t IN SHARE MODE", "t", Share),
];

/// Traces `case` on a copy of `base`, a database holding [`BASE`].
async fn traced(base: &TestDb, c: &Case) -> Vec<StatementTrace> {
    let db = TestDb::copy_of(base).await;
    let mut conn = db.conn().await;
    let mut observer = db.conn().await;
    let file = SqlFile {
        path: "case.up.sql".into(),
        sql: format!("{};\n", c.sql),
        no_transaction: c.no_tx,
        irreversible: false,
    };
    trace(&mut conn, &mut observer, &file, "public")
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", c.sql))
}

#[tokio::test]
async fn every_statement_of_the_corpus_locks_and_rewrites_what_the_documentation_says() {
    assert!(CORPUS.len() >= 25);
    let base = TestDb::new().await;
    let mut c = base.conn().await;
    sqlx::raw_sql(BASE).execute(&mut c).await.unwrap();
    drop(c);
    let mut wrong = Vec::new();
    let mut table = String::from(
        "| statement | table | lock | rewrite | read whole | index | validates |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for c in CORPUS {
        let traces = traced(&base, c).await;
        assert_eq!(traces.len(), 1, "{}", c.sql);
        let t = &traces[0];
        let mode = t.locks.iter().find(|l| l.table == c.table).map(|l| l.mode);
        let rewrite = t.rewritten.iter().any(|x| x == c.table);
        let scan = t.scanned.iter().any(|x| x == c.table) || rewrite && c.scan;
        let index = t
            .indexes_built
            .iter()
            .find(|b| b.table == c.table)
            .map(|b| b.concurrently);
        let validates = t.validated.iter().any(|v| {
            v.ends_with(&format!(" on {}", c.table))
                || v.starts_with(&format!("NOT NULL {}.", c.table))
        });
        let got = (mode, rewrite, scan, index, validates);
        let want = (Some(c.mode), c.rewrite, c.scan, c.index, c.validates);
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            c.sql,
            c.table,
            mode.map_or("none".into(), |m| m.to_string()),
            rewrite,
            scan,
            index.map_or("-", |cc| if cc { "concurrently" } else { "blocking" }),
            validates
        ));
        if got != want {
            wrong.push(format!("{}: got {got:?}, want {want:?}\n  {t:?}", c.sql));
        }
    }
    eprintln!("{table}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A file of its own under a set directory, with a database at the version before it.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("s")).unwrap();
    std::fs::write(
        dir.path().join("migrations.toml"),
        "[[set]]\nname = \"s\"\ndir = \"s\"\n",
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("s").join(name), text).unwrap();
    }
    dir
}

const FIRST: &[(&str, &str)] = &[
    (
        "0001_events.up.sql",
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now());\n",
    ),
    ("0001_events.down.sql", "DROP TABLE events;\n"),
    (
        "0002_kind_check.up.sql",
        "ALTER TABLE events ADD CONSTRAINT kind_known CHECK (kind <> '');\nCREATE INDEX events_at ON events (at);\n",
    ),
    (
        "0002_kind_check.down.sql",
        "DROP INDEX events_at;\nALTER TABLE events DROP CONSTRAINT kind_known;\n",
    ),
];

/// A live database holding the first migration's `events`, with `rows` rows, analyzed.
fn live_events(rows: i64) -> TestDb {
    block_on(move || async move {
        let db = TestDb::new().await;
        let mut c = db.conn().await;
        sqlx::raw_sql(FIRST[0].1).execute(&mut c).await.unwrap();
        sqlx::raw_sql(&format!(
            "INSERT INTO events SELECT g, 'k' || g FROM generate_series(1, {rows}) g; ANALYZE events"
        ))
        .execute(&mut c)
        .await
        .unwrap();
        db
    })
}

#[test]
fn lint_weighs_each_finding_against_the_live_table_and_fails_ci_on_errors() {
    let dir = project(FIRST);
    let live = live_events(50000);
    let scratch = admin_url();
    let lint = |extra: &[&str]| {
        run(live
            .migrate()
            .current_dir(dir.path())
            .args(["--set", "s", "lint", "2", "--scratch-url", &scratch])
            .args(extra))
    };
    // 50,000 live rows: under the default threshold, info; over --max-rows 1000, errors
    let out = lint(&["--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = doc["migrations"][0]["findings"].as_array().unwrap().clone();
    let rule = |name: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == name)
            .unwrap_or_else(|| panic!("no {name}: {findings:#?}"))
            .clone()
    };
    let scan = rule("validating-scan");
    assert_eq!(scan["level"], "info", "{scan}");
    assert_eq!(scan["size"]["rows"], 50000, "{scan}");
    assert!(scan["estimate"]["ms"].as_f64().unwrap() > 0.0, "{scan}");
    assert_eq!(scan["estimate"]["sample_rows"], 10000);
    assert!(
        scan["fix"].as_str().unwrap().contains("NOT VALID"),
        "{scan}"
    );
    let index = rule("index-without-concurrently");
    assert!(index["fix"].as_str().unwrap().contains("CONCURRENTLY"));
    // the second statement takes SHARE on events while the first's ACCESS EXCLUSIVE is held
    let statements = doc["migrations"][0]["statements"].as_array().unwrap();
    assert_eq!(statements[0]["locks"][0]["mode"], "ACCESS EXCLUSIVE");
    assert_eq!(
        statements[0]["validated"][0],
        "constraint kind_known on events"
    );
    assert_eq!(statements[1]["indexes_built"][0]["index"], "events_at");

    let out = lint(&["--max-rows", "1000"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("error   validating-scan (line 1)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("estimate: about"), "{}", out.stdout);
    assert!(out.stderr.contains("migrate:lint-ignore"), "{}", out.stderr);

    // accepted with its reason: reported, and no longer failing
    let mut accepted = FIRST.to_vec();
    accepted[2].1 = "-- migrate:lint-ignore validating-scan deployed at night\nALTER TABLE events ADD CONSTRAINT kind_known CHECK (kind <> '');\n-- migrate:lint-ignore index-without-concurrently small enough\nCREATE INDEX events_at ON events (at);\n";
    let dir = project(&accepted);
    let out = run(live
        .migrate()
        .current_dir(dir.path())
        .args([
            "--set",
            "s",
            "lint",
            "2",
            "--max-rows",
            "1000",
            "--format",
            "markdown",
        ])
        .args(["--scratch-url", &scratch]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for says in [
        "### s 0002 kind_check",
        "| line | statement | locks | work |",
        "Accepted: deployed at night.",
    ] {
        assert!(out.stdout.contains(says), "{says}:\n{}", out.stdout);
    }

    // without a live database the size is unknown: a warning, exit 0
    let out = run(Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["--set", "s", "lint", "--all", "--scratch-url", &scratch]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("warning validating-scan"),
        "{}",
        out.stdout
    );
    // nothing to trace without a database, versions or --all
    let out = run(Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["--set", "s", "lint"]));
    assert_refused(&out, 2, "pass --database-url");
    // the live database was only read
    block_on(move || async move {
        let mut c = live.conn().await;
        assert!(!has_history_schema(&mut c).await);
    });
}

#[test]
fn aethercrown98_0006_shows_its_access_exclusive_on_activity_logs() {
    let scratch = admin_url();
    let out = run(Command::new(env!("CARGO_BIN_EXE_migrate"))
        .env_remove("DATABASE_URL")
        .args([
            "--set",
            "aethercrown98",
            "lint",
            "6",
            "--json",
            "--scratch-url",
            &scratch,
        ]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let first = &doc["migrations"][0]["statements"][0];
    assert_eq!(first["locks"][0]["table"], "activity_logs", "{first}");
    assert_eq!(first["locks"][0]["mode"], "ACCESS EXCLUSIVE", "{first}");
    let findings = doc["migrations"][0]["findings"].as_array().unwrap();
    let found = |rule: &str, table: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule && f["table"] == table)
            .unwrap_or_else(|| panic!("no {rule} on {table}: {findings:#?}"))
            .clone()
    };
    // without a live database: work under the lock on an existing table is a warning
    assert_eq!(
        found("scan-under-lock", "activity_logs")["level"],
        "warning"
    );
    // dropping the old table takes ACCESS EXCLUSIVE on users (its foreign key) after
    // activity_logs was locked: the lock queue and the deadlock are named
    let after = found("lock-after-work", "users");
    assert_eq!(after["level"], "warning");
    assert_eq!(after["line"], 35, "{after}");
    let order = found("lock-order", "users");
    assert!(
        order["message"]
            .as_str()
            .unwrap()
            .contains("activity_logs (line 16), users (line 35)"),
        "{order}"
    );
    // the lock on activity_logs is held over every statement after it
    let lock = found("lock", "activity_logs");
    assert!(
        lock["message"]
            .as_str()
            .unwrap()
            .contains("until COMMIT, over 22 more statement(s)"),
        "{lock}"
    );
}

/// `[lint]` in migrations.toml sets the thresholds; a flag replaces them; a negative one is
/// a configuration error naming the key.
#[test]
fn the_thresholds_come_from_migrations_toml_and_flags() {
    let dir = project(FIRST);
    let live = live_events(2000);
    let scratch = admin_url();
    let toml = |lint: &str| {
        std::fs::write(
            dir.path().join("migrations.toml"),
            format!("{lint}\n[[set]]\nname = \"s\"\ndir = \"s\"\n"),
        )
        .unwrap();
    };
    let lint = |extra: &[&str]| {
        run(live
            .migrate()
            .current_dir(dir.path())
            .args(["--set", "s", "lint", "2", "--scratch-url", &scratch])
            .args(extra))
    };
    toml("[lint]\nmax_rows = 1000");
    let out = lint(&[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("threshold 1000 rows"), "{}", out.stdout);
    let out = lint(&["--max-rows", "5000"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    toml("[lint]\nmax_rows = -1");
    let out = lint(&[]);
    assert_refused(&out, 2, "[lint] max_rows = -1 is negative");
}
