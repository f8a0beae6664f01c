//! `migrate new SET NAME --from URL`: a migration generated from a database that holds the
//! schema the developer wants, with its down, proven before anything is written.
//!
//! On a scratch database the set's head is built; the up is the repair plan (the one `diff
//! --sql` prints) that turns the head's catalog into the desired database's, the down the
//! plan that turns the desired catalog back into the head's. Both are then proven on the
//! scratch database: the up applied to the head must leave no drift against the desired
//! database, the down must give the head's catalog back, and the up applied again the
//! desired one. The proof runs every statement, including those that lose data; the files
//! keep those commented out after their `-- data loss:` line unless data loss is allowed.

use super::expected::{compare_set, drift_of, Comparison};
use super::scratch::ScratchServer;
use super::snapshot::SnapshotError;
use crate::catalog::Catalog;
use crate::config::MigrationSet;
use crate::diff::{plan, Drift};
use crate::engine;
use crate::run::Run;
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Scratch(#[from] super::scratch::ScratchError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

/// What was generated, and what the proof found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Generated {
    /// The up file's statements, as written.
    pub up: Vec<String>,
    /// The down file's statements, as written.
    pub down: Vec<String>,
    /// The second migration's up (no transaction): indexes built concurrently, constraints
    /// validated. Empty when everything fits in the first.
    pub online_up: Vec<String>,
    /// The second migration's down.
    pub online_down: Vec<String>,
    /// The (only) migration runs without a transaction: all it does is build indexes
    /// concurrently and validate constraints.
    pub no_transaction: bool,
    /// What differs in schemas the set does not own: nothing is generated then.
    pub outside: Vec<String>,
    /// What the proof found wrong; empty when the pair passed.
    pub failures: Vec<String>,
    /// Columns the up renames (`column t.a to b`), where a drop and an add of the same
    /// definition were found.
    pub renamed: Vec<String>,
    /// Objects the up creates, changes and removes.
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub changed: Vec<String>,
}

impl Generated {
    pub fn proven(&self) -> bool {
        self.outside.is_empty() && self.failures.is_empty() && !self.up.is_empty()
    }
}

/// Every object a drift names.
fn keys(drift: &Drift) -> Vec<String> {
    drift
        .missing
        .iter()
        .chain(&drift.unexpected)
        .cloned()
        .chain(drift.changed.iter().map(|c| c.object.clone()))
        .collect()
}

/// The objects of `drift` that live in a schema outside `owned`.
fn outside(drift: &Drift, expected: &Catalog, actual: &Catalog, owned: &[String]) -> Vec<String> {
    keys(drift)
        .into_iter()
        .filter(|k| {
            let schema = expected
                .objects
                .get(k)
                .or_else(|| actual.objects.get(k))
                .and_then(|o| o.schema.clone());
            schema.is_some_and(|s| !owned.contains(&s))
        })
        .collect()
}

/// Columns renamed, as the drift shows them: on a table that both sides have, exactly one
/// column missing and exactly one unexpected, with the same definition (type, nullability,
/// default, collation, storage, ...; the comment may differ), as (table, from, to). A
/// rename keeps the column's values, where a drop and an add would lose them; the developer
/// reviewing the file is told. Identity and inherited columns are left to the drop and add.
fn renamed_columns(
    drift: &Drift,
    expected: &Catalog,
    actual: &Catalog,
) -> Vec<(String, String, String)> {
    use crate::catalog::model::Def;
    use std::collections::BTreeMap;
    let column = |catalog: &Catalog, key: &str| match catalog.objects.get(key).map(|o| &o.def) {
        Some(Def::Column(c)) if c.identity.is_none() && !c.inherited => {
            Some(crate::catalog::model::Column {
                comment: None,
                ..c.clone()
            })
        }
        _ => None,
    };
    let by_table = |keys: &[String]| {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for k in keys {
            if let Some((table, name)) = k.strip_prefix("column ").and_then(|n| n.rsplit_once('.'))
            {
                out.entry(table.to_string())
                    .or_default()
                    .push(name.to_string());
            }
        }
        out
    };
    let (added, gone) = (by_table(&drift.missing), by_table(&drift.unexpected));
    let mut out = Vec::new();
    for (table, to) in &added {
        let Some(from) = gone.get(table) else {
            continue;
        };
        let ([to], [from]) = (to.as_slice(), from.as_slice()) else {
            continue;
        };
        let e = column(expected, &format!("column {table}.{to}"));
        let a = column(actual, &format!("column {table}.{from}"));
        if e.is_some() && e == a && expected.objects.contains_key(&format!("table {table}")) {
            out.push((table.clone(), from.clone(), to.clone()));
        }
    }
    out
}

/// The plan without its `SET search_path` line: a migration runs with the set's schema as
/// its `search_path` already, and a session-wide `SET` in a file would outlive it.
fn for_a_file(mut statements: Vec<String>, schema: &str) -> Vec<String> {
    let own = format!("SET search_path TO {};", crate::engine::quote_ident(schema));
    statements.retain(|s| s != &own);
    statements
}

