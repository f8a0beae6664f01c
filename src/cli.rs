//! The command line: clap types only. Their doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Applies, inspects and rolls back the PostgreSQL schemas of AetherCrown98 and Witchcraft.
///
/// The SQL of every set is embedded in this binary, so it can bootstrap any database on its
/// own. Exit codes: 0 success; 1 failure (a migration failed, a safety check refused to run,
/// a rollback was not confirmed); 2 usage or configuration error; 3 the database could not
/// be reached; 130 (143) interrupted by SIGINT (SIGTERM). `diff` exits 1 for drift, as
/// `git diff --exit-code` does.
#[derive(Debug, Parser)]
#[command(name = "migrate", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Options every verb takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Database to work on, as postgres://user:password@host:port/dbname. Passwords are never
    /// printed.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Schema set to work on; repeat or separate with commas. Default: every set, in
    /// migrations.toml order.
    #[arg(
        long = "set",
        value_name = "NAME",
        global = true,
        value_delimiter = ','
    )]
    pub sets: Vec<String>,

    /// Print one JSON document on standard output instead of text (errors too); the same as
    /// --format json.
    #[arg(long, global = true)]
    pub json: bool,

    /// What standard output holds: text, json (one document at the end) or ndjson (one JSON
    /// event per line as the work happens, the last one the result).
    #[arg(long, value_enum, value_name = "FORMAT", global = true)]
    pub format: Option<Format>,

    /// Print no progress on standard error: only the result, warnings and errors.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more on standard error: each migration as it starts, each lock obtained.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Configuration file to use instead of ./migrations.toml or the embedded one.
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,

    /// How long a migration statement may wait for a lock before the migration fails,
    /// e.g. 500ms, 5s, 1min. Replaces the lock_timeout of migrations.toml.
    #[arg(long, value_name = "DURATION", global = true)]
    pub lock_timeout: Option<String>,

    /// How long to wait while another run holds the lock of the same set (or of its schema)
    /// before giving up, e.g. 30s, 5min; the holder is named while waiting. Default: 5min.
    #[arg(long, value_name = "DURATION", global = true, value_parser = duration)]
    pub lock_wait: Option<std::time::Duration>,

    /// How many more times a migration that hit lock_timeout is tried, with a growing,
    /// jittered delay (a no-transaction file only when its first statement was blocked).
    /// Default: 3; 0 never retries.
    #[arg(long, value_name = "N", global = true)]
    pub lock_retries: Option<u32>,

    /// How long the server may leave a running statement, and a health check sent on a
    /// second connection, both unanswered before the run gives up on it (a frozen server or
    /// a dead network), e.g. 10s, 2min. Default: 30s.
    #[arg(long, value_name = "DURATION", global = true, value_parser = positive_duration)]
    pub server_timeout: Option<std::time::Duration>,

    /// Run up, status, verify or diff on every database FILE lists (one URL per line, or TOML
    /// `[[target]]` tables with name, url and optional sets), with one report.
    #[arg(long, value_name = "FILE", global = true)]
    pub targets: Option<PathBuf>,

    /// With --targets: how many databases at once. Default: 4 per core.
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: Option<u16>,

    /// With --targets: start no further database once one failed.
    #[arg(long, global = true)]
    pub fail_fast: bool,

    /// With --targets: run only the targets that did not succeed in REPORT, the --json
    /// output of an earlier run.
    #[arg(long, value_name = "REPORT", global = true)]
    pub retry_failed: Option<PathBuf>,
}

/// A duration flag that must be more than zero.
fn positive_duration(value: &str) -> Result<std::time::Duration, String> {
    match duration(value)? {
        d if d.is_zero() => Err(format!("{value:?} is zero; give a duration of at least 1s")),
        d => Ok(d),
    }
}

