//! The expected catalog of a set: what its migrations create, as canonical text. Built by
//! applying every migration to an empty database and subtracting what the empty database
//! already had; committed as `schema/<set>/expected_catalog.txt` so that every change to a
//! migration shows its effect on the schema in review, and so `diff` and `verify` know what a
//! database should hold.

use crate::catalog::{self, Catalog, CatalogError};
use crate::config::MigrationSet;
use crate::engine::{self, EngineError};
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
}

/// Applies `set` to the empty database `conn` is connected to and returns the catalog of
/// the objects its migrations created or changed.
pub async fn build(conn: &mut PgConnection, set: &MigrationSet) -> Result<Catalog, SnapshotError> {
    let before = catalog::introspect(conn, &set.schema).await?.catalog;
    engine::up(conn, set, None, &set.lock_timeout, &|_| {}).await?;
    let after = catalog::introspect(conn, &set.schema).await?.catalog;
    let objects = after
        .objects
        .into_iter()
        .filter(|(key, object)| before.objects.get(key) != Some(object))
        .map(|(key, mut object)| {
            object.schema = None;
            (key, object)
        })
        .collect();
    Ok(Catalog { objects })
}

/// The committed expected catalog of `set`.
pub fn committed(set: &MigrationSet) -> Result<Catalog, SnapshotError> {
    let file = format!("schema/{}/{}", set.name, crate::config::EXPECTED_CATALOG);
    let text = set
        .expected_catalog
        .as_deref()
        .ok_or_else(|| SnapshotError::Missing {
            set: set.name.clone(),
            file: file.clone(),
        })?;
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
    conn: &mut PgConnection,
    set: &MigrationSet,
) -> Result<Vec<(i64, String, Catalog)>, SnapshotError> {
    let before = catalog::introspect(conn, &set.schema).await?.catalog;
    let mut steps = Vec::new();
    for m in &set.migrations {
        engine::up(conn, set, Some(m.version), &set.lock_timeout, &|_| {}).await?;
        let after = catalog::introspect(conn, &set.schema).await?.catalog;
        let objects = after
            .objects
            .into_iter()
            .filter(|(key, object)| before.objects.get(key) != Some(object))
            .collect();
        steps.push((m.version, m.name.clone(), Catalog { objects }));
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
