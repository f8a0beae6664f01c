//! Functions and procedures: created or replaced, and dropped.

use super::*;

pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    let (f, args) = name.split_once('(').unwrap_or((name, ")"));
    plan.add(
        Phase::DropRoutines,
        format!(
            "DROP {} {}({args};",
            sql_word(kind).unwrap_or("FUNCTION"),
            quote_path(f)
        ),
    );
}

/// `CREATE OR REPLACE` as the server renders it, pinned to the repair's schema where the
/// routine's `search_path` names the set's home.
pub(crate) fn create(plan: &mut Plan, ctx: &Ctx, definition: &str) {
    plan.add(
        Phase::Routines,
        format!("{};", denormalize(definition, ctx.schema)),
    );
}

/// A routine whose definition differs is replaced (its grants stay).
pub(crate) fn change(plan: &mut Plan, ctx: &Ctx, definition: &str, was: &str) {
    if definition != was {
        create(plan, ctx, definition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routine_is_dropped_by_its_signature() {
        let mut plan = Plan::default();
        drop(&mut plan, Kind::Procedure, "s.p(a integer, b text)");
        assert_eq!(
            plan.steps[0].1,
            "DROP PROCEDURE \"s\".\"p\"(a integer, b text);"
        );
    }
}
