//! The context of one run: the signal that stops it and the server sessions to cancel then,
//! the secrets its output must hide, and the keepalive settings of its URL. The binary builds
//! one per invocation and passes it down; the library keeps no state of its own between
//! calls, so a test (or a fleet) can hold several runs at once and one's signal or secrets
//! never leak into another's.

use crate::interrupt::{Interrupted, Signal, Signals};
use crate::redact::Secrets;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A run's context; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Run(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    signals: Signals,
    secrets: Secrets,
    /// The keepalive settings of the run's URL, for every connection the run opens (the
    /// watcher's and the helpers' too); the defaults until a URL is given.
    keepalive: Mutex<Option<Keepalive>>,
}

impl PartialEq for Run {
    fn eq(&self, other: &Run) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Run {}

impl Run {
    pub fn new() -> Run {
        Run::default()
    }

    /// The run's signal state and the sessions a signal cancels.
    pub fn signals(&self) -> &Signals {
        &self.0.signals
    }

    /// The secrets the run has been given.
    pub fn secrets(&self) -> &Secrets {
        &self.0.secrets
    }

    /// The signal that asked the run to stop, if one did.
    pub fn received(&self) -> Option<Signal> {
        self.0.signals.received()
    }

    /// Fails once a signal has arrived.
    pub fn check(&self) -> Result<(), Interrupted> {
        self.0.signals.check()
    }

    /// Sleeps for `d`, or less when a signal arrives meanwhile.
    pub async fn sleep(&self, d: Duration) {
        self.0.signals.sleep(d).await
    }

    /// Waits until a signal arrives.
    pub async fn wait(&self) {
        self.0.signals.wait().await
    }

    /// `text` with every URL password, password parameter and secret of this run hidden.
    pub fn redact(&self, text: &str) -> String {
        self.0.secrets.redact(text)
    }

    /// Takes the keepalive settings of `url` for the connections the run opens from now on.
    pub fn use_keepalive_of(&self, url: &str) {
        if let Ok(mut k) = self.0.keepalive.lock() {
            *k = Some(Keepalive::of_url(url));
        }
    }

    /// The keepalive settings of the run's connections.
    pub fn keepalive(&self) -> Keepalive {
        self.0
            .keepalive
            .lock()
            .ok()
            .and_then(|k| *k)
            .unwrap_or_else(|| Keepalive::of_url(""))
    }
}

/// Seconds of silence before the first probe, unless the URL says otherwise.
pub const IDLE: u32 = 60;
/// Seconds between probes.
pub const INTERVAL: u32 = 10;
/// Unanswered probes before the connection is dropped.
pub const COUNT: u32 = 6;

/// The keepalive settings of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    pub on: bool,
    pub idle: u32,
    pub interval: u32,
    pub count: u32,
    /// Milliseconds sent data may stay unacknowledged (0: the system's default).
    pub user_timeout: u32,
}

impl Keepalive {
    /// Reads the libpq parameters of `url`; values that are not whole numbers were refused
    /// before connecting.
    pub fn of_url(url: &str) -> Keepalive {
        let mut k = Keepalive {
            on: true,
            idle: IDLE,
            interval: INTERVAL,
            count: COUNT,
            user_timeout: 0,
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return k;
        };
        for (key, value) in parsed.query_pairs() {
            let Ok(n) = value.trim().parse::<u32>() else {
                continue;
            };
            match key.as_ref() {
                "keepalives" => k.on = n != 0,
                "keepalives_idle" if n > 0 => k.idle = n,
                "keepalives_interval" if n > 0 => k.interval = n,
                "keepalives_count" if n > 0 => k.count = n,
                "tcp_user_timeout" => k.user_timeout = n,
                _ => {}
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_runs_share_neither_signals_nor_secrets() {
        let (a, b) = (Run::new(), Run::new());
        assert!(a.signals().raise(Signal::Interrupt));
        assert!(
            !a.signals().raise(Signal::Terminate),
            "only the first counts"
        );
        assert_eq!(a.received(), Some(Signal::Interrupt));
        assert!(a.check().is_err());
        assert_eq!(b.received(), None);
        assert!(b.check().is_ok());
        // clones are the same run
        assert_eq!(a.clone().received(), Some(Signal::Interrupt));
        assert_eq!(a.clone(), a);
        assert_ne!(a, b);

        a.secrets().remember_url("host=h password=only-in-run-a");
        assert_eq!(a.redact("said only-in-run-a"), "said ***");
        assert_eq!(b.redact("said only-in-run-a"), "said only-in-run-a");
    }

    #[test]
    fn the_keepalive_is_the_last_url_given() {
        let run = Run::new();
        assert_eq!(run.keepalive().idle, IDLE);
        run.use_keepalive_of("postgres://h/db?keepalives_idle=7");
        assert_eq!(run.keepalive().idle, 7);
        assert_eq!(Run::new().keepalive().idle, IDLE);
    }
}
