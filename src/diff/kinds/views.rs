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
        format!(
            "DROP {} IF EXISTS {};",
            sql_word(kind).unwrap_or("VIEW"),
            quote_path(name)
        ),
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
            sql_word(kind).unwrap_or("VIEW"),
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
                format!(
                    "ALTER {} {} {clause};",
                    sql_word(kind).unwrap_or("VIEW"),
                    quote_path(name)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Views were ordered by matching the last part of their names in each other's text;
    /// the graph orders them, whatever their names.
    #[test]
    fn keys_follow_the_graph_not_their_names() {
        let mut catalog = Catalog::default();
        catalog
            .dependencies
            .entry("view a_top".into())
            .or_default()
            .insert("view z_base".into());
        catalog
            .dependencies
            .entry("view z_base".into())
            .or_default()
            .insert("table t".into());
        let keys = ["view a_top", "table t", "view z_base"].map(String::from);
        let empty = Catalog::default();
        let ordered = in_dependency_order(keys.iter().collect(), [&catalog, &empty], false);
        assert_eq!(ordered, [&keys[1], &keys[2], &keys[0]]);
        let reversed = in_dependency_order(keys.iter().collect(), [&empty, &catalog], true);
        assert_eq!(reversed, [&keys[0], &keys[2], &keys[1]]);
    }

    #[test]
    fn options_are_altered_in_place() {
        let e = Def::parse(Kind::View, " SELECT 1;\nwith (security_invoker=true)");
        let a = Def::parse(Kind::View, " SELECT 1;");
        let mut plan = Plan::default();
        change(&mut plan, Kind::View, "v", &e, &a);
        assert_eq!(
            plan.steps[0].1,
            "ALTER VIEW \"v\" SET (security_invoker=true);"
        );
    }
}
