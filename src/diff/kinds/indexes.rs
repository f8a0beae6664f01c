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
