//! The statements for each kind of object, one file per kind (`tables.rs`, `views.rs`, ...):
//! how to create one, drop one and change one in place, each file with its tests at its
//! bottom. The planner (`diff::plan`) decides what is created, dropped, changed or made again
//! and in which phase; this module turns each decision into SQL.
//!
//! Statements are collected in a [`Plan`], each in the phase it runs in. A statement that can
//! lose data is written commented out after a `-- data loss:` line saying why, unless data
//! loss is allowed; what cannot be planned is a `-- not generated:` line saying why.

mod columns;
mod comments;
mod constraints;
mod grants;
mod indexes;
mod policies;
mod publications;
mod routines;
mod schemas;
mod sequences;
mod tables;
mod triggers;
mod types;
mod views;

pub(crate) use comments::{comment, owner};
pub(crate) use grants::{default_privilege_statements, grant_statements};
pub(crate) use tables::{belongs_to_table, localize, rebuilt_tables};
pub(crate) use types::labels_kept_in_order;
pub(crate) use views::in_dependency_order;

use crate::catalog::model::{Acl, Def, Kind};
use crate::catalog::{denormalize, Catalog};
use crate::diff::Drift;
use crate::engine::quote_ident;
use std::collections::{BTreeMap, BTreeSet};

/// Quotes each dot-separated part of an object name.
pub(crate) fn quote_path(name: &str) -> String {
    name.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// `(table, object)` of a table-scoped name such as `users.email` or `auth.users.p`.
pub(crate) fn table_and_name(name: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((table, object)) => (quote_path(table), quote_ident(object)),
        None => (String::new(), quote_ident(name)),
    }
}

/// The phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
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
pub(crate) struct Plan {
    pub steps: Vec<(Phase, String)>,
    pub not_generated: Vec<String>,
    pub allow_data_loss: bool,
}

impl Plan {
    pub(crate) fn add(&mut self, phase: Phase, sql: String) {
        self.steps.push((phase, sql));
    }
    pub(crate) fn lossy(&mut self, phase: Phase, why: &str, sql: String) {
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
    pub(crate) fn skip(&mut self, key: &str, why: &str) {
        self.not_generated
            .push(format!("-- not generated: {key} ({why})"));
    }
}

/// The typed definition of `key` in `catalog`.
pub(crate) fn def_of(catalog: &Catalog, key: &str) -> Option<(Kind, Def)> {
    catalog.objects.get(key).map(|o| (o.kind, o.def.clone()))
}

/// What every kind's statements may need to know: both catalogs, the drift between them,
/// the schema the repair runs in, and what the planner decided is made again.
pub(super) struct Ctx<'a> {
    pub expected: &'a Catalog,
    pub actual: &'a Catalog,
    pub drift: &'a Drift,
    /// the schema objects are named relative to
    pub schema: &'a str,
    /// keys dropped and made again around the changes
    pub remade: BTreeSet<String>,
    /// tables made again with their rows
    pub rebuilt: BTreeSet<String>,
    /// tables created by the repair (their columns come with them)
    pub new_tables: BTreeSet<String>,
}

/// `DROP` for `name` of `kind` (as `actual` has it, `def`).
pub(crate) fn drop(plan: &mut Plan, ctx: &Ctx, kind: Kind, name: &str, def: &Def) {
    match (kind, def) {
        (Kind::Schema | Kind::Extension, _) => schemas::drop(plan, kind, name),
        (
            Kind::Enum | Kind::Domain | Kind::CompositeType | Kind::RangeType | Kind::Collation,
            _,
        ) => types::drop(plan, kind, name),
        (Kind::Sequence, _) => sequences::drop(plan, name),
        (Kind::Table, Def::Table(t)) => tables::drop(plan, ctx, name, t),
        (Kind::Column, _) => columns::drop(plan, ctx, name),
        (Kind::Constraint, Def::Constraint { definition, .. }) => {
            constraints::drop(plan, name, definition)
        }
        (Kind::Index | Kind::Statistics, _) => indexes::drop(plan, kind, name),
        (Kind::Function | Kind::Procedure, _) => routines::drop(plan, kind, name),
        (Kind::View | Kind::MaterializedView, _) => views::drop(plan, kind, name),
        (Kind::Trigger | Kind::Rule, _) => triggers::drop(plan, kind, name),
        (Kind::Policy, _) => policies::drop(plan, name),
        (Kind::Publication | Kind::PublicationMember, _) => publications::drop(plan, kind, name),
        // revoked with the grants (`grants.rs`), or gone with their object
        (k, _) if k.is_grants() || k == Kind::DefaultPrivileges => {}
        _ => plan.skip(
            &format!("{} {name}", kind.as_str()),
            "its definition is not one this version reads",
        ),
    }
}

