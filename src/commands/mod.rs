//! The verbs: load configuration, connect, call the engine, and print text or JSON.
//! Progress goes to standard error so that standard output holds only the result. One file
//! per group of verbs: `apply` (up, down, status, maintain), `checks` (snapshot, diff,
//! verify), `bootstrap`, `sandbox`; what they share lives here.

mod adopt;
mod apply;
mod bootstrap;
mod checks;
mod export;
mod fleet;
mod lint;
mod new;
mod sandbox;
mod watch;

use crate::cli::{Cli, Command, Global};
use anyhow::Result;
use migrate::config::{valid_duration, Config};
use migrate::run::Run;
use migrate::verify::scratch::ScratchServer;
use std::io::IsTerminal;

/// The outcome has been printed already (a report with drift, failed checks, a stale
/// snapshot): exit with this code and print nothing more, so that `--json` output stays one
/// document.
#[derive(Debug, thiserror::Error)]
#[error("the outcome has been reported (exit code {0})")]
pub struct Reported(pub u8);

/// A usage or configuration problem (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What every verb is given: the global flags (through `Deref`) and the run's context.
pub struct Ctx<'a> {
    flags: &'a Global,
    pub run: Run,
}

impl std::ops::Deref for Ctx<'_> {
    type Target = Global;
    fn deref(&self) -> &Global {
        self.flags
    }
}

