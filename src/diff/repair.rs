//! The statements that turn a database's catalog (actual) into another (expected), planned on
//! the typed model: what `diff --sql` prints. Applied, they make the two catalogs equal, so a
//! second `diff` is clean and a second `diff --sql` prints nothing.
//!
//! Statements run in phases that respect what depends on what: dependents are dropped
//! first (policies, triggers, views, foreign keys, ...), then types, sequences, tables and
//! columns are created or changed, then what stands on them is created again (constraints,
//! functions, views, indexes, triggers, policies, publications), and what is no longer
//! expected (types, sequences, schemas) goes last. Views, and foreign keys onto a key that
//! is replaced, are dropped and created again around the changes they depend on.
//!
//! A statement that can lose data (dropping a table or column, changing a column's type,
//! recreating an enum without some of its labels, dropping an extension) is printed
//! commented out, after a `-- data loss:` line saying why, unless data loss is allowed.
//! What cannot be planned is a `-- not generated:` line saying why.

use super::Drift;
use crate::catalog::model::{split_owner, Acl, Def, Kind};
use crate::catalog::{denormalize, Catalog};
use crate::engine::quote_ident;
use std::collections::{BTreeMap, BTreeSet};

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

/// The phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    DropPolicies,
    DropTriggers,
    DropPublications,
    DropViews,
    DropIndexes,
    DropForeignKeys,
    DropConstraints,
    DropRoutines,
    SaveRows,
    CreateSchemas,
    Extensions,
    Types,
    Sequences,
    Tables,
    Partitions,
    Columns,
    DropColumns,
    DropChildTables,
    DropTables,
    SequenceOwners,
    Constraints,
    ForeignKeys,
    Routines,
    Views,
    Indexes,
    Triggers,
    Policies,
    Publications,
    DropTypes,
    DropSchemas,
    Comments,
    Revokes,
    Grants,
}

/// The statements of one repair, by phase.
#[derive(Default)]
struct Plan {
    steps: Vec<(Phase, String)>,
    not_generated: Vec<String>,
    allow_data_loss: bool,
}

impl Plan {
    fn add(&mut self, phase: Phase, sql: String) {
        self.steps.push((phase, sql));
    }
    fn lossy(&mut self, phase: Phase, why: &str, sql: String) {
        if self.allow_data_loss {
            self.add(phase, sql);
        } else {
            let commented: Vec<String> = sql.lines().map(|l| format!("-- {l}")).collect();
            self.add(
                phase,
                format!("-- data loss: {why}\n{}", commented.join("\n")),
            );
        }
    }
    fn skip(&mut self, key: &str, why: &str) {
        self.not_generated
            .push(format!("-- not generated: {key} ({why})"));
    }
}

/// The typed definition of `key` in `catalog`.
fn def_of(catalog: &Catalog, key: &str) -> Option<(Kind, Def)> {
    let (kind, _) = Kind::of_key(key)?;
    let body = &catalog.objects.get(key)?.body;
    Some((kind, Def::parse(kind, body)))
}

/// How `COMMENT ON` and `ALTER ... OWNER TO` name the object `name` of `kind` (`TABLE t`,
/// `FUNCTION f(integer)`, `POLICY p ON t`); `None` for kinds that have neither.
fn object_target(kind: Kind, name: &str) -> Option<String> {
    Some(match kind {
        Kind::Schema => format!("SCHEMA {}", quote_ident(name)),
        Kind::Table => format!("TABLE {}", quote_path(name)),
        Kind::Column => format!("COLUMN {}", quote_path(name)),
        Kind::View => format!("VIEW {}", quote_path(name)),
        Kind::MaterializedView => format!("MATERIALIZED VIEW {}", quote_path(name)),
        Kind::Function | Kind::Procedure => {
            let (f, args) = name.split_once('(')?;
            format!(
                "{} {}({args}",
                if kind == Kind::Function {
                    "FUNCTION"
                } else {
                    "PROCEDURE"
                },
                quote_path(f)
            )
        }
        Kind::Enum | Kind::CompositeType | Kind::RangeType => format!("TYPE {}", quote_path(name)),
        Kind::Domain => format!("DOMAIN {}", quote_path(name)),
        Kind::Collation => format!("COLLATION {}", quote_path(name)),
        Kind::Sequence => format!("SEQUENCE {}", quote_path(name)),
        Kind::Index => format!("INDEX {}", quote_path(name)),
        Kind::Publication => format!("PUBLICATION {}", quote_ident(name)),
        Kind::Statistics => format!("STATISTICS {}", quote_path(name)),
        Kind::Trigger | Kind::Policy | Kind::Constraint | Kind::Rule => {
            let (table, object) = table_and_name(name);
            let what = match kind {
                Kind::Trigger => "TRIGGER",
                Kind::Policy => "POLICY",
                Kind::Rule => "RULE",
                _ => "CONSTRAINT",
            };
            format!("{what} {object} ON {table}")
        }
        _ => return None,
    })
}

fn comment_of(def: &Def) -> Option<&String> {
    match def {
        Def::Schema(s) => s.comment.as_ref(),
        Def::Table(t) => t.comment.as_ref(),
        Def::Column(c) => c.comment.as_ref(),
        Def::View { comment, .. } | Def::Routine { comment, .. } => comment.as_ref(),
        Def::Enum { comment, .. } | Def::CompositeType { comment, .. } => comment.as_ref(),
        Def::Domain(d) => d.comment.as_ref(),
        Def::RangeType(r) => r.comment.as_ref(),
        Def::Collation(c) => c.comment.as_ref(),
        Def::Constraint { comment, .. }
        | Def::Index { comment, .. }
        | Def::Trigger { comment, .. }
        | Def::Rule { comment, .. }
        | Def::Statistics { comment, .. } => comment.as_ref(),
        Def::Policy(p) => p.comment.as_ref(),
        Def::Publication(p) => p.comment.as_ref(),
        _ => None,
    }
}