/// A duration flag: 500ms, 5s, 1min.
fn duration(value: &str) -> Result<std::time::Duration, String> {
    migrate::config::parse_duration(value)
        .ok_or_else(|| format!("{value:?} is not a duration; write e.g. 500ms, 5s or 1min"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, oldest first, each in its own transaction.
    Up {
        /// Stop after this version (default: apply all).
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Print the SQL that would run, in order, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },

    /// Roll back applied migrations, newest first (default: one step).
    ///
    /// Asks for confirmation on a terminal, listing the tables and columns holding rows that
    /// the down files drop; without a terminal, --yes is required. Stops before a migration
    /// whose down file says `-- migrate:irreversible`.
    Down {
        /// Roll back this many migrations.
        #[arg(long, value_name = "N", conflicts_with = "to")]
        steps: Option<usize>,
        /// Roll back every migration newer than this version; 0 removes the whole set.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print the SQL that would run, in order, and the data it would delete; change
        /// nothing.
        #[arg(long)]
        dry_run: bool,
    },

    /// Show every migration of each set: applied or pending, when, by whom, and whether the
    /// applied checksum still matches the file.
    Status {
        /// Exit 1 when a migration is pending (for CI gates); 0 when every set is up to date.
        #[arg(long)]
        exit_code: bool,
    },

    /// Create the next-numbered migration of SET: NNNN_NAME.up.sql and NNNN_NAME.down.sql in
    /// the set's directory, each with a short header. Both must hold SQL (or the down file be
    /// irreversible) before the set loads again. Needs no database, except with --from,
    /// which generates both files from a database holding the schema you want.
    New {
        /// The set to add the migration to.
        set: String,
        /// What the migration does, in lowercase snake_case: it becomes the file name.
        name: String,
        /// Write `-- migrate:no-transaction` (for CREATE INDEX CONCURRENTLY and the like).
        #[arg(long)]
        no_transaction: bool,
        /// Write `-- migrate:irreversible` into the down file: `down` stops before it.
        #[arg(long, conflicts_with = "from")]
        irreversible: bool,
        /// Generate the pair from this database, which holds the schema you want: the up
        /// takes the set's head (built on a scratch database) there, the down back. Both are
        /// proven on the scratch database before anything is written; exit 1, writing
        /// nothing, when the proof fails or the database differs outside the set's schemas.
        #[arg(long, value_name = "URL", conflicts_with = "no_transaction")]
        from: Option<String>,
        /// Generate the pair from declarative SQL files instead (a schema.sql, or a folder
        /// of .sql files applied in name order), applied to a scratch database in the set's
        /// schema; repeat for more.
        #[arg(long = "from-file", value_name = "PATH", conflicts_with_all = ["from", "no_transaction", "irreversible"])]
        from_file: Vec<PathBuf>,
        /// With --from or --from-file: a schema that belongs to the set besides its own and those its
        /// committed catalog names; repeat for more.
        #[arg(long = "schema", value_name = "NAME")]
        schemas: Vec<String>,
        /// With --from: write the statements that lose data (a dropped table or column, a
        /// type change) as statements, not commented out.
        #[arg(long)]
        allow_data_loss: bool,
        /// With --from: write everything in one transactional migration. By default, an
        /// index on a table that exists at the head is built CONCURRENTLY, and a foreign key
        /// or check on one is validated, in a second, no-transaction migration of its own,
        /// so that neither blocks writes while it reads the table.
        #[arg(long)]
        one_migration: bool,
        /// With --from: the server for the scratch database (see verify --scratch-url).
        #[arg(long, value_name = "URL")]
        scratch_url: Option<String>,
        /// With --from: clone the scratch database from this database (see verify
        /// --scratch-template).
        #[arg(long, value_name = "DATABASE")]
        scratch_template: Option<String>,
    },

    /// Compare the database with the expected catalog of its sets (the committed
    /// schema/<set>/expected_catalog.txt, or another database with --against) and report
    /// every object that is missing, unexpected or changed. Never changes the database.
    /// Exit codes: 0 no drift, 1 drift, 2 error, 3 unreachable. Default sets: those installed in the
    /// database. With --schema, or when no set is installed, compares schemas with the
    /// --against database instead of sets: any two databases.
    Diff {
        /// Compare with this database instead of the committed expected catalog.
        #[arg(long, value_name = "URL")]
        against: Option<String>,
        /// Compare this schema of both databases, whatever sets they hold; repeat for more.
        /// Without it, and when no set is installed, every schema but the system's and the
        /// platform's.
        #[arg(long = "schema", value_name = "NAME")]
        schemas: Vec<String>,
        /// Print the statements that would repair the drift (where well defined) instead of
        /// the report.
        #[arg(long)]
        sql: bool,
        /// With --sql: print the statements that can lose data (dropping a table or column,
        /// changing a column's type, ...) as statements instead of commented out.
        #[arg(long, requires = "sql")]
        allow_data_loss: bool,
        /// Compare the set's committed catalog with declarative SQL files (a schema.sql, or
        /// a folder of .sql files applied in name order) applied to a scratch database:
        /// exit 1 when the migrations and the files disagree. Needs no --database-url.
        #[arg(long = "from-file", value_name = "PATH", conflicts_with_all = ["against", "sql", "schemas"])]
        from_file: Vec<PathBuf>,
        /// With --from-file: the server for the scratch database (see verify --scratch-url).
        #[arg(long, value_name = "URL")]
        scratch_url: Option<String>,
    },

    /// Check that the database is what this binary expects, one line per check: applied
    /// checksums, unknown, skipped or pending versions, the catalog against the expected one
    /// for the applied version (naming the migration an object comes from), and the
    /// invariants: row level security on every table and partition, an index behind every
    /// foreign key, a fixed search_path on SECURITY DEFINER functions, no invalid and no
    /// duplicate indexes. Exit 0 only when every check passes. Default sets: those installed.
    ///
    /// Read-only: it writes nothing to the database or its server; the expected catalog at
    /// every version is embedded in this binary.
    Verify {
        /// Instead, prove every migration's down on a scratch database (on --scratch-url's
        /// server, or on a throwaway local server; never on --database-url's): after up to k
        /// and down one step the catalog must be the one after up to k-1, up again must give
        /// the same catalog, and a full rollback must leave nothing. Default sets: all.
        #[arg(long)]
        roundtrip: bool,
        /// Server for the proof's scratch databases, as a URL whose role may create
        /// databases; each is named migrate_scratch_roundtrip_<random> and dropped after.
        /// Use the role migrations run as (on Supabase: postgres). Default: a throwaway
        /// server started from this machine's PostgreSQL binaries.
        #[arg(long, value_name = "URL")]
        scratch_url: Option<String>,
        /// Clone scratch databases from this database instead of template1: one carrying
        /// the platform's surface (roles' default privileges, auth schema, publication),
        /// required when the scratch server is Supabase or set up like it.
        #[arg(long, value_name = "DATABASE")]
        scratch_template: Option<String>,
        /// With --roundtrip: the cores the proof plans for. A long set's chain of steps is
        /// cut into shares proven at once, each on a scratch database of its own, while that
        /// shortens the proof (unless a file names a role, a database or another object of
        /// the whole server, which the shares would share); 1 proves each set as one chain.
        /// Default: this machine's cores.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
    },

    /// Trace what each migration locks, rewrites and blocks, on a scratch database holding
    /// every migration before it (on --scratch-url's server, or a throwaway local server;
    /// never on --database-url's), statement by statement, read from the server: relation
    /// locks and their modes, tables rewritten and read whole, indexes built without
    /// CONCURRENTLY, constraints validated, how long each lock is held. With
    /// --database-url, the touched tables' live sizes weigh each finding and the time under
    /// lock is estimated from a timed sample; that database is only read. Exit 1 when an
    /// error-level finding stands; `-- migrate:lint-ignore RULE reason` on a statement
    /// accepts its findings of RULE. Default: the migrations --database-url's database has
    /// pending.
    Lint {
        /// Trace these versions (of each selected set).
        #[arg(value_name = "VERSION")]
        versions: Vec<i64>,
        /// Trace every migration of each selected set.
        #[arg(long, conflicts_with = "versions")]
        all: bool,
        /// An error: work that blocks reads or writes of a live table of at least this many
        /// rows. Default: [lint] max_rows of migrations.toml, else 100000.
        #[arg(long, value_name = "N")]
        max_rows: Option<i64>,
        /// An error: the same on a live table of at least this many bytes (with its indexes
        /// and TOAST). Default: [lint] max_bytes, else 104857600 (100 MB).
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<i64>,
        /// Server for the scratch databases (see verify --scratch-url).
        #[arg(long, value_name = "URL")]
        scratch_url: Option<String>,
        /// Clone scratch databases from this database (see verify --scratch-template).
        #[arg(long, value_name = "DATABASE")]
        scratch_template: Option<String>,
    },

    /// Write each set's expected catalogs: schema/<set>/expected_catalog.txt (the canonical
    /// text of every object its migrations create) and expected_versions.txt (what each
    /// migration creates, changes and removes), read from a scratch database on
    /// --scratch-url's server or on a throwaway local server (never on --database-url's).
    Snapshot {
        /// Compare with the committed files instead of writing them; exit 1 when they are
        /// out of date.
        #[arg(long)]
        check: bool,
        /// Server for the scratch database, as a URL whose role may create databases.
        /// Default: a throwaway server started from this machine's PostgreSQL binaries.
        #[arg(long, value_name = "URL")]
        scratch_url: Option<String>,
        /// Clone the scratch database from this database instead of template1 (see
        /// verify --scratch-template).
        #[arg(long, value_name = "DATABASE")]
        scratch_template: Option<String>,
    },

    /// Set up a new database or Supabase project in one step: check the connection (a
    /// transaction-mode pooler is refused) and the role's privileges, apply every selected
    /// set in its configured schema, verify it, and report how its upkeep is scheduled
    /// (pg_cron, or what to schedule instead). Idempotent: a second run changes nothing and
    /// says so. Exit 0 when every set verifies.
    Bootstrap,

    /// Take over a database another tool migrated: for each set, find the version whose
    /// expected catalog the database holds exactly and record it (and every earlier one) in
    /// migrate.history, so `up` continues from there. Refuses, naming every difference,
    /// when the database is no version of the set, and when migrate already keeps a
    /// history for it. Default sets: all (one set per database in the default config).
    Adopt {
        /// The tool whose history table the database holds: supabase
        /// (supabase_migrations.schema_migrations), refinery (refinery_schema_history) or
        /// sqlx (_sqlx_migrations).
        #[arg(long, value_name = "TOOL")]
        from: String,
    },

    /// Write the sets as a Supabase CLI migrations folder (supabase/migrations), for teams
    /// that deploy with `supabase db push`: one file per migration, named so they sort in
    /// migration order, and one file per statement for a migration that runs without a
    /// transaction (the CLI runs each file in a transaction of its own). Never touches a
    /// database; refuses to overwrite a different file. Afterwards, `migrate adopt --from
    /// supabase` hands the deployed database to migrate.
    Export {
        /// The folder to write, e.g. supabase/migrations.
        #[arg(long, value_name = "DIR")]
        supabase: PathBuf,
    },

    /// Run each set's upkeep once: the `maintenance` statements of migrations.toml
    /// (AetherCrown98: next months' activity_logs partitions; Witchcraft: daily_maintenance),
    /// and with --monthly the `monthly_maintenance` ones too. For databases without pg_cron:
    /// schedule `migrate maintain` daily and `migrate maintain --monthly` on the 1st. Runs
    /// under the set's lock, only when all its migrations are applied. Default sets: those
    /// installed.
    Maintain {
        /// Also run the monthly statements (Witchcraft: monthly_maintenance).
        #[arg(long)]
        monthly: bool,
    },

    /// Start a throwaway Postgres from this machine's server binaries, apply every set (each
    /// in its own database, in `public`), print the status and connection URLs, and remove
    /// it all on exit. Ignores --database-url: it never touches another server.
    Sandbox {
        /// Keep the server running after exit and print how to stop it.
        #[arg(long)]
        keep: bool,
        /// Folder of the server binaries (initdb, postgres) to run, e.g. another major
        /// version's. Default: $MIGRATE_PG_BINDIR, PATH, pg_config, /usr/lib/postgresql.
        #[arg(long, value_name = "DIR")]
        pg_bindir: Option<std::path::PathBuf>,
    },

    /// Print a completion script for SHELL on standard output, generated from this binary's
    /// flags. bash: `migrate completions bash > ~/.local/share/bash-completion/completions/migrate`;
    /// zsh: into a folder on $fpath as `_migrate`; fish:
    /// `~/.config/fish/completions/migrate.fish`; PowerShell: dot-source it from $PROFILE.
    /// Needs no database.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) on standard output, generated from this binary's flags:
    /// `migrate man > ~/.local/share/man/man1/migrate.1`, then `man migrate`. Needs no
    /// database.
    Man,
}

/// How results are printed on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Text,
    /// One JSON document at the end (the same as --json).
    Json,
    /// One JSON event per line as the work happens, the last one the `result` document.
    Ndjson,
    /// A table to paste into a pull request (lint only).
    Markdown,
}
