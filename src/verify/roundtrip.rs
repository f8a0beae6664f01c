//! The rollback proof. On an empty scratch database, for every migration k of a set: apply
//! 1..k, revert k, and require the catalog to equal the one after 1..k-1 (what the down file
//! left behind or removed too much is named); apply k again and require the catalog of a
//! plain up. Then revert everything and require the catalog of the empty database, and apply
//! everything again and require the catalog of a plain up. A migration whose down file is
//! `-- migrate:irreversible` is reported as such, not as a failure.
//!
//! A long chain of steps is cut into [`Share`]s proven at once, each on a database of its own
//! that a plain `up` brings to where the share starts: the same steps, compared with the same
//! catalogs, on more than one core; not for a set that names objects of the whole server
//! ([`shareable`]), whose shares would meet on the one server.

use crate::catalog::{self, Catalog};
use crate::config::MigrationSet;
use crate::diff::{compare, Drift};
use crate::engine::{self, DownTarget};
use crate::run::Run;
use crate::verify::snapshot::SnapshotError;
use serde::Serialize;
use sqlx::PgConnection;

/// The outcome of one step of the proof.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `0001 supabase_auth_shim`, or a whole-set step such as `full rollback`.
    pub step: String,
    /// `pass`, `fail`, `irreversible` or `skipped`.
    pub outcome: &'static str,
    /// One line: what went wrong.
    pub detail: String,
    /// Objects the down file left behind (present after the rollback, absent before `up`).
    pub left_behind: Vec<String>,
    /// Objects the down file removed that existed before the migration.
    pub removed_too_much: Vec<String>,
    /// Objects whose definition the rollback did not restore.
    pub changed: Vec<crate::diff::Changed>,
}

impl Step {
    fn new(step: String, outcome: &'static str, detail: String) -> Step {
        Step {
            step,
            outcome,
            detail,
            left_behind: Vec::new(),
            removed_too_much: Vec::new(),
            changed: Vec::new(),
        }
    }

    /// A step comparing `expected` with `actual`; `what` says what the catalog should be.
    fn compared(step: String, expected: &Catalog, actual: &Catalog, what: &str) -> Step {
        let Drift {
            missing,
            unexpected,
            changed,
        } = compare(expected, actual);
        let mut parts = Vec::new();
        if !unexpected.is_empty() {
            parts.push(format!("left behind: {}", unexpected.join(", ")));
        }
        if !missing.is_empty() {
            parts.push(format!("removed too much: {}", missing.join(", ")));
        }
        if !changed.is_empty() {
            let names: Vec<&str> = changed.iter().map(|c| c.object.as_str()).collect();
            parts.push(format!("not restored: {}", names.join(", ")));
        }
        let ok = parts.is_empty();
        Step {
            step,
            outcome: if ok { "pass" } else { "fail" },
            detail: if ok {
                what.to_string()
            } else {
                parts.join("; ")
            },
            left_behind: unexpected,
            removed_too_much: missing,
            changed,
        }
    }
}

async fn read(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
) -> Result<Catalog, SnapshotError> {
    Ok(catalog::introspect_again(run, conn, &set.schema)
        .await?
        .catalog
        .as_sets_see_it(&set.schema))
}

/// A share of a set's proof, proven on an empty database of its own: the migrations
/// `first..end` (indexes into the set's migrations), after a plain `up` to the version before
/// them. The share holding the set's last migration also proves the full rollback. One proof
/// is a chain (each step needs the database the one before left), so splitting it is what lets
/// it use more than one core: Witchcraft's proof took as long as both sets' together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// The index of the first migration the share proves.
    pub first: usize,
    /// The index after its last.
    pub end: usize,
}

/// What one share found: its steps, and whether the proof stopped inside it (its steps then end
/// with the rest of the set's, skipped, and the shares after it do not count).
#[derive(Debug)]
pub struct ShareOutcome {
    steps: Vec<Step>,
    stopped: bool,
}

/// A set is split only when each share gets at least this many migrations.
const MIGRATIONS_PER_SHARE: usize = 4;

/// What the plan weighs a share's work by, in plain applications of a migration: proving one
/// (up, down, up again, three catalog reads) weighs this many ...
const PROVEN_WEIGHT: usize = 4;

/// ... and a share's own cost (its database, its session, two more reads) this many.
const SHARE_WEIGHT: usize = 2;

