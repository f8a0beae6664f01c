//! The repair planner: the statements that turn a database's catalog (actual) into another
//! (expected), what `diff --sql` prints. Applied, they make the two catalogs equal, so a
//! second `diff` is clean and a second `diff --sql` prints nothing.
//!
//! The planner decides, on the dependency graph both catalogs carry (`pg_depend`), what is
//! created, dropped, changed in place or made again; the statements of each kind come from
//! `diff::kinds`. What is made again is what the graph says depends on a change: an object
//! dropped and made again (a view whose query changes, a constraint or index that changes,
//! a table made again with its rows), a column whose type changes or that goes away, a table
//! or anything else that goes away, a type made again. Nothing else is touched: a view that
//! does not read what changes keeps its options and its grants.
//!
//! Statements run in phases that respect what depends on what: dependents are dropped first
//! (policies, triggers, views, foreign keys, ...), then types, sequences, tables and columns
//! are created or changed, then what stands on them is created again (constraints,
//! functions, views, indexes, triggers, policies, publications), and what is no longer
//! expected (types, sequences, schemas) goes last. Within a phase, views come after the views
//! they read (a topological order of the graph).

pub mod online;

use super::kinds::{self, Ctx, Phase, Plan};
use super::Drift;
use crate::catalog::model::{Def, Kind};
use crate::catalog::Catalog;
use crate::engine::quote_ident;
use std::collections::BTreeSet;

/// Repair statements for `drift` between `expected` and `actual`, for a database whose
/// objects are named relative to the schema `schema`.
pub fn statements(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
    schema: &str,
    allow_data_loss: bool,
) -> Vec<String> {
    let mut plan = Plan {
        allow_data_loss,
        ..Plan::default()
    };
    let rebuilt = kinds::rebuilt_tables(drift, expected, actual);
    kinds::localize(&mut plan, drift, (expected, actual), &rebuilt);
    let remade = made_again(drift, expected, actual, &rebuilt);
    let new_tables: BTreeSet<String> = drift
        .missing
        .iter()
        .filter_map(|k| k.strip_prefix("table "))
        .chain(rebuilt.iter().map(String::as_str))
        .map(str::to_string)
        .collect();
    let ctx = Ctx {
        expected,
        actual,
        drift,
        schema,
        remade,
        rebuilt,
        new_tables,
    };

    // Tables that become a partition again keep their columns, indexes and constraints:
    // attaching makes them the parent's partition copies (they are not in the expected
    // catalog, which shows a partition's only through its parent). Detaching, the other
    // way, leaves the copies in place as the table's own.
    let partition_changes = |to_partition: bool| -> BTreeSet<String> {
        drift
            .changed
            .iter()
            .filter_map(|c| {
                match (
                    kinds::def_of(expected, &c.object),
                    kinds::def_of(actual, &c.object),
                ) {
                    (Some((Kind::Table, Def::Table(e))), Some((_, Def::Table(a))))
                        if e.partition_of.is_some() == to_partition
                            && a.partition_of.is_some() != to_partition =>
                    {
                        c.object.strip_prefix("table ").map(str::to_string)
                    }
                    _ => None,
                }
            })
            .collect()
    };
    let (attaching, detaching) = (partition_changes(true), partition_changes(false));
    let vanishing: BTreeSet<String> = drift
        .unexpected
        .iter()
        .chain(ctx.remade.iter())
        .filter_map(|k| match Kind::of_key(k) {
            Some((Kind::Table | Kind::View | Kind::MaterializedView, name)) => {
                Some(name.to_string())
            }
            _ => None,
        })
        .collect();

    // Drops: what actual has and expected does not, and what is made again; dependents
    // first.
    let to_drop = kinds::in_dependency_order(
        drift.unexpected.iter().chain(ctx.remade.iter()).collect(),
        [actual, expected],
        true,
    );
    for key in to_drop {
        let Some((kind, def)) = kinds::def_of(actual, key) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        let relation = kinds::relation_of(kind, name, &def);
        if matches!(kind, Kind::Column | Kind::Constraint | Kind::Index)
            && relation.as_ref().is_some_and(|r| attaching.contains(r))
        {
            continue;
        }
        let inherits = matches!(&def, Def::Table(t) if t.inherits.is_some());
        if !inherits && relation.is_some_and(|r| vanishing.contains(&r)) {
            // dropped with the table or view it belongs to
            continue;
        }
        kinds::drop(&mut plan, &ctx, kind, name, &def);
    }

    // Creates: what expected has and actual does not, and what is made again; what they
    // stand on first.
    let to_create = kinds::in_dependency_order(
        drift.missing.iter().chain(ctx.remade.iter()).collect(),
        [expected, actual],
        false,
    );
    for key in to_create {
        let Some((kind, def)) = kinds::def_of(expected, key) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        if matches!(kind, Kind::Column | Kind::Constraint | Kind::Index)
            && kinds::relation_of(kind, name, &def).is_some_and(|r| detaching.contains(&r))
        {
            continue;
        }
        kinds::create(&mut plan, &ctx, kind, name, &def);
    }

    // Changes made in place (what is made again was dropped and created above).
    for c in &drift.changed {
        let key = c.object.as_str();
        if ctx.remade.contains(key) {
            continue;
        }
        let (Some((kind, e)), Some((_, a))) =
            (kinds::def_of(expected, key), kinds::def_of(actual, key))
        else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        kinds::change(&mut plan, &ctx, kind, name, &e, &a);
    }

    kinds::default_privilege_statements(&mut plan, expected, actual);
    let made: BTreeSet<String> = ctx
        .remade
        .iter()
        .chain(drift.missing.iter())
        .cloned()
        .collect();
    for sql in kinds::grant_statements(expected, actual, &made, schema) {
        let phase = if sql.starts_with("REVOKE") {
            Phase::Revokes
        } else {
            Phase::Grants
        };
        plan.add(phase, sql);
    }

    plan.steps.sort_by_key(|(phase, _)| *phase);
    let mut script = vec![format!("SET search_path TO {};", quote_ident(schema))];
    let mut seen = BTreeSet::new();
    for (_, sql) in plan.steps {
        if seen.insert(sql.clone()) {
            script.push(sql);
        }
    }
    script.extend(plan.not_generated);
    script
}

