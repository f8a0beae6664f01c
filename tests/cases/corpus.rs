//! Pairs of databases that differ in one object kind each, compared with `migrate diff
//! --against` when no set is installed: any two databases. Every pair, in both directions,
//! must be found and named, and must converge (the names and the repair read from one
//! `diff --sql --allow-data-loss --json` run): `diff --sql --allow-data-loss` applied to the
//! first database leaves no drift (a second `diff --sql` exits 0 and prints nothing), and
//! `pg_dump --schema-only` of both databases is then the same (after normalisation).

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
    Pair {
        name: "view on a view whose column type changes",
        base: "CREATE TABLE vt (id integer, amount integer);
               CREATE VIEW v1 AS SELECT id, amount FROM vt;
               CREATE VIEW v2 AS SELECT id, amount FROM v1 WHERE amount > 0",
        change: "DROP VIEW v2; DROP VIEW v1; ALTER TABLE vt ALTER COLUMN amount TYPE bigint;
                 CREATE VIEW v1 AS SELECT id, amount FROM vt;
                 CREATE VIEW v2 AS SELECT id, amount FROM v1 WHERE amount > 0",
        names: "column vt.amount",
    },
    Pair {
        name: "view read by another view changes",
        base: "CREATE TABLE vt3 (a integer, b integer);
               CREATE VIEW w1 AS SELECT a, b FROM vt3;
               CREATE VIEW w2 AS SELECT a FROM w1",
        change: "DROP VIEW w2; DROP VIEW w1; CREATE VIEW w1 AS SELECT a, b, a + b AS c FROM vt3;
                 CREATE VIEW w2 AS SELECT a FROM w1",
        names: "view w1",
    },
    Pair {
        name: "foreign key onto a primary key being replaced",
        base: "CREATE TABLE pk_t (id integer, code text, CONSTRAINT pk_t_pkey PRIMARY KEY (id));
               CREATE TABLE fk_t (pid integer, CONSTRAINT fk_t_pid_fkey FOREIGN KEY (pid) REFERENCES pk_t (id))",
        change: "ALTER TABLE fk_t DROP CONSTRAINT fk_t_pid_fkey; ALTER TABLE pk_t DROP CONSTRAINT pk_t_pkey;
                 ALTER TABLE pk_t ADD CONSTRAINT pk_t_pkey PRIMARY KEY (id) INCLUDE (code);
                 ALTER TABLE fk_t ADD CONSTRAINT fk_t_pid_fkey FOREIGN KEY (pid) REFERENCES pk_t (id)",
        names: "constraint pk_t.pk_t_pkey",
    },
    Pair {
        name: "a default using a sequence",
        base: "CREATE TABLE st (id integer)",
        change: "CREATE SEQUENCE st_seq; ALTER TABLE st ALTER COLUMN id SET DEFAULT nextval('st_seq')",
        names: "sequence st_seq",
    },
    Pair {
        name: "an enum used by a column and a function",
        base: "CREATE TYPE color AS ENUM ('red', 'green'); CREATE TABLE paint (c color);
               CREATE FUNCTION is_red(color) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 = 'red' $$",
        change: "ALTER TYPE color ADD VALUE 'blue' BEFORE 'green'",
        names: "enum color",
    },
    Pair {
        name: "an enum reordered under a column",
        base: "CREATE TYPE size AS ENUM ('s', 'm', 'l'); CREATE TABLE shirt (sz size NOT NULL DEFAULT 'm')",
        change: "ALTER TABLE shirt ALTER COLUMN sz DROP DEFAULT; ALTER TYPE size RENAME TO size_before;
                 CREATE TYPE size AS ENUM ('l', 'm', 's');
                 ALTER TABLE shirt ALTER COLUMN sz TYPE size USING sz::text::size;
                 ALTER TABLE shirt ALTER COLUMN sz SET DEFAULT 'm'; DROP TYPE size_before",
        names: "enum size",
    },
    Pair {
        name: "a partitioned table with grants and policies",
        base: "CREATE TABLE pt (id integer, at date) PARTITION BY RANGE (at);
               CREATE TABLE pt_2020 PARTITION OF pt FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')",
        change: "ALTER TABLE pt ENABLE ROW LEVEL SECURITY; CREATE POLICY pt_read ON pt FOR SELECT USING (id > 0);
                 GRANT SELECT ON pt TO PUBLIC",
        names: "policy pt.pt_read",
    },
    Pair {
        name: "a whole partitioned table",
        base: "",
        change: "CREATE TABLE pt2 (id integer NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
                 CREATE TABLE pt2_2020 PARTITION OF pt2 FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
                 CREATE TABLE pt2_rest PARTITION OF pt2 DEFAULT;
                 CREATE INDEX pt2_at ON pt2 (at); ALTER TABLE pt2 ENABLE ROW LEVEL SECURITY;
                 CREATE POLICY pt2_read ON pt2 FOR SELECT USING (true); GRANT SELECT ON pt2 TO PUBLIC",
        names: "table pt2",
    },
    Pair {
        name: "a table that inherits",
        base: "CREATE TABLE parent2 (id integer, note text)",
        change: "CREATE TABLE child2 (extra integer) INHERITS (parent2)",
        names: "table child2",
    },
    Pair {
        name: "a policy that uses a function",
        base: "CREATE TABLE pol_t (id integer); ALTER TABLE pol_t ENABLE ROW LEVEL SECURITY",
        change: "CREATE FUNCTION allowed(integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 > 0 $$;
                 CREATE POLICY pol_read ON pol_t FOR SELECT USING (allowed(id))",
        names: "policy pol_t.pol_read",
    },
    Pair {
        name: "a column with a check",
        base: "CREATE TABLE ck (id integer)",
        change: "ALTER TABLE ck ADD COLUMN qty integer CONSTRAINT ck_qty_check CHECK (qty > 0)",
        names: "column ck.qty",
    },
    Pair {
        name: "an index on a materialized view",
        base: "CREATE TABLE mt (id integer)",
        change: "CREATE MATERIALIZED VIEW mv AS SELECT id FROM mt; CREATE INDEX mv_id ON mv (id)",
        names: "materialized view mv",
    },
    Pair {
        name: "column type",
        base: "CREATE TABLE ct (n integer DEFAULT 1)",
        change: "ALTER TABLE ct ALTER COLUMN n TYPE bigint",
        names: "column ct.n",
    },
    Pair {
        name: "column dropped",
        base: "CREATE TABLE cd (a integer, b text)",
        change: "ALTER TABLE cd DROP COLUMN b",
        names: "column cd.b",
    },
    Pair {
        name: "column default and nullability",
        base: "CREATE TABLE cn (a integer)",
        change: "ALTER TABLE cn ALTER COLUMN a SET DEFAULT 7, ALTER COLUMN a SET NOT NULL",
        names: "column cn.a",
    },
    Pair {
        name: "identity column",
        base: "CREATE TABLE idt (id integer NOT NULL)",
        change: "ALTER TABLE idt ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
        names: "column idt.id",
    },
    Pair {
        name: "generated column",
        base: "CREATE TABLE gc (a integer)",
        change: "ALTER TABLE gc ADD COLUMN b integer GENERATED ALWAYS AS (a * 2) STORED",
        names: "column gc.b",
    },
    Pair {
        name: "generated expression",
        base: "CREATE TABLE ge (a integer, b integer GENERATED ALWAYS AS (a * 2) STORED)",
        change: "ALTER TABLE ge DROP COLUMN b; ALTER TABLE ge ADD COLUMN b integer GENERATED ALWAYS AS (a * 3) STORED",
        names: "column ge.b",
    },
    Pair {
        name: "a policy on a column whose type changes",
        base: "CREATE TABLE pc (owner integer, note text); ALTER TABLE pc ENABLE ROW LEVEL SECURITY;
               CREATE POLICY pc_own ON pc FOR SELECT USING (owner > 0)",
        change: "DROP POLICY pc_own ON pc; ALTER TABLE pc ALTER COLUMN owner TYPE bigint;
                 CREATE POLICY pc_own ON pc FOR SELECT USING (owner > 0)",
        names: "column pc.owner",
    },
    Pair {
        name: "a trigger on a function that takes an enum made again",
        base: "CREATE TYPE phase AS ENUM ('one', 'two'); CREATE TABLE ph (p phase);
               CREATE FUNCTION ph_check(phase) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 = 'one' $$",
        change: "DROP FUNCTION ph_check(phase); ALTER TABLE ph ALTER COLUMN p TYPE text;
                 DROP TYPE phase; CREATE TYPE phase AS ENUM ('two', 'one');
                 ALTER TABLE ph ALTER COLUMN p TYPE phase USING p::phase;
                 CREATE FUNCTION ph_check(phase) RETURNS boolean LANGUAGE sql AS $$ SELECT $1 = 'one' $$",
        names: "enum phase",
    },
    Pair {
        name: "a range type made again under a column",
        base: "CREATE TYPE fr2 AS RANGE (subtype = float8); CREATE TABLE rt (r fr2)",
        change: "ALTER TABLE rt ALTER COLUMN r TYPE text; DROP TYPE fr2;
                 CREATE TYPE fr2 AS RANGE (subtype = float8, subtype_diff = float8mi);
                 ALTER TABLE rt ALTER COLUMN r TYPE fr2 USING r::fr2",
        names: "range type fr2",
    },
    Pair {
        name: "a collation made again under a column",
        base: "CREATE COLLATION coll_a (provider = libc, locale = 'C'); CREATE TABLE co (s text COLLATE coll_a)",
        change: "ALTER TABLE co ALTER COLUMN s TYPE text COLLATE \"C\"; DROP COLLATION coll_a;
                 CREATE COLLATION coll_a (provider = libc, locale = 'POSIX');
                 ALTER TABLE co ALTER COLUMN s TYPE text COLLATE coll_a",
        names: "collation coll_a",
    },
    Pair {
        name: "a domain's base type under a column",
        base: "CREATE DOMAIN amount AS integer CHECK (VALUE >= 0); CREATE TABLE dm (a amount DEFAULT 1)",
        change: "ALTER TABLE dm ALTER COLUMN a DROP DEFAULT; ALTER TABLE dm ALTER COLUMN a TYPE integer; DROP DOMAIN amount;
                 CREATE DOMAIN amount AS bigint CHECK (VALUE >= 0);
                 ALTER TABLE dm ALTER COLUMN a TYPE amount; ALTER TABLE dm ALTER COLUMN a SET DEFAULT 1",
        names: "domain amount",
    },
    Pair {
        name: "function body",
        base: "CREATE FUNCTION f1() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$",
        change: "CREATE OR REPLACE FUNCTION f1() RETURNS integer LANGUAGE sql AS $$ SELECT 2 $$",
        names: "function f1()",
    },
    // Regression: definitions were edited by deleting `public.` wherever it appeared, in
    // string literals too, so these differences went unseen and the repair rewrote them.
    Pair {
        name: "a function's string literal naming the home schema",
        base: "CREATE FUNCTION lit() RETURNS text LANGUAGE sql AS $$ SELECT 'https://example.com/t' $$",
        change: "CREATE OR REPLACE FUNCTION lit() RETURNS text LANGUAGE sql AS $$ SELECT 'https://public.example.com/public.t' $$",
        names: "function lit()",
    },
    Pair {
        name: "a view's string literal naming the home schema",
        base: "CREATE TABLE lt (id integer); CREATE VIEW litv AS SELECT 't is here' AS s, id FROM lt",
        change: "CREATE OR REPLACE VIEW litv AS SELECT 'public.t is here' AS s, id FROM lt",
        names: "view litv",
    },
    Pair {
        name: "an index predicate's literal naming the home schema",
        base: "CREATE TABLE li (a text); CREATE INDEX li_a ON li (a) WHERE a <> 'x'",
        change: "DROP INDEX li_a; CREATE INDEX li_a ON li (a) WHERE a <> 'public.x'",
        names: "index li_a",
    },
    Pair {
        name: "disabled trigger",
        base: "CREATE TABLE tr (id integer);
               CREATE FUNCTION tr_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        change: "CREATE TRIGGER tr_t BEFORE INSERT ON tr FOR EACH ROW EXECUTE FUNCTION tr_f();
                 ALTER TABLE tr DISABLE TRIGGER tr_t",
        names: "trigger tr.tr_t",
    },
    Pair {
        name: "unique constraint",
        base: "CREATE TABLE uq (a integer, b integer)",
        change: "ALTER TABLE uq ADD CONSTRAINT uq_a_b_key UNIQUE (a, b)",
        names: "constraint uq.uq_a_b_key",
    },
    Pair {
        name: "index predicate",
        base: "CREATE TABLE ip (a integer, b text); CREATE INDEX ip_a ON ip (a) WHERE b = 'x'",
        change: "DROP INDEX ip_a; CREATE INDEX ip_a ON ip (a) WHERE b = 'y'",
        names: "index ip_a",
    },
    Pair {
        name: "table comment",
        base: "CREATE TABLE cm (id integer)",
        change: "COMMENT ON TABLE cm IS 'holds the ids'; COMMENT ON COLUMN cm.id IS 'the id'",
        names: "table cm",
    },
    Pair {
        name: "column grant",
        base: "CREATE TABLE cg (a integer, b integer)",
        change: "GRANT UPDATE (a), INSERT (a, b) ON cg TO PUBLIC",
        names: "grants on column cg.a",
    },
    Pair {
        name: "publication membership",
        base: "SET client_min_messages = error; CREATE TABLE pm (id integer PRIMARY KEY); CREATE PUBLICATION pub2",
        change: "ALTER PUBLICATION pub2 ADD TABLE pm",
        names: "publication member pub2:pm",
    },
    Pair {
        name: "owners of a table, a view and a function",
        base: "DO $$ BEGIN CREATE ROLE migrate_pair_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
               CREATE TABLE ow (id integer); CREATE VIEW ow_v AS SELECT id FROM ow;
               CREATE FUNCTION ow_f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$",
        change: "ALTER TABLE ow OWNER TO migrate_pair_owner; ALTER VIEW ow_v OWNER TO migrate_pair_owner;
                 ALTER FUNCTION ow_f() OWNER TO migrate_pair_owner",
        names: "table ow",
    },
    Pair {
        name: "USAGE granted on the home schema",
        base: "DO $$ BEGIN CREATE ROLE migrate_pair_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        change: "GRANT USAGE ON SCHEMA public TO migrate_pair_reader",
        names: "grants on schema public",
    },
    Pair {
        name: "a rule, disabled, with a comment",
        base: "CREATE TABLE ru (id integer); CREATE TABLE ru_log (id integer)",
        change: "CREATE RULE ru_copy AS ON INSERT TO ru DO ALSO INSERT INTO ru_log VALUES (new.id);
                 ALTER TABLE ru DISABLE RULE ru_copy; COMMENT ON RULE ru_copy ON ru IS 'copies'",
        names: "rule ru.ru_copy",
    },
    Pair {
        name: "extended statistics and their target",
        base: "CREATE TABLE es (a integer, b integer); CREATE STATISTICS es_ab ON a, b FROM es",
        change: "ALTER STATISTICS es_ab SET STATISTICS 400; CREATE STATISTICS es_dep (dependencies) ON a, b FROM es",
        names: "statistics es_ab",
    },
    Pair {
        name: "identity on a nullable column",
        base: "CREATE TABLE idn (a integer, b text)",
        change: "ALTER TABLE idn ALTER COLUMN a SET NOT NULL;
                 ALTER TABLE idn ALTER COLUMN a ADD GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 3)",
        names: "column idn.a",
    },
    Pair {
        name: "a column added to a partitioned table",
        base: "CREATE TABLE pt (id integer, at date) PARTITION BY RANGE (at);
               CREATE TABLE pt_2026 PARTITION OF pt FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
               CREATE TABLE pt_rest PARTITION OF pt DEFAULT",
        change: "ALTER TABLE pt ADD COLUMN note text DEFAULT 'n'",
        names: "column pt.note",
    },
    Pair {
        name: "an enum column that was text, with its default",
        base: "CREATE TYPE st AS ENUM ('new', 'done'); CREATE TABLE en (s text DEFAULT 'new')",
        change: "ALTER TABLE en ALTER COLUMN s DROP DEFAULT; ALTER TABLE en ALTER COLUMN s TYPE st USING s::st;
                 ALTER TABLE en ALTER COLUMN s SET DEFAULT 'new'",
        names: "column en.s",
    },
    Pair {
        name: "a sequence used by a default, gone",
        base: "CREATE TABLE sq (id integer)",
        change: "CREATE SEQUENCE sq_ids; ALTER TABLE sq ALTER COLUMN id SET DEFAULT nextval('sq_ids')",
        names: "sequence sq_ids",
    },
    Pair {
        name: "a partition of a table a foreign key references",
        base: "CREATE TABLE fp (id integer, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
               CREATE TABLE fp_2026 PARTITION OF fp FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
               CREATE TABLE fr (id integer, at date, FOREIGN KEY (id, at) REFERENCES fp)",
        change: "CREATE TABLE fp_2027 PARTITION OF fp FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')",
        names: "table fp_2027",
    },
    Pair {
        name: "a partition detached",
        base: "CREATE TABLE dp (id integer PRIMARY KEY, note text) PARTITION BY LIST (id);
               CREATE TABLE dp_1 PARTITION OF dp FOR VALUES IN (1);
               CREATE INDEX dp_note ON dp (note)",
        change: "ALTER TABLE dp DETACH PARTITION dp_1",
        names: "table dp_1",
    },
    Pair {
        name: "publication comment",
        base: "CREATE PUBLICATION pubc",
        change: "COMMENT ON PUBLICATION pubc IS 'replicates nothing yet'",
        names: "publication pubc",
    },
    Pair {
        name: "comments on a trigger, a policy, a constraint and an index",
        base: "CREATE TABLE cmt (id integer PRIMARY KEY, a integer CHECK (a > 0));
               CREATE INDEX cmt_a ON cmt (a);
               CREATE POLICY cmt_p ON cmt USING (true);
               CREATE FUNCTION cmt_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
               CREATE TRIGGER cmt_t BEFORE INSERT ON cmt FOR EACH ROW EXECUTE FUNCTION cmt_f()",
        change: "COMMENT ON TRIGGER cmt_t ON cmt IS 't'; COMMENT ON POLICY cmt_p ON cmt IS 'p';
                 COMMENT ON CONSTRAINT cmt_a_check ON cmt IS 'c'; COMMENT ON INDEX cmt_a IS 'i'",
        names: "trigger cmt.cmt_t",
    },
    Pair {
        name: "a table referenced by another, dropped",
        base: "CREATE TABLE a1 (id integer PRIMARY KEY)",
        change: "CREATE TABLE b1 (id integer PRIMARY KEY, a_id integer REFERENCES a1);
                 CREATE INDEX b1_a_id ON b1 (a_id)",
        names: "table b1",
    },
    Pair {
        name: "columns of an inheritance child inherited only",
        base: "CREATE TABLE parent3 (id integer NOT NULL, note text);
               CREATE SEQUENCE child3_seq;
               CREATE TABLE child3 (id integer NOT NULL, note text, extra integer PRIMARY KEY DEFAULT nextval('child3_seq'));
               ALTER SEQUENCE child3_seq OWNED BY child3.extra;
               INSERT INTO child3 VALUES (1, 'a', 10);
               CREATE INDEX child3_note ON child3 (note); GRANT SELECT ON child3 TO PUBLIC;
               CREATE VIEW child3_notes AS SELECT note FROM child3;
               CREATE TABLE child3_ref (extra integer REFERENCES child3)",
        change: "DROP TABLE child3_ref; DROP VIEW child3_notes; DROP TABLE child3 CASCADE;
                 CREATE SEQUENCE child3_seq;
                 CREATE TABLE child3 (extra integer PRIMARY KEY DEFAULT nextval('child3_seq')) INHERITS (parent3);
                 ALTER SEQUENCE child3_seq OWNED BY child3.extra;
                 CREATE INDEX child3_note ON child3 (note); GRANT SELECT ON child3 TO PUBLIC;
                 CREATE VIEW child3_notes AS SELECT note FROM child3;
                 CREATE TABLE child3_ref (extra integer REFERENCES child3)",
        names: "column child3.id",
    },
    Pair {
        name: "a child's own copy of an inherited column",
        base: "CREATE TABLE parent5 (id integer, note text);
               CREATE TABLE child5 (id integer) INHERITS (parent5); INSERT INTO child5 VALUES (5, 'five')",
        change: "DROP TABLE child5; CREATE TABLE child5 () INHERITS (parent5)",
        names: "column child5.id",
    },
    Pair {
        name: "views and functions that need others named after them",
        base: "CREATE TABLE zt (id integer)",
        change: "CREATE VIEW z_base AS SELECT id FROM zt; CREATE VIEW a_top AS SELECT id FROM z_base;
                 CREATE FUNCTION z_inner() RETURNS integer LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
                 CREATE FUNCTION a_outer() RETURNS integer LANGUAGE sql BEGIN ATOMIC SELECT z_inner(); END",
        names: "view a_top",
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

/// Every pair, named `corpus::` and its name, and the corpus's two other tests.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    let mut trials: Vec<_> = PAIRS
        .iter()
        .map(|p| crate::case(format!("corpus::{}", p.name), move || a_pair(p)))
        .collect();
    trials.push(crate::case(
        "corpus::schema_limits_what_two_databases_compare".into(),
        schema_limits_what_two_databases_compare,
    ));
    trials.push(crate::case(
        "corpus::a_child_made_again_for_its_inherited_columns_keeps_its_rows".into(),
        a_child_made_again_for_its_inherited_columns_keeps_its_rows,
    ));
    trials
}

