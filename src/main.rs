//! The `migrate` binary: parse the command line, run the verb, and turn an error into one
//! line on standard error (or a JSON document with `--json`) and an exit code.

#[macro_use]
mod output;
mod cli;
mod commands;
mod dotenv;
mod notices;
mod ui;

use clap::{CommandFactory, FromArgMatches};
use migrate::cluster::ClusterError;
use migrate::config::ConfigError;
use migrate::engine::EngineError;
use migrate::run::Run;
use std::process::ExitCode;

/// One line, passwords and the run's secrets hidden: how server text is shown.
fn redact_line(run: &Run, text: &str) -> String {
    migrate::engine::error::one_line(&run.redact(text))
}

fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            return e.exit_code() as u8;
        }
        // Transparent: the chain goes on below the engine error it wraps.
        if let Some(migrate::verify::scratch::ScratchError::Engine(e)) = cause.downcast_ref() {
            return e.exit_code() as u8;
        }
        if cause.is::<ConfigError>() || cause.is::<commands::UsageError>() {
            return 2;
        }
        if cause.is::<ClusterError>() {
            return 1;
        }
    }
    1
}

/// Whether the reader of standard output has gone (`migrate ... | head -1`): not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line. Most errors already quote their cause in their own
/// message; a cause is added only when its text is not there yet. A driver error is always
/// quoted by the error that keeps it (with its SQLSTATE), so it is never added again.
fn message(run: &Run, e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        if cause.is::<sqlx::Error>() || cause.is::<Box<sqlx::Error>>() {
            continue;
        }
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    redact_line(run, &text)
}

/// Prints an error as one line, or as the one JSON document of the run (an `error` event
/// with NDJSON).
fn report(json: bool, message: &str, code: u8) {
    ui::finish();
    if ui::ndjson() {
        ui::emit(
            "error",
            None,
            None,
            serde_json::json!({ "message": message, "exit_code": code }),
        );
    } else if json {
        let doc = serde_json::json!({
            "error": message, "exit_code": code, "version": ui::FORMAT_VERSION,
        });
        outln_ignore!("{doc}");
    } else {
        use std::io::IsTerminal as _;
        if ui::colour_allowed(std::io::stderr().is_terminal()) {
            errln!("\x1b[1;31merror\x1b[0m: {message}");
        } else {
            errln!("error: {message}");
        }
    }
}

/// Turns SIGINT and SIGTERM into a stop: the first cancels what the server runs for this
/// process and lets the engine roll back and release its locks; a second ends the process.
///
/// The watcher runs on a thread of its own, with a runtime of its own, so that a signal is
/// seen, and the server's statements cancelled, even while the verb's thread is blocked
/// (starting a throwaway server, waiting for child processes). Its handlers are installed
/// before this returns.
#[cfg(unix)]
fn watch_signals(run: &Run) {
    use migrate::interrupt::Signal;
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let signals = {
        let _in = runtime.enter();
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    let (Ok(mut int), Ok(mut term)) = signals else {
        return;
    };
    let run = run.clone();
    let watcher = move || {
        runtime.block_on(async move {
            loop {
                let sig = tokio::select! {
                    _ = int.recv() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                };
                if run.signals().raise(sig) {
                    let run = run.clone();
                    tokio::spawn(async move { run.signals().cancel_sessions().await });
                } else {
                    errln!(
                        "{}: stopping now, without waiting for the server",
                        sig.name()
                    );
                    std::process::exit(i32::from(sig.exit_code()));
                }
            }
        })
    };
    // (detached: it ends with the process)
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(watcher);
}

#[cfg(not(unix))]
fn watch_signals(_: &Run) {}

/// The one line printed when a signal stopped the run: why, what this run did, and where
/// to look.
fn interrupted_line(run: &Run, signal: migrate::interrupt::Signal, e: &anyhow::Error) -> String {
    let done = ui::done_in_this_run();
    let did = if done.is_empty() {
        "nothing was applied or rolled back by this run".to_string()
    } else {
        format!("done by this run and kept: {}", done.join(", "))
    };
    let cause = message(run, e);
    let cause = if cause.starts_with("interrupted by") {
        "stopped before its next step".to_string()
    } else {
        cause
    };
    format!(
        "interrupted by {}: {cause}; {did}; run `migrate status` to see the database",
        signal.name()
    )
}

/// `migrate --version`: the binary's version and each embedded set with its newest migration.
fn long_version() -> &'static str {
    use migrate::config::{Config, EMBEDDED};
    let mut text = env!("CARGO_PKG_VERSION").to_string();
    text.push_str("\nembedded sets:");
    if let Ok(config) = Config::parse(EMBEDDED, "embedded migrations.toml", None) {
        for set in &config.sets {
            let newest = migrate::sets::embedded_files(&set.dir)
                .and_then(|files| migrate::sets::load_migrations(&files).ok())
                .and_then(|m| m.last().map(|m| format!("{:04} {}", m.version, m.name)))
                .unwrap_or_else(|| "no migrations".into());
            text.push_str(&format!(
                "\n  {} (schema {}): newest {newest}",
                set.name, set.schema
            ));
        }
    }
    // Built once per process, for clap's `&'static str`.
    Box::leak(text.into_boxed_str())
}

