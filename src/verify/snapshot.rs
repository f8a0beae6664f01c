//! The expected catalog of a set: what its migrations create, as canonical text. Built by
//! applying every migration to an empty database and subtracting what the empty database
//! already had; committed as `schema/<set>/expected_catalog.txt` so that every change to a
//! migration shows its effect on the schema in review, and so `diff` and `verify` know what a
//! database should hold.
//!
//! Beside it, `schema/<set>/expected_versions.txt` records what each migration created,
//! changed or removed. Replayed up to a version it gives the expected catalog at that
//! version, and it says which migration made each object: `verify` needs both and, with them
//! committed and embedded, never has to build anything on a scratch database. Its form:
//!
//! ```text
//! == 0002 core_tables
//! table users
//!   <body, as in expected_catalog.txt>
//!
//! removed index idx_old
//! ```

use crate::catalog::{self, Catalog, CatalogError};
use crate::config::MigrationSet;
use crate::engine::{self, EngineError};
use crate::run::Run;
use sqlx::PgConnection;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("set `{set}`: {file} is not canonical catalog text (line {line}); regenerate it with `migrate snapshot --set {set}`")]
    Malformed {
        set: String,
        file: String,
        line: usize,
    },
    #[error(
        "set `{set}` has no {file}; create it with `migrate snapshot --set {set}` and commit it"
    )]
    Missing { set: String, file: String },
    #[error("set `{set}`: {file} does not end at the expected catalog; regenerate both with `migrate snapshot --set {set}`")]
    Inconsistent { set: String, file: String },
}

/// The expected catalog after each migration: `(version, name, catalog)`, oldest first.
pub type Steps = Vec<(i64, String, Catalog)>;

/// Applies `set` to the empty database `conn` is connected to and returns the catalog of
/// the objects its migrations created or changed.
pub async fn build(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
) -> Result<Catalog, SnapshotError> {
    let steps = per_migration(run, conn, set).await?;
    Ok(steps
        .into_iter()
        .last()
        .map(|(_, _, c)| c)
        .unwrap_or_default())
}

/// A committed file of `set`'s directory, or the error that says how to make it.
fn committed_text<'s>(
    set: &'s MigrationSet,
    text: &'s Option<String>,
    name: &str,
) -> Result<(&'s str, String), SnapshotError> {
    let file = format!("{}/{name}", set.dir_shown());
    match text.as_deref() {
        Some(text) => Ok((text, file)),
        None => Err(SnapshotError::Missing {
            set: set.name.clone(),
            file,
        }),
    }
}

/// The committed expected catalog of `set`.
pub fn committed(set: &MigrationSet) -> Result<Catalog, SnapshotError> {
    let (text, file) = committed_text(set, &set.expected_catalog, crate::config::EXPECTED_CATALOG)?;
    catalog::parse(text).map_err(|line| SnapshotError::Malformed {
        set: set.name.clone(),
        file,
        line,
    })
}

/// The catalog after each migration of `set`, applied one by one to the empty database
/// `conn` is connected to: `(version, name, catalog)`, oldest first. Says which migration
/// made each object, and what the schema should be at any applied version.
pub async fn per_migration(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
) -> Result<Steps, SnapshotError> {
    let limits = engine::Limits::new(&set.lock_timeout).in_run(run);
    // one read per migration on this session: the queries are planned once
    let before = catalog::introspect_again(run, conn, &set.schema)
        .await?
        .catalog
        .as_sets_see_it(&set.schema);
    let mut steps = Vec::new();
    for (i, m) in set.migrations.iter().enumerate() {
        engine::up(conn, set, Some(m.version), limits.clone(), &|_| {}).await?;
        // the graph is committed with the last catalog (what a repair plans against)
        let last = i + 1 == set.migrations.len();
        let after = if last {
            catalog::introspect_with_dependencies(run, conn, &set.schema).await?
        } else {
            catalog::introspect_again(run, conn, &set.schema).await?
        };
        let after = after.catalog.as_sets_see_it(&set.schema);
        let objects = after
            .objects
            .into_iter()
            .filter(|(key, object)| before.objects.get(key) != Some(object))
            .map(|(key, mut object)| {
                object.schema = None;
                (key, object)
            })
            .collect();
        let objects: std::collections::BTreeMap<String, catalog::CatalogObject> = objects;
        let dependencies = after
            .dependencies
            .into_iter()
            .map(|(key, needs)| {
                let needs = needs
                    .into_iter()
                    .filter(|n| objects.contains_key(n))
                    .collect::<std::collections::BTreeSet<String>>();
                (key, needs)
            })
            .filter(|(key, needs)| objects.contains_key(key) && !needs.is_empty())
            .collect();
        steps.push((
            m.version,
            m.name.clone(),
            Catalog {
                objects,
                dependencies,
                ..Catalog::default()
            },
        ));
    }
    Ok(steps)
}

