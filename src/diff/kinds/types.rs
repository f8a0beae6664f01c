//! Enums, domains, composite and range types, and collations: created, dropped, and changed in place where Postgres allows it (enum labels added, domain defaults and checks, attributes); otherwise made again under their name with the columns that use them converted.

use super::*;

pub(crate) fn create_collation(name: &str, c: &crate::catalog::model::Collation) -> String {
    let mut options = vec![format!("provider = {}", c.provider)];
    match &c.ctype {
        Some(ctype) => {
            options.push(format!("lc_collate = {}", c.locale));
            options.push(format!("lc_ctype = {ctype}"));
        }
        None => options.push(format!("locale = {}", c.locale)),
    }
    if !c.deterministic {
        options.push("deterministic = false".into());
    }
    format!(
        "CREATE COLLATION {} ({});",
        quote_path(name),
        options.join(", ")
    )
}

pub(crate) fn create_domain(name: &str, d: &crate::catalog::model::Domain) -> String {
    let mut sql = format!("CREATE DOMAIN {} AS {}", quote_path(name), d.base);
    if let Some(c) = &d.collation {
        sql.push_str(&format!(" COLLATE {c}"));
    }
    if let Some(v) = &d.default {
        sql.push_str(&format!(" DEFAULT {v}"));
    }
    if d.not_null {
        sql.push_str(" NOT NULL");
    }
    for (n, c) in &d.constraints {
        sql.push_str(&format!(" CONSTRAINT {n} {c}"));
    }
    sql + ";"
}

pub(crate) fn create_range(name: &str, r: &crate::catalog::model::RangeType) -> String {
    let mut options = vec![format!("subtype = {}", r.subtype)];
    if let Some(c) = &r.collation {
        options.push(format!("collation = {c}"));
    }
    if let Some(o) = &r.opclass {
        options.push(format!("subtype_opclass = {o}"));
    }
    if let Some(c) = &r.canonical {
        options.push(format!("canonical = {c}"));
    }
    if let Some(d) = &r.subdiff {
        options.push(format!("subtype_diff = {d}"));
    }
    format!(
        "CREATE TYPE {} AS RANGE ({});",
        quote_path(name),
        options.join(", ")
    )
}

/// A type, domain or collation made again under its name: the old one is renamed, the new
/// one created, the columns that use it converted, and the old one dropped.
pub(crate) fn remake_under_name(
    plan: &mut Plan,
    what: &str,
    name: &str,
    create: String,
    convert: Vec<String>,
    lossy: Option<String>,
) {
    let short = name.rsplit('.').next().unwrap_or(name);
    let old = quote_ident(&format!("{short}_old"));
    let qualified_old = match name.rsplit_once('.') {
        Some((schema, _)) => format!("{}.{old}", quote_ident(schema)),
        None => old.clone(),
    };
    let mut sql = vec![
        format!("ALTER {what} {} RENAME TO {old};", quote_path(name)),
        create,
    ];
    sql.extend(convert);
    sql.push(format!("DROP {what} {qualified_old};"));
    match lossy {
        Some(why) => plan.lossy(Phase::Types, &why, sql.join("\n")),
        None => plan.add(Phase::Types, sql.join("\n")),
    }
}

/// `ALTER TABLE ... ALTER COLUMN ... TYPE` for each column of `columns` to `type_sql`.
pub(crate) fn convert_columns(
    columns: Vec<(String, String, Option<String>)>,
    expected: &Catalog,
    type_sql: impl Fn(&str, &str) -> String,
) -> Vec<String> {
    let mut sql = Vec::new();
    for (table, column, default) in columns {
        let alter = format!(
            "ALTER TABLE {} ALTER COLUMN {}",
            quote_path(&table),
            quote_ident(&column)
        );
        if default.is_some() {
            sql.push(format!("{alter} DROP DEFAULT;"));
        }
        let key = format!("column {table}.{column}");
        let Some((_, Def::Column(c))) = def_of(expected, &key) else {
            continue;
        };
        sql.push(format!("{alter} {};", type_sql(&table, &column)));
        if let Some(d) = c.default {
            sql.push(format!("{alter} SET DEFAULT {d};"));
        }
    }
    sql
}

