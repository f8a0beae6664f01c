//! Tables: created (with their columns, partitioning and inheritance), dropped, partitions attached and detached in place, flags, options and inheritance altered in place, and a table made again with its rows when no `ALTER` can give up its own copy of an inherited column.

use super::columns::{column_attributes, column_definition, columns_of, identity_sequence};
use super::*;
use crate::catalog::model::{Column, Table};

pub(crate) fn create_table(plan: &mut Plan, key: &str, name: &str, t: &Table, expected: &Catalog) {
    let table = quote_path(name);
    let mut sql = if let Some(of) = &t.partition_of {
        if of.contains("(month start)") {
            plan.skip(
                key,
                "a monthly partition is made by its set's partition function",
            );
            return;
        }
        let (parent, bound) = split_partition_of(of);
        format!(
            "CREATE TABLE {table} PARTITION OF {} {bound}",
            quote_path(parent)
        )
    } else {
        let columns: Vec<String> = columns_of(expected, name)
            .iter()
            .filter(|(_, c)| !c.inherited)
            .map(|(n, c)| column_definition(n, c))
            .collect();
        let mut s = format!(
            "CREATE {}TABLE {table} (\n    {}\n)",
            if t.unlogged { "UNLOGGED " } else { "" },
            columns.join(",\n    ")
        );
        if let Some(parents) = &t.inherits {
            let parents: Vec<String> = parents.split(", ").map(quote_path).collect();
            s.push_str(&format!(" INHERITS ({})", parents.join(", ")));
        }
        if let Some(by) = &t.partition_by {
            s.push_str(&format!(" PARTITION BY {by}"));
        }
        s
    };
    if let Some(options) = &t.options {
        sql.push_str(&format!(" WITH ({options})"));
    }
    sql.push(';');
    let phase = if t.partition_of.is_some() || t.inherits.is_some() {
        Phase::Partitions
    } else {
        Phase::Tables
    };
    plan.add(phase, sql);
    if t.partition_of.is_none() {
        for (n, c) in columns_of(expected, name)
            .iter()
            .filter(|(_, c)| !c.inherited)
        {
            identity_sequence(plan, (&table, &format!("{name}.{n}")), c, None);
            column_attributes(plan, &table, &quote_ident(n), c, None);
        }
    }
    table_flags(plan, name, t, None);
}

/// A table attached to, detached from or moved between partitioned tables in place, with
/// its rows: `DETACH PARTITION` from the parent it has, `ATTACH PARTITION` to the one it
/// should have. (Its columns, indexes and constraints stay, and attaching takes them as the
/// parent's partition copies.)
pub(crate) fn partition_change(plan: &mut Plan, name: &str, e: &Table, a: &Table) {
    if let Some(of) = &a.partition_of {
        plan.add(
            Phase::DropConstraints,
            format!(
                "ALTER TABLE {} DETACH PARTITION {};",
                quote_path(split_partition_of(of).0),
                quote_path(name)
            ),
        );
    }
    if let Some(of) = &e.partition_of {
        let (parent, bound) = split_partition_of(of);
        plan.add(
            Phase::Partitions,
            format!(
                "ALTER TABLE {} ATTACH PARTITION {} {bound};",
                quote_path(parent),
                quote_path(name)
            ),
        );
    }
}

