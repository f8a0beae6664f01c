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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_altered_in_place_and_the_owner_set_after_the_columns() {
        let seq = |body: &str| match Def::parse(Kind::Sequence, body) {
            Def::Sequence(s) => s,
            other => panic!("{other:?}"),
        };
        let e = seq(
            "as bigint\nstart 1 increment 7 min 1 max 9223372036854775807 cache 5\nowned by t.id",
        );
        let a = seq("as bigint\nstart 1 increment 1 min 1 max 9223372036854775807 cache 1");
        let mut plan = Plan::default();
        change(&mut plan, "s", &e, &a);
        assert_eq!(
            plan.steps,
            [
                (
                    Phase::Sequences,
                    "ALTER SEQUENCE \"s\" AS bigint INCREMENT BY 7 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 5 NO CYCLE;".to_string()
                ),
                (
                    Phase::SequenceOwners,
                    "ALTER SEQUENCE \"s\" OWNED BY t.id;".to_string()
                )
            ]
        );
    }
}
