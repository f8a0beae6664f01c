//! Row level security policies: created and dropped (a change is both).

use super::*;
use crate::catalog::model::Policy;

pub(crate) fn create_policy(name: &str, p: &Policy) -> String {
    let (table, policy) = table_and_name(name);
    let mut sql = format!(
        "CREATE POLICY {policy} ON {table} AS {} FOR {} TO {}",
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        p.command.to_uppercase(),
        p.roles
    );
    if let Some(u) = &p.using {
        sql.push_str(&format!(" USING ({u})"));
    }
    if let Some(c) = &p.check {
        sql.push_str(&format!(" WITH CHECK ({c})"));
    }
    sql + ";"
}

pub(crate) fn drop(plan: &mut Plan, name: &str) {
    let (table, policy) = table_and_name(name);
    plan.add(
        Phase::DropPolicies,
        format!("DROP POLICY {policy} ON {table};"),
    );
}

pub(crate) fn create(plan: &mut Plan, name: &str, p: &Policy) {
    plan.add(Phase::Policies, create_policy(name, p));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_rebuilt_from_their_definition() {
        let body = "for update\npermissive\nto authenticated\nusing ((id = ( SELECT 1\n     FROM t)))\nwith check (true)";
        let Def::Policy(p) = Def::parse(Kind::Policy, body) else {
            panic!("a policy");
        };
        assert_eq!(
            create_policy("users.p", &p),
            "CREATE POLICY \"p\" ON \"users\" AS PERMISSIVE FOR UPDATE TO authenticated USING ((id = ( SELECT 1\n   FROM t))) WITH CHECK (true);"
        );
    }
}