/// What proving `first..end` weighs: the migrations applied plainly before it, the ones it
/// proves, its own cost.
fn weight(first: usize, end: usize) -> usize {
    first + PROVEN_WEIGHT * (end - first) + SHARE_WEIGHT
}

/// Which shares prove `sets` on `cores` cores: every set starts as one share; the set whose
/// longest share is longest is cut into one share more (see `split`) while that shortens
/// the estimated time, the longest share or the total weight spread over the cores, whichever
/// is more, and while the set is [`shareable`]. Measured on Witchcraft's thirteen migrations
/// cut in two (before the check of server-wide objects, which keeps it whole since it makes
/// roles): both sets proven in 1.41 s on two cores instead of 1.57 s. One share per set on
/// one core.
pub fn plan(sets: &[MigrationSet], cores: usize) -> Vec<Vec<Share>> {
    let cores = cores.max(1);
    let mut counts = vec![1; sets.len()];
    let estimate = |counts: &[usize]| {
        let weights: Vec<usize> = sets
            .iter()
            .zip(counts)
            .flat_map(|(set, &count)| split(set, count))
            .map(|s| weight(s.first, s.end))
            .collect();
        let total = weights.iter().sum::<usize>().div_ceil(cores);
        weights.into_iter().max().unwrap_or(0).max(total)
    };
    loop {
        let longest = sets
            .iter()
            .zip(&counts)
            .enumerate()
            .max_by_key(|(_, (set, &count))| {
                split(set, count)
                    .iter()
                    .map(|s| weight(s.first, s.end))
                    .max()
                    .unwrap_or(0)
            });
        let Some((i, (set, &count))) = longest else {
            break;
        };
        if count >= set.migrations.len() / MIGRATIONS_PER_SHARE || !shareable(set) {
            break;
        }
        let mut more = counts.clone();
        more[i] += 1;
        if estimate(&more) >= estimate(&counts) {
            break;
        }
        counts = more;
    }
    sets.iter()
        .zip(counts)
        .map(|(set, count)| split(set, count))
        .collect()
}

/// Whether `set`'s proof may be cut into shares: none of its files names an object of the
/// whole server (a role, a role's membership, a tablespace, a database, the server's
/// settings, a subscription's slot), anywhere in its text, dynamic SQL and comments included.
/// Shares are databases of one server: one share's `CREATE ROLE` would find the role another
/// made, and its down's `DROP ROLE` fail on what another's database grants it, where one
/// chain on an empty server passes. Words are compared whole and without case.
pub fn shareable(set: &MigrationSet) -> bool {
    const SERVER_WIDE: &[&str] = &[
        "ROLE",
        "USER",
        "GROUP",
        "TABLESPACE",
        "DATABASE",
        "SUBSCRIPTION",
    ];
    set.migrations
        .iter()
        .flat_map(|m| [&m.up.sql, &m.down.sql])
        .all(|sql| {
            let words: Vec<String> = sql
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_uppercase)
                .collect();
            let named = words.windows(2).any(|w| {
                let (a, b) = (w[0].as_str(), w[1].as_str());
                (matches!(a, "CREATE" | "ALTER" | "DROP" | "ON") && SERVER_WIDE.contains(&b))
                    || (matches!(a, "DROP" | "REASSIGN") && b == "OWNED")
                    || (a == "ALTER" && b == "SYSTEM")
            });
            // GRANT a TO b (or REVOKE a FROM b) without ON: a role's membership.
            let membership = words.iter().enumerate().any(|(i, w)| {
                (w == "GRANT" || w == "REVOKE")
                    && words[i + 1..]
                        .iter()
                        .take(24)
                        .find(|w| matches!(w.as_str(), "ON" | "TO" | "FROM"))
                        .is_some_and(|w| w != "ON")
            });
            !named && !membership
        })
}

