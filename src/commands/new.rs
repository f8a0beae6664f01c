//! `migrate new SET NAME`: the next-numbered pair of migration files in the set's directory,
//! with a short header and, when asked, the `no-transaction` and `irreversible` directives.
//! Nothing connects to a database.

use super::Ctx;
use super::{print_json, UsageError};
use anyhow::Result;
use migrate::config::Config;
use serde_json::json;

/// The longest name `new` accepts: file names stay well within every file system's 255
/// bytes, and readable in a listing.
const MAX_NAME: usize = 100;

pub(super) fn new(
    g: &Ctx<'_>,
    config: &Config,
    set_name: &str,
    name: &str,
    no_transaction: bool,
    irreversible: bool,
) -> Result<()> {
    let chosen = config.select(&[set_name.to_string()])?;
    // Read from the directory's file names, not by loading the set: a migration created
    // before and not written yet does not load, and must not stop the next one.
    let dir = config
        .base
        .as_ref()
        .map(|b| b.join(&chosen[0].dir))
        .filter(|d| d.is_dir());
    let Some(dir) = dir else {
        return Err(UsageError(format!(
            "set `{set_name}` has no directory on disk (its files are the ones embedded in this binary); run `migrate new` in the project, next to its migrations.toml, or pass --config PATH"
        ))
        .into());
    };
    if let Some(rest) = name
        .split_once('_')
        .filter(|(first, _)| !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, rest)| rest)
    {
        // `0002_add_users` or `20240101_add_users`: a file name or another tool's timestamp,
        // which would give 0003_0002_add_users and read as a version of its own.
        return Err(UsageError(format!(
            "migration name {name:?} starts with a number; migrate numbers the files itself: run `migrate new {set_name} {rest}`"
        ))
        .into());
    }
    if name.len() > MAX_NAME {
        return Err(UsageError(format!(
            "migration name is {} characters long; keep it to {MAX_NAME}, it becomes a file name",
            name.len()
        ))
        .into());
    }
    if !migrate::sets::valid_migration_name(name) {
        return Err(UsageError(format!(
            "migration name {name:?} must be lowercase letters and digits in words joined by single underscores (e.g. add_user_email): it becomes the file name NNNN_<name>.up.sql"
        ))
        .into());
    }
    let mut latest = 0;
    for entry in std::fs::read_dir(&dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some((version, existing)) = migrate::sets::version_and_name(&file) else {
            continue;
        };
        latest = latest.max(version);
        if existing == name {
            // A refusal on the state of the set (exit 1), not a malformed command (2).
            anyhow::bail!(
                "set `{set_name}` already has a migration named {name}: {}; pick another name",
                dir.join(&file).display()
            );
        }
    }
    let version = latest + 1;
    if version > 9999 {
        return Err(UsageError(format!(
            "set `{set_name}` is at version {latest:04}, the last four-digit one; versions stop at 9999"
        ))
        .into());
    }
    let stem = format!("{version:04}_{name}");
    let up = dir.join(format!("{stem}.up.sql"));
    let down = dir.join(format!("{stem}.down.sql"));
    for path in [&up, &down] {
        if path.exists() {
            anyhow::bail!(
                "{} exists already; remove it or pick another name",
                path.display()
            );
        }
    }
    let mut up_text = String::new();
    if no_transaction {
        up_text.push_str("-- migrate:no-transaction\n");
    }
    up_text.push_str(&format!(
        "-- {stem}: {}.\n-- Write the SQL that applies it below; set `{set_name}` loads again once this file holds a statement.\n",
        name.replace('_', " ")
    ));
    if no_transaction {
        up_text.push_str(
            "-- Statement by statement, outside a transaction: make each one safe to run again.\n",
        );
    }
    let down_text = if irreversible {
        "-- migrate:irreversible\n-- Say here why there is no way back; `migrate down` stops before this migration.\n".to_string()
    } else {
        format!("-- {stem}: undoes {stem}.up.sql, so that `migrate verify --roundtrip` finds the catalog as it was before.\n")
    };
    // Created, never overwritten: a file that appeared meanwhile is left alone.
    let write = |path: &std::path::Path, text: &str| -> Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        Ok(())
    };
    write(&up, &up_text)?;
    if let Err(e) = write(&down, &down_text) {
        let _ = std::fs::remove_file(&up);
        return Err(e);
    }
    if g.json {
        print_json(json!({
            "command": "new", "set": set_name, "migration": version, "name": name,
            "up": up, "down": down, "no_transaction": no_transaction, "irreversible": irreversible,
        }))?;
    } else {
        outln!("created {}", up.display());
        outln!("created {}", down.display());
    }
    Ok(())
}