pub async fn run(cli: Cli, run: Run) -> Result<()> {
    let g = &Ctx {
        flags: &cli.global,
        run,
    };
    // Every URL the run was given, connected to or not: its password never reaches output.
    let given = match &cli.command {
        Command::Diff { against, .. } => against.as_deref(),
        Command::Snapshot { scratch_url, .. }
        | Command::Verify { scratch_url, .. }
        | Command::Lint { scratch_url, .. } => scratch_url.as_deref(),
        Command::New {
            from, scratch_url, ..
        } => {
            if let Some(s) = scratch_url {
                g.run.secrets().remember_url(s);
            }
            from.as_deref()
        }
        _ => None,
    };
    for url in [g.database_url.as_deref(), given].into_iter().flatten() {
        g.run.secrets().remember_url(url);
    }
    if let Some(t) = &g.lock_timeout {
        if !valid_duration(t) {
            return Err(UsageError(format!(
                "--lock-timeout {t:?} is not a duration Postgres takes; write e.g. 500ms, 5s or 1min, at most {}ms (about 24 days)",
                migrate::config::LONGEST_DURATION_MS
            ))
            .into());
        }
    }
    let config = Config::load(g.config.as_deref())?;
    if let Command::New {
        set,
        name,
        no_transaction,
        irreversible,
        from: None,
        from_file,
        schemas,
        allow_data_loss,
        one_migration,
        scratch_url,
        scratch_template,
    } = &cli.command
    {
        if from_file.is_empty() {
            if !schemas.is_empty()
                || *allow_data_loss
                || *one_migration
                || scratch_url.is_some()
                || scratch_template.is_some()
            {
                return Err(UsageError(
                    "--schema, --allow-data-loss, --one-migration, --scratch-url and --scratch-template go with --from URL or --from-file PATH".into(),
                )
                .into());
            }
            return new::new(g, &config, set, name, *no_transaction, *irreversible);
        }
    }
    let mut sets = Vec::new();
    for s in config.select(&g.sets)? {
        sets.push(config.load_set(s)?);
    }
    // Every configured set, for the checks that must know which schemas are whose; a set
    // that does not load is named by its own verbs, not by another set's.
    let all: Vec<migrate::config::MigrationSet> = config
        .sets
        .iter()
        .filter_map(|s| config.load_set(s).ok())
        .collect();
    check_target(&cli.command, &sets)?;
    if g.targets.is_some() {
        return fleet::fleet(g, &cli.command).await;
    }
    if g.retry_failed.is_some() || g.fail_fast || g.parallel.is_some() {
        return Err(UsageError(
            "--parallel, --fail-fast and --retry-failed go with --targets FILE".into(),
        )
        .into());
    }
    match &cli.command {
        Command::Up { to, dry_run: true } => apply::up_dry_run(g, &sets, *to).await,
        Command::Up { to, dry_run: false } => apply::up(g, &sets, *to).await,
        Command::Down {
            steps,
            to,
            dry_run: true,
            ..
        } => apply::down_dry_run(g, &sets, apply::down_target(*steps, *to)).await,
        Command::Down { steps, to, yes, .. } => {
            apply::down(g, &sets, apply::down_target(*steps, *to), *yes).await
        }
        Command::Status { exit_code } => apply::status(g, &sets, *exit_code).await,
        Command::New {
            set,
            name,
            from,
            from_file,
            schemas,
            allow_data_loss,
            one_migration,
            scratch_url,
            scratch_template,
            ..
        } => {
            let desired = match from {
                Some(url) => {
                    valid_url(url, "--from")?;
                    new::Desired::Database(url)
                }
                None => new::Desired::Files(declared_files(from_file)?),
            };
            let server = scratch_server(g, scratch_url.as_deref(), scratch_template.as_deref())?;
            let from = new::From {
                desired,
                schemas,
                allow_data_loss: *allow_data_loss,
                one_migration: *one_migration,
            };
            new::new_from(g, &config, &all, set, name, from, &server).await
        }
        Command::Completions { .. } | Command::Man => {
            unreachable!("handled before the sets are loaded")
        }
        Command::Maintain { monthly } => apply::maintain(g, &sets, *monthly).await,
        Command::Bootstrap => bootstrap::bootstrap(g, &sets, &all).await,
        Command::Adopt { from } => adopt::adopt(g, &sets, from).await,
        Command::Export { supabase } => export::export(g, &sets, supabase).await,
        Command::Sandbox { keep, pg_bindir } => {
            sandbox::sandbox(g, &sets, *keep, pg_bindir.clone()).await
        }
        Command::Snapshot {
            check,
            scratch_url,
            scratch_template,
        } => {
            let server = scratch_server(g, scratch_url.as_deref(), scratch_template.as_deref())?;
            checks::snapshot(g, &sets, *check, &server).await
        }
        Command::Lint {
            versions,
            all,
            max_rows,
            max_bytes,
            scratch_url,
            scratch_template,
        } => {
            if let Some(url) = scratch_url {
                valid_url(url, "--scratch-url")?;
            }
            let mut thresholds = migrate::lint::rules::Thresholds::from(config.lint);
            for (flag, value, slot) in [
                ("--max-rows", max_rows, &mut thresholds.rows),
                ("--max-bytes", max_bytes, &mut thresholds.bytes),
            ] {
                if let Some(v) = value {
                    if *v < 0 {
                        return Err(UsageError(format!("{flag} {v} is negative; give 0 or more")).into());
                    }
                    *slot = *v;
                }
            }
            let choice = lint::Choice {
                versions: versions.clone(),
                all: *all,
            };
            lint::check_choice(g, &sets, &choice)?;
            let scratch = (scratch_url.as_deref(), scratch_template.as_deref());
            lint::lint(g, &sets, &choice, thresholds, scratch).await
        }
        Command::Diff {
            from_file,
            scratch_url,
            ..
        } if !from_file.is_empty() => {
            let files = declared_files(from_file)?;
            if let Some(s) = scratch_url {
                valid_url(s, "--scratch-url")?;
            }
            if sets.len() != 1 {
                return Err(UsageError(
                    "diff --from-file compares one set with its schema files: name it with --set".into(),
                )
                .into());
            }
            let server = ScratchServer::start(&g.run, scratch_url.as_deref(), None)?;
            checks::diff_files(g, &sets[0], &all, &files, &server).await
        }
        Command::Diff { scratch_url: Some(_), .. } => Err(UsageError(
            "--scratch-url goes with diff --from-file".into(),
        )
        .into()),
        Command::Diff {
            against,
            sql,
            schemas,
            allow_data_loss,
            ..
        } => {
            let repair = checks::Repair {
                sql: *sql,
                allow_data_loss: *allow_data_loss,
            };
            checks::diff(g, &sets, &all, against.as_deref(), schemas, repair).await
        }
        Command::Verify {
            roundtrip: true,
            scratch_url,
            scratch_template,
            jobs,
        } => {
            let server = scratch_server(g, scratch_url.as_deref(), scratch_template.as_deref())?;
            let cores = jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            );
            checks::roundtrip(g, &sets, &server, cores).await
        }
        Command::Verify {
            roundtrip: false,
            scratch_url,
            scratch_template,
            jobs,
        } if scratch_url.is_some() || scratch_template.is_some() || jobs.is_some() => Err(UsageError(
            "--scratch-url, --scratch-template and --jobs are used only with --roundtrip; plain verify only reads the database"
                .into(),
        )
        .into()),
        Command::Verify {
            roundtrip: false, ..
        } => checks::verify(g, &sets, &all).await,
    }
}

