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
