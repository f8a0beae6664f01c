//! Indexes and extended statistics: created and dropped (a change is both), a statistics object's target altered in place.

use super::*;

pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    let what = if kind == Kind::Statistics {
        "STATISTICS IF EXISTS"
    } else {
        "INDEX"
    };
    plan.add(
        Phase::DropIndexes,
        format!("DROP {what} {};", quote_path(name)),
    );
}

/// An index as the server renders it (a partitioned table's `ON ONLY` index is made on
/// the whole table, so its partitions get theirs); a statistics object with its target.
pub(crate) fn create(plan: &mut Plan, name: &str, def: &Def) {
    match def {
        Def::Index { definition, .. } => plan.add(
            Phase::Indexes,
            format!("{};", definition.replacen(" ON ONLY ", " ON ", 1)),
        ),
        Def::Statistics {
            definition, target, ..
        } => {
            plan.add(Phase::Indexes, format!("{definition};"));
            if let Some(t) = target {
                plan.add(
                    Phase::Indexes,
                    format!("ALTER STATISTICS {} SET STATISTICS {t};", quote_path(name)),
                );
            }
        }
        _ => {}
    }
}

/// A statistics object's target altered in place (any other change makes it again).
pub(crate) fn change(plan: &mut Plan, name: &str, e: &Def, a: &Def) {
    if let (Def::Statistics { target: et, .. }, Def::Statistics { target: at, .. }) = (e, a) {
        if et != at {
            plan.add(
                Phase::Indexes,
                format!(
                    "ALTER STATISTICS {} SET STATISTICS {};",
                    quote_path(name),
                    et.as_deref().unwrap_or("-1")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partitioned table's index reads `ON ONLY`, which would leave its partitions without
    /// theirs: it is made on the whole table.
    #[test]
    fn a_partitioned_index_is_made_on_the_whole_table() {
        let mut plan = Plan::default();
        let def = Def::parse(Kind::Index, "CREATE INDEX i ON ONLY pt USING btree (at)");
        create(&mut plan, "i", &def);
        assert_eq!(plan.steps[0].1, "CREATE INDEX i ON pt USING btree (at);");
    }

    #[test]
    fn a_statistics_target_is_altered_in_place() {
        let mut plan = Plan::default();
        let e = Def::parse(Kind::Statistics, "CREATE STATISTICS s ON a, b FROM t");
        let a = Def::parse(
            Kind::Statistics,
            "CREATE STATISTICS s ON a, b FROM t\nstatistics 400",
        );
        change(&mut plan, "s", &e, &a);
        assert_eq!(plan.steps[0].1, "ALTER STATISTICS \"s\" SET STATISTICS -1;");
    }
}
