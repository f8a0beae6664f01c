//! The bad-input catalogue: one table of wrong URLs, flags, configurations, migration files,
//! tampered histories, missing privileges and servers that take no writes. Every row runs the
//! binary with `RUST_BACKTRACE=1` and checks the exit code, a piece of the one-line error,
//! that nothing panicked, and that the database it was pointed at is exactly as before.

use crate::harness::*;
use sqlx::PgConnection;

/// What the database and the files look like before the row's command runs.
enum Given {
    /// A fresh database, given as DATABASE_URL.
    Empty,
    /// A fresh database, not given: no DATABASE_URL, so the row's own arguments must name one.
    Unset,
    /// Set `s` with these files in a temporary directory, passed with `--config`.
    Files(&'static [(&'static str, &'static str)]),
    /// This migrations.toml, next to a set directory `s` holding [`TWO`].
    Config(&'static str),
    /// Set `s` from [`TWO`] applied, then its files replaced with these.
    Changed(&'static [(&'static str, &'static str)]),
    /// Set `s` from [`TWO`] applied, then this SQL run on the database.
    Tampered(&'static str),
    /// A role made by this SQL (`{role}` is its name) runs the command; set `s` from [`TWO`]
    /// applied first (by the owner of the database) when `applied`.
    Role { applied: bool, sql: &'static str },
    /// A fresh database whose sessions are read-only (`default_transaction_read_only`).
    ReadOnly,
    /// A hot standby.
    Standby,
}

/// A set of two migrations, each creating a table.
const TWO: &[(&str, &str)] = &[
    ("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"),
    ("0001_a.down.sql", "DROP TABLE a;\n"),
    ("0002_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n"),
    ("0002_b.down.sql", "DROP TABLE b;\n"),
];

struct Case {
    given: Given,
    /// Arguments; `{url}` is the row's database, `{hostport}` its server, `{db}` its name,
    /// `{user}` the role tests connect as.
    args: &'static [&'static str],
    code: i32,
    /// A piece of what the run prints (standard error, or the JSON document).
    says: &'static str,
}

/// A migration whose down is a no-op, for rows about the up file.
macro_rules! up_file {
    ($sql:expr) => {
        Given::Files(&[("0001_a.up.sql", $sql), ("0001_a.down.sql", "SELECT 1;\n")])
    };
}

const fn case(given: Given, args: &'static [&'static str], code: i32, says: &'static str) -> Case {
    Case {
        given,
        args,
        code,
        says,
    }
}

use Given::*;

static CASES: &[Case] = &[
    // ---- URLs
    case(Unset, &["status"], 2, "no database given: pass --database-url URL or set DATABASE_URL"),
    case(Unset, &["status", "--database-url", "mysql://{user}:Sup3r-Secret-Pw@{hostport}/{db}"], 2, "--database-url is not a valid database URL: it starts with mysql://, not postgres://"),
    case(Unset, &["status", "--database-url", "http://{hostport}/{db}"], 2, "--database-url is not a valid database URL: it starts with http://, not postgres://"),
    case(Unset, &["status", "--database-url", "file:///tmp/db"], 2, "--database-url is not a valid database URL: it starts with file://, not postgres://"),
    case(Unset, &["status", "--database-url", ""], 2, "the database URL is empty: pass --database-url postgres://"),
    case(Unset, &["status", "--database-url", "{hostport}/{db}"], 2, "--database-url is not a valid database URL: it does not start with postgres://"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?sslmod=require"], 2, "unknown parameter `sslmod`"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?sslmode=bogus"], 2, "unknown value \"bogus\" for `ssl_mode`"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?connect_timeout=abc"], 2, "`connect_timeout=abc` is not a whole number"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?connect_timeout=-1"], 2, "`connect_timeout=-1` is not a whole number"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?keepalives_idle=soon"], 2, "`keepalives_idle=soon` is not a whole number"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?port=x"], 2, "`port=x` is not a whole number"),
    case(Unset, &["status", "--database-url", "postgres://{user}@[::1/{db}"], 2, "invalid IPv6 address"),
    case(Unset, &["status", "--database-url", "postgres://{user}@127.0.0.1:99999/{db}"], 2, "invalid port number"),
    case(Unset, &["status", "--database-url", "postgres://{user}@127.0.0.1:1/{db}"], 3, "Connection refused"),
    case(Unset, &["status", "--database-url", "postgres://no_such_role@{hostport}/{db}"], 3, "role \"no_such_role\" does not exist"),
    case(Unset, &["status", "--database-url", "postgres://{user}:Sup3r-Secret-Pw@{hostport}/no_such_db"], 3, "database \"no_such_db\" does not exist"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?sslmode=require"], 3, "server does not support TLS"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt"], 2, "sslrootcert=/nonexistent/ca.crt cannot be read"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?sslmode=require&sslcert=/nonexistent/c.crt&sslkey=/nonexistent/c.key"], 2, "sslcert=/nonexistent/c.crt cannot be read"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}?host=/nonexistent-socket-dir"], 3, "No such file or directory"),
    case(Unset, &["--set", "witchcraft", "up", "--database-url", "postgres://{user}@127.0.0.1:6543/{db}"], 2, "transaction-mode pooler"),
    case(Unset, &["status", "--database-url", "postgres://{user}@{hostport}/{db}", "--database-url", "postgres://{user}@{hostport}/{db}"], 2, "cannot be used multiple times"),
    case(Empty, &["--set", "witchcraft", "diff", "--against", "mysql://x:Sup3r-Secret-Pw@127.0.0.1/x"], 2, "--against is not a valid database URL: it starts with mysql://"),
    case(Empty, &["--set", "witchcraft", "verify", "--roundtrip", "--scratch-url", "nope"], 2, "--scratch-url is not a valid database URL"),
    case(Empty, &["--set", "witchcraft", "diff", "--against", "postgres://{user}@{hostport}/no_such_db"], 3, "database \"no_such_db\" does not exist"),
    // ---- flags
    case(Empty, &["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
    case(Empty, &["up", "--frob"], 2, "unexpected argument '--frob'"),
    case(Empty, &[], 2, "Usage:"),
    case(Empty, &["--set", "witchcraft", "up", "--to", "abc"], 2, "invalid value 'abc' for '--to <VERSION>'"),
    case(Empty, &["--set", "witchcraft", "up", "--to", "-1"], 2, "unexpected argument '-1'"),
    case(Empty, &["--set", "witchcraft", "up", "--to", "99"], 2, "--to 99: set `witchcraft` has no migration 0099"),
    case(Empty, &["--set", "witchcraft", "up", "--to", "0"], 2, "up --to 0 applies nothing"),
    case(Empty, &["--set", "witchcraft", "down", "--to", "99", "--yes"], 2, "--to 99: set `witchcraft` has no migration 0099; known versions: 0, 0001"),
    case(Empty, &["--set", "witchcraft", "down", "--steps", "-3", "--yes"], 2, "unexpected argument '-3'"),
    case(Empty, &["--set", "witchcraft", "down", "--steps", "x", "--yes"], 2, "invalid value 'x' for '--steps <N>'"),
    case(Empty, &["--set", "witchcraft", "down", "--steps", "2", "--to", "1"], 2, "cannot be used with"),
    case(Empty, &["--lock-timeout", "soon", "--set", "witchcraft", "up"], 2, "--lock-timeout \"soon\" is not a duration"),
    case(Empty, &["--lock-timeout", "99999999999h", "--set", "witchcraft", "up"], 2, "is not a duration"),
    case(Empty, &["--lock-timeout", "99999999999999999999s", "--set", "witchcraft", "up"], 2, "is not a duration Postgres takes"),
    case(Empty, &["--lock-wait", "forever", "--set", "witchcraft", "up"], 2, "\"forever\" is not a duration"),
    case(Empty, &["--lock-retries", "-1", "--set", "witchcraft", "up"], 2, "unexpected argument '-1'"),
    case(Empty, &["--lock-retries", "many", "--set", "witchcraft", "up"], 2, "invalid value 'many' for '--lock-retries <N>'"),
    case(Empty, &["--server-timeout", "0s", "--set", "witchcraft", "up"], 2, "\"0s\" is zero"),
    case(Empty, &["--server-timeout", "later", "--set", "witchcraft", "up"], 2, "\"later\" is not a duration"),
    case(Empty, &["--set", "nope", "status"], 2, "unknown set `nope`"),
    case(Empty, &["--json", "--set", "nope", "status"], 2, "\"error\":\"unknown set `nope`"),
    case(Empty, &["--set", "aethercrown98,aethercrown98", "down", "--yes"], 2, "set `aethercrown98` is named twice in --set"),
    case(Empty, &["--set", "witchcraft", "--set", "witchcraft", "up"], 2, "set `witchcraft` is named twice in --set"),
    case(Empty, &["--set", ",", "status"], 2, "--set names an empty set"),
    case(Empty, &["--set", "", "status"], 2, "--set names an empty set"),
    case(Empty, &["up"], 2, "both install into schema `public` and cannot share one database"),
    case(Empty, &["--set", "witchcraft", "verify", "--scratch-url", "{url}"], 2, "used only with --roundtrip"),
    case(Empty, &["--set", "witchcraft", "verify", "--jobs", "2"], 2, "--jobs are used only with --roundtrip"),
    case(Empty, &["--set", "witchcraft", "verify", "--roundtrip", "--jobs", "0"], 2, "invalid value '0' for '--jobs <N>'"),
    case(Empty, &["--set", "witchcraft", "adopt", "--from", "nothing"], 2, "--from \"nothing\""),
    case(Empty, &["--config", "/nonexistent/migrations.toml", "status"], 2, "cannot read /nonexistent/migrations.toml"),
    case(Empty, &["--config", "/", "status"], 2, "Is a directory"),
    case(Empty, &["--set", "witchcraft", "maintain"], 1, "run `migrate up --set witchcraft` first"),
    case(Empty, &["--parallel", "2", "--set", "witchcraft", "up"], 2, "--parallel, --fail-fast and --retry-failed go with --targets FILE"),
    case(Empty, &["--parallel", "0", "--targets", "/nonexistent/t.txt", "up"], 2, "invalid value '0' for '--parallel <N>'"),
    case(Empty, &["--targets", "/nonexistent/t.txt", "--set", "witchcraft", "up"], 2, "cannot read targets file /nonexistent/t.txt"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\n"), &["--targets", "{config}", "--set", "witchcraft", "up"], 2, ":1: unknown field `set`, expected `target`"),
    case(Config("# comment\npostgres://x@127.0.0.1:1/a\nmysql://x:Sup3r-Secret-Pw@127.0.0.1/b\n"), &["--targets", "{config}", "--set", "witchcraft", "status"], 2, ":3: the URL of target 127.0.0.1:5432/b is not a valid database URL: it starts with mysql://"),
    case(Empty, &["--targets", "{url}", "--set", "witchcraft", "--retry-failed", "/nonexistent/r.json", "up"], 2, "cannot read"),
    // ---- migrations.toml
    case(Config(""), &["status"], 2, "declares no [[set]]; add one"),
    case(Config("[[set]]\n"), &["status"], 2, ":1:1: missing field `name`"),
    case(Config("[[set]]\nname = \"s\"\n"), &["status"], 2, "missing field `dir`"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nfoo = 1\n"), &["status"], 2, ":4:1: unknown field `foo`"),
    case(Config("bogus = 1\n[[set]]\nname = \"s\"\ndir = \"s\"\n"), &["status"], 2, "unknown field `bogus`, expected one of `lock_timeout`, `lint`, `set`"),
    case(Config("[[set]\nname = \"s\"\n"), &["status"], 2, "migrations.toml:1:"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\n[[set]]\nname = \"s\"\ndir = \"s\"\n"), &["status"], 2, "set `s` is declared twice"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"nowhere\"\n"), &["status"], 2, "directory nowhere is neither on disk"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s/0001_a.up.sql\"\n"), &["status"], 2, "directory s/0001_a.up.sql is neither on disk"),
    case(Config("[[set]]\nname = \"Bad Name\"\ndir = \"s\"\n"), &["status"], 2, "set name \"Bad Name\" must be lowercase letters"),
    case(Config("[[set]]\nname = 5\ndir = \"s\"\n"), &["status"], 2, ":2:8: invalid type: integer `5`, expected a string"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"pg_catalog\"\n"), &["status"], 2, "schema \"pg_catalog\" must be a lowercase identifier"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"migrate\"\n"), &["status"], 2, "schema \"migrate\" must be a lowercase identifier"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"information_schema\"\n"), &["status"], 2, "schema \"information_schema\" must be a lowercase identifier"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"\"\n"), &["status"], 2, "schema \"\" must be a lowercase identifier"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"Bad Name\"\n"), &["status"], 2, "schema \"Bad Name\" must be a lowercase identifier"),
    case(Config("lock_timeout = \"soon\"\n[[set]]\nname = \"s\"\ndir = \"s\"\n"), &["status"], 2, "lock_timeout = \"soon\" is not a duration"),
    case(Config("lock_timeout = 5\n[[set]]\nname = \"s\"\ndir = \"s\"\n"), &["status"], 2, ":1:16: invalid type: integer `5`, expected a string"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nlock_timeout = \"x\"\n"), &["status"], 2, "set `s`: lock_timeout = \"x\" is not a duration"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nmaintenance = [\"DROP TABLE a\"]\n"), &["status"], 2, "maintenance statement \"DROP TABLE a\" must be one SELECT"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nmaintenance = [\"SELECT 1; SELECT 2\"]\n"), &["status"], 2, "must be one SELECT"),
    case(Config("[[set]]\nname = \"s\"\ndir = \"s\"\nschema = \"x\"\n[[set]]\nname = \"t\"\ndir = \"s\"\nschema = \"x\"\n"), &["up"], 2, "both install into schema `x`"),
    case(Config("\u{feff}\u{0}"), &["status"], 2, "migrations.toml"),
    // ---- migration files
    case(Files(&[("0001_a.up.sql", "SELECT 1;\n")]), &["up"], 2, "s/0001_a.up.sql: has no matching s/0001_a.down.sql"),
    case(Files(&[("0001_a.down.sql", "SELECT 1;\n")]), &["up"], 2, "s/0001_a.down.sql: has no matching s/0001_a.up.sql"),
    case(Files(&[("0001_a.up.sql", "SELECT 1;"), ("0001_a.down.sql", "SELECT 1;"), ("0001_b.up.sql", "SELECT 1;"), ("0001_b.down.sql", "SELECT 1;")]), &["up"], 2, "version 1 is already used by"),
    case(Files(&[("a.up.sql", "SELECT 1;"), ("a.down.sql", "SELECT 1;")]), &["up"], 2, "malformed migration file name; expected NNNN_snake_name.up.sql"),
    case(Files(&[("0001_A.up.sql", "SELECT 1;"), ("0001_A.down.sql", "SELECT 1;")]), &["up"], 2, "s/0001_A.down.sql: malformed migration file name"),
    case(Files(&[("0000_a.up.sql", "SELECT 1;"), ("0000_a.down.sql", "SELECT 1;")]), &["up"], 2, "malformed migration file name"),
    case(Files(&[("99999999999999999999_a.up.sql", "SELECT 1;"), ("99999999999999999999_a.down.sql", "SELECT 1;")]), &["up"], 2, "malformed migration file name"),
    case(Files(&[("0001_a.up.sql", "SELECT 1;"), ("0001_a.down.sql", "")]), &["up"], 2, "s/0001_a.down.sql: contains no SQL statement"),
    case(up_file!(""), &["up"], 2, "s/0001_a.up.sql: contains no SQL statement"),
    case(up_file!("-- only a comment\n"), &["up"], 2, "s/0001_a.up.sql: contains no SQL statement"),
    case(up_file!("SELECT 1;\nSELECT '\u{0}';\n"), &["up"], 2, "s/0001_a.up.sql:2:9: a NUL byte"),
    case(up_file!("CREATE TABLE a (x int);\nBEGIN;\n"), &["up"], 2, "s/0001_a.up.sql:2: `BEGIN` controls the transaction"),
    case(up_file!("CREATE TABLE a (x int);\nCOMMIT;\n"), &["up"], 2, "s/0001_a.up.sql:2: `COMMIT` controls the transaction"),
    case(up_file!("SELECT 1; ROLLBACK;"), &["up"], 2, "`ROLLBACK` controls the transaction"),
    case(up_file!("START TRANSACTION;"), &["up"], 2, "`START TRANSACTION` controls the transaction"),
    case(up_file!("SAVEPOINT x;"), &["up"], 2, "`SAVEPOINT` controls the transaction"),
    case(up_file!("PREPARE TRANSACTION 'x';"), &["up"], 2, "`PREPARE TRANSACTION` controls the transaction"),
    case(up_file!("COMMIT AND CHAIN;"), &["up"], 2, "`COMMIT` controls the transaction"),
    case(up_file!("CREATE TABLE a (x int);\nCOPY a FROM stdin;\n1\n\\.\n"), &["up"], 2, "s/0001_a.up.sql:"),
    case(up_file!("CREATE TABLE a (x int);\nCOPY a TO STDOUT;\n"), &["up"], 2, "s/0001_a.up.sql:2"),
    case(up_file!("\\i other.sql\n"), &["up"], 2, "s/0001_a.up.sql:1: `\\i` is a psql meta-command"),
    case(up_file!("SELECT 'never closed;\n"), &["up"], 2, "s/0001_a.up.sql:1: quoted string never closed"),
    case(up_file!("SELECT $$never closed;\n"), &["up"], 2, "s/0001_a.up.sql:1: dollar-quoted string never closed"),
    case(up_file!("SELECT 1; /* never closed\n"), &["up"], 2, "s/0001_a.up.sql:1: block comment never closed"),
    case(up_file!("-- migrate:frobnicate\nSELECT 1;\n"), &["up"], 2, "unknown directive `-- migrate:frobnicate`"),
    case(Files(&[("0001_a.up.sql", "SELECT 1;"), ("0001_a.down.sql", "-- migrate:irreversible\nDROP TABLE a;\n")]), &["up"], 2, "declares `-- migrate:irreversible` but contains statements"),
    case(up_file!("CREATE TABLE a (x int);\nCREAT TABLE b ();\n"), &["up"], 1, "s/0001_a.up.sql:2:1: syntax error at or near \"CREAT\""),
    case(up_file!("CREATE TABLE a (x int);\n\nSELECT 1/0;\n"), &["up"], 1, "s/0001_a.up.sql:3:1: division by zero [SQLSTATE 22012]"),
    case(up_file!("CREATE TABLE a (x int);\nVACUUM a;\n"), &["up"], 1, "VACUUM cannot run inside a transaction block"),
    case(up_file!("CREATE TABLE a (x int);\nCREATE INDEX CONCURRENTLY ON a (x);\n"), &["up"], 1, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
    case(up_file!("SET search_path = nowhere;\nCREATE TABLE a ();\n"), &["up"], 1, "no schema has been selected to create in"),
    case(up_file!("CREATE TABLE a ();\nDO $$BEGIN COMMIT; END$$;\n"), &["up"], 1, "invalid transaction termination"),
    case(up_file!("CREATE TABLE a ();\nSELECT pg_advisory_unlock_all();\n"), &["up"], 1, "the migration released the lock of set `s`"),
    case(up_file!("CREATE TABLE a ();\nSELECT pg_terminate_backend(pg_backend_pid());\n"), &["up"], 1, "s/0001_a.up.sql:2:1"),
    case(up_file!("-- migrate:no-transaction\nCREAT TABLE a ();\n"), &["up"], 1, "s/0001_a.up.sql:2:1: syntax error"),
    case(up_file!("CREATE TABLE a (x int);\nINSERT INTO a VALUES ('x');\n"), &["up"], 1, "invalid input syntax for type integer"),
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"), ("0001_a.down.sql", "DROP TABLE a;\n"), ("0002_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n"), ("0002_b.down.sql", "DROP TABLE b;\n"), ("0003_c.up.sql", "CREATE TABLE c ();\nCREATE TABLE a ();\n"), ("0003_c.down.sql", "DROP TABLE c;\n")]), &["up"], 1, "s/0003_c.up.sql:2:1: relation \"a\" already exists"),
    // ---- files changed after they were applied
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY, x int);\n"), ("0001_a.down.sql", "DROP TABLE a;\n"), ("0002_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n"), ("0002_b.down.sql", "DROP TABLE b;\n")]), &["up"], 1, "migration 0001 (s/0001_a.up.sql) was applied with checksum"),
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"), ("0001_a.down.sql", "DROP TABLE a;\n")]), &["up"], 1, "0002"),
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"), ("0001_a.down.sql", "DROP TABLE a;\n")]), &["down", "--yes"], 1, "0002"),
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"), ("0001_a.down.sql", "DROP TABLE a;\n"), ("0002_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n"), ("0002_b.down.sql", "DROP TABLE b;\n"), ("0001_5_c.up.sql", "SELECT 1;"), ("0001_5_c.down.sql", "SELECT 1;")]), &["up"], 2, "version 1 is already used by"),
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"), ("0001_a.down.sql", "DROP TABLE a;\n"), ("0002_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n"), ("0002_b.down.sql", "DROP TABLE b;\n"), ("0000_c.up.sql", "SELECT 1;"), ("0000_c.down.sql", "SELECT 1;")]), &["up"], 2, "malformed migration file name"),
    case(Tampered("DELETE FROM migrate.history WHERE version = 1"), &["up"], 1, "migration 0001 (s/0001_a.up.sql) is pending but the later migration 0002 is already applied"),
    case(Changed(&[("0001_a.up.sql", "CREATE TABLE a (id int PRIMARY KEY);\n"), ("0001_a.down.sql", "DROP TABLE a;\n"), ("0002_b.up.sql", "CREATE TABLE b (id int PRIMARY KEY);\n"), ("0002_b.down.sql", "DROP TABLE b;\n")]), &["down", "--steps", "1"], 1, "needs confirmation and there is no terminal"),
    // ---- tampered history
    case(Tampered("UPDATE migrate.history SET checksum = repeat('0', 64) WHERE version = 2"), &["up"], 1, "migration 0002 (s/0002_b.up.sql) was applied with checksum 000000000000"),
    case(Tampered("UPDATE migrate.history SET checksum = repeat('0', 64) WHERE version = 2"), &["down", "--yes"], 1, "was applied with checksum 000000000000"),
    case(Tampered("INSERT INTO migrate.history SELECT set_name, 9, 'ghost', namespace, checksum, applied_at, applied_by, execution_ms FROM migrate.history WHERE version = 2"), &["up"], 1, "0009"),
    case(Tampered("ALTER TABLE migrate.history DROP CONSTRAINT history_version_check; INSERT INTO migrate.history SELECT set_name, -1, 'ghost', namespace, checksum, applied_at, applied_by, execution_ms FROM migrate.history WHERE version = 2"), &["up"], 1, "-001"),
    case(Tampered("UPDATE migrate.history SET namespace = 'elsewhere'"), &["up"], 1, "elsewhere"),
    case(Tampered("ALTER TABLE migrate.history ALTER COLUMN version TYPE int"), &["status"], 1, "migrate.history"),
    case(Tampered("ALTER TABLE migrate.history ALTER COLUMN version TYPE int"), &["up"], 1, "migrate.history"),
    case(Tampered("ALTER TABLE migrate.history DROP COLUMN checksum"), &["status"], 1, "checksum"),
    case(Tampered("ALTER TABLE migrate.history RENAME COLUMN applied_at TO applied"), &["up"], 1, "applied_at"),
    case(Tampered("ALTER TABLE migrate.history ALTER COLUMN checksum DROP NOT NULL; UPDATE migrate.history SET checksum = NULL WHERE version = 1"), &["up"], 1, "migrate.history is not the table this version writes"),
    case(Tampered("DROP TABLE migrate.history"), &["up"], 1, "relation \"a\" already exists"),
    case(Tampered("UPDATE migrate.history SET set_name = 'renamed'"), &["up"], 1, "where set `renamed` is already installed"),
    // ---- privileges
    case(Role { applied: false, sql: "CREATE ROLE {role} LOGIN" }, &["up"], 1, "permission denied"),
    case(Role { applied: true, sql: "CREATE ROLE {role} LOGIN" }, &["status"], 1, "permission denied for schema migrate"),
    case(Role { applied: true, sql: "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA migrate TO {role}; GRANT SELECT ON migrate.history TO {role}" }, &["down", "--yes"], 1, "must be owner of table b"),
    case(Role { applied: false, sql: "CREATE ROLE {role} LOGIN; CREATE SCHEMA migrate; GRANT USAGE ON SCHEMA migrate TO {role}" }, &["up"], 1, "creating migrate.history: permission denied for database"),
    case(Role { applied: true, sql: "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA migrate TO {role}; GRANT SELECT ON migrate.history TO {role}; GRANT CREATE ON SCHEMA public TO {role}; DELETE FROM migrate.history WHERE version = 2; DROP TABLE b" }, &["up"], 1, "permission denied for table history"),
    case(Role { applied: true, sql: "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA migrate TO {role}; GRANT SELECT, INSERT ON migrate.history TO {role}; DELETE FROM migrate.history WHERE version = 2; DROP TABLE b" }, &["up"], 1, "permission denied for schema public"),
    case(Role { applied: false, sql: "CREATE ROLE {role} LOGIN; REVOKE CONNECT ON DATABASE {db} FROM PUBLIC" }, &["status"], 3, "permission denied for database"),
    case(Role { applied: false, sql: "CREATE ROLE {role} NOLOGIN" }, &["status"], 3, "is not permitted to log in"),
    // ---- servers that take no writes
    case(ReadOnly, &["--set", "witchcraft", "up"], 1, "the session is read-only (default_transaction_read_only is on"),
    case(ReadOnly, &["--set", "witchcraft", "bootstrap"], 1, "the session is read-only"),
    case(ReadOnly, &["--config", "{config}", "up"], 1, "the session is read-only"),
    case(Standby, &["--set", "witchcraft", "up"], 1, "the server is a standby (in recovery) and takes no writes; point --database-url at the primary"),
    case(Standby, &["--set", "aethercrown98", "bootstrap"], 1, "the server is a standby"),
    case(Standby, &["--set", "witchcraft", "adopt", "--from", "supabase"], 1, "has no supabase_migrations.schema_migrations"),
];

