//! `export --supabase DIR`: the sets as a Supabase CLI migrations folder, for teams that
//! deploy with `supabase db push`. The Supabase CLI runs each file in a transaction of its
//! own, where `CREATE INDEX CONCURRENTLY` cannot run; so a `-- migrate:no-transaction`
//! migration becomes one file per statement, the form the CLI can run concurrently built
//! indexes in. File names sort in migration order: `2024MM<set><version><part>_<set>_<name>.sql`
//! (14 digits: `202401`, the set's place in the configuration, the four-digit version, a
//! two-digit part). Each transactional file first sets `search_path` to the set's schema for
//! its transaction, as the engine does. After deploying, `migrate adopt --from supabase`
//! hands the database to `migrate`.

use super::*;
use anyhow::{bail, Context, Result};
use migrate::config::MigrationSet;
use migrate::engine;
use migrate::sets::split::split;
use serde_json::json;
use std::path::Path;

/// The files of `set` (the `index`th set) as `(file name, contents)`, in order.
fn files_of(set: &MigrationSet, index: usize) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for m in &set.migrations {
        let stamp = |part: usize| format!("202401{index:02}{:04}{part:02}", m.version);
        let header = format!(
            "-- {} {:04} {}, exported by migrate from {} (sha256 {})\n",
            set.name, m.version, m.name, m.up.path, m.checksum
        );
        if !m.up.no_transaction {
            let mut text = header;
            if set.schema != "public" {
                text.push_str(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {};\n",
                    engine::quote_ident(&set.schema)
                ));
            }
            // As the engine runs a migration: the set's schema only (functions created with
            // SET search_path FROM CURRENT pin it), for this transaction.
            text.push_str(&format!(
                "SELECT set_config('search_path', quote_ident('{}'), true);\n",
                set.schema
            ));
            text.push_str(&m.up.sql);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            out.push((format!("{}_{}_{}.sql", stamp(0), set.name, m.name), text));
            continue;
        }
        if set.schema != "public" {
            bail!(
                "set `{}`: {} runs without a transaction, so its exported statements cannot carry a search_path; export the set installed into public",
                set.name,
                m.up.path
            );
        }
        // Checked when the set was loaded: it splits.
        for (part, st) in split(&m.up.sql)?.iter().enumerate() {
            out.push((
                format!(
                    "{}_{}_{}_{}.sql",
                    stamp(part + 1),
                    set.name,
                    m.name,
                    part + 1
                ),
                format!(
                    "{header}-- statement {} of a migration that runs without a transaction\n{};\n",
                    part + 1,
                    st.text
                ),
            ));
        }
    }
    Ok(out)
}

pub(super) async fn export(g: &Ctx<'_>, sets: &[MigrationSet], dir: &Path) -> Result<()> {
    super::apply::check_distinct_schemas(sets)?;
    let mut files = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        files.extend(files_of(set, index)?);
    }
    // never overwrite a different file of the same name
    for (name, text) in &files {
        let path = dir.join(name);
        if path.exists() && std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            bail!(
                "{} exists with other contents; export into an empty folder or remove it",
                path.display()
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if g.json {
        print_json(
            json!({ "command": "export", "format": "supabase", "dir": dir,
            "files": files.iter().map(|(n, _)| n).collect::<Vec<_>>() }),
        )?;
    } else {
        for (name, _) in &files {
            outln!("{}", dir.join(name).display());
        }
        outln!(
            "{} file(s); after `supabase db push`, run `migrate adopt --from supabase` to hand the database to migrate",
            files.len()
        );
    }
    Ok(())
}