/// The declarative schema files `paths` name, in order, as (path shown, text): a file as
/// it is, a folder as its `.sql` files in name order.
fn declared_files(paths: &[std::path::PathBuf]) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| {
                UsageError(format!(
                    "--from-file {}: {e}; give a .sql file or a folder of them",
                    p.display()
                ))
            })
        };
        if path.is_dir() {
            let mut inside: Vec<std::path::PathBuf> = std::fs::read_dir(path)
                .map_err(|e| UsageError(format!("--from-file {shown}: {e}")))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sql") && p.is_file())
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(UsageError(format!(
                    "--from-file {shown}: the folder holds no .sql file"
                ))
                .into());
            }
            for p in inside {
                files.push((p.display().to_string(), read(&p)?));
            }
        } else {
            files.push((shown, read(path)?));
        }
    }
    Ok(files)
}

/// Applies the schema files of `--from-file` to the scratch database `conn` for `set`; a
/// file that fails is a usage error naming it and its line.
async fn apply_declared(
    conn: &mut sqlx::PgConnection,
    set: &migrate::config::MigrationSet,
    files: &[(String, String)],
) -> Result<()> {
    migrate::verify::generate::apply_files(conn, &set.schema, files)
        .await
        .map_err(|e| {
            UsageError(format!(
                "applying the schema files: {e}; fix the file, then run again"
            ))
            .into()
        })
}

