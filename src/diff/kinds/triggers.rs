//! Triggers and rules: created in their enabled state, and dropped.

use super::*;

/// `ALTER TABLE ... DISABLE TRIGGER t` (or `RULE`, `what`) and the like, for a trigger or
/// rule `name` whose state is not the default.
pub(crate) fn enabled_state(what: &str, name: &str, enabled: &Option<String>) -> Option<String> {
    let (table, object) = table_and_name(name);
    let verb = match enabled.as_deref()? {
        "disabled" => "DISABLE",
        "enabled replica" => "ENABLE REPLICA",
        "enabled always" => "ENABLE ALWAYS",
        _ => return None,
    };
    Some(format!("ALTER TABLE {table} {verb} {what} {object};"))
}

pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    let (table, object) = table_and_name(name);
    plan.add(
        Phase::DropTriggers,
        format!(
            "DROP {} {object} ON {table};",
            sql_word(kind).unwrap_or("TRIGGER")
        ),
    );
}

pub(crate) fn create(plan: &mut Plan, kind: Kind, name: &str, def: &Def) {
    if let Def::Trigger {
        definition,
        enabled,
        ..
    }
    | Def::Rule {
        definition,
        enabled,
        ..
    } = def
    {
        plan.add(Phase::Triggers, format!("{definition};"));
        if let Some(sql) = enabled_state(sql_word(kind).unwrap_or("TRIGGER"), name, enabled) {
            plan.add(Phase::Triggers, sql);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_is_made_in_its_enabled_state() {
        let def = Def::parse(
            Kind::Trigger,
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()\nenabled always",
        );
        let mut plan = Plan::default();
        create(&mut plan, Kind::Trigger, "t.tr", &def);
        let sql: Vec<&str> = plan.steps.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            sql,
            [
                "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();",
                "ALTER TABLE \"t\" ENABLE ALWAYS TRIGGER \"tr\";"
            ]
        );
    }
}
