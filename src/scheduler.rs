//! When is a feed due again? Pure functions of the last poll's result and "now", so the rules
//! are tested without clocks or servers.
//!
//! The next poll is the feed's interval, raised (never lowered) by what the server asked for:
//! RSS `<ttl>`, `Cache-Control: max-age`, `Expires`, `Retry-After`; after failures, an exponential
//! backoff (interval × 2^(failures−1), capped at `max_interval`). The result is clamped to
//! `[min_interval, max_interval]` and gets up to 10% random jitter so feeds drift apart.

use std::time::Duration;

use crate::fetch::CacheHints;

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    pub interval: Duration,
    pub min: Duration,
    pub max: Duration,
    pub consecutive_failures: u32,
    pub cache: CacheHints,
    pub ttl_minutes: Option<u32>,
    /// A number in [0, 1) for jitter.
    pub jitter: f64,
}

/// The wait until the next poll, and why it is that long.
pub fn next_wait(i: &Inputs) -> (Duration, &'static str) {
    let mut wait = i.interval;
    let mut reason = "interval";
    let mut raise = |d: Option<Duration>, why: &'static str| {
        if let Some(d) = d
            && d > wait
        {
            wait = d;
            reason = why;
        }
    };
    if i.consecutive_failures > 0 {
        let factor = 1u32
            .checked_shl(i.consecutive_failures.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX);
        raise(Some(i.interval.saturating_mul(factor)), "backoff");
    }
    raise(
        i.ttl_minutes
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        "ttl",
    );
    raise(i.cache.max_age, "max-age");
    raise(i.cache.expires_in, "expires");
    raise(i.cache.retry_after, "retry-after");
    let clamped = wait.clamp(i.min, i.max.max(i.min));
    if clamped > wait {
        reason = "min_interval";
    } else if clamped < wait {
        reason = if reason == "retry-after" {
            "retry-after (capped at max_interval)"
        } else {
            "max_interval"
        };
    }
    let jitter = clamped.mul_f64(0.1 * i.jitter.clamp(0.0, 1.0));
    (clamped + jitter, reason)
}

/// A random number in [0, 1) without a dependency: std's per-process random hash keys.
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            interval: Duration::from_secs(600),
            min: Duration::from_secs(60),
            max: Duration::from_secs(86400),
            consecutive_failures: 0,
            cache: CacheHints::default(),
            ttl_minutes: None,
            jitter: 0.0,
        }
    }

    #[test]
    fn the_interval_is_the_default() {
        assert_eq!(next_wait(&inputs()), (Duration::from_secs(600), "interval"));
    }

    #[test]
    fn server_hints_only_ever_lengthen_the_wait() {
        let mut i = inputs();
        i.cache.max_age = Some(Duration::from_secs(60));
        assert_eq!(next_wait(&i).1, "interval");
        i.ttl_minutes = Some(30);
        assert_eq!(next_wait(&i), (Duration::from_secs(1800), "ttl"));
        i.cache.retry_after = Some(Duration::from_secs(7200));
        assert_eq!(next_wait(&i), (Duration::from_secs(7200), "retry-after"));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let mut i = inputs();
        i.consecutive_failures = 3;
        assert_eq!(next_wait(&i), (Duration::from_secs(2400), "backoff"));
        i.consecutive_failures = 40;
        assert_eq!(next_wait(&i), (Duration::from_secs(86400), "max_interval"));
    }

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        let mut i = inputs();
        i.jitter = 0.999;
        let (d, _) = next_wait(&i);
        assert!(
            d > Duration::from_secs(600) && d < Duration::from_secs(661),
            "{d:?}"
        );
    }

    #[test]
    fn the_clamp_applies() {
        let mut i = inputs();
        i.interval = Duration::from_secs(5);
        assert_eq!(next_wait(&i), (Duration::from_secs(60), "min_interval"));
    }
}