/// `--to` names a version every selected set has (or 0, the empty set, for `down`): checked
/// from the files, before anything connects.
fn check_target(command: &Command, sets: &[migrate::config::MigrationSet]) -> Result<()> {
    let (to, verb) = match command {
        Command::Up { to: Some(v), .. } => (*v, "up"),
        Command::Down { to: Some(v), .. } => (*v, "down"),
        _ => return Ok(()),
    };
    if to == 0 && verb == "up" {
        return Err(UsageError(
            "up --to 0 applies nothing; to remove a set, run `migrate down --to 0`".into(),
        )
        .into());
    }
    if to == 0 {
        return Ok(());
    }
    for set in sets {
        if set.find(to).is_none() {
            let known: Vec<String> = set
                .migrations
                .iter()
                .map(|m| format!("{:04}", m.version))
                .collect();
            let floor = if verb == "down" { "0, " } else { "" };
            return Err(UsageError(format!(
                "--to {to}: set `{}` has no migration {to:04}; known versions: {floor}{}",
                set.name,
                known.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

/// The run's database URL: `--database-url`, else `DATABASE_URL`, else `./.env`'s. A URL
/// from the file that does not parse is reported with the file's line.
fn database_url(g: &Global) -> Result<&str> {
    let Some(url) = g.database_url.as_deref() else {
        let why = match crate::dotenv::problem() {
            Some(problem) => format!("no database given: {problem}"),
            None => "no database given: pass --database-url URL or set DATABASE_URL".into(),
        };
        return Err(UsageError(why).into());
    };
    if url.trim().is_empty() {
        return Err(UsageError(
            "the database URL is empty: pass --database-url postgres://user:password@host:port/dbname or set DATABASE_URL to one".into(),
        )
        .into());
    }
    match crate::dotenv::origin().filter(|f| f.value == url) {
        Some(from) => valid_url(url, &format!("DATABASE_URL of ./.env line {}", from.line))
            .map_err(|e| UsageError(format!("{e}; fix that line, or pass --database-url")))?,
        None if given_as_flag("--database-url") => valid_url(url, "--database-url")?,
        None => valid_url(url, "DATABASE_URL")?,
    }
    Ok(url)
}

/// Whether `flag` was given on the command line (else its value came from the environment).
fn given_as_flag(flag: &str) -> bool {
    std::env::args_os().any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
    })
}

/// Checks the URL `held_by` (a flag, a variable, a line of a file) holds before anything
/// connects: a URL that does not parse is reported by where it came from, and none of its
/// text is shown (it may hold a password nobody can find the end of).
/// The server scratch databases are made on: `--scratch-url`'s (checked first), or a
/// throwaway one from this machine's binaries; cloned from `--scratch-template` when given.
fn scratch_server(g: &Ctx<'_>, url: Option<&str>, template: Option<&str>) -> Result<ScratchServer> {
    if let Some(url) = url {
        valid_url(url, "--scratch-url")?;
    }
    Ok(ScratchServer::start(&g.run, url, template)?)
}

fn valid_url(url: &str, held_by: &str) -> Result<()> {
    match migrate::engine::options(url) {
        Ok(_) => Ok(()),
        Err(e) => Err(UsageError(e.held_by(held_by).to_string()).into()),
    }
}

/// Connects to the run's database; on a terminal a spinner names the server while it has not
/// answered (a server far away, or one that accepts and then says nothing until
/// `connect_timeout`).
async fn connect(run: &Run, url: &str) -> Result<sqlx::PgConnection, migrate::engine::EngineError> {
    connecting(url, migrate::engine::connect(run, url)).await
}

/// [`connect`] for a run that changes the schema: a connection proven to have a server
/// session of its own (see [`migrate::engine::connect_own_session`]).
async fn connect_own_session(
    run: &Run,
    url: &str,
) -> Result<sqlx::PgConnection, migrate::engine::EngineError> {
    connecting(url, migrate::engine::connect_own_session(run, url)).await
}

/// `connect`, with a spinner naming the server (without its password) while it runs.
async fn connecting<T>(url: &str, connect: impl std::future::Future<Output = T>) -> T {
    crate::ui::spinner(
        "server",
        &format!("connecting to {}", migrate::redact::redact_url(url)),
    );
    let conn = connect.await;
    crate::ui::finish();
    conn
}

/// [`connect`] to a database another flag than `--database-url` names (`held_by`): its
/// errors say which flag to check.
async fn connect_held_by(
    run: &Run,
    url: &str,
    held_by: &str,
) -> Result<sqlx::PgConnection, migrate::engine::EngineError> {
    connect(run, url).await.map_err(|e| e.held_by(held_by))
}

/// Prints the run's one JSON document, with the `version` of its format: pretty with
/// `--json`, as the `result` event with `--format ndjson`.
fn print_json(mut value: serde_json::Value) -> Result<()> {
    if let Some(doc) = value.as_object_mut() {
        doc.insert("version".into(), crate::ui::FORMAT_VERSION.into());
    }
    crate::ui::finish();
    if crate::ui::ndjson() {
        use std::io::Write as _;
        let event = crate::ui::result_event(value);
        writeln!(std::io::stdout().lock(), "{event}")?;
        return Ok(());
    }
    outln!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    Ok(())
}

/// A unified diff of two texts, coloured when `color` is set.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str, color: bool) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    if !color {
        return text;
    }
    text.lines()
        .map(|l| match l.chars().next() {
            Some('+') if !l.starts_with("+++") => format!("\x1b[32m{l}\x1b[0m"),
            Some('-') if !l.starts_with("---") => format!("\x1b[31m{l}\x1b[0m"),
            Some('@') => format!("\x1b[36m{l}\x1b[0m"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A check's outcome padded to `width`, coloured when `color` is set: passing green, failing
/// red, anything else (irreversible, skipped) yellow. Padding comes first, so columns line up
/// with or without colour.
pub fn outcome_word(word: &str, width: usize, color: bool) -> String {
    let pad = " ".repeat(width.saturating_sub(word.chars().count()));
    if !color {
        return format!("{word}{pad}");
    }
    let code = match word {
        "PASS" => "32",
        "FAIL" => "1;31",
        _ => "33",
    };
    format!("\x1b[{code}m{word}\x1b[0m{pad}")
}

/// Whether to colour output: standard output is a terminal and NO_COLOR is not set.
pub fn use_color(g: &Global) -> bool {
    !g.json && crate::ui::colour_allowed(std::io::stdout().is_terminal())
}