/// `ALTER ... OWNER TO` when the owner `expected` gives the object `(kind, name, def)`
/// differs from its owner in `actual` (`exists`), or from the role running the repair when
/// it is created. An owner a catalog leaves unsaid is the role it was read relative to (for
/// the committed catalogs, whoever applied the set: the actual database's).
fn owner(plan: &mut Plan, object: (Kind, &str, &Def), catalogs: [&Catalog; 2], exists: bool) {
    let (kind, name, def) = object;
    let [expected, actual] = catalogs;
    let key = format!("{} {name}", kind.as_str());
    if !kind.is_owned() || matches!(def, Def::Sequence(s) if s.owned_by.is_some()) {
        // a sequence owned by a column follows its table's owner
        return;
    }
    let owner_in = |catalog: &Catalog| {
        catalog
            .objects
            .get(&key)
            .and_then(|o| split_owner(kind, &o.body).1)
    };
    let unsaid = expected.owner.clone().or_else(|| actual.owner.clone());
    let want = owner_in(expected).or(unsaid);
    let have = if exists {
        owner_in(actual).or_else(|| actual.owner.clone())
    } else {
        actual.owner.clone()
    };
    if want == have {
        return;
    }
    if let Some(target) = object_target(kind, name) {
        plan.add(
            Phase::Comments,
            format!(
                "ALTER {target} OWNER TO {};",
                want.as_deref().unwrap_or("CURRENT_USER")
            ),
        );
    }
}

/// `COMMENT ON` when the comment of `expected` differs from `actual`'s (none when created
/// without one).
fn comment(plan: &mut Plan, kind: Kind, name: &str, expected: &Def, actual: Option<&Def>) {
    let want = comment_of(expected);
    if want == actual.and_then(comment_of) {
        return;
    }
    if let Some(target) = object_target(kind, name) {
        plan.add(
            Phase::Comments,
            format!(
                "COMMENT ON {target} IS {};",
                want.map_or("NULL", String::as_str)
            ),
        );
    }
}

fn column_definition(column: &str, c: &crate::catalog::model::Column) -> String {
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
fn columns_of(catalog: &Catalog, table: &str) -> Vec<(String, crate::catalog::model::Column)> {
    let prefix = format!("column {table}.");
    catalog
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(k, o)| {
            let column = &k[prefix.len()..];
            match Def::parse(Kind::Column, &o.body) {
                Def::Column(c) if !column.contains('.') => Some((column.to_string(), c)),
                _ => None,
            }
        })
        .collect()
}

