//! Compares two catalog models: what a database should hold and what it holds. The result
//! names every object that is missing, unexpected or changed, with both definitions, and can
//! be turned into repair statements for the kinds where those are well defined (`repair`).

mod kinds;
pub mod plan;

use crate::catalog::model::Kind;
use crate::catalog::{Catalog, CatalogObject};
use serde::Serialize;

/// An object present on both sides with different definitions.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Changed {
    pub object: String,
    pub expected: String,
    pub actual: String,
}

/// Everything that differs between an expected and an actual catalog.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Drift {
    /// Expected objects the database does not have.
    pub missing: Vec<String>,
    /// Objects the database has that are not expected.
    pub unexpected: Vec<String>,
    pub changed: Vec<Changed>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.changed.is_empty()
    }
    pub fn count(&self) -> usize {
        self.missing.len() + self.unexpected.len() + self.changed.len()
    }
}

/// What `actual` lacks, has in excess, and has differently from `expected`.
pub fn compare(expected: &Catalog, actual: &Catalog) -> Drift {
    let mut drift = Drift::default();
    for (key, e) in &expected.objects {
        match actual.objects.get(key) {
            None => drift.missing.push(key.clone()),
            Some(a) if !same(e, a) => drift.changed.push(Changed {
                object: key.clone(),
                expected: e.body.clone(),
                actual: a.body.clone(),
            }),
            Some(_) => {}
        }
    }
    drift.unexpected = actual
        .objects
        .keys()
        .filter(|k| !expected.objects.contains_key(*k))
        .cloned()
        .collect();
    drift
}

/// Splits an object key into its kind and name.
pub fn split_key(key: &str) -> (&str, &str) {
    match Kind::of_key(key) {
        Some((kind, name)) => (kind.as_str(), name),
        None => key.split_once(' ').unwrap_or((key, "")),
    }
}

/// Whether two objects are the same: equal typed definitions and owners (grants listed in
/// another order are the same grants).
fn same(expected: &CatalogObject, actual: &CatalogObject) -> bool {
    expected.body == actual.body || (expected.def == actual.def && expected.owner == actual.owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(items: &[(&str, &str)]) -> Catalog {
        Catalog::from_bodies(items)
    }

    #[test]
    fn missing_unexpected_and_changed() {
        let expected = catalog(&[("index a", "x"), ("index b", "y"), ("table t", "z")]);
        let actual = catalog(&[("index b", "y2"), ("table t", "z"), ("column t.c", "int")]);
        let d = compare(&expected, &actual);
        assert_eq!(d.missing, ["index a"]);
        assert_eq!(d.unexpected, ["column t.c"]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].object, "index b");
        assert_eq!(d.count(), 3);
        assert!(compare(&expected, &expected).is_empty());
    }

    /// An owner is not part of the typed definition, so it was compared away.
    #[test]
    fn an_owner_alone_is_a_change() {
        let e = catalog(&[("table t", "table\nrow level security disabled")]);
        let a = catalog(&[("table t", "table\nrow level security disabled\nowner bob")]);
        assert_eq!(compare(&e, &a).changed.len(), 1);
        assert!(compare(&a, &a).is_empty());
    }

    #[test]
    fn keys_split_into_kind_and_name() {
        assert_eq!(
            split_key("grants on table users"),
            ("grants on table", "users")
        );
        assert_eq!(
            split_key("materialized view agent_session_stats"),
            ("materialized view", "agent_session_stats")
        );
        assert_eq!(split_key("policy auth.users.p"), ("policy", "auth.users.p"));
    }
}