/// The output format the raw arguments ask for, for errors found while parsing them.
fn format_of_args() -> cli::Format {
    let args: Vec<String> = std::env::args().collect();
    let mut format = cli::Format::Text;
    for (i, a) in args.iter().enumerate() {
        let value = match a.strip_prefix("--format=") {
            Some(v) => Some(v),
            None if a == "--format" => args.get(i + 1).map(String::as_str),
            None => None,
        };
        match value {
            Some("json") => format = cli::Format::Json,
            Some("ndjson") => format = cli::Format::Ndjson,
            _ if a == "--json" => format = cli::Format::Json,
            _ => {}
        }
    }
    format
}

fn main() -> ExitCode {
    dotenv::load();
    let format_flag = format_of_args();
    let json_flag = format_flag != cli::Format::Text;
    // The long version names each embedded set's newest migration, which loads (lexes and
    // hashes) every embedded file: built only when `--version` asks for it, not on every run.
    let mut command = cli::Cli::command();
    if std::env::args_os().any(|a| a == "--version") {
        command = command.long_version(long_version());
    }
    let parsed = command
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) || !json_flag
            {
                let _ = e.print();
                return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
            }
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let text = first.trim_start_matches("error: ").to_string();
            ui::init(format_flag, 0);
            report(true, &redact_line(&Run::new(), &text), 2);
            return ExitCode::from(2);
        }
    };
    let mut cli = cli;
    let format = match (cli.global.json, cli.global.format) {
        (true, Some(f)) if f != cli::Format::Json => {
            ui::init(cli::Format::Json, 0);
            report(
                true,
                "--json is --format json: pass one of --json and --format",
                2,
            );
            return ExitCode::from(2);
        }
        (true, _) => cli::Format::Json,
        (false, f) => f.unwrap_or(cli::Format::Text),
    };
    let verbosity = if cli.global.quiet {
        -1
    } else {
        cli.global.verbose.min(3) as i8
    };
    let markdown = format == cli::Format::Markdown;
    if markdown && !matches!(cli.command, cli::Command::Lint { .. }) {
        ui::init(cli::Format::Text, 0);
        report(
            false,
            "--format markdown is for `migrate lint`; other verbs print text, json or ndjson",
            2,
        );
        return ExitCode::from(2);
    }
    let format = if markdown { cli::Format::Text } else { format };
    ui::init(format, verbosity);
    match cli.command {
        cli::Command::Completions { shell } => {
            let mut command = cli::Cli::command();
            clap_complete::generate(shell, &mut command, "migrate", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        cli::Command::Man => {
            let page = clap_mangen::Man::new(cli::Cli::command().long_version(long_version()));
            return match page.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    report(
                        cli.global.json,
                        &format!("cannot write the manual page: {e}"),
                        1,
                    );
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    // Every verb prints machine output when `json` is set; NDJSON turns the document into
    // the last event.
    cli.global.json = format != cli::Format::Text;
    if markdown {
        cli.global.format = Some(cli::Format::Markdown);
    }
    // Only fails when a subscriber is already set, which nothing else does.
    let run = Run::new();
    let _ = tracing::subscriber::set_global_default(notices::Notices(run.clone()));
    let json = cli.global.json;
    // diff follows `git diff --exit-code`: 1 means drift, so no error is 1.
    let is_diff = matches!(cli.command, cli::Command::Diff { .. });
    // The verb runs on this thread (in a local task set, so that helpers such as the
    // server-progress reader run beside it), which also waits on the sockets itself: no
    // other thread relays each answer of the server. The signal watcher has a thread of its
    // own (`watch_signals`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(json, &format!("cannot start the async runtime: {e}"), 1);
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    watch_signals(&run);
    let result = local.block_on(&runtime, commands::run(cli, run.clone()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // (a verb that reported its own end, a fleet stopped by a signal among them)
        Err(e) if e.downcast_ref::<commands::Reported>().is_some() => ExitCode::from(
            match (run.received(), e.downcast_ref::<commands::Reported>()) {
                (Some(signal), _) => signal.exit_code(),
                (None, reported) => reported.map_or(1, |r| r.0),
            },
        ),
        Err(e) if run.received().is_some() => {
            let signal = run.received().expect("checked");
            report(
                json,
                &interrupted_line(&run, signal, &e),
                signal.exit_code(),
            );
            ExitCode::from(signal.exit_code())
        }
        Err(e) => match e.downcast_ref::<commands::Reported>() {
            Some(reported) => ExitCode::from(reported.0),
            None => {
                // diff's 1 means drift: its other failures are 2; unreachable stays 3.
                let code = match exit_code(&e) {
                    1 if is_diff => 2,
                    code => code,
                };
                report(json, &message(&run, &e), code);
                ExitCode::from(code)
            }
        },
    }
}