/// `set`'s proof cut into `count` shares (fewer when it has too few migrations), each of
/// [`MIGRATIONS_PER_SHARE`] migrations or more, where the heaviest share is lightest
/// ([`weight`]). A set of no migrations has one share, which
/// proves the full rollback.
fn split(set: &MigrationSet, count: usize) -> Vec<Share> {
    let n = set.migrations.len();
    let count = count.min(n / MIGRATIONS_PER_SHARE).max(1);
    if n == 0 {
        return vec![Share { first: 0, end: 0 }];
    }
    // best[j][i]: the least heaviest share when the first i migrations make j shares; cut[j][i]:
    // where the last of those shares starts.
    let mut best = vec![vec![usize::MAX; n + 1]; count + 1];
    let mut cut = vec![vec![0; n + 1]; count + 1];
    best[0][0] = 0;
    for j in 1..=count {
        for i in 1..=n {
            for k in 0..=i.saturating_sub(MIGRATIONS_PER_SHARE) {
                if best[j - 1][k] == usize::MAX {
                    continue;
                }
                let heaviest = best[j - 1][k].max(weight(k, i));
                if heaviest < best[j][i] {
                    best[j][i] = heaviest;
                    cut[j][i] = k;
                }
            }
        }
    }
    let mut shares = Vec::with_capacity(count);
    let mut end = n;
    for j in (1..=count).rev() {
        let first = cut[j][end];
        shares.push(Share { first, end });
        end = first;
    }
    shares.reverse();
    shares
}

/// How many steps `set`'s proof reports: one per migration, then the full rollback and the
/// `up` after it.
pub fn step_count(set: &MigrationSet) -> usize {
    set.migrations.len() + 2
}

/// The steps of `set`'s proof from the outcomes of its shares, in their order: the first error
/// is the proof's; a share where the proof stopped ends it.
pub fn joined<E>(outcomes: Vec<Result<ShareOutcome, E>>) -> Result<Vec<Step>, E> {
    let mut steps = Vec::new();
    for outcome in outcomes {
        let outcome = outcome?;
        steps.extend(outcome.steps);
        if outcome.stopped {
            break;
        }
    }
    Ok(steps)
}

/// Proves `share` of `set` on the empty database `conn` is connected to. `started` and
/// `finished` are told each step's name as it begins and ends.
pub async fn prove_share(
    run: &Run,
    conn: &mut PgConnection,
    set: &MigrationSet,
    share: Share,
    started: &dyn Fn(&str),
    finished: &dyn Fn(&str),
) -> Result<ShareOutcome, SnapshotError> {
    let last = share.end == set.migrations.len();
    let limits = engine::Limits::new(&set.lock_timeout).in_run(run);
    let quiet = |_: &engine::Event| {};
    let mut allow = |_: &engine::RollbackPlan| Ok(());
    // The empty database's catalog: what the first migration's down must restore, and what
    // the full rollback must leave.
    let before = match share.first == 0 || last {
        true => Some(read(run, conn, set).await?),
        false => None,
    };
    let mut previous = match (share.first.checked_sub(1), &before) {
        (None, Some(before)) => before.clone(),
        (up_to, _) => {
            if let Some(i) = up_to {
                let version = set.migrations[i].version;
                engine::up(conn, set, Some(version), limits.clone(), &quiet).await?;
            }
            read(run, conn, set).await?
        }
    };
    let mut steps = Vec::new();
    for m in &set.migrations[share.first..share.end] {
        let label = format!("{:04} {}", m.version, m.name);
        started(&label);
        engine::up(conn, set, Some(m.version), limits.clone(), &quiet).await?;
        let after = read(run, conn, set).await?;
        if m.down.irreversible {
            steps.push(Step::new(
                label.clone(),
                "irreversible",
                format!("{} declares that there is no way back", m.down.path),
            ));
            finished(&label);
            previous = after;
            continue;
        }
        match engine::down(
            conn,
            set,
            DownTarget::Steps(1),
            &set.lock_timeout,
            &mut allow,
            &quiet,
        )
        .await
        {
            Ok(_) => {
                let reverted = read(run, conn, set).await?;
                let mut step = Step::compared(
                    label.clone(),
                    &previous,
                    &reverted,
                    "its down restores the catalog before it",
                );
                match engine::up(conn, set, Some(m.version), limits.clone(), &quiet).await {
                    Ok(_) => {
                        let again = read(run, conn, set).await?;
                        if step.outcome == "pass" && again != after {
                            step = Step::compared(label.clone(), &after, &again, "");
                            step.detail = format!(
                                "applying it again after its down gives another catalog: {}",
                                step.detail
                            );
                        }
                        steps.push(step);
                    }
                    Err(e) => {
                        // What the down left behind stops the migration from applying again;
                        // the database is no longer a known state, so the proof ends here.
                        step.outcome = "fail";
                        step.detail =
                            format!("{}; applying it again then failed: {e}", step.detail);
                        steps.push(step);
                        finished(&label);
                        return Ok(ShareOutcome {
                            steps: stopped(steps, set, m.version),
                            stopped: true,
                        });
                    }
                }
            }
            Err(e) => steps.push(Step::new(
                label.clone(),
                "fail",
                format!("its down failed: {e}"),
            )),
        }
        finished(&label);
        previous = after;
    }
    let (true, Some(before)) = (last, before) else {
        return Ok(ShareOutcome {
            steps,
            stopped: false,
        });
    };
    let full = previous;
    match set.migrations.iter().find(|m| m.down.irreversible) {
        Some(m) => {
            let why = format!("{:04} is irreversible", m.version);
            steps.push(Step::new("full rollback".into(), "skipped", why.clone()));
            steps.push(Step::new("up after full rollback".into(), "skipped", why));
        }
        None => {
            started("full rollback");
            match engine::down(
                conn,
                set,
                DownTarget::To(0),
                &set.lock_timeout,
                &mut allow,
                &quiet,
            )
            .await
            {
                Ok(_) => {
                    let empty = read(run, conn, set).await?;
                    steps.push(Step::compared(
                        "full rollback".into(),
                        &before,
                        &empty,
                        "leaves the catalog of the empty database",
                    ));
                }
                Err(e) => steps.push(Step::new(
                    "full rollback".into(),
                    "fail",
                    format!("a down failed: {e}"),
                )),
            }
            finished("full rollback");
            started("up after full rollback");
            engine::up(conn, set, None, &set.lock_timeout, &quiet).await?;
            let again = read(run, conn, set).await?;
            steps.push(Step::compared(
                "up after full rollback".into(),
                &full,
                &again,
                "gives the catalog of a plain up",
            ));
            finished("up after full rollback");
        }
    }
    Ok(ShareOutcome {
        steps,
        stopped: false,
    })
}