/// The migration that last created or changed `key`, from [`per_migration`]'s steps.
pub fn made_by(steps: &[(i64, String, Catalog)], key: &str) -> Option<(i64, String)> {
    let mut owner = None;
    let mut previous: Option<&String> = None;
    for (version, name, catalog) in steps {
        let body = catalog.objects.get(key).map(|o| &o.body);
        if body.is_some() && body != previous {
            owner = Some((*version, name.clone()));
        }
        previous = body;
    }
    owner
}

const VERSION_HEADER: &str = "== ";
const REMOVED: &str = "removed ";

/// The text of `expected_versions.txt` for `steps`: per migration, what it created or
/// changed (canonical text) and what it removed.
pub fn render_versions(steps: &[(i64, String, Catalog)]) -> String {
    let mut out = String::new();
    let empty = Catalog::default();
    let mut previous = &empty;
    for (version, name, catalog) in steps {
        out.push_str(&format!("{VERSION_HEADER}{version:04} {name}\n"));
        let made = Catalog {
            objects: catalog
                .objects
                .iter()
                .filter(|(k, o)| previous.objects.get(*k) != Some(*o))
                .map(|(k, o)| (k.clone(), o.clone()))
                .collect(),
            ..Catalog::default()
        };
        out.push_str(&catalog::render(&made));
        for key in previous.objects.keys() {
            if !catalog.objects.contains_key(key) {
                out.push_str(&format!("{REMOVED}{key}\n"));
            }
        }
        previous = catalog;
    }
    out
}

/// Reads `expected_versions.txt` back into the catalog after each migration; `Err` with the
/// line number of anything malformed.
pub fn parse_versions(text: &str) -> Result<Steps, usize> {
    let mut steps: Steps = Vec::new();
    let mut current = Catalog::default();
    let mut section: Option<(i64, String, usize, Vec<&str>)> = None;
    let finish = |section: Option<(i64, String, usize, Vec<&str>)>,
                  current: &mut Catalog,
                  steps: &mut Steps|
     -> Result<(), usize> {
        let Some((version, name, first_line, lines)) = section else {
            return Ok(());
        };
        let mut made = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            match line.strip_prefix(REMOVED) {
                Some(key) => {
                    current.objects.remove(key).ok_or(first_line + i + 1)?;
                }
                None => made.push(*line),
            }
        }
        let made = catalog::parse(&made.join("\n")).map_err(|l| first_line + l)?;
        current.objects.extend(made.objects);
        steps.push((version, name, current.clone()));
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        if let Some(header) = line.strip_prefix(VERSION_HEADER) {
            finish(section.take(), &mut current, &mut steps)?;
            let (version, name) = header.split_once(' ').ok_or(i + 1)?;
            let version: i64 = version.parse().map_err(|_| i + 1)?;
            section = Some((version, name.to_string(), i + 1, Vec::new()));
        } else {
            match section.as_mut() {
                Some((_, _, _, lines)) => lines.push(line),
                None if line.is_empty() => {}
                None => return Err(i + 1),
            }
        }
    }
    finish(section, &mut current, &mut steps)?;
    Ok(steps)
}

/// The committed expected catalog after each migration of `set`, checked to end at the
/// committed expected catalog.
pub fn committed_versions(set: &MigrationSet) -> Result<Steps, SnapshotError> {
    let (text, file) = committed_text(
        set,
        &set.expected_versions,
        crate::config::EXPECTED_VERSIONS,
    )?;
    let steps = parse_versions(text).map_err(|line| SnapshotError::Malformed {
        set: set.name.clone(),
        file: file.clone(),
        line,
    })?;
    let last = steps.last().map(|(_, _, c)| c.clone()).unwrap_or_default();
    let versions: Vec<i64> = steps.iter().map(|(v, _, _)| *v).collect();
    let known: Vec<i64> = set.migrations.iter().map(|m| m.version).collect();
    if last != committed(set)? || versions != known {
        return Err(SnapshotError::Inconsistent {
            set: set.name.clone(),
            file,
        });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn catalog(items: &[(&str, &str)]) -> Catalog {
        Catalog::from_bodies(items)
    }

    #[test]
    fn per_version_catalogs_round_trip_through_their_deltas() {
        let steps: Steps = vec![
            (
                1,
                "a".into(),
                catalog(&[("table t", "table"), ("index i", "CREATE INDEX i")]),
            ),
            (
                2,
                "b".into(),
                catalog(&[("table t", "table\nrow level security enabled")]),
            ),
            (
                3,
                "c".into(),
                catalog(&[
                    ("table t", "table\nrow level security enabled"),
                    ("schema s", ""),
                ]),
            ),
        ];
        let text = render_versions(&steps);
        assert!(
            text.contains(
                "== 0002 b\ntable t\n  table\n  row level security enabled\n\nremoved index i\n"
            ),
            "{text}"
        );
        assert_eq!(parse_versions(&text).unwrap(), steps);
        assert_eq!(made_by(&steps, "table t"), Some((2, "b".into())));
        assert_eq!(made_by(&steps, "schema s"), Some((3, "c".into())));
        assert_eq!(parse_versions("table t\n"), Err(1));
        assert_eq!(parse_versions("== 0001 a\nremoved index nope\n"), Err(2));
    }
}