/// Applies declarative schema files (path as shown, text), in order, to the database `conn`
/// is connected to, with `search_path` set to `schema`: the desired state of `new
/// --from-file` and `diff --from-file`. The error names the file that failed.
pub async fn apply_files(
    conn: &mut PgConnection,
    schema: &str,
    files: &[(String, String)],
) -> Result<(), String> {
    for (path, sql) in files {
        // each file starts in the set's schema, whatever the one before set (a dump empties
        // search_path)
        sqlx::query("SELECT set_config('search_path', quote_ident($1), false)")
            .bind(schema)
            .execute(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        // pg_dump's `\restrict` and `\unrestrict` lines are for psql only: blanked, so a
        // dump of a database can serve as a schema file (line numbers stay).
        let sql: String = sql
            .lines()
            .map(|l| {
                if l.starts_with("\\restrict ") || l.starts_with("\\unrestrict ") {
                    ""
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let statements = crate::sets::split::split(&sql).map_err(|e| format!("{path}: {e}"))?;
        for st in statements {
            sqlx::raw_sql(st.text)
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    format!(
                        "{path} line {}: {}",
                        crate::sets::split::line_of(&sql, st.offset),
                        crate::engine::error::reason(&e)
                    )
                })?;
        }
    }
    sqlx::raw_sql("RESET search_path")
        .execute(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs `statements` on `conn`: in one transaction, or (`in_transaction` false) each on
/// its own, as a no-transaction migration runs them.
async fn apply(
    conn: &mut PgConnection,
    statements: &[String],
    in_transaction: bool,
) -> Result<(), String> {
    if !in_transaction {
        for s in statements {
            sqlx::raw_sql(s)
                .execute(&mut *conn)
                .await
                .map_err(|e| format!("{s} {e}"))?;
        }
        return Ok(());
    }
    let script = format!("BEGIN;\n{}\nCOMMIT;", statements.join("\n"));
    let result = sqlx::raw_sql(&script).execute(&mut *conn).await;
    if let Err(e) = result {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        return Err(e.to_string());
    }
    Ok(())
}

/// What `new --from` asks of the generation besides the desired state.
#[derive(Debug, Clone, Copy)]
pub struct Choices<'a> {
    /// The schemas the set may change (its own, those its committed catalog names, and any
    /// given with `--schema`).
    pub owned: &'a [String],
    /// Statements that lose data are written as statements, not commented out.
    pub allow_data_loss: bool,
    /// Everything in one transactional migration: no concurrent index builds, no `NOT
    /// VALID` constraints validated afterwards.
    pub one_migration: bool,
}

/// What a proof step is compared with once its statements ran.
enum Target<'a> {
    /// The desired database.
    Desired,
    /// A catalog read before.
    Catalog(&'a Catalog),
    /// Nothing: the catalog is read and kept, for a later step to come back to.
    Keep,
    /// The catalog kept.
    Kept,
}

/// Generates the migration that takes `set` from its head to the catalog of `desired`, and
/// proves it on a scratch database of `server`.
///
/// Unless `one_migration`, what can run without blocking writes on a table that exists at
/// the head goes to a second, no-transaction migration (`diff::plan::online`). The proof
/// then runs: the first up, the second up (the desired catalog), the second down (the
/// catalog after the first up), the first down (the head's), and both ups again (the
/// desired catalog).
pub async fn generate(
    run: &Run,
    server: &ScratchServer,
    set: &MigrationSet,
    all: &[MigrationSet],
    desired: &mut PgConnection,
    choices: Choices<'_>,
) -> Result<Generated, GenerateError> {
    let Choices {
        owned,
        allow_data_loss,
        one_migration,
    } = choices;
    server
        .with_database("new", async |head: &mut PgConnection| {
            let limits = engine::Limits::new(&set.lock_timeout).in_run(run);
            engine::up(head, set, None, limits, &|_: &engine::Event| {}).await?;
            let Comparison {
                drift,
                expected: want,
                actual: had,
            } = drift_of(run, head, Some(&mut *desired), set, all, true).await?;
            let mut out = Generated {
                outside: outside(&drift, &want, &had, owned),
                missing: drift.missing.clone(),
                unexpected: drift.unexpected.clone(),
                changed: drift.changed.iter().map(|c| c.object.clone()).collect(),
                ..Generated::default()
            };
            if !out.outside.is_empty() || drift.is_empty() {
                return Ok::<_, GenerateError>(out);
            }
            let schema = &set.schema;
            // Renamed columns: the plan is made from the head with the renames done (read
            // on the scratch database, then undone), and the renames go first in the up and
            // last in the down.
            let renames = renamed_columns(&drift, &want, &had);
            let rename = |back: bool| -> Vec<String> {
                let mut list: Vec<String> = renames
                    .iter()
                    .map(|(table, from, to)| {
                        let (from, to) = if back { (to, from) } else { (from, to) };
                        format!(
                            "ALTER TABLE {} RENAME COLUMN {} TO {};",
                            table
                                .split('.')
                                .map(crate::engine::quote_ident)
                                .collect::<Vec<_>>()
                                .join("."),
                            crate::engine::quote_ident(from),
                            crate::engine::quote_ident(to)
                        )
                    })
                    .collect();
                if back {
                    list.reverse();
                }
                list
            };
            let (rename_up, rename_down) = (rename(false), rename(true));
            out.renamed = renames
                .iter()
                .map(|(t, from, to)| format!("column {t}.{from} to {to}"))
                .collect();
            let (drift, want, had_renamed) = if renames.is_empty() {
                (drift, want, had.clone())
            } else {
                let mut done = apply(head, &rename_up, true).await.map(|_| ());
                let read = drift_of(run, head, Some(&mut *desired), set, all, true).await;
                if done.is_ok() {
                    done = apply(head, &rename_down, true).await;
                }
                if let Err(e) = done {
                    out.failures.push(format!("renaming columns fails: {e}"));
                    return Ok(out);
                }
                let c = read?;
                (c.drift, c.expected, c.actual)
            };
            out.missing = drift.missing.clone();
            out.unexpected = drift.unexpected.clone();
            out.changed = drift.changed.iter().map(|c| c.object.clone()).collect();
            let back = compare_set(set, all, &had_renamed, &want);
            let plans = |loss: bool| {
                let mut up = rename_up.clone();
                up.extend(for_a_file(
                    plan::statements(&drift, &want, &had_renamed, schema, loss),
                    schema,
                ));
                let mut down = for_a_file(
                    plan::statements(&back.drift, &back.expected, &back.actual, schema, loss),
                    schema,
                );
                down.extend(rename_down.iter().cloned());
                if one_migration {
                    plan::online::Split {
                        up,
                        down,
                        ..Default::default()
                    }
                } else {
                    plan::online::split(&drift, &want, &had_renamed, up, down)
                }
            };
            // The proof runs every statement, those that lose data too. When everything was
            // taken out of the transaction, the one migration runs without one.
            let alone = |mut p: plan::online::Split| {
                let alone = p.up.is_empty() && p.down.is_empty() && !p.online_up.is_empty();
                if alone {
                    p.up = std::mem::take(&mut p.online_up);
                    p.down = std::mem::take(&mut p.online_down);
                }
                (p, alone)
            };
            let (proven, no_transaction) = alone(plans(true));
            let (written, _) = alone(plans(allow_data_loss));
            let in_transaction = !no_transaction;
            out.no_transaction = no_transaction;
            out.up = written.up;
            out.down = written.down;
            out.online_up = written.online_up;
            out.online_down = written.online_down;
            let mut between: Option<Catalog> = None;
            let online = !proven.online_up.is_empty();
            let mut steps: Vec<(&str, &[String], bool, Target)> = Vec::new();
            if online {
                steps.push(("the up", &proven.up, true, Target::Keep));
                steps.push((
                    "the concurrent up",
                    &proven.online_up,
                    false,
                    Target::Desired,
                ));
                steps.push((
                    "the concurrent down",
                    &proven.online_down,
                    false,
                    Target::Kept,
                ));
            } else {
                steps.push(("the up", &proven.up, in_transaction, Target::Desired));
            }
            steps.push((
                "the down",
                &proven.down,
                in_transaction,
                Target::Catalog(&had),
            ));
            steps.push((
                "the up after the down",
                &proven.up,
                in_transaction,
                if online {
                    Target::Kept
                } else {
                    Target::Desired
                },
            ));
            if online {
                steps.push((
                    "the concurrent up after the down",
                    &proven.online_up,
                    false,
                    Target::Desired,
                ));
            }
            for (what, statements, in_transaction, target) in steps {
                if let Err(e) = apply(head, statements, in_transaction).await {
                    out.failures.push(format!("{what} fails: {e}"));
                    break;
                }
                let left = match target {
                    Target::Desired => drift_of(run, head, Some(&mut *desired), set, all, false)
                        .await
                        .map(|c| c.drift),
                    Target::Catalog(_) | Target::Keep | Target::Kept => {
                        match super::expected::read(run, head, schema, false, None).await {
                            Err(e) => Err(SnapshotError::from(e)),
                            Ok(now) => {
                                let now = now.as_sets_see_it(schema);
                                Ok(match (&target, &between) {
                                    (Target::Catalog(c), _) => compare_set(set, all, c, &now).drift,
                                    (Target::Kept, Some(c)) => compare_set(set, all, c, &now).drift,
                                    _ => {
                                        between = Some(now);
                                        Drift::default()
                                    }
                                })
                            }
                        }
                    }
                };
                let failure = match left {
                    Ok(d) if d.is_empty() => None,
                    Ok(d) => Some(format!(
                        "after {what}, the catalog still differs: {}",
                        keys(&d).join(", ")
                    )),
                    Err(e) => Some(format!("reading the catalog after {what}: {e}")),
                };
                if let Some(f) = failure {
                    out.failures.push(f);
                    break;
                }
            }
            Ok::<_, GenerateError>(out)
        })
        .await
}