/// The keys that are dropped and made again around the changes of `drift`:
/// - what changes by being made again (a view whose query changes, a constraint, index,
///   trigger, rule, policy or statistics object that changes);
/// - everything of a table made again with its rows (`rebuilt`);
/// - what depends, as `pg_depend` says, on any of those, on anything that goes away, on a
///   column whose type, collation or generation changes, or on a type made again, and what
///   depends on that in turn, for the kinds that can be dropped and made again (views,
///   constraints, indexes, triggers, rules, policies, statistics, routines).
fn made_again(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
    rebuilt: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut remade: BTreeSet<String> = drift
        .changed
        .iter()
        .map(|c| c.object.clone())
        .filter(|k| remade_to_change(expected, actual, k))
        .collect();
    for table in rebuilt {
        for catalog in [expected, actual] {
            remade.extend(
                catalog
                    .objects
                    .keys()
                    .filter(|k| kinds::belongs_to_table(catalog, k, table))
                    .cloned(),
            );
        }
        remade.insert(format!("table {table}"));
    }
    let mut seeds: BTreeSet<String> = drift
        .changed
        .iter()
        .filter(|c| {
            match (
                kinds::def_of(expected, &c.object),
                kinds::def_of(actual, &c.object),
            ) {
                (Some((_, Def::Column(e))), Some((_, Def::Column(a)))) => {
                    e.data_type != a.data_type
                        || e.collation != a.collation
                        || e.generated != a.generated
                }
                (
                    Some((_, Def::Enum { labels: e, .. })),
                    Some((_, Def::Enum { labels: a, .. })),
                ) => !kinds::labels_kept_in_order(&e, &a),
                (Some((Kind::CompositeType | Kind::Domain, e)), Some((_, a))) => {
                    kinds::strip_comment(&e) != kinds::strip_comment(&a)
                }
                _ => false,
            }
        })
        .map(|c| c.object.clone())
        .chain(drift.unexpected.iter().cloned())
        .chain(remade.iter().cloned())
        .collect();
    loop {
        let more: Vec<String> = actual
            .dependencies
            .iter()
            .filter(|(k, needs)| {
                !remade.contains(*k)
                    && expected.objects.contains_key(*k)
                    && Kind::of_key(k).is_some_and(|(kind, _)| {
                        kinds::changes_by_recreation(kind)
                            || matches!(kind, Kind::Function | Kind::Procedure)
                    })
                    && needs.iter().any(|n| seeds.contains(n))
            })
            .map(|(k, _)| k.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        seeds.extend(more.iter().cloned());
        remade.extend(more);
    }
    remade
}

/// Whether the change of `key` is made by dropping it and creating it again: for a view,
/// only when its query changes (options and comment are altered in place).
fn remade_to_change(expected: &Catalog, actual: &Catalog, key: &str) -> bool {
    match (kinds::def_of(expected, key), kinds::def_of(actual, key)) {
        (
            Some((k, Def::View { definition: e, .. })),
            Some((_, Def::View { definition: a, .. })),
        ) if kinds::changes_by_recreation(k) => e != a,
        (
            Some((_, Def::Statistics { definition: e, .. })),
            Some((_, Def::Statistics { definition: a, .. })),
        ) => e != a,
        (Some((k, e)), Some((_, a))) => {
            kinds::changes_by_recreation(k) && kinds::strip_comment(&e) != kinds::strip_comment(&a)
        }
        (Some((k, _)), None) => kinds::changes_by_recreation(k),
        _ => false,
    }
}