/// Everything a row could change: the objects, and the history rows, of the database.
async fn state(c: &mut PgConnection) -> String {
    let mut all = user_objects(c).await;
    let history: Vec<String> =
        strings(c, "SELECT to_regclass('migrate.history')::text WHERE to_regclass('migrate.history') IS NOT NULL").await;
    if !history.is_empty() {
        all.extend(strings(c, "SELECT t::text FROM migrate.history t ORDER BY t::text").await);
    }
    all.join("\n")
}

/// `{url}`, `{hostport}`, `{db}`, `{user}` and `{config}` in `arg`.
fn fill(arg: &str, url: &str, config: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    let hostport = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
    arg.replace("{url}", url)
        .replace("{hostport}", &hostport)
        .replace("{db}", u.path().trim_start_matches('/'))
        .replace("{user}", u.username())
        .replace("{config}", config)
}

fn label(c: &Case) -> String {
    let given = match &c.given {
        Empty => "empty database".to_string(),
        Unset => "no DATABASE_URL".to_string(),
        Files(f) => format!("files {:?}", f.iter().map(|f| f.0).collect::<Vec<_>>()),
        Config(t) => format!("migrations.toml {t:?}"),
        Changed(f) => format!(
            "applied, then files {:?}",
            f.iter().map(|f| f.0).collect::<Vec<_>>()
        ),
        Tampered(sql) => format!("applied, then {sql}"),
        Role { sql, .. } => format!("as role: {sql}"),
        ReadOnly => "read-only database".to_string(),
        Standby => "standby".to_string(),
    };
    format!("{given}: migrate {}", c.args.join(" "))
}

