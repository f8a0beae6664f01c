//! Statements that bring a drifted database back to its expected catalog, for the object
//! kinds where that is well defined and loses no data: indexes, policies, RLS flags,
//! triggers, column defaults and nullability, constraints, functions, publication membership
//! and missing tables. Everything else gets a `-- not generated:` line that says why.

use super::{split_key, Drift};
use crate::catalog::{denormalize, Catalog};
use crate::engine::quote_ident;
use std::collections::BTreeMap;

/// Quotes each dot-separated part of an object name.
fn quote_path(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// `(table, object)` of a table-scoped name such as `users.email` or `auth.users.p`.
fn table_and_name(name: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((table, object)) => (quote_path(table), quote_ident(object)),
        None => (String::new(), quote_ident(name)),
    }
}

/// Sections of a body whose lines start with one of `prefixes`; other lines continue the
/// section before them (multi-line expressions).
fn sections(body: &str, prefixes: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.split('\n') {
        match prefixes.iter().find(|p| line.starts_with(*p)) {
            Some(p) => out.push((p.to_string(), line[p.len()..].to_string())),
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line);
                }
            }
        }
    }
    out
}

fn section<'a>(sections: &'a [(String, String)], prefix: &str) -> Option<&'a str> {
    sections
        .iter()
        .find(|(p, _)| p == prefix)
        .map(|(_, v)| v.as_str())
}

fn create_policy(name: &str, body: &str) -> String {
    let (table, policy) = table_and_name(name);
    let s = sections(
        body,
        &[
            "for ",
            "permissive",
            "restrictive",
            "to ",
            "using (",
            "with check (",
        ],
    );
    let mut sql = format!(
        "CREATE POLICY {policy} ON {table} AS {} FOR {} TO {}",
        if section(&s, "restrictive").is_some() {
            "RESTRICTIVE"
        } else {
            "PERMISSIVE"
        },
        section(&s, "for ").unwrap_or("all").to_uppercase(),
        section(&s, "to ").unwrap_or("public"),
    );
    if let Some(using) = section(&s, "using (") {
        sql.push_str(&format!(" USING ({using}"));
    }
    if let Some(check) = section(&s, "with check (") {
        sql.push_str(&format!(" WITH CHECK ({check}"));
    }
    sql + ";"
}

fn column_definition(column: &str, body: &str) -> Option<String> {
    let lines: Vec<&str> = body.split('\n').collect();
    let mut def = format!("{} {}", quote_ident(column), lines.first()?);
    for line in &lines[1..] {
        if let Some(identity) = line.strip_prefix("identity ") {
            def.push_str(&format!(
                " GENERATED {} AS IDENTITY",
                identity.to_uppercase()
            ));
        } else if *line == "not null" {
            def.push_str(" NOT NULL");
        } else if let Some(d) = line.strip_prefix("default ") {
            def.push_str(&format!(" DEFAULT {d}"));
        } else if let Some(g) = line.strip_prefix("generated always as ") {
            def.push_str(&format!(
                " GENERATED ALWAYS AS {}",
                g.trim_end_matches(" stored")
            ));
            def.push_str(" STORED");
        } else if let Some(c) = line.strip_prefix("collate ") {
            def.push_str(&format!(" COLLATE {c}"));
        }
    }
    Some(def)
}

