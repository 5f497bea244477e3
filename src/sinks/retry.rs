//! What an attempt's outcome means for its delivery: sent, retried when (exponential backoff
//! with jitter, never before the receiver's `Retry-After`), or dead-lettered. Pure: "now" and
//! the jitter are arguments, so the schedule is tested without clocks.

use std::time::Duration;

use crate::config::SinkConfig;
use crate::store::{Delivery, DeliveryUpdate};

/// One attempt's result, as the sink saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it; its answer (status line, a short excerpt) for `sinks test`.
    Delivered(String),
    /// Worth trying again: a network error, a timeout, 5xx, 408, 429, a failing command.
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Trying again would get the same answer: 4xx (but 408/429), a refused address.
    Permanent(String),
}

/// The longest `Retry-After` honoured: a receiver asking for a week is retried after a day.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86400);

/// How an HTTP status is taken: 2xx delivered, 408/429 and 5xx retried, other 4xx permanent.
/// Redirects are not followed (the address guard would have to re-check each hop, and a
/// webhook that moved is a configuration to fix), so 3xx is permanent too.
pub fn classify_status(status: u16, answer: String, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered(answer),
        408 | 429 => Outcome::Transient {
            error: answer,
            retry_after,
        },
        300..=499 => Outcome::Permanent(answer),
        _ => Outcome::Transient {
            error: answer,
            retry_after,
        },
    }
}

/// `Retry-After`: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The delay before retry number `attempt` (1 = the first retry): `retry_min` doubled each
/// time, at most `retry_max`, then spread by `jitter` (0–1) over its upper half, so deliveries
/// that failed together do not all come back at once.
pub fn backoff(attempt: u32, min: Duration, max: Duration, jitter: f64) -> Duration {
    let doubled = min.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let base = doubled.min(max);
    base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// The update to record after an attempt that ended at `now_ms`.
pub fn decide(
    d: &Delivery,
    outcome: &Outcome,
    sink: &SinkConfig,
    now_ms: i64,
    jitter: f64,
) -> DeliveryUpdate {
    match outcome {
        Outcome::Delivered(_) => DeliveryUpdate::Sent {
            id: d.id,
            at: now_ms,
        },
        Outcome::Permanent(error) => DeliveryUpdate::Dead {
            id: d.id,
            at: now_ms,
            error: format!("permanent: {error}"),
        },
        Outcome::Transient { error, retry_after } => {
            let give_up_at = d.retry_since.saturating_add(ms(sink.give_up_after));
            if now_ms >= give_up_at {
                return DeliveryUpdate::Dead {
                    id: d.id,
                    at: now_ms,
                    error: format!(
                        "gave up after {}: {error}",
                        humantime::format_duration(sink.give_up_after)
                    ),
                };
            }
            let mut delay = backoff(d.attempts + 1, sink.retry_min, sink.retry_max, jitter);
            if let Some(after) = retry_after {
                delay = delay.max((*after).min(MAX_RETRY_AFTER));
            }
            // The last attempt is made when `give_up_after` runs out, not a backoff later.
            let next_at = now_ms.saturating_add(ms(delay)).min(give_up_at);
            DeliveryUpdate::Retry {
                id: d.id,
                at: now_ms,
                next_at,
                error: error.clone(),
            }
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> SinkConfig {
        let mut s = crate::config::test_sink("hook");
        s.timeout = Duration::from_secs(10);
        s
    }

    fn delivery(attempts: u32) -> Delivery {
        Delivery {
            id: 7,
            sink: "hook".into(),
            topic: "t".into(),
            idem_key: "t:1:hook".into(),
            payload: "{}".into(),
            attempts,
            created_at: 0,
            retry_since: 0,
        }
    }

    fn transient(retry_after: Option<u64>) -> Outcome {
        Outcome::Transient {
            error: "HTTP 503".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn next_delay(attempts: u32, outcome: &Outcome, now: i64, jitter: f64) -> Option<i64> {
        match decide(&delivery(attempts), outcome, &sink(), now, jitter) {
            DeliveryUpdate::Retry { next_at, .. } => Some(next_at - now),
            _ => None,
        }
    }

    #[test]
    fn retries_double_from_retry_min_up_to_retry_max() {
        // Jitter 1.0 is the full delay; 0.0 half of it.
        let full: Vec<i64> = (0..9)
            .map(|a| next_delay(a, &transient(None), 1000, 1.0).unwrap() / 1000)
            .collect();
        assert_eq!(full, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(next_delay(0, &transient(None), 1000, 0.0), Some(15_000));
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        assert_eq!(
            next_delay(0, &transient(Some(600)), 1000, 1.0),
            Some(600_000)
        );
        // Shorter than the backoff: the backoff stands.
        assert_eq!(next_delay(3, &transient(Some(5)), 1000, 1.0), Some(240_000));
        // A week is capped at a day.
        assert_eq!(
            next_delay(0, &transient(Some(7 * 86400)), 1000, 1.0),
            Some(86_400_000)
        );
    }

    #[test]
    fn a_delivery_failing_past_give_up_after_is_dead_lettered() {
        let three_days = 3 * 86_400_000;
        // The last retry is scheduled at the deadline, not past it...
        assert_eq!(
            next_delay(8, &transient(None), three_days - 1000, 1.0),
            Some(1000)
        );
        // ...and its failure dead-letters the delivery.
        assert!(matches!(
            decide(&delivery(9), &transient(None), &sink(), three_days, 0.5),
            DeliveryUpdate::Dead { .. }
        ));
    }

    #[test]
    fn permanent_errors_are_dead_at_once_and_successes_sent() {
        assert!(matches!(
            decide(
                &delivery(0),
                &Outcome::Permanent("HTTP 400".into()),
                &sink(),
                5,
                0.5
            ),
            DeliveryUpdate::Dead { .. }
        ));
        assert!(matches!(
            decide(
                &delivery(0),
                &Outcome::Delivered("HTTP 200".into()),
                &sink(),
                5,
                0.5
            ),
            DeliveryUpdate::Sent { .. }
        ));
    }

    #[test]
    fn http_statuses_are_classified_as_the_issue_says() {
        let class = |s| match classify_status(s, String::new(), None) {
            Outcome::Delivered(_) => "ok",
            Outcome::Transient { .. } => "retry",
            Outcome::Permanent(_) => "permanent",
        };
        assert_eq!(class(200), "ok");
        assert_eq!(class(204), "ok");
        assert_eq!(class(400), "permanent");
        assert_eq!(class(404), "permanent");
        assert_eq!(class(301), "permanent");
        assert_eq!(class(408), "retry");
        assert_eq!(class(429), "retry");
        assert_eq!(class(500), "retry");
        assert_eq!(class(503), "retry");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
