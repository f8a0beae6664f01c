//! Columns: added, dropped, and altered in place (type, default, nullability, identity and its sequence, storage, compression, statistics target, options).

use super::*;
use crate::catalog::model::Column;

pub(crate) fn column_definition(column: &str, c: &Column) -> String {
    let mut def = format!("{} {}", quote_ident(column), c.data_type);
    if let Some(collation) = &c.collation {
        def.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(g) = &c.generated {
        def.push_str(&format!(" GENERATED ALWAYS AS {g} STORED"));
    }
    if let Some(d) = &c.default {
        def.push_str(&format!(" DEFAULT {d}"));
    }
    if let Some(identity) = &c.identity {
        def.push_str(&format!(
            " GENERATED {} AS IDENTITY",
            identity.to_uppercase()
        ));
    }
    if c.not_null {
        def.push_str(" NOT NULL");
    }
    def
}

/// The columns of `table` in `catalog`, by name.
pub(crate) fn columns_of(catalog: &Catalog, table: &str) -> Vec<(String, Column)> {
    let prefix = format!("column {table}.");
    catalog
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(k, o)| {
            let column = &k[prefix.len()..];
            match &o.def {
                Def::Column(c) if !column.contains('.') => Some((column.to_string(), c.clone())),
                _ => None,
            }
        })
        .collect()
}

/// What changes on a column in place.
pub(crate) fn change(plan: &mut Plan, name: &str, e: &Column, a: &Column) {
    let key = &format!("column {name}");
    let (table, column) = table_and_name(name);
    let alter = format!("ALTER TABLE {table} ALTER COLUMN {column}");
    if e.inherited && !a.inherited {
        // (a table made again has it right; see `rebuilt_tables`)
        plan.skip(
            key,
            "a table others inherit from keeps its own copy of a column once it has one",
        );
        return;
    }
    if e.generated != a.generated {
        // A generated expression cannot be altered: the column is made again. Its values are
        // computed, so only a column that was not generated loses data.
        let drop = format!("ALTER TABLE {table} DROP COLUMN {column};");
        let short = name.rsplit_once('.').map_or(name, |(_, c)| c);
        let add = format!(
            "ALTER TABLE {table} ADD COLUMN {};",
            column_definition(short, e)
        );
        if a.generated.is_some() {
            plan.add(Phase::Columns, format!("{drop}\n{add}"));
        } else {
            plan.lossy(
                Phase::Columns,
                &format!("making {name} a generated column replaces its values"),
                format!("{drop}\n{add}"),
            );
        }
        return;
    }
    if e.data_type != a.data_type || e.collation != a.collation {
        let collate = e
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        if a.default.is_some() {
            plan.add(Phase::DropConstraints, format!("{alter} DROP DEFAULT;"));
        }
        plan.lossy(
            Phase::Columns,
            &format!("changing {name} from {} to {} rewrites its values and fails on a value that does not convert", a.data_type, e.data_type),
            format!("{alter} TYPE {}{collate} USING {column}::{};", e.data_type, e.data_type),
        );
        if let Some(d) = &e.default {
            plan.add(Phase::SequenceOwners, format!("{alter} SET DEFAULT {d};"));
        }
    } else if e.default != a.default {
        plan.add(
            Phase::Columns,
            match &e.default {
                Some(d) => format!("{alter} SET DEFAULT {d};"),
                None => format!("{alter} DROP DEFAULT;"),
            },
        );
    }
    // NOT NULL comes before an identity is added, and goes after one is dropped: an
    // identity column must be NOT NULL.
    if e.not_null && !a.not_null {
        plan.add(Phase::Columns, format!("{alter} SET NOT NULL;"));
    }
    if e.identity != a.identity {
        let sql = match (&e.identity, &a.identity) {
            (None, Some(_)) => format!("{alter} DROP IDENTITY;"),
            (Some(i), None) => format!("{alter} ADD GENERATED {} AS IDENTITY;", i.to_uppercase()),
            (Some(i), Some(_)) => format!("{alter} SET GENERATED {};", i.to_uppercase()),
            (None, None) => unreachable!(),
        };
        plan.add(Phase::Columns, sql);
    }
    if !e.not_null && a.not_null {
        plan.add(Phase::Columns, format!("{alter} DROP NOT NULL;"));
    }
    identity_sequence(plan, (&table, name), e, Some(a));
    column_attributes(plan, &table, &column, e, Some(a));
}

