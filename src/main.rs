//! The `migrate` binary: parse the command line, run the verb, and turn an error into one
//! line on standard error (or a JSON document with `--json`) and an exit code.

mod cli;
mod commands;
mod notices;

use clap::Parser;
use migrate::cluster::ClusterError;
use migrate::config::ConfigError;
use migrate::engine::EngineError;
use migrate::redact::redact_text;
use std::process::ExitCode;

/// One line, passwords redacted: how server text is shown.
fn redact_line(text: &str) -> String {
    migrate::engine::error::one_line(&redact_text(text))
}

fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(e) = cause.downcast_ref::<EngineError>() {
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

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Only fails when a subscriber is already set, which nothing else does.
    let _ = tracing::subscriber::set_global_default(notices::Notices);
    let json = cli.global.json;
    // diff follows `git diff --exit-code`: 1 means drift, so every error is 2.
    let is_diff = matches!(cli.command, cli::Command::Diff { .. });
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<commands::DriftFound>() => ExitCode::from(1),
        Err(e) => {
            let code = if is_diff { 2 } else { exit_code(&e) };
            let message = redact_text(&format!("{e:#}"));
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": message, "exit_code": code })
                );
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(code)
        }
    }
}