/// The proof cut short at `version`: the remaining steps are reported as skipped.
fn stopped(mut steps: Vec<Step>, set: &MigrationSet, version: i64) -> Vec<Step> {
    let why = format!("not run: the proof stopped at {version:04}");
    for m in set.migrations.iter().filter(|m| m.version > version) {
        steps.push(Step::new(
            format!("{:04} {}", m.version, m.name),
            "skipped",
            why.clone(),
        ));
    }
    steps.push(Step::new("full rollback".into(), "skipped", why.clone()));
    steps.push(Step::new("up after full rollback".into(), "skipped", why));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EMBEDDED};

    fn embedded() -> Vec<MigrationSet> {
        let c = Config::parse(EMBEDDED, "embedded", None).unwrap();
        c.sets.iter().map(|s| c.load_set(s).unwrap()).collect()
    }

    /// A set of `n` migrations that each make a table, the `k`th up file holding `extra`.
    fn chain(name: &str, n: usize, extra: Option<(usize, &str)>) -> MigrationSet {
        let files: Vec<(String, String)> = (1..=n)
            .flat_map(|k| {
                let mut up = format!("CREATE TABLE t{k} (id int);\n");
                if let Some((_, sql)) = extra.filter(|(at, _)| *at == k) {
                    up.push_str(sql);
                }
                [
                    (format!("{name}/{k:04}_t{k}.up.sql"), up),
                    (
                        format!("{name}/{k:04}_t{k}.down.sql"),
                        format!("DROP TABLE t{k};\n"),
                    ),
                ]
            })
            .collect();
        let mut set = embedded().remove(0);
        set.name = name.into();
        set.migrations = crate::sets::load_migrations(&files).unwrap();
        set
    }

    /// Every share plan covers each migration once, in order, with no empty share.
    fn covers(set: &MigrationSet, shares: &[Share]) {
        let mut next = 0;
        for s in shares {
            assert_eq!(s.first, next, "{shares:?}");
            assert!(s.end > s.first || set.migrations.is_empty(), "{shares:?}");
            next = s.end;
        }
        assert_eq!(next, set.migrations.len(), "{shares:?}");
    }

    #[test]
    fn the_longer_set_is_cut_where_the_shares_weigh_alike_and_only_while_that_pays() {
        let sets = [chain("short", 9, None), chain("long", 13, None)];
        // Two cores: the longer chain in two, the shorter whole (cutting both only adds work).
        let two = plan(&sets, 2);
        assert_eq!(two[0], vec![Share { first: 0, end: 9 }]);
        assert_eq!(two[1].len(), 2, "{two:?}");
        covers(&sets[1], &two[1]);
        // The first share proves more: the second applies the first's migrations plainly.
        let [a, b] = [two[1][0], two[1][1]];
        assert!(a.end - a.first > b.end - b.first, "{two:?}");
        assert!(weight(a.first, a.end).abs_diff(weight(b.first, b.end)) <= PROVEN_WEIGHT);
        // One core: one share each, the proof as one chain per set.
        for (set, shares) in sets.iter().zip(plan(&sets, 1)) {
            assert_eq!(
                shares,
                vec![Share {
                    first: 0,
                    end: set.migrations.len()
                }]
            );
        }
        // More cores: both cut, never into shares of fewer than four migrations.
        for (set, shares) in sets.iter().zip(plan(&sets, 16)) {
            assert!(shares.len() >= 2, "{shares:?}");
            covers(set, &shares);
            assert!(shares
                .iter()
                .all(|s| s.end - s.first >= MIGRATIONS_PER_SHARE));
        }
    }

    #[test]
    fn short_and_empty_sets_are_proven_in_one_share() {
        for n in [0, 1, 3, 7] {
            let set = chain("s", n, None);
            let shares = plan(std::slice::from_ref(&set), 8);
            assert_eq!(
                shares,
                vec![vec![Share { first: 0, end: n }]],
                "{n} migrations"
            );
        }
        let set = chain("s", 8, None);
        let shares = plan(std::slice::from_ref(&set), 8);
        assert_eq!(shares[0].len(), 2, "{shares:?}");
        covers(&set, &shares[0]);
    }

    /// A set that names an object of the whole server, in a statement, in dynamic SQL or in a
    /// comment, is proven in one chain: its shares would meet on the one server.
    #[test]
    fn a_set_that_touches_the_whole_server_is_proven_in_one_chain() {
        for sql in [
            "CREATE ROLE app_reader;\n",
            "DO $$ BEGIN EXECUTE format('create role %I', 'r'); END $$;\n",
            "-- drop role app_reader when it goes\nSELECT 1;\n",
            "GRANT app_reader TO app_writer;\n",
            "REVOKE app_reader FROM app_writer;\n",
            "ALTER DATABASE current SET work_mem = '8MB';\n",
            "COMMENT ON ROLE app IS 'x';\n",
            "DROP OWNED BY app;\n",
            "CREATE TABLESPACE fast LOCATION '/ssd';\n",
        ] {
            let set = chain("s", 13, Some((5, sql)));
            assert!(!shareable(&set), "{sql}");
            assert_eq!(plan(std::slice::from_ref(&set), 8)[0].len(), 1, "{sql}");
        }
        // privileges on objects of the database are its own
        for sql in [
            "GRANT SELECT ON t1 TO PUBLIC;\n",
            "REVOKE ALL ON FUNCTION now() FROM PUBLIC;\n",
            "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;\n",
            "CREATE TABLE roles (user_name text, database_name text);\n",
        ] {
            let set = chain("s", 13, Some((5, sql)));
            assert!(shareable(&set), "{sql}");
            assert_eq!(plan(std::slice::from_ref(&set), 8)[0].len(), 3, "{sql}");
        }
        // both embedded sets make the Supabase roles when they are missing
        assert!(embedded().iter().all(|set| !shareable(set)));
    }

    #[test]
    fn shares_join_in_order_and_end_where_the_proof_stopped() {
        let step = |name: &str| Step::new(name.into(), "pass", String::new());
        let outcome = |names: &[&str], stopped| ShareOutcome {
            steps: names.iter().map(|n| step(n)).collect(),
            stopped,
        };
        let names = |steps: Vec<Step>| steps.into_iter().map(|s| s.step).collect::<Vec<_>>();
        let joined_ok = |outcomes: Vec<ShareOutcome>| {
            names(joined::<()>(outcomes.into_iter().map(Ok).collect()).unwrap())
        };
        assert_eq!(
            joined_ok(vec![
                outcome(&["1", "2"], false),
                outcome(&["3", "full"], false)
            ]),
            ["1", "2", "3", "full"]
        );
        assert_eq!(
            joined_ok(vec![
                outcome(&["1", "2 skipped", "3 skipped"], true),
                outcome(&["3"], false)
            ]),
            ["1", "2 skipped", "3 skipped"]
        );
        let failed: Vec<Result<ShareOutcome, &str>> =
            vec![Ok(outcome(&["1"], false)), Err("second"), Err("third")];
        assert_eq!(joined(failed).unwrap_err(), "second");
    }
}