/// The name and parameters of an identity column's sequence, altered in place from
/// `actual`'s; for a column just made, from what Postgres gives a new identity (named
/// `<table>_<column>_seq`, starting at 1 by 1 up to the type's maximum, cache 1, no cycle).
pub(crate) fn identity_sequence(
    plan: &mut Plan,
    (table, name): (&str, &str),
    e: &Column,
    a: Option<&Column>,
) {
    let Some(want) = &e.identity_sequence else {
        return;
    };
    // `name start 1 increment 1 min 1 max 9 cache 1[ cycle]`
    let split = |s: &str| -> (String, String) {
        let (sequence, params) = s.split_once(" start ").unwrap_or((s, ""));
        (sequence.to_string(), format!("start {params}"))
    };
    let (want_name, want_params) = split(want);
    let (have_name, have_params) = match a.and_then(|a| a.identity_sequence.as_deref()) {
        Some(have) if a.is_some_and(|a| a.identity.is_some()) => split(have),
        _ => {
            let (t, c) = name.rsplit_once('.').unwrap_or(("", name));
            let t = t.rsplit('.').next().unwrap_or(t);
            let max = match e.data_type.as_str() {
                "smallint" => "32767",
                "bigint" => "9223372036854775807",
                _ => "2147483647",
            };
            (
                format!("{t}_{c}_seq"),
                format!("start 1 increment 1 min 1 max {max} cache 1"),
            )
        }
    };
    let alter = format!(
        "ALTER TABLE {table} ALTER COLUMN {}",
        quote_ident(name.rsplit('.').next().unwrap_or(name))
    );
    if want_params != have_params {
        let words: Vec<&str> = want_params.split(' ').collect();
        let at = |key: &str| {
            words
                .iter()
                .position(|w| *w == key)
                .and_then(|i| words.get(i + 1))
                .copied()
                .unwrap_or("1")
        };
        let cycle = if words.last() == Some(&"cycle") {
            "CYCLE"
        } else {
            "NO CYCLE"
        };
        plan.add(
            Phase::Columns,
            format!(
                "{alter} SET START WITH {} SET INCREMENT BY {} SET MINVALUE {} SET MAXVALUE {} SET CACHE {} SET {cycle};",
                at("start"),
                at("increment"),
                at("min"),
                at("max"),
                at("cache")
            ),
        );
    }
    if want_name != have_name {
        let new = want_name.rsplit('.').next().unwrap_or(&want_name);
        plan.add(
            Phase::Columns,
            format!("ALTER SEQUENCE {} RENAME TO {};", have_name, new),
        );
    }
}

/// Storage, compression, statistics target and attribute options of a column, altered in
/// place from `actual`'s (a column just made has none of them).
pub(crate) fn column_attributes(
    plan: &mut Plan,
    table: &str,
    column: &str,
    e: &Column,
    a: Option<&Column>,
) {
    let alter = format!("ALTER TABLE {table} ALTER COLUMN {column}");
    let have = |f: fn(&Column) -> &Option<String>| a.and_then(|a| f(a).clone());
    // `external (type extended)`: what the column has, and what its type has
    let storage_of = |s: &str| s.split(" (type ").next().unwrap_or(s).to_uppercase();
    let type_storage = |s: &str| {
        s.split_once(" (type ")
            .map(|(_, t)| t.trim_end_matches(')').to_uppercase())
    };
    let actual_storage = have(|c| &c.storage);
    if e.storage != actual_storage {
        let target = match (&e.storage, &actual_storage) {
            (Some(s), _) => Some(storage_of(s)),
            (None, Some(s)) => type_storage(s),
            (None, None) => None,
        };
        if let Some(t) = target {
            plan.add(Phase::Columns, format!("{alter} SET STORAGE {t};"));
        }
    }
    let settings = [
        (
            "COMPRESSION",
            &e.compression,
            have(|c| &c.compression),
            "default",
        ),
        ("STATISTICS", &e.statistics, have(|c| &c.statistics), "-1"),
    ];
    for (clause, want, actual, default) in settings {
        if *want != actual {
            let value = want.as_deref().unwrap_or(default);
            plan.add(Phase::Columns, format!("{alter} SET {clause} {value};"));
        }
    }
    for clause in options_change(e.options.as_deref(), have(|c| &c.options).as_deref()) {
        plan.add(Phase::Columns, format!("{alter} {clause};"));
    }
}

