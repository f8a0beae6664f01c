//! Whether a set's schemas hold what the set expects: which schemas a set's comparison
//! covers, and the comparison itself, shared by `diff` and `verify`.
//!
//! A set's comparison covers its home schema, the schemas its expected catalog names, and
//! every other schema of the database that is neither the platform's nor another configured
//! set's: an object in a schema nobody expects is drift, not noise. A schema only the
//! database has counts when it holds objects: an empty one (such as `public` when the sets
//! live elsewhere) is where objects could go, not one.

use crate::catalog::{is_platform_schema, Catalog};
use crate::config::MigrationSet;
use crate::diff::{compare, Drift};

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
    let holds_objects = |s: &str| {
        actual.objects.iter().any(|(key, o)| {
            o.schema.as_deref() == Some(s)
                && key != &format!("schema {s}")
                && key != &format!("grants on schema {s}")
        })
    };
    scope.extend(
        actual
            .schemas_used()
            .into_iter()
            .filter(|s| !is_platform_schema(s) && !theirs.contains(s) && holds_objects(s)),
    );
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
