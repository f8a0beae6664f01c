//! Shows the server's INFO, NOTICE and WARNING messages on standard error, prefixed `info:`,
//! `notice:` and `warning:`.
//!
//! A migration talks to its operator through `RAISE NOTICE` (Witchcraft's scheduling
//! migration says so when pg_cron is missing and what to do instead). sqlx turns each notice
//! into a `tracing` event with the target `sqlx::postgres::notice`; this subscriber prints
//! those and nothing else, so no logging framework is needed. sqlx logs INFO (and LOG) at
//! TRACE, below NOTICE; the server sends LOG only when asked to, so TRACE here means INFO.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const TARGET: &str = "sqlx::postgres::notice";

/// Prints server notices of severity NOTICE and above, with the run's secrets hidden.
pub struct Notices(pub migrate::run::Run);

struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

impl Subscriber for Notices {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == TARGET
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.is_empty() {
            return;
        }
        let level = *event.metadata().level();
        let prefix = if level >= Level::DEBUG {
            "info"
        } else if level == Level::INFO {
            "notice"
        } else {
            "warning"
        };
        crate::ui::always(&format!(
            "{prefix}: {}",
            crate::redact_line(&self.0, &message.0)
        ));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
