//! `migrate new SET NAME`: the next-numbered pair of migration files in the set's directory,
//! with a short header and, when asked, the `no-transaction` and `irreversible` directives.
//! Nothing connects to a database.

use super::Ctx;
use super::{print_json, UsageError};
use anyhow::Result;
use migrate::config::Config;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The longest name `new` accepts: file names stay well within every file system's 255
/// bytes, and readable in a listing.
const MAX_NAME: usize = 100;

/// Where the next migration of `set_name` called `name` goes: (version, stem, up, down),
/// after every check of the name and the set's directory.
fn target(config: &Config, set_name: &str, name: &str) -> Result<(i64, String, PathBuf, PathBuf)> {
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
    Ok((version, stem, up, down))
}

/// Creates `up` and `down` with their texts, never overwriting: a file that appeared
/// meanwhile is left alone, and the up file is removed again when the down cannot be made.
fn write_pair(up: &Path, up_text: &str, down: &Path, down_text: &str) -> Result<()> {
    let write = |path: &Path, text: &str| -> Result<()> {
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
    write(up, up_text)?;
    if let Err(e) = write(down, down_text) {
        let _ = std::fs::remove_file(up);
        return Err(e);
    }
    Ok(())
}

pub(super) fn new(
    g: &Ctx<'_>,
    config: &Config,
    set_name: &str,
    name: &str,
    no_transaction: bool,
    irreversible: bool,
) -> Result<()> {
    let (version, stem, up, down) = target(config, set_name, name)?;
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
    write_pair(&up, &up_text, &down, &down_text)?;
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

/// Where the desired schema comes from.
pub(super) enum Desired<'a> {
    /// A database holding it (`--from URL`).
    Database(&'a str),
    /// Declarative SQL files, as (path shown, text) (`--from-file`).
    Files(Vec<(String, String)>),
}

/// What `new --from` is given besides the set and the name.
pub(super) struct From<'a> {
    pub desired: Desired<'a>,
    pub schemas: &'a [String],
    pub allow_data_loss: bool,
    /// Everything in one transactional migration (`--one-migration`).
    pub one_migration: bool,
}

/// `new SET NAME --from URL`: the pair generated from the desired database and proven on a
/// scratch database; written only when the proof passes.
pub(super) async fn new_from(
    g: &Ctx<'_>,
    config: &Config,
    all: &[migrate::config::MigrationSet],
    set_name: &str,
    name: &str,
    from: From<'_>,
    server: &migrate::verify::scratch::ScratchServer,
) -> Result<()> {
    let (version, stem, up, down) = target(config, set_name, name)?;
    let set = all
        .iter()
        .find(|s| s.name == set_name)
        .ok_or_else(|| anyhow::anyhow!("set `{set_name}` does not load; fix its files first"))?;
    let mut owned: Vec<String> = vec![set.schema.clone()];
    if let Ok(committed) = migrate::verify::snapshot::committed(set) {
        owned.extend(committed.schema_names());
    }
    owned.extend(from.schemas.iter().cloned());
    use migrate::verify::generate::{generate, Choices};
    let choices = Choices {
        owned: &owned,
        allow_data_loss: from.allow_data_loss,
        one_migration: from.one_migration,
    };
    crate::ui::spinner("new", &format!("generating {stem} and proving it"));
    let generated = match &from.desired {
        Desired::Database(url) => {
            let mut desired = super::connect_held_by(&g.run, url, "--from").await?;
            generate(&g.run, server, set, all, &mut desired, choices).await
        }
        Desired::Files(files) => {
            server
                .with_database("declared", async |desired: &mut sqlx::PgConnection| {
                    super::apply_declared(desired, set, files).await?;
                    Ok::<_, anyhow::Error>(
                        generate(&g.run, server, set, all, desired, choices).await,
                    )
                })
                .await?
        }
    };
    crate::ui::finish();
    let source = match &from.desired {
        Desired::Database(url) => format!("the database {}", migrate::redact::redact_url(url)),
        Desired::Files(files) => format!(
            "the schema files ({})",
            files
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // The engine's and the scratch server's errors keep their exit codes.
    use migrate::verify::generate::GenerateError;
    let generated = generated.map_err(|e| match e {
        GenerateError::Engine(e) => anyhow::Error::from(e),
        GenerateError::Scratch(e) => anyhow::Error::from(e),
        GenerateError::Snapshot(e) => anyhow::Error::from(e),
    })?;
    let refusal = if !generated.outside.is_empty() {
        Some(format!(
            "{source} differs from set `{set_name}` outside the schemas the set owns ({}): {}; pass --schema NAME for each schema that belongs to the set, or leave those objects out",
            owned.join(", "),
            generated.outside.join(", ")
        ))
    } else if generated.up.is_empty() {
        Some(format!(
            "{source} holds what set `{set_name}` holds at {:04}: there is nothing to generate",
            set.latest()
        ))
    } else if !generated.online_up.is_empty() && version >= 9999 {
        Some(format!(
            "the concurrent half would be migration {}, past the last four-digit version; generate with --one-migration",
            version + 1
        ))
    } else if !generated.failures.is_empty() {
        Some(format!(
            "the generated pair fails its proof, so nothing was written: {}",
            generated.failures.join("; ")
        ))
    } else {
        None
    };
    let header = |stem: &str, what: &str| {
        format!(
            "-- {stem}: {}.\n-- {what}, generated by `migrate new --from` and proven on a scratch database: review it before you commit.\n",
            name.replace('_', " ")
        )
    };
    // The second migration: what runs after the first without a transaction.
    let online = !generated.online_up.is_empty();
    let second = online.then(|| {
        let stem2 = format!("{:04}_{name}_concurrently", version + 1);
        let dir = up.parent().unwrap_or(Path::new("."));
        (
            version + 1,
            stem2.clone(),
            dir.join(format!("{stem2}.up.sql")),
            dir.join(format!("{stem2}.down.sql")),
        )
    });
    let concurrently = "-- Statement by statement, outside a transaction, so that no write waits while a table is read: indexes built CONCURRENTLY, constraints validated.\n";
    let alone = if generated.no_transaction {
        format!("{}\n{concurrently}", migrate::sets::NO_TRANSACTION)
    } else {
        String::new()
    };
    let mut texts = vec![(
        version,
        stem.clone(),
        up.clone(),
        down.clone(),
        format!(
            "{alone}{}{}\n",
            header(&stem, "From the set's head to the desired schema"),
            generated.up.join("\n")
        ),
        format!(
            "{alone}{}{}\n",
            header(&stem, "Back from the desired schema to the set's head"),
            generated.down.join("\n")
        ),
    )];
    if let Some((v2, stem2, up2, down2)) = &second {
        texts.push((
            *v2,
            stem2.clone(),
            up2.clone(),
            down2.clone(),
            format!(
                "{}\n{}{concurrently}{}\n",
                migrate::sets::NO_TRANSACTION,
                header(stem2, &format!("After {stem}")),
                generated.online_up.join("\n")
            ),
            format!(
                "{}\n{}{concurrently}{}\n",
                migrate::sets::NO_TRANSACTION,
                header(stem2, &format!("Back to where {stem} left the schema")),
                generated.online_down.join("\n")
            ),
        ));
    }
    if refusal.is_none() {
        let mut written: Vec<(&PathBuf, &PathBuf)> = Vec::new();
        for (_, _, u, d, ut, dt) in &texts {
            if let Err(e) = write_pair(u, ut, d, dt) {
                for (u, d) in written {
                    let _ = std::fs::remove_file(u);
                    let _ = std::fs::remove_file(d);
                }
                return Err(e);
            }
            written.push((u, d));
        }
    }
    // What lint's trace finds in the generated migrations, on the scratch server: printed,
    // not a refusal (`migrate lint` is the gate).
    let mut reports = Vec::new();
    // With a database to migrate (--database-url or DATABASE_URL), lint weighs the locks
    // against its tables, read only. Without one, or when it cannot be reached, findings
    // that depend on a table's size are warnings at most.
    let mut live = None;
    if let (None, Some(url)) = (&refusal, g.database_url.as_deref()) {
        match super::connect(&g.run, url).await {
            Ok(mut c) => {
                if sqlx::raw_sql("SET default_transaction_read_only = on")
                    .execute(&mut c)
                    .await
                    .is_ok()
                {
                    live = Some(c);
                }
            }
            Err(e) => eprintln!("warning: lint weighs nothing against the live tables: {e}"),
        }
    }
    if refusal.is_none() {
        crate::ui::spinner("new", &format!("tracing {stem}'s locks"));
        let mut traced = set.clone();
        let lint = migrate::lint::Lint {
            run: &g.run,
            server,
            thresholds: migrate::lint::rules::Thresholds::from(config.lint),
        };
        for (v, stem, u, d, ut, dt) in &texts {
            let file = |path: &PathBuf, sql: &str| migrate::sets::SqlFile {
                path: path.display().to_string(),
                sql: sql.to_string(),
                no_transaction: sql.starts_with(migrate::sets::NO_TRANSACTION),
                irreversible: false,
            };
            let m = migrate::sets::Migration {
                version: *v,
                name: stem
                    .split_once('_')
                    .map_or(stem.as_str(), |(_, n)| n)
                    .to_string(),
                up: file(u, ut),
                down: file(d, dt),
                checksum: migrate::sets::sha256_hex(ut.as_bytes()),
            };
            traced.migrations.push(m.clone());
            match lint.migration(&traced, &m, live.as_mut()).await {
                Ok(r) => reports.push(r),
                Err(e) => {
                    crate::ui::finish();
                    eprintln!("warning: lint could not trace {stem}: {e}");
                }
            }
        }
        crate::ui::finish();
    }
    let commented = |statements: &[String]| {
        statements
            .iter()
            .filter(|s| s.starts_with("-- data loss:"))
            .count()
    };
    if g.json {
        let second_json = second.as_ref().map(|(v2, _, up2, down2)| {
            json!({
                "migration": v2, "up": up2, "down": down2,
                "up_sql": generated.online_up, "down_sql": generated.online_down,
            })
        });
        print_json(json!({
            "command": "new", "set": set_name, "migration": version, "name": name,
            "from": source,
            "written": refusal.is_none(),
            "up": up, "down": down,
            "renames": generated.renamed, "creates": generated.missing, "removes": generated.unexpected, "changes": generated.changed,
            "up_sql": generated.up, "down_sql": generated.down,
            "concurrently": second_json,
            "outside": generated.outside, "proof": if generated.failures.is_empty() { "pass" } else { "fail" },
            "failures": generated.failures,
            "lint": reports, "lint_live_sizes": live.is_some(),
            "refused": refusal,
        }))?;
    } else if refusal.is_none() {
        for (_, _, u, d, _, _) in &texts {
            let count = |p: &PathBuf| {
                if p == &up {
                    generated.up.len()
                } else if p == &down {
                    generated.down.len()
                } else if Some(p) == second.as_ref().map(|s| &s.2) {
                    generated.online_up.len()
                } else {
                    generated.online_down.len()
                }
            };
            outln!("created {} ({} statement(s))", u.display(), count(u));
            outln!("created {} ({} statement(s))", d.display(), count(d));
        }
        for (what, list) in [
            ("renames", &generated.renamed),
            ("creates", &generated.missing),
            ("removes", &generated.unexpected),
            ("changes", &generated.changed),
        ] {
            if !list.is_empty() {
                outln!("  {what}: {}", list.join(", "));
            }
        }
        if let Some((_, stem2, _, _)) = &second {
            outln!(
                "{stem2} runs without a transaction after {stem}: {} statement(s) that read tables which exist at the head without blocking their writes (indexes built CONCURRENTLY, constraints validated); --one-migration keeps everything in {stem}",
                generated.online_up.len()
            );
            outln!("proof: PASS (the up gives the desired catalog, the down gives the head's back, the up again the desired one; each migration's down gives back the catalog its up started from)");
        } else {
            outln!("proof: PASS (the up gives the desired catalog, the down gives the head's back, the up again the desired one)");
        }
        if !generated.renamed.is_empty() {
            outln!(
                "a column dropped and one of the same definition added on the same table are generated as a RENAME, which keeps the values; if they are different columns, write the pair by hand"
            );
        }
        let held = commented(&generated.up) + commented(&generated.down);
        if held > 0 {
            outln!(
                "{held} group(s) of statements that lose data are written commented out after their `-- data loss:` line (the proof ran them): uncomment them once reviewed, or generate with --allow-data-loss"
            );
        }
        for (file, statements) in [(&up, &generated.up), (&down, &generated.down)] {
            if statements.iter().all(|s| s.starts_with("--")) {
                outln!(
                    "{} holds only statements commented out: set `{set_name}` does not load until you review and uncomment them",
                    file.display()
                );
            }
        }
        let mut lint_text = String::new();
        for r in &reports {
            super::lint::findings_text(&mut lint_text, r, super::use_color(g));
        }
        let shown: usize = reports
            .iter()
            .map(|r| r.findings.iter().filter(|f| f.rule != "lock").count())
            .sum();
        let weighed = if live.is_some() {
            "weighed against the tables of --database-url"
        } else {
            "without the live tables' sizes; give --database-url, or run `migrate lint --database-url URL`, to weigh them"
        };
        if shown == 0 {
            outln!("lint ({weighed}): nothing blocks for long");
        } else {
            outln!("lint ({weighed}):");
            out!("{lint_text}");
        }
    }
    match refusal {
        Some(why) if g.json => {
            let _ = why;
            Err(super::Reported(1).into())
        }
        Some(why) => anyhow::bail!(why),
        None => Ok(()),
    }
}
