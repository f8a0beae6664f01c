//! Ctrl-C and SIGTERM during a run. Killing the process is not enough: the server would go
//! on running the statement it was sent (a table stayed locked for seconds after the client
//! had gone), so the first signal cancels, on the server, every statement the run's
//! connections are running, and the engine stops at its next step: the migration's
//! transaction rolls back, the set's lock is released, and the binary says what was applied.
//! A second signal ends the process at once.
//!
//! The state lives in a [`Signals`] value that the run owns (see `run`), so a process can
//! hold several runs, as the tests do, without one's signal stopping the others.
//!
//! Cancelling is done with `pg_cancel_backend` from a new connection with the same options
//! (the driver does not expose the protocol's cancel key). A session is cancelled only if
//! its pid still has the start time it had when the run registered it, so a pid the
//! server has since given to someone else is never touched.

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The signal state of one run: which signal arrived, who to wake, and the server sessions
/// the run opened (how to reach the server, pid, backend start), to cancel what they run.
#[derive(Debug, Default)]
pub struct Signals {
    /// The signal received, 0 while none was.
    signal: AtomicI32,
    /// Wakes whoever sleeps in [`Signals::sleep`] or [`Signals::wait`] when a signal arrives.
    wake: tokio::sync::Notify,
    sessions: Mutex<Vec<(PgConnectOptions, i32, String)>>,
}

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

impl Signals {
    /// The signal that asked the run to stop, if one did.
    pub fn received(&self) -> Option<Signal> {
        match self.signal.load(Ordering::SeqCst) {
            2 => Some(Signal::Interrupt),
            15 => Some(Signal::Terminate),
            _ => None,
        }
    }

    /// Records that `signal` arrived; true when it is the first.
    pub fn raise(&self, signal: Signal) -> bool {
        let n = match signal {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        };
        let first = self
            .signal
            .compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        self.wake.notify_waiters();
        first
    }

    /// Sleeps for `d`, or less when a signal arrives meanwhile.
    pub async fn sleep(&self, d: Duration) {
        let woken = self.wake.notified();
        if self.received().is_some() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = woken => {}
        }
    }

    /// Waits until a signal arrives.
    pub async fn wait(&self) {
        loop {
            let woken = self.wake.notified();
            if self.received().is_some() {
                return;
            }
            woken.await;
        }
    }

    /// Fails with [`Interrupted`] once a signal has arrived: the engine calls it between steps,
    /// where stopping leaves nothing half done.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.received() {
            Some(signal) => Err(Interrupted { signal }),
            None => Ok(()),
        }
    }

    /// Remembers a server session of this run, so that a signal can cancel its statement.
    pub fn register(&self, opts: &PgConnectOptions, pid: i32, backend_start: String) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.push((opts.clone(), pid, backend_start));
        }
    }

    /// The options of this run's session `pid` started at `backend_start`, for a second
    /// connection to its server.
    pub fn options_of(&self, pid: i32, backend_start: &str) -> Option<PgConnectOptions> {
        let sessions = self.sessions.lock().ok()?;
        sessions
            .iter()
            .find(|(_, p, s)| *p == pid && s == backend_start)
            .map(|(o, _, _)| o.clone())
    }

    /// Cancels the running statement of every session this run opened; bounded to a few
    /// seconds whatever the servers do. Returns how many statements were cancelled.
    pub async fn cancel_sessions(&self) -> usize {
        let sessions = self.sessions.lock().map(|s| s.clone()).unwrap_or_default();
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
}

/// A signal (SIGINT or SIGTERM) arrived; the engine turns it into its own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {signal}")]
pub struct Interrupted {
    pub signal: Signal,
}

/// The pid and start time of the server session `conn` is connected to.
pub async fn identify(conn: &mut sqlx::PgConnection) -> Option<(i32, String)> {
    use sqlx::Row;
    let row = sqlx::raw_sql(
        // The function the view stands on, for this session only: a tenth of the view's time.
        "SELECT pid, backend_start::text FROM pg_stat_get_activity(pg_backend_pid())",
    )
    .fetch_one(&mut *conn)
    .await
    .ok()?;
    Some((row.try_get(0).ok()?, row.try_get(1).ok()?))
}