fn create_table(name: &str, body: &str, expected: &Catalog) -> Result<Vec<String>, &'static str> {
    let lines: Vec<&str> = body.split('\n').collect();
    if lines
        .iter()
        .any(|l| l.starts_with("partition of ") && l.contains("(month start)"))
    {
        return Err("a monthly partition is made by its set's partition function");
    }
    let prefix = format!("column {name}.");
    let columns: Vec<String> = expected
        .objects
        .iter()
        .filter_map(|(k, o)| {
            k.strip_prefix(&prefix)
                .and_then(|c| column_definition(c, &o.body))
        })
        .collect();
    let table = quote_path(name);
    let mut sql = match lines.iter().find_map(|l| l.strip_prefix("partition of ")) {
        Some(rest) => format!("CREATE TABLE {table} PARTITION OF {rest};"),
        None => {
            let mut s = format!("CREATE TABLE {table} (\n    {}\n)", columns.join(",\n    "));
            if let Some(by) = lines.iter().find_map(|l| l.strip_prefix("partition by ")) {
                s.push_str(&format!(" PARTITION BY {by}"));
            }
            s + ";"
        }
    };
    if lines.contains(&"row level security enabled") {
        sql.push_str(&format!("\nALTER TABLE {table} ENABLE ROW LEVEL SECURITY;"));
    }
    if lines.contains(&"force row level security") {
        sql.push_str(&format!("\nALTER TABLE {table} FORCE ROW LEVEL SECURITY;"));
    }
    Ok(vec![sql])
}

fn alter_column(name: &str, expected: &str, actual: &str) -> Result<Vec<String>, &'static str> {
    let (table, column) = table_and_name(name);
    let e: Vec<&str> = expected.split('\n').collect();
    let a: Vec<&str> = actual.split('\n').collect();
    let rest = |v: &[&str]| -> Vec<String> {
        v.iter()
            .filter(|l| **l != "not null" && !l.starts_with("default "))
            .map(|l| l.to_string())
            .collect()
    };
    if rest(&e) != rest(&a) {
        return Err(
            "only defaults and nullability are repaired; the type, identity or collation differs",
        );
    }
    let mut out = Vec::new();
    let default = |v: &[&str]| {
        v.iter()
            .find_map(|l| l.strip_prefix("default "))
            .map(str::to_string)
    };
    if default(&e) != default(&a) {
        out.push(match default(&e) {
            Some(d) => format!("ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {d};"),
            None => format!("ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT;"),
        });
    }
    let not_null = |v: &[&str]| v.contains(&"not null");
    if not_null(&e) != not_null(&a) {
        let verb = if not_null(&e) { "SET" } else { "DROP" };
        out.push(format!(
            "ALTER TABLE {table} ALTER COLUMN {column} {verb} NOT NULL;"
        ));
    }
    Ok(out)
}

fn rls_flags(name: &str, expected: &str, actual: &str) -> Result<Vec<String>, &'static str> {
    let strip = |b: &str| -> Vec<String> {
        b.split('\n')
            .filter(|l| !l.starts_with("row level security") && *l != "force row level security")
            .map(str::to_string)
            .collect()
    };
    if strip(expected) != strip(actual) {
        return Err("only row level security flags are repaired on an existing table");
    }
    let table = quote_path(name);
    let mut out = Vec::new();
    let enabled = |b: &str| b.split('\n').any(|l| l == "row level security enabled");
    if enabled(expected) != enabled(actual) {
        let verb = if enabled(expected) {
            "ENABLE"
        } else {
            "DISABLE"
        };
        out.push(format!("ALTER TABLE {table} {verb} ROW LEVEL SECURITY;"));
    }
    let forced = |b: &str| b.split('\n').any(|l| l == "force row level security");
    if forced(expected) != forced(actual) {
        let verb = if forced(expected) {
            "FORCE"
        } else {
            "NO FORCE"
        };
        out.push(format!("ALTER TABLE {table} {verb} ROW LEVEL SECURITY;"));
    }
    Ok(out)
}

/// Privileges by grantee, each with whether it is grantable, read from a grants body whose
/// lines read `grantee PRIV[ (grantable)], PRIV[ (grantable)]`.
type Acl = BTreeMap<String, BTreeMap<String, bool>>;

