//! A generated migration made safe by construction: the work on tables that already hold
//! rows is taken out of the transaction that would block writes while it runs.
//!
//! Of a plan that turns `actual` (a set's head) into `expected` (the desired schema):
//! - a new index on a table that exists at the head is built with `CREATE INDEX
//!   CONCURRENTLY` in a no-transaction migration of its own, run after the plan's (its down
//!   drops it `CONCURRENTLY` first);
//! - a new foreign key or check on such a table is added `NOT VALID` in the plan, which
//!   takes its lock only for an instant, and validated in the no-transaction migration
//!   (`VALIDATE CONSTRAINT` reads the table under a lock that lets writes through). Its down
//!   puts the constraint back as it was after the plan: `NOT VALID`;
//! - a column of such a table made NOT NULL gets a check `c IS NOT NULL` added `NOT VALID`
//!   in the plan; the no-transaction migration validates it, sets NOT NULL (which the
//!   validated check spares a read of the table) and drops the check.
//!
//! What stays in the transaction: indexes and constraints of tables the plan creates or
//! makes again (empty), of partitioned tables and their partitions (`CONCURRENTLY` and `NOT
//! VALID` are refused there), an index something else stands on (a constraint made `USING
//! INDEX`, a comment, a foreign key that needs it), and whatever the plan does not emit in
//! the exact form this module looks for.

use super::super::kinds::{self, quote_path, table_and_name};
use crate::catalog::model::{Def, Kind};
use crate::catalog::Catalog;
use crate::diff::Drift;
use std::collections::BTreeSet;

/// The two migrations: the plan's own (in a transaction) and the one that runs after it
/// statement by statement (empty when nothing was taken out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub up: Vec<String>,
    pub down: Vec<String>,
    pub online_up: Vec<String>,
    pub online_down: Vec<String>,
}

/// Whether `table` (a name relative to the set's schema, as keys write it) exists in
/// `catalog` as a plain table: not partitioned, not a partition.
fn plain_table(catalog: &Catalog, table: &str) -> bool {
    let key = format!("table {table}");
    matches!(
        kinds::def_of(catalog, &key),
        Some((Kind::Table, Def::Table(t))) if !t.partitioned && t.partition_of.is_none()
    )
}

/// The table key name of `relation` as an index definition renders it (quoted when it must
/// be), among the tables of `catalog`.
fn table_named(catalog: &Catalog, relation: &str) -> Option<String> {
    catalog
        .objects
        .keys()
        .filter_map(|k| k.strip_prefix("table "))
        .find(|t| *t == relation || quote_path(t) == relation)
        .map(str::to_string)
}

/// The column list of a unique constraint in its plain form, `UNIQUE (a, b)`: one whose
/// index `CREATE UNIQUE INDEX ... (a, b)` builds the same (no `NULLS NOT DISTINCT`,
/// `INCLUDE`, storage options or deferral, which the index would spell differently).
fn plain_unique(definition: &str) -> Option<String> {
    let columns = definition.strip_prefix("UNIQUE ")?;
    (columns.starts_with('(')
        && columns.ends_with(')')
        && columns[1..columns.len() - 1]
            .chars()
            .all(|c| c != '(' && c != ')'))
    .then(|| columns.to_string())
}