fn create_table(
    plan: &mut Plan,
    key: &str,
    name: &str,
    t: &crate::catalog::model::Table,
    expected: &Catalog,
) {
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
fn partition_change(
    plan: &mut Plan,
    name: &str,
    e: &crate::catalog::model::Table,
    a: &crate::catalog::model::Table,
) {
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

/// `parent FOR VALUES ...` or `parent DEFAULT`: (parent, bound).
fn split_partition_of(of: &str) -> (&str, &str) {
    of.split_once(' ').unwrap_or((of, "DEFAULT"))
}

/// What differs on an existing table, or must be set on a new one (`actual` None).
fn table_flags(
    plan: &mut Plan,
    name: &str,
    e: &crate::catalog::model::Table,
    a: Option<&crate::catalog::model::Table>,
) {
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

fn alter_column(
    plan: &mut Plan,
    key: &str,
    name: &str,
    e: &crate::catalog::model::Column,
    a: &crate::catalog::model::Column,
) {
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
fn identity_sequence(
    plan: &mut Plan,
    (table, name): (&str, &str),
    e: &crate::catalog::model::Column,
    a: Option<&crate::catalog::model::Column>,
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
fn column_attributes(
    plan: &mut Plan,
    table: &str,
    column: &str,
    e: &crate::catalog::model::Column,
    a: Option<&crate::catalog::model::Column>,
) {
    let alter = format!("ALTER TABLE {table} ALTER COLUMN {column}");
    let have =
        |f: fn(&crate::catalog::model::Column) -> &Option<String>| a.and_then(|a| f(a).clone());
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

fn create_policy(name: &str, p: &crate::catalog::model::Policy) -> String {
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

/// `ALTER TABLE ... DISABLE TRIGGER t` (or `RULE`, `what`) and the like, for a trigger or
/// rule `name` whose state is not the default.
fn enabled_state(what: &str, name: &str, enabled: &Option<String>) -> Option<String> {
    let (table, object) = table_and_name(name);
    let verb = match enabled.as_deref()? {
        "disabled" => "DISABLE",
        "enabled replica" => "ENABLE REPLICA",
        "enabled always" => "ENABLE ALWAYS",
        _ => return None,
    };
    Some(format!("ALTER TABLE {table} {verb} {what} {object};"))
}

fn sequence_sql(name: &str, s: &crate::catalog::model::Sequence, create: bool) -> String {
    format!(
        "{} SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}CYCLE;",
        if create { "CREATE" } else { "ALTER" },
        quote_path(name),
        s.data_type,
        s.increment,
        s.min,
        s.max,
        s.start,
        s.cache,
        if s.cycle { "" } else { "NO " }
    )
}

fn publication_with(p: &crate::catalog::model::Publication) -> String {
    format!(
        "(publish = '{}', publish_via_partition_root = {})",
        p.publish, p.via_root
    )
}

/// What a grants object is on: the `ON` clause, and the column for column grants.
fn grant_target(kind: Kind, name: &str, catalogs: [&Catalog; 2]) -> (String, Option<String>) {
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

fn acl_of(catalog: &Catalog, key: &str) -> Acl {
    match def_of(catalog, key) {
        Some((_, Def::Grants(g))) => g.acl(),
        _ => Acl::new(),
    }
}

/// The grant statements of a repair, over every grants object of both catalogs: revokes
/// first, then grants. Revoking a privilege on a table also revokes it on each of the
/// table's columns, so column grants are compared with what is left after the table's
/// revokes, and the ones the design keeps are granted again.
fn grant_statements(
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
fn granted_on(kind: Kind, name: &str) -> Vec<String> {
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
fn default_privileges(name: &str, expected: &Acl, actual: &Acl) -> Vec<String> {
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

/// Repair statements for `drift` between `expected` and `actual`, for a database whose
/// objects are named relative to the schema `schema`.
pub fn statements(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
    schema: &str,
    allow_data_loss: bool,
) -> Vec<String> {
    let mut plan = Plan {
        allow_data_loss,
        ..Plan::default()
    };
    let changed: BTreeSet<&str> = drift.changed.iter().map(|c| c.object.as_str()).collect();
    // Tables whose primary key or a unique constraint is dropped or replaced: the foreign
    // keys onto them are dropped first and made again after.
    let keys_replaced: BTreeSet<String> = drift
        .unexpected
        .iter()
        .chain(
            changed
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .iter(),
        )
        .filter_map(|k| match def_of(actual, k) {
            Some((Kind::Constraint, Def::Constraint { definition, .. }))
                if definition.starts_with("PRIMARY KEY") || definition.starts_with("UNIQUE") =>
            {
                k.strip_prefix("constraint ")
                    .and_then(|n| n.rsplit_once('.'))
                    .map(|(t, _)| t.to_string())
            }
            _ => None,
        })
        .collect();
    let references = |definition: &str, table: &str| {
        definition.contains(&format!("REFERENCES {table}("))
            || definition.contains(&format!("REFERENCES {}(", quote_path(table)))
    };

    // Everything both catalogs hold that must be recreated around the changes.
    let mut recreate: BTreeSet<String> = BTreeSet::new();
    for key in actual.objects.keys() {
        if !expected.objects.contains_key(key) {
            continue;
        }
        let Some((kind, def)) = def_of(actual, key) else {
            continue;
        };
        match (kind, &def) {
            (Kind::Constraint, Def::Constraint { definition, .. })
                if definition.starts_with("FOREIGN KEY")
                    && keys_replaced.iter().any(|t| references(definition, t)) =>
            {
                recreate.insert(key.clone());
            }
            _ => {}
        }
    }

    // What changes by being dropped and made again, and what is made again around changes.
    let mut remade: BTreeSet<String> = recreate.clone();
    remade.extend(
        changed
            .iter()
            .filter(|k| remade_to_change(expected, actual, k))
            .map(|k| k.to_string()),
    );

    // Tables made again with their rows (see [`rebuilt_tables`]): everything that belongs
    // to them is made again, and what depends on them is rebuilt around them.
    let rebuilt = rebuilt_tables(drift, expected, actual);
    // A column that must become the table's own, of a table that keeps inheriting it: the
    // table leaves its parents and inherits them again (each column it has becomes its own,
    // as `NO INHERIT` leaves them; a parent it leaves for good is left in `table_flags`).
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
    for table in &rebuilt {
        for catalog in [expected, actual] {
            remade.extend(
                catalog
                    .objects
                    .keys()
                    .filter(|k| belongs_to_table(catalog, k, table))
                    .cloned(),
            );
        }
        remade.insert(format!("table {table}"));
    }

    // What depends (pg_depend, as the database says) on something made again, on a column
    // whose type changes or that goes away, on a table that goes away, or on a type made
    // again, is made again around it; nothing else is (a view is rebuilt only when what it
    // reads changes, and then with all its options).
    let mut seeds: BTreeSet<String> = drift
        .changed
        .iter()
        .filter(
            |c| match (def_of(expected, &c.object), def_of(actual, &c.object)) {
                (Some((_, Def::Column(e))), Some((_, Def::Column(a)))) => {
                    e.data_type != a.data_type
                        || e.collation != a.collation
                        || e.generated != a.generated
                }
                (
                    Some((_, Def::Enum { labels: e, .. })),
                    Some((_, Def::Enum { labels: a, .. })),
                ) => !labels_kept_in_order(&e, &a),
                (Some((Kind::CompositeType | Kind::Domain, e)), Some((_, a))) => {
                    strip_comment(&e) != strip_comment(&a)
                }
                _ => false,
            },
        )
        .map(|c| c.object.clone())
        .chain(
            drift
                .unexpected
                .iter()
                .filter(|k| k.starts_with("column ") || k.starts_with("table "))
                .cloned(),
        )
        .chain(
            remade
                .iter()
                .filter(|k| {
                    rebuilt
                        .iter()
                        .any(|t| belongs_to_table(actual, k, t) || **k == format!("table {t}"))
                })
                .cloned(),
        )
        .collect();
    loop {
        let more: Vec<String> = actual
            .dependencies
            .iter()
            .filter(|(k, needs)| {
                !remade.contains(*k)
                    && expected.objects.contains_key(*k)
                    && Kind::of_key(k).is_some_and(|(kind, _)| {
                        changes_by_recreation(kind)
                            || matches!(kind, Kind::Function | Kind::Procedure)
                    })
                    && needs
                        .iter()
                        .any(|n| remade.contains(n) || seeds.contains(n))
            })
            .map(|(k, _)| k.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        seeds.extend(more.iter().cloned());
        remade.extend(more);
    }

    // Functions that take or use an enum which is made again are made again around it; so
    // are the indexes of a materialized view that is made again.
    let recreated_enums: Vec<String> = drift
        .changed
        .iter()
        .filter(
            |c| match (def_of(expected, &c.object), def_of(actual, &c.object)) {
                (
                    Some((Kind::Enum, Def::Enum { labels: e, .. })),
                    Some((_, Def::Enum { labels: a, .. })),
                ) => !labels_kept_in_order(&e, &a),
                _ => false,
            },
        )
        .map(|c| c.object["enum ".len()..].to_string())
        .collect();
    let vanishing: BTreeSet<String> = drift
        .unexpected
        .iter()
        .chain(remade.iter())
        .filter_map(|k| match Kind::of_key(k) {
            Some((Kind::Table | Kind::View | Kind::MaterializedView, name)) => {
                Some(name.to_string())
            }
            _ => None,
        })
        .collect();
    for key in actual
        .objects
        .keys()
        .filter(|k| expected.objects.contains_key(*k))
    {
        let Some((kind, def)) = def_of(actual, key) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        let again = match (kind, &def) {
            (Kind::Function | Kind::Procedure, Def::Routine { definition, .. }) => recreated_enums
                .iter()
                .any(|e| mentions(name, e) || mentions(definition, e)),
            (Kind::Index, _) => relation_of(kind, name, &def).is_some_and(|r| {
                vanishing.contains(&r) && remade.contains(&format!("materialized view {r}"))
            }),
            _ => false,
        };
        if again {
            remade.insert(key.clone());
        }
    }

    // Drops: what actual has and expected does not, and what is made again; views that
    // read others first.
    let to_drop = views_in_order(
        drift.unexpected.iter().chain(remade.iter()).collect(),
        actual,
        true,
    );
    // Tables that become a partition again keep their columns, indexes and constraints:
    // attaching makes them the parent's partition copies (they are not in the expected
    // catalog, which shows a partition's only through its parent). Detaching, the other
    // way, leaves the copies in place as the table's own.
    let partition_changes = |to_partition: bool| -> BTreeSet<String> {
        drift
            .changed
            .iter()
            .filter_map(
                |c| match (def_of(expected, &c.object), def_of(actual, &c.object)) {
                    (Some((Kind::Table, Def::Table(e))), Some((_, Def::Table(a))))
                        if e.partition_of.is_some() == to_partition
                            && a.partition_of.is_some() != to_partition =>
                    {
                        c.object.strip_prefix("table ").map(str::to_string)
                    }
                    _ => None,
                },
            )
            .collect()
    };
    let (attaching, detaching) = (partition_changes(true), partition_changes(false));
    for key in to_drop {
        let Some((kind, def)) = def_of(actual, key) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        if matches!(kind, Kind::Column | Kind::Constraint | Kind::Index)
            && relation_of(kind, name, &def).is_some_and(|r| attaching.contains(&r))
        {
            continue;
        }
        let unexpected_only = !expected.objects.contains_key(key);
        let inherits = matches!(&def, Def::Table(t) if t.inherits.is_some());
        if !inherits && relation_of(kind, name, &def).is_some_and(|r| vanishing.contains(&r)) {
            // dropped with the table or view it belongs to
            continue;
        }
        match (kind, &def) {
            (Kind::Policy, _) => {
                let (table, policy) = table_and_name(name);
                plan.add(
                    Phase::DropPolicies,
                    format!("DROP POLICY {policy} ON {table};"),
                );
            }
            (Kind::Trigger | Kind::Rule, _) => {
                let (table, object) = table_and_name(name);
                let what = if kind == Kind::Trigger {
                    "TRIGGER"
                } else {
                    "RULE"
                };
                plan.add(
                    Phase::DropTriggers,
                    format!("DROP {what} {object} ON {table};"),
                );
            }
            (Kind::Statistics, _) => plan.add(
                Phase::DropIndexes,
                format!("DROP STATISTICS IF EXISTS {};", quote_path(name)),
            ),
            (Kind::PublicationMember, _) => {
                if let Some((publication, table)) = name.split_once(':') {
                    plan.add(
                        Phase::DropPublications,
                        format!(
                            "ALTER PUBLICATION {} DROP TABLE {};",
                            quote_ident(publication),
                            quote_path(table)
                        ),
                    );
                }
            }
            (Kind::Publication, _) => plan.add(
                Phase::DropPublications,
                format!("DROP PUBLICATION {};", quote_ident(name)),
            ),
            (Kind::View, _) => plan.add(
                Phase::DropViews,
                format!("DROP VIEW IF EXISTS {};", quote_path(name)),
            ),
            (Kind::MaterializedView, _) => plan.add(
                Phase::DropViews,
                format!("DROP MATERIALIZED VIEW IF EXISTS {};", quote_path(name)),
            ),
            (Kind::Index, _) => plan.add(
                Phase::DropIndexes,
                format!("DROP INDEX {};", quote_path(name)),
            ),
            (Kind::Constraint, Def::Constraint { definition, .. }) => {
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
            (Kind::Function | Kind::Procedure, _) => {
                let (f, args) = name.split_once('(').unwrap_or((name, ")"));
                plan.add(
                    Phase::DropRoutines,
                    format!(
                        "DROP {} {}({args};",
                        if kind == Kind::Function {
                            "FUNCTION"
                        } else {
                            "PROCEDURE"
                        },
                        quote_path(f)
                    ),
                );
            }
            (Kind::Column, _) if unexpected_only => {
                let (table, column) = table_and_name(name);
                let table_goes = drift.unexpected.contains(&format!(
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
            (Kind::Table, _) if rebuilt.contains(name) => {
                save_rows(&mut plan, name, expected, actual)
            }
            (Kind::Table, Def::Table(t)) => {
                // A partition is detached first: a foreign key onto its parent keeps a
                // partition from being dropped while attached.
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
                    if inherits {
                        Phase::DropChildTables
                    } else {
                        Phase::DropTables
                    },
                    &format!("dropping table {name} deletes its rows"),
                    format!("{detach}DROP TABLE {};", quote_path(name)),
                )
            }
            (Kind::Sequence, _) => plan.add(
                Phase::DropTypes,
                format!("DROP SEQUENCE {};", quote_path(name)),
            ),
            (Kind::Enum | Kind::CompositeType | Kind::RangeType, _) => {
                plan.add(Phase::DropTypes, format!("DROP TYPE {};", quote_path(name)))
            }
            (Kind::Domain, _) => plan.add(
                Phase::DropTypes,
                format!("DROP DOMAIN {};", quote_path(name)),
            ),
            (Kind::Collation, _) => plan.add(
                Phase::DropTypes,
                format!("DROP COLLATION {};", quote_path(name)),
            ),
            (Kind::Extension, _) => plan.lossy(
                Phase::DropTypes,
                &format!("dropping extension {name} drops what it owns"),
                format!("DROP EXTENSION {};", quote_ident(name)),
            ),
            (Kind::Schema, _) => plan.add(
                Phase::DropSchemas,
                format!("DROP SCHEMA {};", quote_ident(name)),
            ),
            (k, _) if k.is_grants() || k == Kind::DefaultPrivileges => {}
            _ => plan.skip(key, "dropping objects of this kind is not planned"),
        }
    }

    // Creates: what expected has and actual does not, and what is made again; views after
    // the views they read.
    let to_create = views_in_order(
        drift.missing.iter().chain(remade.iter()).collect(),
        expected,
        false,
    );
    let new_tables: BTreeSet<&str> = drift
        .missing
        .iter()
        .filter_map(|k| k.strip_prefix("table "))
        .chain(rebuilt.iter().map(String::as_str))
        .collect();
    for key in to_create {
        let Some((kind, def)) = def_of(expected, key) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        if matches!(kind, Kind::Column | Kind::Constraint | Kind::Index)
            && relation_of(kind, name, &def).is_some_and(|r| detaching.contains(&r))
        {
            continue;
        }
        match (kind, &def) {
            (Kind::Schema, Def::Schema(_)) => {
                plan.add(
                    Phase::CreateSchemas,
                    format!("CREATE SCHEMA {};", quote_ident(name)),
                );
            }
            (Kind::Extension, Def::Extension { schema: s, version }) => plan.add(
                Phase::Extensions,
                format!(
                    "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION '{version}';",
                    quote_ident(name),
                    quote_ident(s)
                ),
            ),
            (Kind::Collation, Def::Collation(c)) => {
                plan.add(Phase::Types, create_collation(name, c))
            }
            (Kind::Enum, Def::Enum { labels, .. }) => plan.add(
                Phase::Types,
                format!(
                    "CREATE TYPE {} AS ENUM ({});",
                    quote_path(name),
                    labels.join(", ")
                ),
            ),
            (Kind::Domain, Def::Domain(d)) => plan.add(Phase::Types, create_domain(name, d)),
            (Kind::CompositeType, Def::CompositeType { attributes, .. }) => plan.add(
                Phase::Types,
                format!(
                    "CREATE TYPE {} AS ({});",
                    quote_path(name),
                    attributes
                        .iter()
                        .map(|a| quote_attribute(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            (Kind::RangeType, Def::RangeType(r)) => plan.add(Phase::Types, create_range(name, r)),
            (Kind::Sequence, Def::Sequence(s)) => {
                plan.add(Phase::Sequences, sequence_sql(name, s, true));
                if let Some(owner) = &s.owned_by {
                    plan.add(
                        Phase::SequenceOwners,
                        format!("ALTER SEQUENCE {} OWNED BY {owner};", quote_path(name)),
                    );
                }
            }
            (Kind::Table, Def::Table(t)) => {
                create_table(&mut plan, key, name, t, expected);
                if rebuilt.contains(name) {
                    restore_rows(&mut plan, name, expected, actual);
                }
            }
            (Kind::Column, Def::Column(c)) => {
                let table = name.rsplit_once('.').map_or("", |(t, _)| t);
                if !new_tables.contains(table) && !c.inherited {
                    let (t, column) = table_and_name(name);
                    plan.add(
                        Phase::Columns,
                        format!(
                            "ALTER TABLE {t} ADD COLUMN {};",
                            column_definition(name.rsplit_once('.').map_or(name, |(_, c)| c), c)
                        ),
                    );
                    identity_sequence(&mut plan, (&t, name), c, None);
                    column_attributes(&mut plan, &t, &column, c, None);
                }
            }
            (Kind::Constraint, Def::Constraint { definition, .. }) => {
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
            (Kind::Function | Kind::Procedure, Def::Routine { definition, .. }) => plan.add(
                Phase::Routines,
                format!("{};", denormalize(definition, schema)),
            ),
            (
                Kind::View | Kind::MaterializedView,
                Def::View {
                    definition,
                    options,
                    ..
                },
            ) => plan.add(
                Phase::Views,
                format!(
                    "CREATE {}VIEW {}{} AS\n{}",
                    if kind == Kind::View {
                        ""
                    } else {
                        "MATERIALIZED "
                    },
                    quote_path(name),
                    options
                        .as_ref()
                        .map(|o| format!(" WITH ({o})"))
                        .unwrap_or_default(),
                    with_semicolon(definition)
                ),
            ),
            (Kind::Index, Def::Index { definition, .. }) => plan.add(
                Phase::Indexes,
                format!("{};", definition.replacen(" ON ONLY ", " ON ", 1)),
            ),
            (
                Kind::Trigger | Kind::Rule,
                Def::Trigger {
                    definition,
                    enabled,
                    ..
                }
                | Def::Rule {
                    definition,
                    enabled,
                    ..
                },
            ) => {
                let what = if kind == Kind::Trigger {
                    "TRIGGER"
                } else {
                    "RULE"
                };
                plan.add(Phase::Triggers, format!("{definition};"));
                if let Some(sql) = enabled_state(what, name, enabled) {
                    plan.add(Phase::Triggers, sql);
                }
            }
            (
                Kind::Statistics,
                Def::Statistics {
                    definition, target, ..
                },
            ) => {
                plan.add(Phase::Indexes, format!("{definition};"));
                if let Some(t) = target {
                    plan.add(
                        Phase::Indexes,
                        format!("ALTER STATISTICS {} SET STATISTICS {t};", quote_path(name)),
                    );
                }
            }
            (Kind::Policy, Def::Policy(p)) => plan.add(Phase::Policies, create_policy(name, p)),
            (Kind::Publication, Def::Publication(p)) => plan.add(
                Phase::Publications,
                format!(
                    "CREATE PUBLICATION {}{} WITH {};",
                    quote_ident(name),
                    if p.all_tables { " FOR ALL TABLES" } else { "" },
                    publication_with(p)
                ),
            ),
            (Kind::PublicationMember, Def::Member { .. }) => match name.split_once(':') {
                Some((publication, table)) => {
                    plan.add(Phase::Publications, add_member(publication, table, &def))
                }
                None => plan.skip(key, "malformed name"),
            },
            (k, _) if k.is_grants() || k == Kind::DefaultPrivileges => {}
            (_, Def::Text(_)) => plan.skip(key, "its definition is not one this version reads"),
            _ => plan.skip(key, "creating objects of this kind is not planned"),
        }
        comment(&mut plan, kind, name, &def, None);
        owner(&mut plan, (kind, name, &def), [expected, actual], false);
    }

    // Changes made in place.
    for c in &drift.changed {
        let key = c.object.as_str();
        let (Some((kind, e)), Some((_, a))) = (def_of(expected, key), def_of(actual, key)) else {
            continue;
        };
        let name = &key[kind.as_str().len() + 1..];
        match (kind, &e, &a) {
            // dropped and created again above
            _ if remade.contains(key) => {}
            (
                Kind::View | Kind::MaterializedView,
                Def::View { options: eo, .. },
                Def::View { options: ao, .. },
            ) if eo != ao => {
                let view = if kind == Kind::View {
                    "VIEW"
                } else {
                    "MATERIALIZED VIEW"
                };
                for clause in options_change(eo.as_deref(), ao.as_deref()) {
                    plan.add(
                        Phase::Views,
                        format!("ALTER {view} {} {clause};", quote_path(name)),
                    );
                }
            }
            (
                Kind::Statistics,
                Def::Statistics { target: et, .. },
                Def::Statistics { target: at, .. },
            ) if et != at => plan.add(
                Phase::Indexes,
                format!(
                    "ALTER STATISTICS {} SET STATISTICS {};",
                    quote_path(name),
                    et.as_deref().unwrap_or("-1")
                ),
            ),
            (k, _, _) if changes_by_recreation(k) => {}
            (_, Def::Text(_), _) | (_, _, Def::Text(_)) => {
                plan.skip(key, "its definition is not one this version reads")
            }
            (
                Kind::Extension,
                Def::Extension {
                    schema: es,
                    version: ev,
                },
                Def::Extension {
                    schema: as_,
                    version: av,
                },
            ) => {
                if ev != av && version_key(ev) > version_key(av) {
                    plan.add(
                        Phase::Extensions,
                        format!("ALTER EXTENSION {} UPDATE TO '{ev}';", quote_ident(name)),
                    );
                } else if ev != av {
                    // extensions have update paths upwards only
                    plan.lossy(
                        Phase::Extensions,
                        &format!("going back from version {av} of extension {name} drops it and what depends on it, and creates it again"),
                        format!(
                            "DROP EXTENSION {n};\nCREATE EXTENSION {n} WITH SCHEMA {} VERSION '{ev}';",
                            quote_ident(es),
                            n = quote_ident(name)
                        ),
                    );
                }
                if es != as_ {
                    plan.add(
                        Phase::Extensions,
                        format!(
                            "ALTER EXTENSION {} SET SCHEMA {};",
                            quote_ident(name),
                            quote_ident(es)
                        ),
                    );
                }
            }
            (Kind::Enum, Def::Enum { labels: el, .. }, Def::Enum { labels: al, .. }) => {
                enum_change(&mut plan, name, el, al, (expected, actual));
            }
            (Kind::Domain, Def::Domain(ed), Def::Domain(ad)) => {
                let domain = format!("ALTER DOMAIN {}", quote_path(name));
                if ed.base != ad.base || ed.collation != ad.collation {
                    let t = quote_path(name);
                    let convert =
                        convert_columns(columns_of_type(actual, name), expected, |_, c| {
                            format!("TYPE {t} USING {}::text::{t}", quote_ident(c))
                        });
                    remake_under_name(
                        &mut plan,
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
            (Kind::RangeType, Def::RangeType(er), _) if strip_comment(&e) != strip_comment(&a) => {
                // A range type owns functions named after it, so it cannot be renamed aside:
                // its columns go through text while it is made again.
                let t = quote_path(name);
                let columns = columns_of_type(actual, name);
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
                sql.extend(convert_columns(columns, expected, |_, c| {
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
            (Kind::Collation, Def::Collation(ec), _) if strip_comment(&e) != strip_comment(&a) => {
                let collation = quote_path(name);
                let columns: Vec<(String, String, Option<String>)> =
                    columns_of_collation(actual, name)
                        .into_iter()
                        .map(|(t, c, d, _)| (t, c, d))
                        .collect();
                let types: BTreeMap<(String, String), String> = columns_of_collation(actual, name)
                    .into_iter()
                    .map(|(t, c, _, ty)| ((t, c), ty))
                    .collect();
                let convert = convert_columns(columns, expected, |t, c| {
                    let ty = types
                        .get(&(t.to_string(), c.to_string()))
                        .map_or("text", String::as_str);
                    format!("TYPE {ty} COLLATE {collation}")
                });
                remake_under_name(
                    &mut plan,
                    "COLLATION",
                    name,
                    create_collation(name, ec),
                    convert,
                    None,
                );
            }
            (Kind::Sequence, Def::Sequence(es), Def::Sequence(as_)) => {
                let (mut e2, mut a2) = (es.clone(), as_.clone());
                e2.owned_by = None;
                a2.owned_by = None;
                if e2 != a2 {
                    plan.add(Phase::Sequences, sequence_sql(name, es, false));
                }
                if es.owned_by != as_.owned_by {
                    plan.add(
                        Phase::SequenceOwners,
                        format!(
                            "ALTER SEQUENCE {} OWNED BY {};",
                            quote_path(name),
                            es.owned_by.as_deref().unwrap_or("NONE")
                        ),
                    );
                }
            }
            (Kind::Table, Def::Table(et), Def::Table(at)) => {
                if et.partitioned != at.partitioned || et.partition_by != at.partition_by {
                    plan.skip(
                        key,
                        "partitioning is changed by recreating the table, which this does not do",
                    );
                } else {
                    if et.partition_of != at.partition_of {
                        partition_change(&mut plan, name, et, at);
                    }
                    table_flags(&mut plan, name, et, Some(at));
                }
            }
            (Kind::Column, Def::Column(ec), Def::Column(ac)) => {
                alter_column(&mut plan, key, name, ec, ac)
            }
            (
                Kind::Function | Kind::Procedure,
                Def::Routine { definition, .. },
                Def::Routine {
                    definition: was, ..
                },
            ) if definition != was => {
                plan.add(
                    Phase::Routines,
                    format!("{};", denormalize(definition, schema)),
                );
            }
            (Kind::Publication, Def::Publication(ep), Def::Publication(ap)) => {
                if ep.all_tables != ap.all_tables {
                    plan.skip(
                        key,
                        "FOR ALL TABLES is changed by recreating the publication",
                    );
                } else {
                    plan.add(
                        Phase::Publications,
                        format!(
                            "ALTER PUBLICATION {} SET {};",
                            quote_ident(name),
                            publication_with(ep)
                        ),
                    );
                }
            }
            (Kind::PublicationMember, Def::Member { .. }, _) => {
                if let Some((publication, table)) = name.split_once(':') {
                    plan.add(
                        Phase::Publications,
                        format!(
                            "ALTER PUBLICATION {} DROP TABLE {};\n{}",
                            quote_ident(publication),
                            quote_path(table),
                            add_member(publication, table, &e)
                        ),
                    );
                }
            }
            (Kind::DefaultPrivileges, _, _) | (_, Def::Grants(_), _) => {}
            _ => {}
        }
        if !remade.contains(key) {
            comment(&mut plan, kind, name, &e, Some(&a));
            owner(&mut plan, (kind, name, &e), [expected, actual], true);
        }
    }

    // Default privileges, then grants of every object.
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
            // No entry for every schema is Postgres's built-in default: the role keeps its
            // own privileges, and PUBLIC may run functions and use types.
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
    let made: BTreeSet<String> = remade.iter().chain(drift.missing.iter()).cloned().collect();
    for sql in grant_statements(expected, actual, &made, schema) {
        let phase = if sql.starts_with("REVOKE") {
            Phase::Revokes
        } else {
            Phase::Grants
        };
        plan.add(phase, sql);
    }

    plan.steps.sort_by_key(|(phase, _)| *phase);
    let mut script = vec![format!("SET search_path TO {};", quote_ident(schema))];
    let mut seen = BTreeSet::new();
    for (_, sql) in plan.steps {
        if seen.insert(sql.clone()) {
            script.push(sql);
        }
    }
    script.extend(plan.not_generated);
    script
}

/// `ALTER PUBLICATION ... ADD TABLE` for the member `def`, with its column list and row
/// filter.
fn add_member(publication: &str, table: &str, def: &Def) -> String {
    let (columns, filter) = match def {
        Def::Member {
            columns, filter, ..
        } => (columns.as_deref(), filter.as_deref()),
        _ => (None, None),
    };
    format!(
        "ALTER PUBLICATION {} ADD TABLE {}{}{};",
        quote_ident(publication),
        quote_path(table),
        columns.map(|c| format!(" ({c})")).unwrap_or_default(),
        filter.map(|w| format!(" WHERE ({w})")).unwrap_or_default()
    )
}

/// Tables that are made again with their rows: tables of both catalogs with a column that
/// must be inherited only but is the table's own (or the other way, when another column
/// must stay inherited only). Postgres keeps a table's own copy of a
/// column once it has one (`INHERIT` merges, it does not give it up), and `pg_dump` shows
/// the difference (`CREATE TABLE c () INHERITS (p)` against `CREATE TABLE c (x ...)`), so
/// only a new table has it right. A table that others inherit from is not made again (the
/// drop would take them along); its column stays reported as not generated.
fn rebuilt_tables(drift: &Drift, expected: &Catalog, actual: &Catalog) -> BTreeSet<String> {
    let has_children = |table: &str| {
        actual.objects.iter().any(|(k, o)| {
            k.starts_with("table ")
                && matches!(Def::parse(Kind::Table, &o.body), Def::Table(t)
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
fn belongs_to_table(catalog: &Catalog, key: &str, table: &str) -> bool {
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

/// A string literal.
fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The name of the temporary table that keeps the rows of `table` while it is made again.
fn rows_kept(table: &str) -> String {
    quote_ident(&format!("migrate rows of {table}"))
}

/// Keeps the rows of `table` (made again) in a temporary table, and drops it. Sequences that
/// its columns own are let go first, so they stay with their values.
fn save_rows(plan: &mut Plan, table: &str, expected: &Catalog, actual: &Catalog) {
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
fn restore_rows(plan: &mut Plan, table: &str, expected: &Catalog, actual: &Catalog) {
    let kept: Vec<(String, crate::catalog::model::Column)> = columns_of(expected, table)
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
fn owned_sequences(catalog: &Catalog, table: &str) -> Vec<(String, String)> {
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

/// The table or view an object belongs to: a column's, constraint's, policy's or trigger's
/// table, an index's relation, a partition's parent.
fn relation_of(kind: Kind, name: &str, def: &Def) -> Option<String> {
    match (kind, def) {
        (Kind::Column | Kind::Constraint | Kind::Policy | Kind::Trigger | Kind::Rule, _) => {
            name.rsplit_once('.').map(|(t, _)| t.to_string())
        }
        (Kind::Index, Def::Index { definition, .. }) => {
            let (_, rest) = definition.split_once(" ON ")?;
            let rest = rest.strip_prefix("ONLY ").unwrap_or(rest);
            rest.split_once(" USING ").map(|(r, _)| r.to_string())
        }
        (Kind::Table, Def::Table(t)) => t
            .partition_of
            .as_deref()
            .map(|of| split_partition_of(of).0.to_string()),
        _ => None,
    }
}

fn is_view(key: &str) -> bool {
    key.starts_with("view ") || key.starts_with("materialized view ")
}

fn view_name(key: &str) -> &str {
    key.strip_prefix("materialized view ")
        .or_else(|| key.strip_prefix("view "))
        .unwrap_or(key)
}

fn view_definition(catalog: &Catalog, key: &str) -> String {
    match def_of(catalog, key) {
        Some((_, Def::View { definition, .. })) => definition,
        _ => String::new(),
    }
}

/// Whether `definition` names the relation `name` (its last part, as a whole word).
fn mentions(definition: &str, name: &str) -> bool {
    let word = name.rsplit('.').next().unwrap_or(name);
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    definition.match_indices(word).any(|(i, _)| {
        let before = definition[..i].chars().next_back();
        let after = definition[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// `keys` with the views among them ordered so that a view comes after the views it reads
/// (before them when `dependents_first`), by their definitions in `catalog`.
fn views_in_order<'a>(
    keys: Vec<&'a String>,
    catalog: &Catalog,
    dependents_first: bool,
) -> Vec<&'a String> {
    let (mut views, mut out): (Vec<&String>, Vec<&String>) =
        keys.into_iter().partition(|k| is_view(k));
    views.sort();
    views.dedup();
    let mut ordered: Vec<&String> = Vec::new();
    while !views.is_empty() {
        // a view none of the remaining views' reads
        let ready = views
            .iter()
            .position(|v| {
                let definition = view_definition(catalog, v);
                let needs = catalog.dependencies.get(*v);
                !views.iter().any(|o| {
                    o != v
                        && (mentions(&definition, view_name(o))
                            || needs.is_some_and(|n| n.contains(*o)))
                })
            })
            .unwrap_or(0);
        ordered.push(views.remove(ready));
    }
    if dependents_first {
        ordered.reverse();
    }
    out.extend(ordered);
    out
}

fn create_collation(name: &str, c: &crate::catalog::model::Collation) -> String {
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

fn create_domain(name: &str, d: &crate::catalog::model::Domain) -> String {
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

fn create_range(name: &str, r: &crate::catalog::model::RangeType) -> String {
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
fn remake_under_name(
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
fn convert_columns(
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
fn columns_of_collation(
    catalog: &Catalog,
    collation: &str,
) -> Vec<(String, String, Option<String>, String)> {
    catalog
        .objects
        .iter()
        .filter_map(|(k, o)| {
            let name = k.strip_prefix("column ")?;
            let Def::Column(c) = Def::parse(Kind::Column, &o.body) else {
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

/// Whether the change of `key` is made by dropping it and creating it again: for a view,
/// only when its query changes (options and comment are altered in place).
fn remade_to_change(expected: &Catalog, actual: &Catalog, key: &str) -> bool {
    match (def_of(expected, key), def_of(actual, key)) {
        (
            Some((k, Def::View { definition: e, .. })),
            Some((_, Def::View { definition: a, .. })),
        ) if changes_by_recreation(k) => e != a,
        (
            Some((_, Def::Statistics { definition: e, .. })),
            Some((_, Def::Statistics { definition: a, .. })),
        ) => e != a,
        (Some((k, e)), Some((_, a))) => {
            changes_by_recreation(k) && strip_comment(&e) != strip_comment(&a)
        }
        (Some((k, _)), None) => changes_by_recreation(k),
        _ => false,
    }
}

/// The `RESET (...)` and `SET (...)` clauses that turn the storage parameters or options
/// `actual` into `expected` (each comma-separated `name=value`, as the catalog writes them):
/// what is no longer wanted is reset, what is new or different is set, and nothing else.
fn options_change(expected: Option<&str>, actual: Option<&str>) -> Vec<String> {
    let split = |o: Option<&str>| -> BTreeMap<String, String> {
        o.unwrap_or("")
            .split(", ")
            .filter(|x| !x.is_empty())
            .map(|x| match x.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (x.to_string(), String::new()),
            })
            .collect()
    };
    let (want, have) = (split(expected), split(actual));
    let reset: Vec<&str> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(String::as_str)
        .collect();
    let set: Vec<String> = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut clauses = Vec::new();
    if !reset.is_empty() {
        clauses.push(format!("RESET ({})", reset.join(", ")));
    }
    if !set.is_empty() {
        clauses.push(format!("SET ({})", set.join(", ")));
    }
    clauses
}

/// Kinds whose changes are made by dropping the object and creating it again.
fn changes_by_recreation(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::View
            | Kind::MaterializedView
            | Kind::Index
            | Kind::Trigger
            | Kind::Rule
            | Kind::Statistics
            | Kind::Policy
            | Kind::Constraint
    )
}

/// A version as numbers where it has them (`1.10` after `1.9`), for ordering.
fn version_key(version: &str) -> Vec<(u64, String)> {
    version
        .split(['.', '-'])
        .map(|part| (part.parse().unwrap_or(0), part.to_string()))
        .collect()
}

/// `def` without its comment, which is changed in place whatever else changes.
fn strip_comment(def: &Def) -> Def {
    let mut d = def.clone();
    match &mut d {
        Def::RangeType(r) => r.comment = None,
        Def::Collation(c) => c.comment = None,
        Def::Domain(x) => x.comment = None,
        Def::Enum { comment, .. }
        | Def::CompositeType { comment, .. }
        | Def::Constraint { comment, .. }
        | Def::Index { comment, .. }
        | Def::Trigger { comment, .. }
        | Def::Rule { comment, .. }
        | Def::Statistics { comment, .. }
        | Def::View { comment, .. } => *comment = None,
        Def::Policy(p) => p.comment = None,
        Def::Publication(p) => p.comment = None,
        _ => {}
    }
    d
}

fn with_semicolon(definition: &str) -> String {
    let d = definition.trim_end();
    if d.ends_with(';') {
        d.to_string()
    } else {
        format!("{d};")
    }
}

/// `name type[ collate c]` with the name quoted.
fn quote_attribute(attribute: &str) -> String {
    let (name, rest) = crate::catalog::model::split_attribute(attribute);
    format!("{name} {rest}")
}

/// Labels added in place (`ADD VALUE ... BEFORE/AFTER`) when the actual labels keep their
/// order within the expected ones; otherwise the type is made again under its name, and the
/// columns of that type are converted through text.
fn enum_change(
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
fn labels_kept_in_order(expected: &[String], actual: &[String]) -> bool {
    let kept: Vec<&String> = expected.iter().filter(|l| actual.contains(l)).collect();
    kept.len() == actual.len() && kept.iter().zip(actual).all(|(a, b)| *a == b)
}

/// `(table, column, default)` of every column whose type is `type_name`.
fn columns_of_type(catalog: &Catalog, type_name: &str) -> Vec<(String, String, Option<String>)> {
    catalog
        .objects
        .iter()
        .filter_map(|(k, o)| {
            let name = k.strip_prefix("column ")?;
            let Def::Column(c) = Def::parse(Kind::Column, &o.body) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(items: &[(&str, &str)]) -> Catalog {
        Catalog::from_bodies(items)
    }

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
