//! Views and materialized views: created with all their options, dropped, options altered
//! in place; and the order of the graph, so that a view comes after the views it reads.

use super::*;

/// `keys` ordered so that each comes after what it needs (before it when
/// `dependents_first`): a topological order of the dependency graph of `catalogs` (both
/// sides of a comparison: an object one of them lacks has its edges in the other), ties in
/// key order. A cycle, which Postgres does not allow, is broken at its first key.
pub(crate) fn in_dependency_order<'a>(
    keys: Vec<&'a String>,
    catalogs: [&Catalog; 2],
    dependents_first: bool,
) -> Vec<&'a String> {
    let set: BTreeSet<&String> = keys.into_iter().collect();
    let needs = |k: &String| -> BTreeSet<&'a String> {
        catalogs
            .iter()
            .filter_map(|c| c.dependencies.get(k))
            .flatten()
            .filter_map(|n| set.get(n).copied())
            .filter(|n| *n != k)
            .collect()
    };
    let mut waiting: BTreeMap<&String, BTreeSet<&String>> =
        set.iter().map(|k| (*k, needs(k))).collect();
    let mut ordered: Vec<&String> = Vec::with_capacity(set.len());
    while !waiting.is_empty() {
        let ready: Vec<&String> = waiting
            .iter()
            .filter(|(_, n)| n.is_empty())
            .map(|(k, _)| *k)
            .collect();
        let ready = if ready.is_empty() {
            waiting.keys().next().copied().into_iter().collect()
        } else {
            ready
        };
        for k in &ready {
            waiting.remove(*k);
        }
        for n in waiting.values_mut() {
            for k in &ready {
                n.remove(*k);
            }
        }
        ordered.extend(ready);
    }
    if dependents_first {
        ordered.reverse();
    }
    ordered
}

pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    plan.add(
        Phase::DropViews,
        format!("DROP {} IF EXISTS {};", word(kind), quote_path(name)),
    );
}

/// A view created with all its options.
pub(crate) fn create(
    plan: &mut Plan,
    kind: Kind,
    name: &str,
    definition: &str,
    options: &Option<String>,
) {
    plan.add(
        Phase::Views,
        format!(
            "CREATE {} {}{} AS\n{}",
            word(kind),
            quote_path(name),
            options
                .as_ref()
                .map(|o| format!(" WITH ({o})"))
                .unwrap_or_default(),
            with_semicolon(definition)
        ),
    );
}

/// Options altered in place (`SET`/`RESET`): a view whose query changes is made again.
pub(crate) fn change(plan: &mut Plan, kind: Kind, name: &str, e: &Def, a: &Def) {
    if let (Def::View { options: eo, .. }, Def::View { options: ao, .. }) = (e, a) {
        for clause in options_change(eo.as_deref(), ao.as_deref()) {
            plan.add(
                Phase::Views,
                format!("ALTER {} {} {clause};", word(kind), quote_path(name)),
            );
        }
    }
}

fn word(kind: Kind) -> &'static str {
    if kind == Kind::View {
        "VIEW"
    } else {
        "MATERIALIZED VIEW"
    }
}