/// `(table, column, default)` of every column whose collation is `collation`.
pub(crate) fn columns_of_collation(
    catalog: &Catalog,
    collation: &str,
) -> Vec<(String, String, Option<String>, String)> {
    catalog
        .objects
        .iter()
        .filter_map(|(k, o)| {
            let name = k.strip_prefix("column ")?;
            let Def::Column(c) = &o.def else {
                return None;
            };
            let used = c.collation.as_deref().map(|x| x.trim_matches('"'))
                == Some(collation.rsplit('.').next().unwrap_or(collation));
            used.then(|| name.rsplit_once('.'))
                .flatten()
                .map(|(t, col)| {
                    (
                        t.to_string(),
                        col.to_string(),
                        c.default.clone(),
                        c.data_type.clone(),
                    )
                })
        })
        .collect()
}

/// `(table, column, default)` of every column whose type is `type_name`.
pub(crate) fn columns_of_type(
    catalog: &Catalog,
    type_name: &str,
) -> Vec<(String, String, Option<String>)> {
    catalog
        .objects
        .iter()
        .filter_map(|(k, o)| {
            let name = k.strip_prefix("column ")?;
            let Def::Column(c) = &o.def else {
                return None;
            };
            let base = c.data_type.trim_end_matches("[]");
            (base == type_name || base == quote_path(type_name))
                .then(|| name.rsplit_once('.'))
                .flatten()
                .map(|(t, col)| (t.to_string(), col.to_string(), c.default.clone()))
        })
        .collect()
}

/// Labels added in place (`ADD VALUE ... BEFORE/AFTER`) when the actual labels keep their
/// order within the expected ones; otherwise the type is made again under its name, and the
/// columns of that type are converted through text.
pub(crate) fn enum_change(
    plan: &mut Plan,
    name: &str,
    expected_labels: &[String],
    actual_labels: &[String],
    catalogs: (&Catalog, &Catalog),
) {
    let (expected, actual) = catalogs;
    let t = quote_path(name);
    if labels_kept_in_order(expected_labels, actual_labels) {
        for (i, label) in expected_labels.iter().enumerate() {
            if actual_labels.contains(label) {
                continue;
            }
            let place = match expected_labels[..i]
                .iter()
                .rev()
                .find(|l| actual_labels.contains(l))
            {
                Some(before) => format!(" AFTER {before}"),
                None => match expected_labels[i + 1..]
                    .iter()
                    .find(|l| actual_labels.contains(l))
                {
                    Some(after) => format!(" BEFORE {after}"),
                    None => String::new(),
                },
            };
            plan.add(
                Phase::Types,
                format!("ALTER TYPE {t} ADD VALUE {label}{place};"),
            );
        }
        return;
    }
    let short = name.rsplit('.').next().unwrap_or(name);
    let old = quote_ident(&format!("{short}_old"));
    let mut sql = vec![
        format!("ALTER TYPE {t} RENAME TO {old};"),
        format!("CREATE TYPE {t} AS ENUM ({});", expected_labels.join(", ")),
    ];
    for (table, column, default) in columns_of_type(actual, name) {
        let alter = format!(
            "ALTER TABLE {} ALTER COLUMN {}",
            quote_path(&table),
            quote_ident(&column)
        );
        if default.is_some() {
            sql.push(format!("{alter} DROP DEFAULT;"));
        }
        sql.push(format!(
            "{alter} TYPE {t} USING {}::text::{t};",
            quote_ident(&column)
        ));
        let key = format!("column {table}.{column}");
        if let Some((_, Def::Column(c))) = def_of(expected, &key) {
            if let Some(d) = c.default {
                sql.push(format!("{alter} SET DEFAULT {d};"));
            }
        }
    }
    let qualified_old = match name.rsplit_once('.') {
        Some((schema, _)) => format!("{}.{old}", quote_ident(schema)),
        None => old.clone(),
    };
    sql.push(format!("DROP TYPE {qualified_old};"));
    let removed = actual_labels.iter().any(|l| !expected_labels.contains(l));
    if removed {
        plan.lossy(
            Phase::Types,
            &format!(
                "recreating enum {name} without some of its labels fails on rows that hold them"
            ),
            sql.join("\n"),
        );
    } else {
        plan.add(Phase::Types, sql.join("\n"));
    }
}

