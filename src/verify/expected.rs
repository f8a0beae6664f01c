//! Whether a set's schemas hold what the set expects: which schemas a set's comparison
//! covers, the comparison itself, shared by `diff` and `verify`, and the checks of `verify`
//! that stand on it.
//!
//! A set's comparison covers its home schema, the schemas its expected catalog names, and
//! every other schema of the database that is neither the platform's nor another configured
//! set's: an object in a schema nobody expects is drift, not noise, and so is the schema
//! itself, empty or not. Only an empty `public` (every database has it, and it is where
//! objects could go when the sets live elsewhere) does not count; default privileges in it
//! (Supabase sets some) do not make it hold anything.

use super::Check;
use crate::catalog::model::Kind;
use crate::catalog::{is_platform_schema, Catalog};
use crate::config::MigrationSet;
use crate::diff::{compare, Drift};
use crate::run::Run;
use crate::verify::snapshot::{self, SnapshotError};
use sqlx::PgConnection;

/// The schemas a comparison of `set` covers, given the other configured sets.
pub fn scope(
    set: &MigrationSet,
    others: &[MigrationSet],
    expected: &Catalog,
    actual: &Catalog,
) -> Vec<String> {
    let mut theirs: Vec<String> = Vec::new();
    for other in others.iter().filter(|o| o.name != set.name) {
        theirs.push(other.schema.clone());
        if let Some(Ok(c)) = other.expected_catalog.as_deref().map(crate::catalog::parse) {
            theirs.extend(c.schema_names());
        }
    }
    let mut scope = vec![set.schema.clone()];
    scope.extend(expected.schema_names());
    // (default privileges in a schema are settings for what will be made there, not
    // objects in it: Supabase sets some in `public` for its API roles)
    let holds_objects = |s: &str| {
        actual.objects.values().any(|o| {
            o.schema.as_deref() == Some(s)
                && !matches!(
                    o.kind,
                    Kind::Schema | Kind::GrantsOnSchema | Kind::DefaultPrivileges
                )
        })
    };
    scope.extend(actual.schemas_used().into_iter().filter(|s| {
        !is_platform_schema(s) && !theirs.contains(s) && (s != "public" || holds_objects(s))
    }));
    scope.sort();
    scope.dedup();
    scope
}

/// A comparison: the drift, and both catalogs as compared.
pub struct Comparison {
    pub drift: Drift,
    pub expected: Catalog,
    pub actual: Catalog,
}

impl Comparison {
    /// Compares `actual` with `expected` as they are.
    pub fn of(expected: Catalog, actual: Catalog) -> Comparison {
        Comparison {
            drift: compare(&expected, &actual),
            expected,
            actual,
        }
    }
}

/// The catalog of the database `conn` is connected to, relative to `home` and to the owner
/// `owner` (the connected role when `None`); with what depends on what when `for_repair`
/// (planning a repair needs it, comparing does not).
pub async fn read(
    run: &Run,
    conn: &mut PgConnection,
    home: &str,
    for_repair: bool,
    owner: Option<&str>,
) -> Result<Catalog, crate::catalog::CatalogError> {
    Ok(
        crate::catalog::introspect_owned_by(run, conn, home, for_repair, owner)
            .await?
            .catalog,
    )
}

/// The role that applied `set` to the database `conn` is connected to (its first
/// migration's `applied_by`): the owner the committed catalogs leave unsaid. `None` when the
/// set is not applied there (the connected role stands in).
pub async fn applier(conn: &mut PgConnection, set: &MigrationSet) -> Option<String> {
    let applied = crate::engine::history::read(conn, &set.name).await.ok()?;
    applied.first().map(|a| a.applied_by.clone())
}

/// The drift of one set: its schemas in the database `conn` is connected to, against the
/// committed expected catalog or against the database `other`.
pub async fn drift_of(
    run: &Run,
    conn: &mut PgConnection,
    other: Option<&mut PgConnection>,
    set: &MigrationSet,
    all: &[MigrationSet],
    for_repair: bool,
) -> Result<Comparison, SnapshotError> {
    let expected = match other {
        Some(other) => {
            let owner = applier(other, set).await;
            read(run, other, &set.schema, for_repair, owner.as_deref())
                .await?
                .as_sets_see_it(&set.schema)
        }
        None => snapshot::committed(set)?,
    };
    let owner = applier(conn, set).await;
    let actual = read(run, conn, &set.schema, for_repair, owner.as_deref())
        .await?
        .as_sets_see_it(&set.schema);
    Ok(compare_set(set, all, &expected, &actual))
}

/// What `actual` lacks, has in excess and has differently from `expected`, over the scope
/// of `set`.
pub fn compare_set(
    set: &MigrationSet,
    others: &[MigrationSet],
    expected: &Catalog,
    actual: &Catalog,
) -> Comparison {
    let scope = scope(set, others, expected, actual);
    Comparison::of(expected.scoped(&scope), actual.scoped(&scope))
}

/// The catalog check of `verify`: the database against the expected catalog of the applied
/// version, each drifted object attributed to the migration that made it. Both come from the
/// committed catalogs embedded in the binary, so nothing is built or written anywhere.
pub async fn catalog_check(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
    all: &[MigrationSet],
    applied_version: i64,
) -> Result<Check, SnapshotError> {
    let steps = snapshot::committed_versions(set)?;
    let expected = steps
        .iter()
        .rfind(|(v, _, _)| *v <= applied_version)
        .map(|(_, _, c)| c.clone())
        .unwrap_or_default();
    let owner = applier(conn, set).await;
    let actual = read(run, conn, &set.schema, false, owner.as_deref())
        .await?
        .as_sets_see_it(&set.schema);
    let Comparison {
        drift, expected, ..
    } = compare_set(set, all, &expected, &actual);
    let from = |key: &str| -> String {
        snapshot::made_by(&steps, key)
            .map(|(v, n)| format!(" (from {v:04} {n})"))
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    problems.extend(
        drift
            .missing
            .iter()
            .map(|k| format!("missing {k}{}", from(k))),
    );
    problems.extend(drift.unexpected.iter().map(|k| format!("unexpected {k}")));
    problems.extend(
        drift
            .changed
            .iter()
            .map(|c| format!("changed {}{}", c.object, from(&c.object))),
    );
    Ok(Check::new(
        "catalog",
        problems,
        &format!(
            "matches the expected catalog at {applied_version:04} ({} objects)",
            expected.objects.len()
        ),
        "differs from the expected catalog (migrate diff shows how)",
    ))
}

/// Every check of `verify` for one set, in order: the history, the catalog, the invariants.
pub async fn checks(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
    all: &[MigrationSet],
) -> Result<Vec<Check>, SnapshotError> {
    let applied = crate::engine::history::read(conn, &set.name).await?;
    let mut checks = super::history_checks(set, &applied);
    let applied_version = applied.iter().map(|a| a.version).max().unwrap_or(0);
    checks.push(catalog_check(run, conn, set, all, applied_version).await?);
    let mut schemas = vec![set.schema.clone()];
    if let Some(text) = &set.expected_catalog {
        if let Ok(c) = crate::catalog::parse(text) {
            schemas.extend(c.schema_names());
        }
    }
    checks.extend(super::invariants(conn, &schemas).await?);
    Ok(checks)
}
