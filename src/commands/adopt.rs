//! `adopt`: take over a database another tool migrated (the Supabase CLI, refinery, sqlx).
//! For each set it finds the version whose committed expected catalog the live database
//! equals, and records that version and those before it in `migrate.history`, so that
//! `up` continues from there. It refuses, naming every difference, when the database equals
//! no version of the set, and it never records over a history this tool already holds.

use super::*;
use anyhow::{bail, Result};
use migrate::catalog::Catalog;
use migrate::config::MigrationSet;
use migrate::engine::{self, history};
use serde_json::json;
use sqlx::PgConnection;

/// The history table each tool keeps.
fn history_table(tool: &str) -> Result<&'static str> {
    Ok(match tool {
        "supabase" => "supabase_migrations.schema_migrations",
        "refinery" => "refinery_schema_history",
        "sqlx" => "_sqlx_migrations",
        other => {
            return Err(UsageError(format!(
                "--from {other:?}: the tools migrate adopts from are supabase, refinery and sqlx"
            ))
            .into())
        }
    })
}

/// The live catalog of `set`, scoped as `verify` scopes it, without the other tool's own
/// history table (sqlx and refinery keep it beside the set's tables).
async fn live(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
    expected: &Catalog,
    their_table: &str,
) -> Result<Catalog> {
    let mut scope = vec![set.schema.clone()];
    scope.extend(expected.schema_names());
    let mut catalog = migrate::catalog::introspect(run, conn, &set.schema)
        .await?
        .catalog
        .as_sets_see_it(&set.schema)
        .scoped(&scope);
    catalog.objects.retain(|key, _| {
        let name = migrate::diff::split_key(key).1;
        name != their_table && !name.starts_with(&format!("{their_table}."))
    });
    Ok(catalog)
}

pub(super) async fn adopt(g: &Ctx<'_>, sets: &[MigrationSet], tool: &str) -> Result<()> {
    let table = history_table(tool)?;
    let url = database_url(g)?;
    let mut conn = super::connect_own_session(&g.run, url).await?;
    let theirs: Option<i64> =
        match sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut conn)
            .await?
        {
            true => Some(
                sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                    .fetch_one(&mut conn)
                    .await?,
            ),
            false => None,
        };
    let Some(their_rows) = theirs else {
        bail!("this database has no {table}: it was not migrated with {tool}; nothing was adopted");
    };
    // Sets sharing a schema cannot be told apart by catalog: one set per schema.
    super::apply::check_distinct_schemas(sets)?;
    // Decide for every set first, and write only when all of them are adoptable.
    let mut decided = Vec::new();
    for set in sets {
        if !history::read(&mut conn, &set.name).await?.is_empty() {
            bail!(
                "set `{}` already has a history in migrate.history; adopt only takes over a database migrate has not migrated",
                set.name
            );
        }
        let steps = migrate::verify::snapshot::committed_versions(set)?;
        // the newest version whose catalog the database holds exactly
        let mut found = None;
        let mut nearest: Option<(usize, i64, migrate::diff::Drift)> = None;
        for (version, _, expected) in steps.iter().rev() {
            let actual = live(&g.run, &mut conn, set, expected, table).await?;
            let drift = migrate::diff::compare(expected, &actual);
            if drift.is_empty() {
                found = Some(*version);
                break;
            }
            if nearest.as_ref().is_none_or(|(n, _, _)| drift.count() < *n) {
                nearest = Some((drift.count(), *version, drift));
            }
        }
        let Some(version) = found else {
            let (_, v, drift) = nearest.expect("a set has migrations");
            let mut names: Vec<String> = drift
                .missing
                .iter()
                .map(|k| format!("missing {k}"))
                .collect();
            names.extend(drift.unexpected.iter().map(|k| format!("unexpected {k}")));
            names.extend(
                drift
                    .changed
                    .iter()
                    .map(|c| format!("changed {}", c.object)),
            );
            bail!(
                "set `{}`: the database is no version of this set; nearest is {v:04}, which differs in: {}; nothing was adopted",
                set.name,
                names.join(", ")
            );
        };
        decided.push((set, version));
    }
    history::ensure(&mut conn).await?;
    // every row or none
    let mut tx = sqlx::Connection::begin(&mut conn).await?;
    let mut reports = Vec::new();
    for (set, version) in decided {
        let mut recorded = Vec::new();
        for m in set.migrations.iter().filter(|m| m.version <= version) {
            history::insert(&mut tx, history::NewRow::of(set, m, 0))
                .await
                .map_err(engine::error::db(
                    "recording adopted migrations in migrate.history",
                ))?;
            recorded.push(m.version);
        }
        if !g.json {
            outln!(
                "{}: adopted from {tool} ({their_rows} row(s) in {table}): the database is at {version:04}; recorded {} migration(s)",
                set.name,
                recorded.len()
            );
        }
        reports.push(json!({ "set": set.name, "version": version, "recorded": recorded }));
    }
    tx.commit().await?;
    if g.json {
        print_json(
            json!({ "command": "adopt", "from": tool, "their_rows": their_rows, "sets": reports }),
        )?;
    }
    Ok(())
}
