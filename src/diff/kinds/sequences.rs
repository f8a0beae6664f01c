//! Sequences that are no identity column's: created, dropped, their parameters and owning column altered in place.

use super::*;
use crate::catalog::model::Sequence;

pub(crate) fn sequence_sql(name: &str, s: &Sequence, create: bool) -> String {
    format!(
        "{} SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}CYCLE;",
        if create { "CREATE" } else { "ALTER" },
        quote_path(name),
        s.data_type,
        s.increment,
        s.min,
        s.max,
        s.start,
        s.cache,
        if s.cycle { "" } else { "NO " }
    )
}

pub(crate) fn drop(plan: &mut Plan, name: &str) {
    plan.add(
        Phase::DropTypes,
        format!("DROP SEQUENCE {};", quote_path(name)),
    );
}

pub(crate) fn create(plan: &mut Plan, name: &str, s: &Sequence) {
    plan.add(Phase::Sequences, sequence_sql(name, s, true));
    if let Some(owner) = &s.owned_by {
        plan.add(
            Phase::SequenceOwners,
            format!("ALTER SEQUENCE {} OWNED BY {owner};", quote_path(name)),
        );
    }
}

/// Parameters altered in place, and the owning column set after the columns exist.
pub(crate) fn change(plan: &mut Plan, name: &str, e: &Sequence, a: &Sequence) {
    let (mut e2, mut a2) = (e.clone(), a.clone());
    e2.owned_by = None;
    a2.owned_by = None;
    if e2 != a2 {
        plan.add(Phase::Sequences, sequence_sql(name, e, false));
    }
    if e.owned_by != a.owned_by {
        plan.add(
            Phase::SequenceOwners,
            format!(
                "ALTER SEQUENCE {} OWNED BY {};",
                quote_path(name),
                e.owned_by.as_deref().unwrap_or("NONE")
            ),
        );
    }
}
