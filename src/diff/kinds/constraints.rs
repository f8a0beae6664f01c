//! Table constraints: added and dropped (a change is a drop and an add).

use super::*;

/// A constraint dropped (foreign keys first, in their own phase).
pub(crate) fn drop(plan: &mut Plan, name: &str, definition: &str) {
    let (table, constraint) = table_and_name(name);
    let phase = if definition.starts_with("FOREIGN KEY") {
        Phase::DropForeignKeys
    } else {
        Phase::DropConstraints
    };
    plan.add(
        phase,
        format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint};"),
    );
}

/// A constraint added (foreign keys after every key they may reference).
pub(crate) fn create(plan: &mut Plan, name: &str, definition: &str) {
    let (table, constraint) = table_and_name(name);
    let phase = if definition.starts_with("FOREIGN KEY") {
        Phase::ForeignKeys
    } else {
        Phase::Constraints
    };
    plan.add(
        phase,
        format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition};"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_keys_go_in_their_own_phases() {
        let mut plan = Plan::default();
        drop(&mut plan, "t.t_fk", "FOREIGN KEY (a) REFERENCES u(id)");
        create(&mut plan, "t.t_check", "CHECK ((a > 0))");
        create(&mut plan, "t.t_fk", "FOREIGN KEY (a) REFERENCES u(id)");
        let phases: Vec<Phase> = plan.steps.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            phases,
            [
                Phase::DropForeignKeys,
                Phase::Constraints,
                Phase::ForeignKeys
            ]
        );
        assert_eq!(
            plan.steps[1].1,
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_check\" CHECK ((a > 0));"
        );
    }
}