/// Whether `word` appears in `text` as a whole identifier (not inside a longer one).
fn mentions(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Takes out of `up` and `down` (the plan from `actual` to `expected` and the one back) what
/// can run without blocking writes, as the module says.
pub fn split(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
    up: Vec<String>,
    down: Vec<String>,
) -> Split {
    let mut out = Split {
        up,
        down,
        ..Split::default()
    };
    let rebuilt = kinds::rebuilt_tables(drift, expected, actual);
    let existing = |table: &str| {
        !rebuilt.contains(table) && plain_table(actual, table) && plain_table(expected, table)
    };
    let needed: BTreeSet<&String> = expected.dependencies.values().flatten().collect();
    let mut uniques = Vec::new();
    let mut not_nulls = Vec::new();
    let mut validations = Vec::new();
    let mut unvalidations = Vec::new();
    for key in &drift.missing {
        let Some((kind, def)) = kinds::def_of(expected, key) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        match (kind, &def) {
            (
                Kind::Index,
                Def::Index {
                    definition,
                    invalid: false,
                    comment: None,
                },
            ) => {
                let Some(table) =
                    kinds::relation_of(kind, name, &def).and_then(|r| table_named(actual, &r))
                else {
                    continue;
                };
                let create = format!("{definition};");
                let drop = format!("DROP INDEX {};", quote_path(name));
                let bare = name.rsplit('.').next().unwrap_or(name);
                let leans_on_it = needed.contains(key)
                    || out.up.iter().any(|s| *s != create && mentions(s, bare));
                if !existing(&table) || leans_on_it || !definition.contains(" INDEX ") {
                    continue;
                }
                let (Some(at_up), Some(at_down)) = (
                    out.up.iter().position(|s| *s == create),
                    out.down.iter().position(|s| *s == drop),
                ) else {
                    continue;
                };
                out.up.remove(at_up);
                out.down.remove(at_down);
                out.online_up.push(format!(
                    "{};",
                    definition.replacen(" INDEX ", " INDEX CONCURRENTLY IF NOT EXISTS ", 1)
                ));
                out.online_down.push(format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {};",
                    quote_path(name)
                ));
            }
            (Kind::Constraint, Def::Constraint { definition, .. })
                if plain_unique(definition).is_some() =>
            {
                let Some((table, constraint_name)) = name.rsplit_once('.') else {
                    continue;
                };
                let index_key = format!("index {}", constraint_name);
                let leans_on_it = needed.contains(key) || needed.contains(&index_key);
                if !existing(table) || leans_on_it {
                    continue;
                }
                let (table_sql, constraint) = table_and_name(name);
                let add =
                    format!("ALTER TABLE {table_sql} ADD CONSTRAINT {constraint} {definition};");
                let drop =
                    format!("ALTER TABLE {table_sql} DROP CONSTRAINT IF EXISTS {constraint};");
                let (Some(at_up), Some(at_down)) = (
                    out.up.iter().position(|s| *s == add),
                    out.down.iter().position(|s| *s == drop),
                ) else {
                    continue;
                };
                out.up.remove(at_up);
                out.down.remove(at_down);
                let columns = plain_unique(definition).unwrap_or_default();
                out.online_up.push(format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {constraint} ON {table_sql} {columns};"
                ));
                uniques.push(format!(
                    "ALTER TABLE {table_sql} ADD CONSTRAINT {constraint} UNIQUE USING INDEX {constraint};"
                ));
                out.online_down.push(drop);
            }
            (Kind::Constraint, Def::Constraint { definition, .. })
                if (definition.starts_with("FOREIGN KEY") || definition.starts_with("CHECK"))
                    && !definition.ends_with(" NOT VALID")
                    && !definition.contains(" NO INHERIT") =>
            {
                let Some((table, _)) = name.rsplit_once('.') else {
                    continue;
                };
                if !existing(table) {
                    continue;
                }
                let (table_sql, constraint) = table_and_name(name);
                let add =
                    format!("ALTER TABLE {table_sql} ADD CONSTRAINT {constraint} {definition}");
                let Some(at) = out.up.iter().position(|s| *s == format!("{add};")) else {
                    continue;
                };
                out.up[at] = format!("{add} NOT VALID;");
                validations.push(format!(
                    "ALTER TABLE {table_sql} VALIDATE CONSTRAINT {constraint};"
                ));
                unvalidations.push(format!(
                    "ALTER TABLE {table_sql} DROP CONSTRAINT {constraint}, ADD CONSTRAINT {constraint} {definition} NOT VALID;"
                ));
            }
            _ => {}
        }
    }
    // A column of an existing table made NOT NULL: SET NOT NULL would read the whole table
    // under ACCESS EXCLUSIVE. A check `c IS NOT NULL` is added NOT VALID instead, validated
    // without blocking writes, and SET NOT NULL then takes the server's word from it (no
    // read) before the check goes.
    for c in &drift.changed {
        let (Some((Kind::Column, Def::Column(e))), Some((_, Def::Column(a)))) = (
            kinds::def_of(expected, &c.object),
            kinds::def_of(actual, &c.object),
        ) else {
            continue;
        };
        let Some((table, column)) = c
            .object
            .strip_prefix("column ")
            .and_then(|n| n.rsplit_once('.'))
        else {
            continue;
        };
        let check = format!("migrate_{column}_not_null");
        let made_not_null = e.not_null && !a.not_null;
        if !made_not_null
            || e.data_type != a.data_type
            || e.identity != a.identity
            || e.generated != a.generated
            || !existing(table)
            || check.len() > 63
        {
            continue;
        }
        let (table_sql, column_sql) = table_and_name(&format!("{table}.{column}"));
        let alter = format!("ALTER TABLE {table_sql} ALTER COLUMN {column_sql}");
        let (Some(at_up), Some(at_down)) = (
            out.up
                .iter()
                .position(|s| *s == format!("{alter} SET NOT NULL;")),
            out.down
                .iter()
                .position(|s| *s == format!("{alter} DROP NOT NULL;")),
        ) else {
            continue;
        };
        let check = crate::engine::quote_ident(&check);
        let add = format!(
            "ALTER TABLE {table_sql} ADD CONSTRAINT {check} CHECK ({column_sql} IS NOT NULL) NOT VALID;"
        );
        out.up[at_up] = add.clone();
        out.down[at_down] = format!("ALTER TABLE {table_sql} DROP CONSTRAINT IF EXISTS {check};");
        not_nulls.extend([
            format!("ALTER TABLE {table_sql} VALIDATE CONSTRAINT {check};"),
            format!("{alter} SET NOT NULL;"),
            format!("ALTER TABLE {table_sql} DROP CONSTRAINT {check};"),
        ]);
        unvalidations.extend([format!("{alter} DROP NOT NULL;"), add]);
    }
    // Indexes first, then the unique constraints made on theirs: a validation may read
    // through one. Back the other way.
    out.online_up.extend(uniques);
    out.online_up.extend(validations);
    out.online_up.extend(not_nulls);
    unvalidations.extend(std::mem::take(&mut out.online_down));
    out.online_down = unvalidations;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_mentioned_only_as_a_whole_identifier() {
        assert!(mentions("COMMENT ON INDEX t_idx IS 'x';", "t_idx"));
        assert!(mentions("ALTER TABLE t CLUSTER ON \"t_idx\";", "t_idx"));
        assert!(!mentions("CREATE INDEX t_idx2 ON t (a);", "t_idx"));
        assert!(!mentions("CREATE INDEX at_idx ON t (a);", "t_idx"));
    }

    #[test]
    fn only_a_plain_unique_constraint_is_built_from_its_index() {
        assert_eq!(plain_unique("UNIQUE (a, b)").as_deref(), Some("(a, b)"));
        assert_eq!(plain_unique("UNIQUE NULLS NOT DISTINCT (a)"), None);
        assert_eq!(plain_unique("UNIQUE (a) INCLUDE (b)"), None);
        assert_eq!(plain_unique("UNIQUE (a) DEFERRABLE"), None);
        assert_eq!(plain_unique("PRIMARY KEY (a)"), None);
    }
}