/// A column the expected catalog does not have is dropped (with its values), unless its
/// table goes away with it.
pub(crate) fn drop(plan: &mut Plan, ctx: &Ctx, name: &str) {
    if ctx.expected.objects.contains_key(&format!("column {name}")) {
        // made again: its values stay, the change is made in place
        return;
    }
    let (table, column) = table_and_name(name);
    let table_goes = ctx.drift.unexpected.contains(&format!(
        "table {}",
        name.rsplit_once('.').map_or("", |(t, _)| t)
    ));
    if !table_goes {
        plan.lossy(
            Phase::DropColumns,
            &format!("dropping column {name} deletes its values"),
            format!("ALTER TABLE {table} DROP COLUMN {column};"),
        );
    }
}

/// A column added to a table that exists (a new table's come with it; an inherited column
/// comes with its parent's).
pub(crate) fn create(plan: &mut Plan, ctx: &Ctx, name: &str, c: &Column) {
    let table = name.rsplit_once('.').map_or("", |(t, _)| t);
    if ctx.new_tables.contains(table) || c.inherited {
        return;
    }
    let (t, column) = table_and_name(name);
    plan.add(
        Phase::Columns,
        format!(
            "ALTER TABLE {t} ADD COLUMN {};",
            column_definition(name.rsplit_once('.').map_or(name, |(_, c)| c), c)
        ),
    );
    identity_sequence(plan, (&t, name), c, None);
    column_attributes(plan, &t, &column, c, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(body: &str) -> Column {
        match Def::parse(Kind::Column, body) {
            Def::Column(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn sql(plan: &Plan) -> Vec<&str> {
        plan.steps.iter().map(|(_, s)| s.as_str()).collect()
    }

    #[test]
    fn a_column_is_written_with_its_default_identity_and_nullability() {
        let c = column("bigint\nnot null\nidentity always");
        assert_eq!(
            column_definition("id", &c),
            "\"id\" bigint GENERATED ALWAYS AS IDENTITY NOT NULL"
        );
        let c = column("text\ndefault 'x'::text\ncollate \"C\"");
        assert_eq!(
            column_definition("note", &c),
            "\"note\" text COLLATE \"C\" DEFAULT 'x'::text"
        );
    }

    /// Identity was added to a nullable column before it was made NOT NULL, which fails.
    #[test]
    fn not_null_comes_before_an_identity_is_added() {
        let mut plan = Plan::default();
        change(
            &mut plan,
            "t.a",
            &column("integer\nnot null\nidentity by default"),
            &column("integer"),
        );
        let sql = sql(&plan);
        let not_null = sql
            .iter()
            .position(|s| s.ends_with("SET NOT NULL;"))
            .unwrap();
        let identity = sql
            .iter()
            .position(|s| s.contains("ADD GENERATED"))
            .unwrap();
        assert!(not_null < identity, "{sql:?}");
    }

    #[test]
    fn storage_goes_back_to_the_types_own() {
        let mut plan = Plan::default();
        change(
            &mut plan,
            "t.email",
            &column("text"),
            &column("text\nstorage external (type extended)"),
        );
        assert_eq!(
            sql(&plan),
            ["ALTER TABLE \"t\" ALTER COLUMN \"email\" SET STORAGE EXTENDED;"]
        );
    }
}