/// `CREATE` for `name` of `kind` as `expected` has it (`def`), with its comment and owner.
pub(crate) fn create(plan: &mut Plan, ctx: &Ctx, kind: Kind, name: &str, def: &Def) {
    match (kind, def) {
        (Kind::Schema | Kind::Extension, _) => schemas::create(plan, name, def),
        (
            Kind::Enum | Kind::Domain | Kind::CompositeType | Kind::RangeType | Kind::Collation,
            _,
        ) => types::create(plan, name, def),
        (Kind::Sequence, Def::Sequence(s)) => sequences::create(plan, name, s),
        (Kind::Table, Def::Table(t)) => tables::create(plan, ctx, name, t),
        (Kind::Column, Def::Column(c)) => columns::create(plan, ctx, name, c),
        (Kind::Constraint, Def::Constraint { definition, .. }) => {
            constraints::create(plan, name, definition)
        }
        (Kind::Index | Kind::Statistics, _) => indexes::create(plan, name, def),
        (Kind::Function | Kind::Procedure, Def::Routine { definition, .. }) => {
            routines::create(plan, ctx, definition)
        }
        (
            Kind::View | Kind::MaterializedView,
            Def::View {
                definition,
                options,
                ..
            },
        ) => views::create(plan, kind, name, definition, options),
        (Kind::Trigger | Kind::Rule, _) => triggers::create(plan, kind, name, def),
        (Kind::Policy, Def::Policy(p)) => policies::create(plan, name, p),
        (Kind::Publication | Kind::PublicationMember, _) => publications::create(plan, name, def),
        // granted with the grants (`grants.rs`)
        (k, _) if k.is_grants() || k == Kind::DefaultPrivileges => {}
        _ => plan.skip(
            &format!("{} {name}", kind.as_str()),
            "its definition is not one this version reads",
        ),
    }
    comment(plan, kind, name, def, None);
    owner(plan, (kind, name, def), [ctx.expected, ctx.actual], false);
}

/// What changes in place for `name` of `kind`, from `a` (actual) to `e` (expected), with its
/// comment and owner. Kinds that change by being made again have nothing to alter here but
/// their options, targets, comments and owners.
pub(crate) fn change(plan: &mut Plan, ctx: &Ctx, kind: Kind, name: &str, e: &Def, a: &Def) {
    match (kind, e, a) {
        (Kind::View | Kind::MaterializedView, _, _) => views::change(plan, kind, name, e, a),
        (Kind::Statistics, _, _) => indexes::change(plan, name, e, a),
        (k, _, _) if changes_by_recreation(k) => {}
        (_, Def::Text(_), _) | (_, _, Def::Text(_)) => plan.skip(
            &format!("{} {name}", kind.as_str()),
            "its definition is not one this version reads",
        ),
        (Kind::Schema | Kind::Extension, _, _) => schemas::change(plan, name, e, a),
        (
            Kind::Enum | Kind::Domain | Kind::CompositeType | Kind::RangeType | Kind::Collation,
            _,
            _,
        ) => types::change(plan, ctx, kind, name, e, a),
        (Kind::Sequence, Def::Sequence(es), Def::Sequence(as_)) => {
            sequences::change(plan, name, es, as_)
        }
        (Kind::Table, Def::Table(et), Def::Table(at)) => tables::change(plan, name, et, at),
        (Kind::Column, Def::Column(ec), Def::Column(ac)) => columns::change(plan, name, ec, ac),
        (
            Kind::Function | Kind::Procedure,
            Def::Routine { definition, .. },
            Def::Routine {
                definition: was, ..
            },
        ) => routines::change(plan, ctx, definition, was),
        (Kind::Publication | Kind::PublicationMember, _, _) => {
            publications::change(plan, name, e, a)
        }
        _ => {}
    }
    comment(plan, kind, name, e, Some(a));
    owner(plan, (kind, name, e), [ctx.expected, ctx.actual], true);
}

/// The SQL word for objects of `kind` (`FUNCTION`, `MATERIALIZED VIEW`, `RULE`, ...), as
/// `DROP`, `ALTER`, `COMMENT ON` and `OWNER TO` write it; `None` for kinds that have none.
pub(crate) fn sql_word(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Schema => "SCHEMA",
        Kind::Table => "TABLE",
        Kind::Column => "COLUMN",
        Kind::View => "VIEW",
        Kind::MaterializedView => "MATERIALIZED VIEW",
        Kind::Function => "FUNCTION",
        Kind::Procedure => "PROCEDURE",
        Kind::Enum | Kind::CompositeType | Kind::RangeType => "TYPE",
        Kind::Domain => "DOMAIN",
        Kind::Collation => "COLLATION",
        Kind::Sequence => "SEQUENCE",
        Kind::Index => "INDEX",
        Kind::Publication => "PUBLICATION",
        Kind::Statistics => "STATISTICS",
        Kind::Trigger => "TRIGGER",
        Kind::Policy => "POLICY",
        Kind::Rule => "RULE",
        Kind::Constraint => "CONSTRAINT",
        _ => return None,
    })
}

/// The table or view an object belongs to: a column's, constraint's, policy's or trigger's
/// table, an index's relation, a partition's parent.
pub(crate) fn relation_of(kind: Kind, name: &str, def: &Def) -> Option<String> {
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

/// The `RESET (...)` and `SET (...)` clauses that turn the storage parameters or options
/// `actual` into `expected` (each comma-separated `name=value`, as the catalog writes them):
/// what is no longer wanted is reset, what is new or different is set, and nothing else.
pub(crate) fn options_change(expected: Option<&str>, actual: Option<&str>) -> Vec<String> {
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

/// `def` without its comment, which is changed in place whatever else changes.
pub(crate) fn strip_comment(def: &Def) -> Def {
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

pub(crate) fn with_semicolon(definition: &str) -> String {
    let d = definition.trim_end();
    if d.ends_with(';') {
        d.to_string()
    } else {
        format!("{d};")
    }
}

/// Kinds whose changes are made by dropping the object and creating it again.
pub(crate) fn changes_by_recreation(kind: Kind) -> bool {
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

/// A string literal.
pub(crate) fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `parent FOR VALUES ...` or `parent DEFAULT`: (parent, bound).
pub(crate) fn split_partition_of(of: &str) -> (&str, &str) {
    of.split_once(' ').unwrap_or((of, "DEFAULT"))
}
