//! Sends the catalog queries. On a large catalog the server's deparsing (`pg_get_indexdef`,
//! `pg_get_expr`, ...) is most of the cost and runs on one core per session, so the queries
//! are shared out over the reading session and a few helper sessions (two, one on a machine
//! of two cores). The helpers import the
//! reading transaction's snapshot (`pg_export_snapshot`, as `pg_dump --jobs` does), so every
//! kind is still read from one snapshot. Helpers are an optimisation only: a helper that
//! cannot connect, or fails, leaves its queries to the reading session, and a small catalog
//! is read by the reading session alone.

use super::CatalogError;
use crate::run::Run;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Catalogs with at least this many relations (rows of `pg_class`, about 400 of which are
/// the system's own) are read with helpers; below it a helper's connection costs more than
/// it saves.
const HELPED_FROM_RELATIONS: i64 = 2000;

/// How many helper sessions join a large read: two, or one on a machine of two cores or
/// fewer, where the reading session, the helpers and this process's decoding share them
/// (100k objects on 2 cores: 1.08 s with one helper, 1.42 s with two).
pub fn helper_sessions() -> usize {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 2 {
        2
    } else {
        1
    }
}

/// A helper that has not connected by then is not waited for.
const HELPER_CONNECT: Duration = Duration::from_secs(5);

/// The queries whose deparsing costs most, sent first so the work evens out.
const HEAVIEST: &[&str] = &[
    "dependencies",
    "columns",
    "indexes",
    "grants",
    "constraints",
    "policies",
    "tables",
];

/// Whether to use helpers for `conn`, and how they connect: asked before the reading
/// transaction begins, so a failure here costs nothing.
pub(super) async fn helper_options(run: &Run, conn: &mut PgConnection) -> Option<PgConnectOptions> {
    let big: bool = sqlx::query_scalar("SELECT count(*) >= $1 FROM pg_class")
        .bind(HELPED_FROM_RELATIONS)
        .fetch_one(&mut *conn)
        .await
        .ok()?;
    if !big {
        return None;
    }
    let (pid, start) = crate::interrupt::identify(conn).await?;
    run.signals().options_of(pid, &start)
}

/// Runs every query of `sqls` inside the reading transaction on `main` (already begun, with
/// its snapshot exported as `snapshot` when helpers may join) and returns their rows in the
/// order of `sqls`, with how many sessions read them. `names` names each query in errors and
/// orders the work.
pub(super) async fn fetch(
    run: &Run,
    main: &mut PgConnection,
    names: &[&'static str],
    sqls: &[String],
    helpers: Option<(&PgConnectOptions, &str)>,
    setup: &str,
    prepared: bool,
) -> Result<(Vec<Vec<PgRow>>, usize), CatalogError> {
    let mut order: Vec<usize> = (0..sqls.len()).collect();
    order.sort_by_key(|&i| {
        HEAVIEST
            .iter()
            .position(|h| *h == names[i])
            .unwrap_or(HEAVIEST.len())
    });
    let results: Mutex<Vec<Option<Vec<PgRow>>>> =
        Mutex::new((0..sqls.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let (drained, watch_drained) = tokio::sync::watch::channel(false);
    let take = || {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i + 1 >= order.len() {
            drained.send_replace(true);
        }
        order.get(i).copied()
    };
    let store = |i: usize, rows: Vec<PgRow>| {
        if let Ok(mut r) = results.lock() {
            r[i] = Some(rows);
        }
    };
    let reader = async {
        while let Some(i) = take() {
            let rows = send(main, names[i], &sqls[i], prepared).await?;
            store(i, rows);
        }
        Ok::<(), CatalogError>(())
    };
    let sessions = AtomicUsize::new(1);
    let joined = &sessions;
    let helper = || {
        let mut drained = watch_drained.clone();
        async move {
            let (opts, snapshot) = helpers?;
            let mut conn = tokio::select! {
                conn = join(run, opts, snapshot, setup) => conn?,
                _ = drained.wait_for(|d| *d) => return None,
            };
            joined.fetch_add(1, Ordering::SeqCst);
            while let Some(i) = take() {
                match send(&mut conn, names[i], &sqls[i], false).await {
                    Ok(rows) => store(i, rows),
                    // Its query is left to the reading session.
                    Err(_) => return None,
                }
            }
            Some(conn)
        }
    };
    let second = helper_sessions() > 1;
    let (read, first, second) = tokio::join!(reader, helper(), async {
        if second {
            helper().await
        } else {
            None
        }
    });
    read?;
    for conn in [first, second].into_iter().flatten() {
        let _ = conn.close().await;
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    // What a failed helper took is read again by the reading session.
    for i in 0..sqls.len() {
        if results[i].is_none() {
            results[i] = Some(send(main, names[i], &sqls[i], prepared).await?);
        }
    }
    Ok((
        results.into_iter().map(Option::unwrap_or_default).collect(),
        sessions.into_inner(),
    ))
}

/// Sends one query: as a simple query (parsed and planned where it runs, one round trip),
/// or, when `prepared`, as a statement prepared and kept on `conn`, which the server plans
/// once for every later read of this session (the catalog queries take no parameters, so
/// the first plan is kept).
async fn send(
    conn: &mut PgConnection,
    name: &'static str,
    sql: &str,
    prepared: bool,
) -> Result<Vec<PgRow>, CatalogError> {
    let rows = if prepared {
        sqlx::query(sql).persistent(true).fetch_all(conn).await
    } else {
        sqlx::raw_sql(sql).fetch_all(conn).await
    };
    rows.map_err(|e| CatalogError {
        query: name,
        reason: crate::engine::error::reason(&e),
    })
}

/// Opens a helper session inside the reading transaction's snapshot.
async fn join(
    run: &Run,
    opts: &PgConnectOptions,
    snapshot: &str,
    setup: &str,
) -> Option<PgConnection> {
    let mut conn = tokio::time::timeout(
        HELPER_CONNECT,
        crate::engine::connect_with(run, opts, "the catalog helper"),
    )
    .await
    .ok()?
    .ok()?;
    let begin = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{}'; {setup}",
        snapshot.replace('\'', "''")
    );
    match sqlx::raw_sql(&begin).execute(&mut conn).await {
        Ok(_) => Some(conn),
        Err(_) => {
            let _ = conn.close().await;
            None
        }
    }
}
