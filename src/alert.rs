//! Alerts in the logs: one event per new match, under the `newshound::alert` target.
//!
//! Fields (stable; the JSON log format carries them as top-level keys): `topic`, `feed`,
//! `title`, `url`, `published`, `terms`, `field`, `snippet`, `story_id`, `sources` (feeds that
//! reported the story so far), `item_id`, `alert_id`. A topic alerts once per story. Feed text is
//! escaped and truncated by [`Untrusted`], so a title cannot forge a log line.

use crate::config::AlertLevel;
use crate::store::NewAlert;
use crate::text::Untrusted;

/// The tracing target of alert events (`NEWSHOUND_LOG=newshound::alert=info` shows only alerts).
pub const TARGET: &str = "newshound::alert";

macro_rules! alert_event {
    ($level:expr, $a:expr, $terms:expr, $published:expr) => {
        tracing::event!(
            target: "newshound::alert",
            $level,
            topic = %Untrusted(&$a.topic),
            feed = %Untrusted(&$a.feed),
            title = %Untrusted(&$a.title),
            url = %Untrusted($a.url.as_deref().unwrap_or("")),
            published = %$published,
            terms = %Untrusted(&$terms),
            field = %$a.field,
            snippet = %Untrusted(&$a.snippet),
            story_id = $a.story_id,
            sources = $a.sources,
            item_id = $a.item_id,
            alert_id = $a.alert_id,
            "alert: {}",
            Untrusted(&$a.topic)
        )
    };
}

/// The tracing level an alert of this topic is logged at.
pub fn level(level: AlertLevel) -> tracing::Level {
    match level {
        AlertLevel::Error => tracing::Level::ERROR,
        AlertLevel::Warn => tracing::Level::WARN,
        AlertLevel::Info => tracing::Level::INFO,
        AlertLevel::Debug => tracing::Level::DEBUG,
        AlertLevel::Trace => tracing::Level::TRACE,
    }
}

/// Logs one committed alert at its topic's level.
pub fn emit(a: &NewAlert, level: AlertLevel) {
    let terms = a.terms.join(", ");
    let published = a
        .published
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "unknown".into());
    match level {
        AlertLevel::Error => alert_event!(tracing::Level::ERROR, a, terms, published),
        AlertLevel::Warn => alert_event!(tracing::Level::WARN, a, terms, published),
        AlertLevel::Info => alert_event!(tracing::Level::INFO, a, terms, published),
        AlertLevel::Debug => alert_event!(tracing::Level::DEBUG, a, terms, published),
        AlertLevel::Trace => alert_event!(tracing::Level::TRACE, a, terms, published),
    }
}