/// Writes `files` as the only files of set directory `dir`.
fn write_set(dir: &std::path::Path, files: &[(&str, &str)]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

async fn check(c: &'static Case) {
    let db = TestDb::new().await;
    let set = TempSet::new("s", TWO);
    let mut url = db.url.clone();
    let mut admin = db.conn().await;
    let mut config = Some(set.config.clone());
    let mut role = None;
    match &c.given {
        Empty | Unset => config = None,
        Files(files) => write_set(&set.dir.join("s"), files),
        Config(text) => std::fs::write(&set.config, text).unwrap(),
        Changed(files) => {
            let out = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
            assert_eq!(out.code, 0, "{}", out.stderr);
            write_set(&set.dir.join("s"), files);
        }
        Tampered(sql) => {
            let out = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
            assert_eq!(out.code, 0, "{}", out.stderr);
            sqlx::raw_sql(sql).execute(&mut admin).await.unwrap();
        }
        Role { applied, sql } => {
            if *applied {
                let out = run(db.migrate().arg("--config").arg(&set.config).arg("up"));
                assert_eq!(out.code, 0, "{}", out.stderr);
            }
            let name = unique_name("catalogue");
            let sql = sql.replace("{role}", &name).replace("{db}", &db.name);
            sqlx::raw_sql(&sql).execute(&mut admin).await.unwrap();
            let mut u = url::Url::parse(&url).unwrap();
            u.set_username(&name).unwrap();
            url = u.to_string();
            role = Some(name);
        }
        ReadOnly => {
            if !c.args.contains(&"{config}") {
                config = None;
            }
            sqlx::raw_sql(&format!(
                "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
                db.name
            ))
            .execute(&mut admin)
            .await
            .unwrap();
        }
        Standby => {
            config = None;
            url = standby_url();
        }
    }
    if matches!(c.given, Standby) {
        admin = sqlx::Connection::connect(&url).await.unwrap();
    } else if matches!(c.given, ReadOnly) {
        sqlx::raw_sql("SET default_transaction_read_only = off")
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let before = state(&mut admin).await;
    let config_text = config
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut cmd = db.migrate();
    cmd.env("RUST_BACKTRACE", "1").env("DATABASE_URL", &url);
    if matches!(c.given, Unset) {
        cmd.env_remove("DATABASE_URL");
    }
    if let (Some(path), false) = (&config, c.args.contains(&"{config}")) {
        cmd.arg("--config").arg(path);
    }
    cmd.args(c.args.iter().map(|a| fill(a, &url, &config_text)));
    let out = run(&mut cmd);
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(!shown.contains("panicked"), "a panic:\n{shown}");
    assert_eq!(out.code, c.code, "exit code; output:\n{shown}");
    assert!(shown.contains(c.says), "expected {:?} in:\n{shown}", c.says);
    if out.code == 1 || c.args.iter().any(|a| a.contains("--json")) {
        let error_lines = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .count();
        assert!(error_lines <= 1, "one error line:\n{}", out.stderr);
    }
    let after = state(&mut admin).await;
    assert_eq!(before, after, "the database changed");
    drop(admin);
    if let Some(name) = role {
        let mut c = db.conn().await;
        sqlx::raw_sql(&format!("DROP OWNED BY \"{name}\""))
            .execute(&mut c)
            .await
            .unwrap();
        drop(c);
        drop(db);
        let mut server = sqlx::Connection::connect(&admin_url()).await.unwrap();
        let _: Result<_, _> = sqlx::raw_sql(&format!("DROP ROLE \"{name}\""))
            .execute(&mut server as &mut PgConnection)
            .await;
    }
}

/// Every row of the catalogue, named `catalogue::` and its label.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    assert!(CASES.len() >= 100, "{} rows", CASES.len());
    CASES
        .iter()
        .map(|c| crate::case(format!("catalogue::{}", label(c)), move || check(c)))
        .collect()
}
