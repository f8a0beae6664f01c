//! Grants on schemas, tables, columns and routines, and default privileges: only what
//! differs is revoked or granted, column grants stay column grants, and an object made
//! again gets its grants back.

use super::*;

/// What a grants object is on: the `ON` clause, and the column for column grants.
pub(crate) fn grant_target(
    kind: Kind,
    name: &str,
    catalogs: [&Catalog; 2],
) -> (String, Option<String>) {
    match kind {
        Kind::GrantsOnColumn => {
            let (table, column) = table_and_name(name);
            (format!("TABLE {table}"), Some(column))
        }
        Kind::GrantsOnFunction => {
            let (function, args) = name.split_once('(').unwrap_or((name, ")"));
            (format!("FUNCTION {}({args}", quote_path(function)), None)
        }
        Kind::GrantsOnSchema => (format!("SCHEMA {}", quote_ident(name)), None),
        _ => {
            let sequence = format!("sequence {name}");
            let what = if catalogs.iter().any(|c| c.objects.contains_key(&sequence)) {
                "SEQUENCE"
            } else {
                "TABLE"
            };
            (format!("{what} {}", quote_path(name)), None)
        }
    }
}

/// `p` or, for a column grant, `p ("c")`; each privilege of a column grant names its column.
pub(crate) fn privileges<'a>(
    list: impl Iterator<Item = &'a String>,
    column: Option<&str>,
) -> String {
    list.map(|p| match column {
        Some(c) => format!("{p} ({c})"),
        None => p.clone(),
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// The REVOKEs (first) and GRANTs (second) that turn `actual` into `expected` on `on`:
/// only what differs is revoked or granted, and a grant option is revoked without the
/// privilege when only the option is extra.
pub(crate) fn regrant(
    on: &str,
    column: Option<&str>,
    expected: &Acl,
    actual: &Acl,
    verbs: (&str, &str),
) -> (Vec<String>, Vec<String>) {
    let (grant, revoke) = verbs;
    let (mut revokes, mut grants) = (Vec::new(), Vec::new());
    let none = BTreeMap::new();
    for (who, have) in actual {
        let want = expected.get(who).unwrap_or(&none);
        let extra: Vec<&String> = have.keys().filter(|p| !want.contains_key(*p)).collect();
        if !extra.is_empty() {
            revokes.push(format!(
                "{revoke}REVOKE {} ON {on} FROM {who};",
                privileges(extra.into_iter(), column)
            ));
        }
        let option: Vec<&String> = have
            .iter()
            .filter(|(p, g)| **g && want.get(*p) == Some(&false))
            .map(|(p, _)| p)
            .collect();
        if !option.is_empty() {
            revokes.push(format!(
                "{revoke}REVOKE GRANT OPTION FOR {} ON {on} FROM {who};",
                privileges(option.into_iter(), column)
            ));
        }
    }
    for (who, want) in expected {
        let have = actual.get(who).unwrap_or(&none);
        for grantable in [false, true] {
            let missing: Vec<&String> = want
                .iter()
                .filter(|(p, g)| {
                    **g == grantable
                        && (!have.contains_key(*p) || (grantable && have[*p] != grantable))
                })
                .map(|(p, _)| p)
                .collect();
            if !missing.is_empty() {
                grants.push(format!(
                    "{grant}GRANT {} ON {on} TO {who}{};",
                    privileges(missing.into_iter(), column),
                    if grantable { " WITH GRANT OPTION" } else { "" }
                ));
            }
        }
    }
    (revokes, grants)
}

pub(crate) fn acl_of(catalog: &Catalog, key: &str) -> Acl {
    match def_of(catalog, key) {
        Some((_, Def::Grants(g))) => g.acl(),
        _ => Acl::new(),
    }
}

/// The grant statements of a repair, over every grants object of both catalogs: revokes
/// first, then grants. Revoking a privilege on a table also revokes it on each of the
/// table's columns, so column grants are compared with what is left after the table's
/// revokes, and the ones the design keeps are granted again.
pub(crate) fn grant_statements(
    expected: &Catalog,
    actual: &Catalog,
    remade: &BTreeSet<String>,
    home: &str,
) -> Vec<String> {
    const KINDS: [Kind; 4] = [
        Kind::GrantsOnSchema,
        Kind::GrantsOnTable,
        Kind::GrantsOnFunction,
        Kind::GrantsOnColumn,
    ];
    // A routine made (again) starts with the default privileges of routines: EXECUTE for
    // PUBLIC. Its grants are planned even when the expected catalog lists none (only the
    // owner may run it).
    let made_routines: Vec<String> = remade
        .iter()
        .filter_map(|k| match Kind::of_key(k) {
            Some((Kind::Function | Kind::Procedure, name)) => {
                Some(format!("{} {name}", Kind::GrantsOnFunction.as_str()))
            }
            _ => None,
        })
        .collect();
    let keys: BTreeSet<&String> = expected
        .objects
        .keys()
        .chain(actual.objects.keys())
        .filter(|k| Kind::of_key(k).is_some_and(|(kind, _)| kind.is_grants()))
        .chain(made_routines.iter())
        .collect();
    // (table, grantee, privilege) revoked at table level
    let mut revoked_on_tables: Vec<(String, String, String)> = Vec::new();
    let (mut revokes, mut grants) = (Vec::new(), Vec::new());
    for kind in KINDS {
        for key in keys
            .iter()
            .filter(|k| Kind::of_key(k).map(|(k, _)| k) == Some(kind))
        {
            let name = &key[kind.as_str().len() + 1..];
            let (want, mut have) = (acl_of(expected, key), acl_of(actual, key));
            let objects = granted_on(kind, name);
            // (the home schema is no object of either catalog, but its grants are compared)
            let home_schema = kind == Kind::GrantsOnSchema && name == home;
            if want.is_empty()
                && !home_schema
                && !objects.iter().any(|o| expected.objects.contains_key(o))
            {
                // the object is dropped, and its grants with it
                continue;
            }
            if objects.iter().any(|o| remade.contains(o)) {
                // made again: it starts without grants, a routine with EXECUTE for PUBLIC
                have.clear();
                if kind == Kind::GrantsOnFunction {
                    have.insert(
                        "PUBLIC".to_string(),
                        [("EXECUTE".to_string(), false)].into_iter().collect(),
                    );
                }
            }
            if want == have && kind != Kind::GrantsOnColumn {
                continue;
            }
            if kind == Kind::GrantsOnTable {
                for (who, privs) in &have {
                    let kept = want.get(who);
                    for p in privs
                        .keys()
                        .filter(|p| kept.is_none_or(|k| !k.contains_key(*p)))
                    {
                        revoked_on_tables.push((name.to_string(), who.clone(), p.clone()));
                    }
                }
            }
            if kind == Kind::GrantsOnColumn {
                let table = name.rsplit_once('.').map_or(name, |(t, _)| t);
                for (t, who, p) in &revoked_on_tables {
                    if t == table {
                        if let Some(privs) = have.get_mut(who) {
                            privs.remove(p);
                        }
                    }
                }
                have.retain(|_, privs| !privs.is_empty());
                if want == have {
                    continue;
                }
            }
            let (on, column) = grant_target(kind, name, [expected, actual]);
            let (r, g) = regrant(&on, column.as_deref(), &want, &have, ("", ""));
            revokes.extend(r);
            grants.extend(g);
        }
    }
    revokes.into_iter().chain(grants).collect()
}

/// The keys of the objects a grants object can be on (for a column, its relation's too).
pub(crate) fn granted_on(kind: Kind, name: &str) -> Vec<String> {
    match kind {
        Kind::GrantsOnTable => ["table", "view", "materialized view", "sequence"]
            .iter()
            .map(|k| format!("{k} {name}"))
            .collect(),
        Kind::GrantsOnColumn => {
            let relation = name.rsplit_once('.').map_or(name, |(t, _)| t);
            vec![
                format!("column {name}"),
                format!("view {relation}"),
                format!("materialized view {relation}"),
            ]
        }
        Kind::GrantsOnFunction => vec![format!("function {name}"), format!("procedure {name}")],
        _ => vec![format!("schema {name}")],
    }
}

/// `ALTER DEFAULT PRIVILEGES` for a key name `for role[ in schema] on tables`.
pub(crate) fn default_privileges(name: &str, expected: &Acl, actual: &Acl) -> Vec<String> {
    let Some((scope, objects)) = name.split_once(" on ") else {
        return Vec::new();
    };
    let scope = scope.strip_prefix("for ").unwrap_or(scope);
    let (role, schema) = match scope.split_once(" in ") {
        Some((r, s)) => (r, format!(" IN SCHEMA {s}")),
        None => (scope, String::new()),
    };
    let verb = format!("ALTER DEFAULT PRIVILEGES FOR ROLE {role}{schema} ");
    let (r, g) = regrant(
        &objects.to_uppercase(),
        None,
        expected,
        actual,
        (&verb, &verb),
    );
    r.into_iter().chain(g).collect()
}

/// `ALTER DEFAULT PRIVILEGES` for every default-privileges entry that differs. An entry for
/// every schema that the expected catalog does not have goes back to Postgres's built-in
/// default: the role keeps its own privileges, and PUBLIC may run functions and use types.
pub(crate) fn default_privilege_statements(plan: &mut Plan, expected: &Catalog, actual: &Catalog) {
    let defaults: BTreeSet<&String> = expected
        .objects
        .keys()
        .chain(actual.objects.keys())
        .filter(|k| k.starts_with("default privileges "))
        .collect();
    for key in defaults {
        let (mut want, have) = (acl_of(expected, key), acl_of(actual, key));
        let name = &key["default privileges ".len()..];
        if !expected.objects.contains_key(key.as_str()) && !name.contains(" in ") {
            let role = name
                .strip_prefix("for ")
                .and_then(|r| r.split(' ').next())
                .unwrap_or_default();
            want = have
                .iter()
                .filter(|(who, _)| *who == role)
                .map(|(w, p)| (w.clone(), p.clone()))
                .collect();
            let public = if name.ends_with(" on functions") {
                Some("EXECUTE")
            } else if name.ends_with(" on types") {
                Some("USAGE")
            } else {
                None
            };
            if let Some(p) = public {
                want.insert(
                    "PUBLIC".to_string(),
                    [(p.to_string(), false)].into_iter().collect(),
                );
            }
        }
        if want != have {
            for sql in default_privileges(name, &want, &have) {
                plan.add(Phase::Grants, sql);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(items: &[(&str, &str)]) -> Catalog {
        Catalog::from_bodies(items)
    }

    #[test]
    fn only_what_differs_is_revoked_or_granted() {
        let expected = catalog(&[(
            "grants on table users",
            "authenticated SELECT, UPDATE\nservice_role SELECT (grantable)",
        )]);
        let actual = catalog(&[(
            "grants on table users",
            "anon SELECT\nauthenticated DELETE, SELECT\nservice_role SELECT",
        )]);
        assert_eq!(
            grant_statements(&expected, &actual, &BTreeSet::new(), "public"),
            [
                "REVOKE SELECT ON TABLE \"users\" FROM anon;",
                "REVOKE DELETE ON TABLE \"users\" FROM authenticated;",
                "GRANT UPDATE ON TABLE \"users\" TO authenticated;",
                "GRANT SELECT ON TABLE \"users\" TO service_role WITH GRANT OPTION;",
            ]
        );
        let function = catalog(&[("grants on function f(p_id bigint)", "service_role EXECUTE")]);
        let public = catalog(&[("grants on function f(p_id bigint)", "PUBLIC EXECUTE")]);
        assert_eq!(
            grant_statements(&function, &public, &BTreeSet::new(), "public"),
            [
                "REVOKE EXECUTE ON FUNCTION \"f\"(p_id bigint) FROM PUBLIC;",
                "GRANT EXECUTE ON FUNCTION \"f\"(p_id bigint) TO service_role;"
            ]
        );
        // an extra grant option is revoked, not the privilege
        let option = catalog(&[("grants on table t", "r SELECT (grantable)")]);
        let plain = catalog(&[("grants on table t", "r SELECT")]);
        assert_eq!(
            grant_statements(&plain, &option, &BTreeSet::new(), "public"),
            ["REVOKE GRANT OPTION FOR SELECT ON TABLE \"t\" FROM r;"]
        );
    }

    /// Column grants were written `GRANT INSERT, UPDATE ("c")`, which grants INSERT on the
    /// whole table; and a table-level REVOKE took the column grants with it for good.
    #[test]
    fn column_grants_stay_column_grants_through_a_table_revoke() {
        let expected = catalog(&[
            ("grants on table t", "r SELECT"),
            ("grants on column t.c", "r INSERT, UPDATE"),
        ]);
        let actual = catalog(&[
            ("grants on table t", "r SELECT, UPDATE"),
            ("grants on column t.c", "r INSERT, UPDATE"),
        ]);
        assert_eq!(
            grant_statements(&expected, &actual, &BTreeSet::new(), "public"),
            [
                "REVOKE UPDATE ON TABLE \"t\" FROM r;",
                "GRANT UPDATE (\"c\") ON TABLE \"t\" TO r;",
            ]
        );
        let missing = catalog(&[("grants on table t", "r SELECT")]);
        assert_eq!(
            grant_statements(&expected, &missing, &BTreeSet::new(), "public"),
            ["GRANT INSERT (\"c\"), UPDATE (\"c\") ON TABLE \"t\" TO r;"]
        );
    }
}
