//! Every "is this database what we expect" question, in one place:
//! - `expected`: which schemas a set's comparison covers, the comparison itself (`diff`),
//!   and the checks of `verify` that stand on it;
//! - `snapshot`: the expected catalogs, built per migration and committed;
//! - `roundtrip`: the rollback proof;
//! - `scratch`: the empty databases `snapshot` and the rollback proof build on;
//! - `generate`: a migration and its down generated from a desired database, and proven;
//! - here: the history against the set's files, and the invariants every set must keep
//!   whatever its migrations say (row level security everywhere, indexed foreign keys,
//!   pinned search_path on SECURITY DEFINER functions, no view that bypasses row level
//!   security by running with its owner's rights, no invalid or duplicate indexes), one
//!   query per invariant, in `sql/`.

pub mod expected;
pub mod generate;
pub mod roundtrip;
pub mod scratch;
pub mod snapshot;

use crate::config::MigrationSet;
use crate::engine::error::db;
use crate::engine::{history::AppliedMigration, EngineError};
use serde::Serialize;
use sqlx::PgConnection;

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    pub summary: String,
    /// The objects or versions at fault.
    pub problems: Vec<String>,
}

impl Check {
    pub fn new(check: &'static str, problems: Vec<String>, pass: &str, fail: &str) -> Check {
        Check {
            check,
            ok: problems.is_empty(),
            summary: if problems.is_empty() {
                pass.to_string()
            } else {
                format!("{fail}: {}", problems.join("; "))
            },
            problems,
        }
    }
}

/// Applied checksums against the files, and unknown, skipped and pending versions.
pub fn history_checks(set: &MigrationSet, applied: &[AppliedMigration]) -> Vec<Check> {
    let mismatched: Vec<String> = applied
        .iter()
        .filter_map(|a| {
            let m = set.find(a.version)?;
            (m.checksum != a.checksum).then(|| {
                format!(
                    "{:04} ({}) changed since it was applied",
                    a.version, m.up.path
                )
            })
        })
        .collect();
    let checksums = Check::new(
        "checksums",
        mismatched,
        &format!("{} applied migration(s) match their files", applied.len()),
        "applied migrations differ from their files",
    );
    let newest = applied.iter().map(|a| a.version).max().unwrap_or(0);
    let mut problems: Vec<String> = applied
        .iter()
        .filter(|a| set.find(a.version).is_none())
        .map(|a| {
            format!(
                "{:04} ({}) is applied but unknown to this binary",
                a.version, a.name
            )
        })
        .collect();
    for m in &set.migrations {
        if applied.iter().any(|a| a.version == m.version) {
            continue;
        }
        problems.push(if m.version < newest {
            format!("{:04} ({}) was skipped", m.version, m.name)
        } else {
            format!("{:04} ({}) is pending", m.version, m.name)
        });
    }
    let versions = Check::new(
        "versions",
        problems,
        &format!("applied up to {newest:04}, the newest this binary knows"),
        "versions differ",
    );
    vec![checksums, versions]
}

const INVARIANTS: &[(&str, &str, &str, &str)] = &[
    (
        "row level security",
        include_str!("sql/rls_disabled.sql"),
        "enabled on every table, partitioned table and partition",
        "disabled on",
    ),
    (
        "foreign key indexes",
        include_str!("sql/unindexed_foreign_keys.sql"),
        "every foreign key has a supporting index",
        "no supporting index for",
    ),
    (
        "definer search_path",
        include_str!("sql/unpinned_definer_functions.sql"),
        "every SECURITY DEFINER function pins its search_path",
        "SECURITY DEFINER without a fixed search_path",
    ),
    (
        "definer views",
        include_str!("sql/definer_views.sql"),
        "every view over a table with row level security has security_invoker",
        "runs with its owner's rights (ALTER VIEW ... SET (security_invoker = true), or a comment starting `definer view:` that says why)",
    ),
    (
        "valid indexes",
        include_str!("sql/invalid_indexes.sql"),
        "no invalid index",
        "invalid (a failed CREATE INDEX CONCURRENTLY?)",
    ),
    (
        "duplicate indexes",
        include_str!("sql/duplicate_indexes.sql"),
        "no two indexes share a definition",
        "same definition",
    ),
];

/// The invariants, over the objects in `schemas`.
pub async fn invariants(
    conn: &mut PgConnection,
    schemas: &[String],
) -> Result<Vec<Check>, EngineError> {
    let mut out = Vec::new();
    for (check, sql, pass, fail) in INVARIANTS {
        let problems: Vec<String> = sqlx::query_scalar(sql)
            .bind(schemas)
            .fetch_all(&mut *conn)
            .await
            .map_err(db(format!("checking {check}")))?;
        out.push(Check::new(check, problems, pass, fail));
    }
    Ok(out)
}
