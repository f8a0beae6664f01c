//! Ctrl-C and SIGTERM during a run. Killing the process is not enough: the server would go
//! on running the statement it was sent (a table stayed locked for seconds after the client
//! had gone), so the first signal cancels, on the server, every statement this process's
//! connections are running, and the engine stops at its next step: the migration's
//! transaction rolls back, the set's lock is released, and the binary says what was applied.
//! A second signal ends the process at once.
//!
//! Cancelling is done with `pg_cancel_backend` from a new connection with the same options
//! (the driver does not expose the protocol's cancel key). A session is cancelled only if
//! its pid still has the start time it had when this process registered it, so a pid the
//! server has since given to someone else is never touched.

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The signal received, 0 while none was.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Wakes whoever sleeps in [`sleep`] or [`wait`] when a signal arrives.
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Server sessions opened by this process: how to reach the server, pid, backend start.
static SESSIONS: Mutex<Vec<(PgConnectOptions, i32, String)>> = Mutex::new(Vec::new());

/// What ended the run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// The signal that asked the run to stop, if one did.
pub fn received() -> Option<Signal> {
    match SIGNAL.load(Ordering::SeqCst) {
        2 => Some(Signal::Interrupt),
        15 => Some(Signal::Terminate),
        _ => None,
    }
}

/// Records that `signal` arrived; true when it is the first.
pub fn raise(signal: Signal) -> bool {
    let n = match signal {
        Signal::Interrupt => 2,
        Signal::Terminate => 15,
    };
    let first = SIGNAL
        .compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    WAKE.notify_waiters();
    first
}

/// Sleeps for `d`, or less when a signal arrives meanwhile.
pub async fn sleep(d: Duration) {
    let woken = WAKE.notified();
    if received().is_some() {
        return;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = woken => {}
    }
}

/// Waits until a signal arrives.
pub async fn wait() {
    loop {
        let woken = WAKE.notified();
        if received().is_some() {
            return;
        }
        woken.await;
    }
}

/// A signal (SIGINT or SIGTERM) arrived; the engine turns it into its own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {signal}")]
pub struct Interrupted {
    pub signal: Signal,
}

/// Fails with [`Interrupted`] once a signal has arrived: the engine calls it between steps,
/// where stopping leaves nothing half done.
pub fn check() -> Result<(), Interrupted> {
    match received() {
        Some(signal) => Err(Interrupted { signal }),
        None => Ok(()),
    }
}

/// Remembers a server session of this process, so that a signal can cancel its statement.
pub fn register(opts: &PgConnectOptions, pid: i32, backend_start: String) {
    if let Ok(mut sessions) = SESSIONS.lock() {
        sessions.push((opts.clone(), pid, backend_start));
    }
}

/// The options of this process's session `pid` started at `backend_start`, for a second
/// connection to its server.
pub fn options_of(pid: i32, backend_start: &str) -> Option<PgConnectOptions> {
    let sessions = SESSIONS.lock().ok()?;
    sessions
        .iter()
        .find(|(_, p, s)| *p == pid && s == backend_start)
        .map(|(o, _, _)| o.clone())
}

/// The pid and start time of the server session `conn` is connected to.
pub async fn identify(conn: &mut sqlx::PgConnection) -> Option<(i32, String)> {
    use sqlx::Row;
    let row = sqlx::raw_sql(
        "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()",
    )
    .fetch_one(&mut *conn)
    .await
    .ok()?;
    Some((row.try_get(0).ok()?, row.try_get(1).ok()?))
}

/// Cancels the running statement of every session this process opened; bounded to a few
/// seconds whatever the servers do. Returns how many statements were cancelled.
pub async fn cancel_sessions() -> usize {
    let sessions = SESSIONS.lock().map(|s| s.clone()).unwrap_or_default();
    let mut cancelled = 0;
    for (opts, pid, start) in sessions {
        let attempt = async {
            let mut conn = opts.connect().await.ok()?;
            let done: bool = sqlx::query_scalar(
                "SELECT coalesce(bool_or(pg_cancel_backend(pid)), false) FROM pg_stat_activity
                  WHERE pid = $1 AND backend_start::text = $2 AND state = 'active'",
            )
            .bind(pid)
            .bind(&start)
            .fetch_one(&mut conn)
            .await
            .ok()?;
            let _ = sqlx::Connection::close(conn).await;
            Some(done)
        };
        if let Ok(Some(true)) = tokio::time::timeout(Duration::from_secs(3), attempt).await {
            cancelled += 1;
        }
    }
    cancelled
}