/// Every kind of difference is found between two databases, both ways, and converges.
async fn a_pair(p: &'static Pair) {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    exec(&a, p.base).await;
    exec(&b, p.base).await;
    let (code, report) = diff(&a, &b, &[]);
    assert_eq!(code, 0, "before the change:\n{report}");
    exec(&b, p.change).await;
    // a is made b, by the repair of the run that names the change
    converge(&a, &b, Some(p.names)).await;
    // and back: b is made the base again, from c, a database of the base alone (what a held
    // before the change)
    let c = TestDb::new().await;
    exec(&c, p.base).await;
    converge(&b, &c, Some(p.names)).await;
}

/// Applies the repair of `diff --sql --allow-data-loss` of `actual` against `expected` to
/// `actual` (read from its `--json` document, which also says what differs: it must name
/// `names`), then checks that nothing differs any more.
async fn converge(actual: &TestDb, expected: &TestDb, names: Option<&str>) {
    let (code, json) = diff(actual, expected, &["--sql", "--allow-data-loss", "--json"]);
    assert_eq!(code, 1, "{json}");
    let repair = Repair::of(&json);
    if let Some(names) = names {
        assert!(
            repair.names(names),
            "the report does not name {names}:\n{json}"
        );
    }
    let script = repair.script;
    assert!(!script.contains("-- not generated"), "{script}");
    let mut c = actual.conn().await;
    sqlx::raw_sql(&script)
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("the repair fails: {e}\n{script}"));
    // `diff --sql` exits as `diff` does (1 on any drift), so a second repair that exits 0
    // with nothing to do says both: no drift is left, and the repair has converged. The
    // report is read only to explain a failure.
    let (code, again) = diff(actual, expected, &["--sql"]);
    if (code, again.as_str()) != (0, "") {
        let (_, report) = diff(actual, expected, &[]);
        panic!("the repair left drift ({code}):\n{script}\na second repair:\n{again}\n{report}");
    }
    assert_same_dump(&dump(actual), &dump(expected), &format!("after:\n{script}"));
}