/// What differs on an existing table, or must be set on a new one (`actual` None).
pub(crate) fn table_flags(plan: &mut Plan, name: &str, e: &Table, a: Option<&Table>) {
    let table = quote_path(name);
    let alter = |plan: &mut Plan, what: String| {
        plan.add(Phase::Columns, format!("ALTER TABLE {table} {what};"))
    };
    if let Some(a) = a {
        if e.unlogged != a.unlogged {
            alter(
                plan,
                format!("SET {}", if e.unlogged { "UNLOGGED" } else { "LOGGED" }),
            );
        }
        for clause in options_change(e.options.as_deref(), a.options.as_deref()) {
            alter(plan, clause);
        }
        if e.inherits != a.inherits {
            let list = |v: &Option<String>| -> BTreeSet<String> {
                v.as_deref()
                    .map(|s| s.split(", ").map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let (want, have) = (list(&e.inherits), list(&a.inherits));
            for gone in have.difference(&want) {
                alter(plan, format!("NO INHERIT {}", quote_path(gone)));
            }
            for new in want.difference(&have) {
                alter(plan, format!("INHERIT {}", quote_path(new)));
            }
        }
    }
    if e.replica_identity != a.and_then(|a| a.replica_identity.clone())
        || a.is_none() && e.replica_identity.is_some()
    {
        let identity = match e.replica_identity.as_deref() {
            None => "DEFAULT".to_string(),
            Some(index) if index.starts_with("using index ") => {
                format!("USING INDEX {}", &index["using index ".len()..])
            }
            Some(other) => other.to_uppercase(),
        };
        plan.add(
            Phase::Indexes,
            format!("ALTER TABLE {table} REPLICA IDENTITY {identity};"),
        );
    }
    if e.cluster_on != a.and_then(|a| a.cluster_on.clone()) {
        let how = match &e.cluster_on {
            Some(index) => format!("CLUSTER ON {index}"),
            None => "SET WITHOUT CLUSTER".to_string(),
        };
        plan.add(Phase::Indexes, format!("ALTER TABLE {table} {how};"));
    }
    if e.rls != a.is_some_and(|a| a.rls) {
        alter(
            plan,
            format!(
                "{} ROW LEVEL SECURITY",
                if e.rls { "ENABLE" } else { "DISABLE" }
            ),
        );
    }
    if e.force_rls != a.is_some_and(|a| a.force_rls) {
        alter(
            plan,
            format!(
                "{} ROW LEVEL SECURITY",
                if e.force_rls { "FORCE" } else { "NO FORCE" }
            ),
        );
    }
}

/// Tables that are made again with their rows: tables of both catalogs with a column that
/// must be inherited only but is the table's own (or the other way, when another column
/// must stay inherited only). Postgres keeps a table's own copy of a
/// column once it has one (`INHERIT` merges, it does not give it up), and `pg_dump` shows
/// the difference (`CREATE TABLE c () INHERITS (p)` against `CREATE TABLE c (x ...)`), so
/// only a new table has it right. A table that others inherit from is not made again (the
/// drop would take them along); its column stays reported as not generated.
pub(crate) fn rebuilt_tables(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
) -> BTreeSet<String> {
    let has_children = |table: &str| {
        actual.objects.values().any(|o| {
            matches!(&o.def, Def::Table(t)
                    if t.inherits.as_deref().is_some_and(|i| i.split(", ").any(|p| p == table))
                        || t.partition_of.as_deref().is_some_and(|of| split_partition_of(of).0 == table))
        })
    };
    // (a table that must give its own copy of a column back to a parent it keeps would
    // leave and inherit it again, which makes every column its own: one that must stay
    // inherited only asks for the table to be made again too)
    let inherits_a_column_only =
        |table: &str| columns_of(expected, table).iter().any(|(_, c)| c.inherited);
    drift
        .changed
        .iter()
        .filter_map(
            |c| match (def_of(expected, &c.object), def_of(actual, &c.object)) {
                (Some((Kind::Column, Def::Column(e))), Some((_, Def::Column(a))))
                    if e.inherited != a.inherited =>
                {
                    c.object
                        .strip_prefix("column ")
                        .and_then(|n| n.rsplit_once('.'))
                        .map(|(t, _)| t.to_string())
                }
                _ => None,
            },
        )
        .filter(|t| {
            matches!(def_of(expected, &format!("table {t}")), Some((_, Def::Table(e)))
                if e.partition_of.is_none() && !e.partitioned)
                && !has_children(t)
                && inherits_a_column_only(t)
        })
        .collect()
}

/// Whether `key` (of `catalog`) is part of the table `table`, made and dropped with it: its
/// columns, constraints, indexes, triggers, rules, policies, extended statistics,
/// publication memberships and the grants on it and its columns.
pub(crate) fn belongs_to_table(catalog: &Catalog, key: &str, table: &str) -> bool {
    let Some((kind, def)) = def_of(catalog, key) else {
        return false;
    };
    let name = &key[kind.as_str().len() + 1..];
    match (kind, &def) {
        (Kind::GrantsOnTable, _) => name == table,
        (Kind::GrantsOnColumn, _) => name.rsplit_once('.').is_some_and(|(t, _)| t == table),
        (Kind::PublicationMember, _) => name.split_once(':').is_some_and(|(_, t)| t == table),
        (Kind::Statistics, Def::Statistics { definition, .. }) => {
            definition.ends_with(&format!(" FROM {table}"))
                || definition.ends_with(&format!(" FROM {}", quote_path(table)))
        }
        (Kind::Table, _) => false,
        _ => relation_of(kind, name, &def).is_some_and(|r| r == table),
    }
}

/// The name of the temporary table that keeps the rows of `table` while it is made again.
pub(crate) fn rows_kept(table: &str) -> String {
    quote_ident(&format!("migrate rows of {table}"))
}

/// Keeps the rows of `table` (made again) in a temporary table, and drops it. Sequences that
/// its columns own are let go first, so they stay with their values.
pub(crate) fn save_rows(plan: &mut Plan, table: &str, expected: &Catalog, actual: &Catalog) {
    let mut sql = format!(
        "-- table {table} is made again with its rows: a column it has of its own must be inherited only\n\
         CREATE TEMPORARY TABLE {} AS SELECT * FROM ONLY {};\n",
        rows_kept(table),
        quote_path(table)
    );
    for (sequence, _) in owned_sequences(actual, table) {
        if expected
            .objects
            .contains_key(&format!("sequence {sequence}"))
        {
            sql.push_str(&format!(
                "ALTER SEQUENCE {} OWNED BY NONE;\n",
                quote_path(&sequence)
            ));
        }
    }
    sql.push_str(&format!("DROP TABLE {};", quote_path(table)));
    plan.add(Phase::SaveRows, sql);
}

/// Puts the rows kept by [`save_rows`] into the table made again (identity values as they
/// were, identity sequences moved past them), and gives the sequences back to its columns.
pub(crate) fn restore_rows(plan: &mut Plan, table: &str, expected: &Catalog, actual: &Catalog) {
    let kept: Vec<(String, Column)> = columns_of(expected, table)
        .into_iter()
        .filter(|(n, c)| {
            c.generated.is_none() && actual.objects.contains_key(&format!("column {table}.{n}"))
        })
        .collect();
    let list = kept
        .iter()
        .map(|(n, _)| quote_ident(n))
        .collect::<Vec<_>>()
        .join(", ");
    let target = quote_path(table);
    let mut sql = format!(
        "INSERT INTO {target} ({list}) OVERRIDING SYSTEM VALUE SELECT {list} FROM {};\nDROP TABLE {};",
        rows_kept(table),
        rows_kept(table)
    );
    for (n, _) in kept.iter().filter(|(_, c)| c.identity.is_some()) {
        sql.push_str(&format!(
            "\nSELECT setval(pg_get_serial_sequence({}, {}), max({})) FROM {target} HAVING max({}) IS NOT NULL;",
            sql_literal(&target),
            sql_literal(n),
            quote_ident(n),
            quote_ident(n)
        ));
    }
    plan.add(Phase::Columns, sql);
    for (sequence, owned_by) in owned_sequences(expected, table) {
        plan.add(
            Phase::SequenceOwners,
            format!(
                "ALTER SEQUENCE {} OWNED BY {owned_by};",
                quote_path(&sequence)
            ),
        );
    }
}

/// The sequences of `catalog` owned by a column of `table`, with their `OWNED BY` column.
pub(crate) fn owned_sequences(catalog: &Catalog, table: &str) -> Vec<(String, String)> {
    catalog
        .objects
        .keys()
        .filter_map(|k| match def_of(catalog, k) {
            Some((Kind::Sequence, Def::Sequence(s))) => {
                let owned_by = s.owned_by?;
                let (t, _) = owned_by.rsplit_once('.')?;
                (t.replace('"', "") == table)
                    .then(|| (k["sequence ".len()..].to_string(), owned_by.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A table the expected catalog does not have is dropped with its rows (a partition is
/// detached first: a foreign key onto its parent keeps an attached partition from being
/// dropped); a table made again keeps its rows aside first.
pub(crate) fn drop(plan: &mut Plan, ctx: &Ctx, name: &str, t: &Table) {
    if ctx.rebuilt.contains(name) {
        save_rows(plan, name, ctx.expected, ctx.actual);
        return;
    }
    let detach = t
        .partition_of
        .as_deref()
        .map(|of| {
            format!(
                "ALTER TABLE {} DETACH PARTITION {};\n",
                quote_path(split_partition_of(of).0),
                quote_path(name)
            )
        })
        .unwrap_or_default();
    plan.lossy(
        if t.inherits.is_some() {
            Phase::DropChildTables
        } else {
            Phase::DropTables
        },
        &format!("dropping table {name} deletes its rows"),
        format!("{detach}DROP TABLE {};", quote_path(name)),
    )
}

/// A table created with its columns (a table made again gets its rows back).
pub(crate) fn create(plan: &mut Plan, ctx: &Ctx, name: &str, t: &Table) {
    create_table(plan, &format!("table {name}"), name, t, ctx.expected);
    if ctx.rebuilt.contains(name) {
        restore_rows(plan, name, ctx.expected, ctx.actual);
    }
}

/// A table changed in place: attached or detached, its flags, options and inheritance.
pub(crate) fn change(plan: &mut Plan, name: &str, e: &Table, a: &Table) {
    if e.partitioned != a.partitioned || e.partition_by != a.partition_by {
        plan.skip(
            &format!("table {name}"),
            "partitioning is changed by recreating the table, which this does not do",
        );
        return;
    }
    if e.partition_of != a.partition_of {
        partition_change(plan, name, e, a);
    }
    table_flags(plan, name, e, Some(a));
}

/// A column that must become the table's own, of a table that keeps inheriting it: the
/// table leaves its parents and inherits them again (each column it has becomes its own,
/// as `NO INHERIT` leaves them; a parent it leaves for good is left in `table_flags`). A
/// table made again (`rebuilt`) has it right already.
pub(crate) fn localize(
    plan: &mut Plan,
    drift: &Drift,
    (expected, actual): (&Catalog, &Catalog),
    rebuilt: &BTreeSet<String>,
) {
    let localized: BTreeSet<&str> = drift
        .changed
        .iter()
        .filter_map(
            |c| match (def_of(expected, &c.object), def_of(actual, &c.object)) {
                (Some((Kind::Column, Def::Column(e))), Some((_, Def::Column(a))))
                    if !e.inherited && a.inherited =>
                {
                    c.object
                        .strip_prefix("column ")
                        .and_then(|n| n.rsplit_once('.'))
                        .map(|(t, _)| t)
                }
                _ => None,
            },
        )
        .collect();
    for table in localized.iter().filter(|t| !rebuilt.contains(**t)) {
        let parents = |c: &Catalog| -> BTreeSet<String> {
            match def_of(c, &format!("table {table}")) {
                Some((_, Def::Table(t))) => t
                    .inherits
                    .map(|i| i.split(", ").map(str::to_string).collect())
                    .unwrap_or_default(),
                _ => BTreeSet::new(),
            }
        };
        for parent in parents(expected).intersection(&parents(actual)) {
            for how in ["NO INHERIT", "INHERIT"] {
                plan.add(
                    Phase::Columns,
                    format!(
                        "ALTER TABLE {} {how} {};",
                        quote_path(table),
                        quote_path(parent)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(body: &str) -> Table {
        match Def::parse(Kind::Table, body) {
            Def::Table(t) => t,
            other => panic!("{other:?}"),
        }
    }

    /// A detached partition was dropped with its rows; it is attached back in place.
    #[test]
    fn a_partition_is_detached_and_attached_in_place() {
        let attached =
            table("table\npartition of dp FOR VALUES IN (1)\nrow level security disabled");
        let detached = table("table\nrow level security disabled");
        let mut plan = Plan::default();
        change(&mut plan, "dp_1", &attached, &detached);
        assert_eq!(
            plan.steps[0].1,
            "ALTER TABLE \"dp\" ATTACH PARTITION \"dp_1\" FOR VALUES IN (1);"
        );
        let mut plan = Plan::default();
        change(&mut plan, "dp_1", &detached, &attached);
        assert_eq!(
            plan.steps[0].1,
            "ALTER TABLE \"dp\" DETACH PARTITION \"dp_1\";"
        );
    }

    #[test]
    fn options_are_reset_and_set_by_name() {
        let mut plan = Plan::default();
        table_flags(
            &mut plan,
            "t",
            &table("table\nwith (fillfactor=70)\nrow level security disabled"),
            Some(&table(
                "table\nwith (autovacuum_enabled=false, fillfactor=60)\nrow level security disabled",
            )),
        );
        let sql: Vec<&str> = plan.steps.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            sql,
            [
                "ALTER TABLE \"t\" RESET (autovacuum_enabled);",
                "ALTER TABLE \"t\" SET (fillfactor=70);"
            ]
        );
    }
}