/// Whether the actual labels all stay, in their order, among the expected ones: then the
/// missing ones can be added in place.
pub(crate) fn labels_kept_in_order(expected: &[String], actual: &[String]) -> bool {
    let kept: Vec<&String> = expected.iter().filter(|l| actual.contains(l)).collect();
    kept.len() == actual.len() && kept.iter().zip(actual).all(|(a, b)| *a == b)
}

/// `name type[ collate c]` with the name quoted.
pub(crate) fn quote_attribute(attribute: &str) -> String {
    let (name, rest) = crate::catalog::model::split_attribute(attribute);
    format!("{name} {rest}")
}

pub(crate) fn drop(plan: &mut Plan, kind: Kind, name: &str) {
    let what = match kind {
        Kind::Domain => "DOMAIN",
        Kind::Collation => "COLLATION",
        _ => "TYPE",
    };
    plan.add(
        Phase::DropTypes,
        format!("DROP {what} {};", quote_path(name)),
    );
}

pub(crate) fn create(plan: &mut Plan, name: &str, def: &Def) {
    let sql = match def {
        Def::Collation(c) => create_collation(name, c),
        Def::Enum { labels, .. } => format!(
            "CREATE TYPE {} AS ENUM ({});",
            quote_path(name),
            labels.join(", ")
        ),
        Def::Domain(d) => create_domain(name, d),
        Def::CompositeType { attributes, .. } => format!(
            "CREATE TYPE {} AS ({});",
            quote_path(name),
            attributes
                .iter()
                .map(|a| quote_attribute(a))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Def::RangeType(r) => create_range(name, r),
        _ => return,
    };
    plan.add(Phase::Types, sql);
}

/// Changed in place where Postgres allows it, otherwise made again under its name with the
/// columns that use it converted.
pub(crate) fn change(plan: &mut Plan, ctx: &Ctx, kind: Kind, name: &str, e: &Def, a: &Def) {
    match (kind, e, a) {
        (Kind::Enum, Def::Enum { labels: el, .. }, Def::Enum { labels: al, .. }) => {
            enum_change(plan, name, el, al, (ctx.expected, ctx.actual));
        }
        (Kind::Domain, Def::Domain(ed), Def::Domain(ad)) => {
            let domain = format!("ALTER DOMAIN {}", quote_path(name));
            if ed.base != ad.base || ed.collation != ad.collation {
                let t = quote_path(name);
                let convert =
                    convert_columns(columns_of_type(ctx.actual, name), ctx.expected, |_, c| {
                        format!("TYPE {t} USING {}::text::{t}", quote_ident(c))
                    });
                remake_under_name(
                    plan,
                    "DOMAIN",
                    name,
                    create_domain(name, ed),
                    convert,
                    Some(format!(
                        "changing the base type of domain {name} converts its columns' values and fails on a value that does not convert"
                    )),
                );
            } else {
                if ed.default != ad.default {
                    plan.add(
                        Phase::Types,
                        match &ed.default {
                            Some(d) => format!("{domain} SET DEFAULT {d};"),
                            None => format!("{domain} DROP DEFAULT;"),
                        },
                    );
                }
                if ed.not_null != ad.not_null {
                    plan.add(
                        Phase::Types,
                        format!(
                            "{domain} {} NOT NULL;",
                            if ed.not_null { "SET" } else { "DROP" }
                        ),
                    );
                }
                for (n, def) in &ad.constraints {
                    if !ed.constraints.contains(&(n.clone(), def.clone())) {
                        plan.add(
                            Phase::DropConstraints,
                            format!("{domain} DROP CONSTRAINT {n};"),
                        );
                    }
                }
                for (n, def) in &ed.constraints {
                    if !ad.constraints.contains(&(n.clone(), def.clone())) {
                        plan.add(
                            Phase::Constraints,
                            format!("{domain} ADD CONSTRAINT {n} {def};"),
                        );
                    }
                }
            }
        }
        (
            Kind::CompositeType,
            Def::CompositeType { attributes: ea, .. },
            Def::CompositeType { attributes: aa, .. },
        ) => {
            let split = |a: &String| -> (String, String) {
                let (n, t) = crate::catalog::model::split_attribute(a);
                (n, t)
            };
            let e_map: BTreeMap<String, String> = ea.iter().map(split).collect();
            let a_map: BTreeMap<String, String> = aa.iter().map(split).collect();
            let t = format!("ALTER TYPE {}", quote_path(name));
            for (n, _) in a_map.iter().filter(|(n, _)| !e_map.contains_key(*n)) {
                plan.add(Phase::Types, format!("{t} DROP ATTRIBUTE {n};"));
            }
            for (n, ty) in &e_map {
                match a_map.get(n) {
                    None => plan.add(Phase::Types, format!("{t} ADD ATTRIBUTE {n} {ty};")),
                    Some(old) if old != ty => {
                        plan.add(Phase::Types, format!("{t} ALTER ATTRIBUTE {n} TYPE {ty};"))
                    }
                    _ => {}
                }
            }
        }
        (Kind::RangeType, Def::RangeType(er), _) if strip_comment(e) != strip_comment(a) => {
            // A range type owns functions named after it, so it cannot be renamed aside:
            // its columns go through text while it is made again.
            let t = quote_path(name);
            let columns = columns_of_type(ctx.actual, name);
            let mut sql = Vec::new();
            for (table, column, default) in &columns {
                let alter = format!(
                    "ALTER TABLE {} ALTER COLUMN {}",
                    quote_path(table),
                    quote_ident(column)
                );
                if default.is_some() {
                    sql.push(format!("{alter} DROP DEFAULT;"));
                }
                sql.push(format!("{alter} TYPE text;"));
            }
            sql.push(format!("DROP TYPE {t};"));
            sql.push(create_range(name, er));
            sql.extend(convert_columns(columns, ctx.expected, |_, c| {
                format!("TYPE {t} USING {}::{t}", quote_ident(c))
            }));
            plan.lossy(
                Phase::Types,
                &format!(
                    "making range type {name} again converts its columns' values and fails on a value that does not convert"
                ),
                sql.join("\n"),
            );
        }
        (Kind::Collation, Def::Collation(ec), _) if strip_comment(e) != strip_comment(a) => {
            let collation = quote_path(name);
            let columns: Vec<(String, String, Option<String>)> =
                columns_of_collation(ctx.actual, name)
                    .into_iter()
                    .map(|(t, c, d, _)| (t, c, d))
                    .collect();
            let types: BTreeMap<(String, String), String> = columns_of_collation(ctx.actual, name)
                .into_iter()
                .map(|(t, c, _, ty)| ((t, c), ty))
                .collect();
            let convert = convert_columns(columns, ctx.expected, |t, c| {
                let ty = types
                    .get(&(t.to_string(), c.to_string()))
                    .map_or("text", String::as_str);
                format!("TYPE {ty} COLLATE {collation}")
            });
            remake_under_name(
                plan,
                "COLLATION",
                name,
                create_collation(name, ec),
                convert,
                None,
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(items: &[(&str, &str)]) -> Catalog {
        Catalog::from_bodies(items)
    }

    #[test]
    fn enum_labels_are_added_in_place_or_the_type_is_made_again() {
        let mut plan = Plan::default();
        let labels = |l: &[&str]| l.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>();
        enum_change(
            &mut plan,
            "mood",
            &labels(&["sad", "meh", "ok", "happy"]),
            &labels(&["sad", "ok"]),
            (&Catalog::default(), &Catalog::default()),
        );
        let sql: Vec<&str> = plan.steps.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            sql,
            [
                "ALTER TYPE \"mood\" ADD VALUE 'meh' AFTER 'sad';",
                "ALTER TYPE \"mood\" ADD VALUE 'happy' AFTER 'ok';"
            ]
        );
        let mut plan = Plan::default();
        enum_change(
            &mut plan,
            "level",
            &labels(&["high", "low"]),
            &labels(&["low", "high"]),
            (&Catalog::default(), &catalog(&[("column t.l", "level")])),
        );
        assert_eq!(
            plan.steps[0].1,
            "ALTER TYPE \"level\" RENAME TO \"level_old\";\nCREATE TYPE \"level\" AS ENUM ('high', 'low');\nALTER TABLE \"t\" ALTER COLUMN \"l\" TYPE \"level\" USING \"l\"::text::\"level\";\nDROP TYPE \"level_old\";"
        );
    }
}