fn acl(body: &str) -> Acl {
    let mut out = Acl::new();
    for line in body.split('\n').filter(|l| !l.is_empty()) {
        let (who, privileges) = line.split_once(' ').unwrap_or((line, ""));
        let entry = out.entry(who.to_string()).or_default();
        for p in privileges.split(", ").filter(|p| !p.is_empty()) {
            let (p, grantable) = match p.strip_suffix(" (grantable)") {
                Some(p) => (p, true),
                None => (p, false),
            };
            entry.insert(p.to_string(), grantable);
        }
    }
    out
}

/// What a grants object is on: the `ON` clause, and the column for column grants.
fn grant_target(kind: &str, name: &str, catalogs: [&Catalog; 2]) -> (String, Option<String>) {
    match kind {
        "grants on column" => {
            let (table, column) = table_and_name(name);
            (format!("TABLE {table}"), Some(column))
        }
        "grants on function" => {
            let (function, args) = name.split_once('(').unwrap_or((name, ")"));
            (format!("FUNCTION {}({args}", quote_path(function)), None)
        }
        "grants on schema" => (format!("SCHEMA {}", quote_ident(name)), None),
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
fn privileges<'a>(list: impl Iterator<Item = &'a String>, column: Option<&str>) -> String {
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
fn regrant(
    on: &str,
    column: Option<&str>,
    expected: &Acl,
    actual: &Acl,
) -> (Vec<String>, Vec<String>) {
    let (mut revokes, mut grants) = (Vec::new(), Vec::new());
    let none = BTreeMap::new();
    for (who, have) in actual {
        let want = expected.get(who).unwrap_or(&none);
        let extra: Vec<&String> = have.keys().filter(|p| !want.contains_key(*p)).collect();
        if !extra.is_empty() {
            revokes.push(format!(
                "REVOKE {} ON {on} FROM {who};",
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
                "REVOKE GRANT OPTION FOR {} ON {on} FROM {who};",
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
                    "GRANT {} ON {on} TO {who}{};",
                    privileges(missing.into_iter(), column),
                    if grantable { " WITH GRANT OPTION" } else { "" }
                ));
            }
        }
    }
    (revokes, grants)
}

/// The grant statements of a repair, over every grants object of both catalogs: revokes
/// first, then grants. Revoking a privilege on a table also revokes it on each of the
/// table's columns, so column grants are compared with what is left after the table's
/// revokes, and the ones the design keeps are granted again.
fn grant_statements(expected: &Catalog, actual: &Catalog) -> Vec<String> {
    const KINDS: [&str; 4] = [
        "grants on schema",
        "grants on table",
        "grants on function",
        "grants on column",
    ];
    let keys: std::collections::BTreeSet<&String> = expected
        .objects
        .keys()
        .chain(actual.objects.keys())
        .filter(|k| KINDS.contains(&split_key(k).0))
        .collect();
    let body = |c: &Catalog, k: &str| c.objects.get(k).map(|o| acl(&o.body)).unwrap_or_default();
    // (table, grantee, privilege) revoked at table level
    let mut revoked_on_tables: Vec<(String, String, String)> = Vec::new();
    let (mut revokes, mut grants) = (Vec::new(), Vec::new());
    for kind in KINDS {
        for key in keys.iter().filter(|k| split_key(k).0 == kind) {
            let name = split_key(key).1;
            let (want, mut have) = (body(expected, key), body(actual, key));
            if want == have && kind != "grants on column" {
                continue;
            }
            if kind == "grants on table" {
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
            if kind == "grants on column" {
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
            let (r, g) = regrant(&on, column.as_deref(), &want, &have);
            revokes.extend(r);
            grants.extend(g);
        }
    }
    revokes.into_iter().chain(grants).collect()
}

/// The statement recreating an index, trigger or function from its expected body.
fn definition(body: &str) -> String {
    let def: Vec<&str> = body
        .split('\n')
        .filter(|l| {
            !l.starts_with("comment ")
                && *l != "invalid"
                && !l.starts_with("disabled")
                && !l.starts_with("enabled ")
        })
        .collect();
    // A partitioned table's index is created for the partitions too.
    format!("{};", def.join("\n").replacen(" ON ONLY ", " ON ", 1))
}

/// Repair statements, in an order that satisfies dependencies, for `drift` of a set whose
/// objects live in `schema`.
pub fn statements(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
    schema: &str,
) -> Vec<String> {
    // (order, statement): drops first, then tables, columns, constraints, functions,
    // indexes, triggers, policies, publications, grants.
    let mut out: Vec<(u8, String)> = Vec::new();
    let mut not_generated: Vec<String> = Vec::new();
    let mut skip =
        |key: &str, why: &str| not_generated.push(format!("-- not generated: {key} ({why})"));

    let created_tables: Vec<&str> = drift
        .missing
        .iter()
        .filter_map(|k| k.strip_prefix("table "))
        .collect();

    for key in &drift.missing {
        let (kind, name) = split_key(key);
        let body = &expected.objects[key].body;
        match kind {
            "table" => match create_table(name, body, expected) {
                Ok(sql) => out.extend(sql.into_iter().map(|s| (1, s))),
                Err(why) => skip(key, why),
            },
            "column" if created_tables.iter().any(|t| name.rsplit_once('.').is_some_and(|(tb, _)| tb == *t)) => {}
            "constraint" => {
                let (table, constraint) = table_and_name(name);
                out.push((3, format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} {body};")));
            }
            "function" | "procedure" => out.push((4, definition(&denormalize(body, schema)))),
            "index" => out.push((5, definition(body))),
            "trigger" => {
                out.push((6, definition(body)));
                if body.split('\n').any(|l| l == "disabled") {
                    let (table, trigger) = table_and_name(name);
                    out.push((6, format!("ALTER TABLE {table} DISABLE TRIGGER {trigger};")));
                }
            }
            "policy" => out.push((7, create_policy(name, body))),
            k if k.starts_with("grants on ") => {}
            "publication member" => match name.split_once(':') {
                Some((publication, table)) => out.push((8, format!(
                    "ALTER PUBLICATION {} ADD TABLE {};",
                    quote_ident(publication),
                    quote_path(table)
                ))),
                None => skip(key, "malformed name"),
            },
            _ => skip(key, "missing objects of this kind are recreated by re-running the migrations, not by diff"),
        }
    }
    for key in &drift.unexpected {
        let (kind, name) = split_key(key);
        match kind {
            k if k.starts_with("grants on ") => {}
            "index" => out.push((0, format!("DROP INDEX {};", quote_path(name)))),
            "trigger" => {
                let (table, trigger) = table_and_name(name);
                out.push((0, format!("DROP TRIGGER {trigger} ON {table};")));
            }
            "policy" => {
                let (table, policy) = table_and_name(name);
                out.push((0, format!("DROP POLICY {policy} ON {table};")));
            }
            "constraint" => {
                let (table, constraint) = table_and_name(name);
                out.push((
                    0,
                    format!("ALTER TABLE {table} DROP CONSTRAINT {constraint};"),
                ));
            }
            "publication member" => {
                if let Some((publication, table)) = name.split_once(':') {
                    out.push((
                        0,
                        format!(
                            "ALTER PUBLICATION {} DROP TABLE {};",
                            quote_ident(publication),
                            quote_path(table)
                        ),
                    ));
                }
            }
            _ => skip(
                key,
                "dropping it could lose data or break its users; drop it by hand if it should go",
            ),
        }
    }
    for c in &drift.changed {
        let (kind, name) = split_key(&c.object);
        match kind {
            "index" => {
                out.push((0, format!("DROP INDEX {};", quote_path(name))));
                out.push((5, definition(&c.expected)));
            }
            "trigger" => {
                let (table, trigger) = table_and_name(name);
                out.push((0, format!("DROP TRIGGER {trigger} ON {table};")));
                out.push((6, definition(&c.expected)));
                if c.expected.split('\n').any(|l| l == "disabled") {
                    out.push((6, format!("ALTER TABLE {table} DISABLE TRIGGER {trigger};")));
                }
            }
            "policy" => {
                let (table, policy) = table_and_name(name);
                out.push((0, format!("DROP POLICY {policy} ON {table};")));
                out.push((7, create_policy(name, &c.expected)));
            }
            "constraint" => {
                let (table, constraint) = table_and_name(name);
                out.push((
                    0,
                    format!("ALTER TABLE {table} DROP CONSTRAINT {constraint};"),
                ));
                out.push((
                    3,
                    format!(
                        "ALTER TABLE {table} ADD CONSTRAINT {constraint} {};",
                        c.expected
                    ),
                ));
            }
            "function" | "procedure" => {
                out.push((4, definition(&denormalize(&c.expected, schema))))
            }
            k if k.starts_with("grants on ") => {}
            "column" => match alter_column(name, &c.expected, &c.actual) {
                Ok(sql) => out.extend(sql.into_iter().map(|s| (2, s))),
                Err(why) => skip(&c.object, why),
            },
            "table" => match rls_flags(name, &c.expected, &c.actual) {
                Ok(sql) => out.extend(sql.into_iter().map(|s| (2, s))),
                Err(why) => skip(&c.object, why),
            },
            _ => skip(&c.object, "changes of this kind are not repaired by diff"),
        }
    }
    out.extend(
        grant_statements(expected, actual)
            .into_iter()
            .map(|s| (9, s)),
    );
    out.sort_by_key(|(order, _)| *order);
    let mut script = vec![format!("SET search_path TO {};", quote_ident(schema))];
    script.extend(out.into_iter().map(|(_, s)| s));
    script.extend(not_generated);
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_rebuilt_from_their_canonical_text() {
        let body = "for update\npermissive\nto authenticated\nusing ((id = ( SELECT 1\n   FROM t)))\nwith check (true)";
        assert_eq!(
            create_policy("users.p", body),
            "CREATE POLICY \"p\" ON \"users\" AS PERMISSIVE FOR UPDATE TO authenticated USING ((id = ( SELECT 1\n   FROM t))) WITH CHECK (true);"
        );
    }

    #[test]
    fn columns_change_default_and_nullability_only() {
        assert_eq!(
            alter_column(
                "users.role",
                "text\nnot null\ndefault 'user'::text",
                "text\ndefault 'x'::text"
            )
            .unwrap(),
            [
                "ALTER TABLE \"users\" ALTER COLUMN \"role\" SET DEFAULT 'user'::text;",
                "ALTER TABLE \"users\" ALTER COLUMN \"role\" SET NOT NULL;"
            ]
        );
        assert!(alter_column("users.role", "text", "integer").is_err());
    }

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
            grant_statements(&expected, &actual),
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
            grant_statements(&function, &public),
            [
                "REVOKE EXECUTE ON FUNCTION \"f\"(p_id bigint) FROM PUBLIC;",
                "GRANT EXECUTE ON FUNCTION \"f\"(p_id bigint) TO service_role;"
            ]
        );
        // an extra grant option is revoked, not the privilege
        let option = catalog(&[("grants on table t", "r SELECT (grantable)")]);
        let plain = catalog(&[("grants on table t", "r SELECT")]);
        assert_eq!(
            grant_statements(&plain, &option),
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
            grant_statements(&expected, &actual),
            [
                "REVOKE UPDATE ON TABLE \"t\" FROM r;",
                "GRANT UPDATE (\"c\") ON TABLE \"t\" TO r;",
            ]
        );
        let missing = catalog(&[("grants on table t", "r SELECT")]);
        assert_eq!(
            grant_statements(&expected, &missing),
            ["GRANT INSERT (\"c\"), UPDATE (\"c\") ON TABLE \"t\" TO r;"]
        );
    }
}