/// `--schema` limits the comparison: a difference in another schema is not looked at.
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
    let (code, json) = diff(&a, &b, &["--schema", "other", "--json"]);
    assert_eq!(code, 1, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["drift"], true);
    assert_eq!(v["schemas"], serde_json::json!(["other"]));
    assert_eq!(
        v["missing"],
        serde_json::json!(["column other.x.id", "schema other", "table other.x"])
    );
    assert!(
        v["expected"]
            .as_str()
            .unwrap()
            .starts_with("database postgres://"),
        "{json}"
    );
    // without --against, a database holding no set is a usage error that says what to pass
    let out = run(a.migrate().arg("diff"));
    assert_refused(&out, 2, "pass --against URL");
}

/// A column of an inheritance child that must be inherited only was left the table's own
/// (`INHERIT` merges the child's copy, it never gives it up): the table is made again, and
/// keeps its rows and the sequence its column owns, with the sequence's value.
async fn a_child_made_again_for_its_inherited_columns_keeps_its_rows() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    exec(
        &a,
        "CREATE TABLE p4 (id integer, note text);
         CREATE TABLE c4 (id integer, note text, n serial PRIMARY KEY, extra integer GENERATED ALWAYS AS IDENTITY);
         INSERT INTO c4 (id, note) VALUES (1, 'one'), (2, 'two');
         CREATE TABLE c4_ref (n integer REFERENCES c4); INSERT INTO c4_ref VALUES (2)",
    )
    .await;
    exec(
        &b,
        "CREATE TABLE p4 (id integer, note text);
         CREATE TABLE c4 (n serial PRIMARY KEY, extra integer GENERATED ALWAYS AS IDENTITY) INHERITS (p4);
         CREATE TABLE c4_ref (n integer REFERENCES c4)",
    )
    .await;
    converge(&a, &b, None).await;
    let mut c = a.conn().await;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT id || ' ' || note || ' ' || n || ' ' || extra FROM ONLY c4 ORDER BY id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(rows, ["1 one 1 1", "2 two 2 2"]);
    // the parent sees them through inheritance, and both sequences carry on past them
    let through_parent: i64 = sqlx::query_scalar("SELECT count(*) FROM p4")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(through_parent, 2);
    let next: String =
        sqlx::query_scalar("INSERT INTO c4 (id) VALUES (3) RETURNING n || ' ' || extra")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(next, "3 3");
    let referenced: i64 = sqlx::query_scalar("SELECT count(*) FROM c4_ref JOIN c4 USING (n)")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(referenced, 1);
}
