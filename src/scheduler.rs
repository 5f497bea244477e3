//! When is a feed due again? A pure function of the last poll's result and "now", so the rules
//! are tested without clocks or servers.
//!
//! 1. **Base interval**: the feed's `interval`. In adaptive mode (the default) it follows the
//!    feed's publishing rate: the mean gap between the items it published in the last 7 days
//!    (oldest such item to now, divided by their count), kept within a quarter and four times
//!    the configured interval. Fewer than 2 items in 7 days counts as quiet (4× the interval).
//!    Items spread over less than one interval say nothing about a rate (a first poll's backlog,
//!    or a document of undated items, all "published" when first seen): no adjustment then.
//!    Like Miniflux's entry-frequency scheduler, but bounded by the user's own interval.
//! 2. **Backoff**: after n consecutive failures, at least interval × 2^(n−1).
//! 3. **What the server asked**, which only ever lengthens the wait: RSS `<ttl>`,
//!    `Cache-Control: max-age`, `Expires`, `Retry-After`.
//! 4. **Clamp** to `[min_interval, max_interval]`, then up to 10% random **jitter** so feeds
//!    drift apart.
//! 5. **RSS `<skipHours>`/`<skipDays>`** (UTC): a poll that would fall in a skipped hour or day
//!    moves to the next allowed hour (never beyond `max_interval`).

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::store::FeedFacts;

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub now: DateTime<Utc>,
    pub interval: Duration,
    pub min: Duration,
    pub max: Duration,
    /// The feed's facts after its last poll: failures in a row, the answer's cache directives,
    /// `<ttl>`, `<skipHours>`/`<skipDays>`, its publishing activity.
    pub facts: &'a FeedFacts,
    /// Adapt the interval to the feed's publishing (`adaptive`).
    pub adaptive: bool,
    /// A number in [0, 1) for jitter.
    pub jitter: f64,
}

/// The wait until the next poll, the base interval it started from, and why it is that long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub wait: Duration,
    pub interval: Duration,
    pub reason: &'static str,
}

pub fn next_wait(i: &Inputs<'_>) -> Decision {
    let f = i.facts;
    let mut base = i.interval;
    let mut reason = "interval";
    if i.adaptive && f.consecutive_failures == 0 {
        let a = f.activity;
        let span = a
            .oldest_7d
            .map(|oldest| (i.now - oldest).to_std().unwrap_or_default());
        let estimate = match span {
            Some(span) if a.items_7d >= 2 && span < i.interval => i.interval,
            Some(span) if a.items_7d >= 2 => span / a.items_7d,
            _ => i.interval * 4,
        };
        let adapted = estimate.clamp(i.interval / 4, i.interval * 4);
        if adapted < i.interval {
            (base, reason) = (adapted, "adaptive: busy feed");
        } else if adapted > i.interval {
            (base, reason) = (adapted, "adaptive: quiet feed");
        }
    }
    let mut wait = base;
    let mut raise = |d: Option<Duration>, why: &'static str| {
        if let Some(d) = d.filter(|d| *d > wait) {
            wait = d;
            reason = why;
        }
    };
    if f.consecutive_failures > 0 {
        let factor = 1u32
            .checked_shl(f.consecutive_failures.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX);
        raise(Some(i.interval.saturating_mul(factor)), "backoff");
    }
    raise(
        f.ttl_minutes
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        "ttl",
    );
    raise(f.cache.max_age, "max-age");
    raise(f.cache.expires_in, "expires");
    raise(f.cache.retry_after, "retry-after");
    let max = i.max.max(i.min);
    let clamped = wait.clamp(i.min, max);
    if clamped > wait {
        reason = "min_interval";
    } else if clamped < wait {
        reason = if reason == "retry-after" {
            "retry-after (capped at max_interval)"
        } else {
            "max_interval"
        };
    }
    let mut wait = clamped + clamped.mul_f64(0.1 * i.jitter.clamp(0.0, 1.0));
    // Skipped hours and days: move to the start of the next allowed hour.
    if !f.skip_hours.is_empty() || !f.skip_days.is_empty() {
        let mut at = i.now + chrono::Duration::from_std(wait).unwrap_or_default();
        for _ in 0..(7 * 24) {
            let hour_skipped = f.skip_hours.contains(&(at.hour() as u8));
            let day_skipped = f
                .skip_days
                .contains(&(at.weekday().num_days_from_monday() as u8));
            if !hour_skipped && !day_skipped {
                break;
            }
            reason = if day_skipped { "skipDays" } else { "skipHours" };
            let next_hour = at
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(at)
                + chrono::Duration::hours(1);
            at = next_hour;
        }
        wait = (at - i.now).to_std().unwrap_or(wait).min(max);
    }
    Decision {
        wait,
        interval: base,
        reason,
    }
}

/// A number in [0, 1) for jitter (fastrand: seeded once per thread, not from the clock).
pub fn random_unit() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Activity;

    fn now() -> DateTime<Utc> {
        "2026-11-27T10:00:00Z".parse().unwrap() // a Friday
    }

    fn inputs(facts: &FeedFacts) -> Inputs<'_> {
        Inputs {
            now: now(),
            interval: Duration::from_secs(600),
            min: Duration::from_secs(60),
            max: Duration::from_secs(86400),
            facts,
            adaptive: false,
            jitter: 0.0,
        }
    }

    fn wait(i: &Inputs<'_>) -> (u64, &'static str) {
        let d = next_wait(i);
        (d.wait.as_secs(), d.reason)
    }

    /// The wait for a feed with `facts`, other inputs as [`inputs`].
    fn wait_for(facts: &FeedFacts) -> (u64, &'static str) {
        wait(&inputs(facts))
    }

    #[test]
    fn the_interval_is_the_default() {
        assert_eq!(wait_for(&FeedFacts::default()), (600, "interval"));
    }

    #[test]
    fn server_hints_only_ever_lengthen_the_wait() {
        let mut f = FeedFacts::default();
        f.cache.max_age = Some(Duration::from_secs(60));
        assert_eq!(wait_for(&f), (600, "interval"));
        f.ttl_minutes = Some(30);
        assert_eq!(wait_for(&f), (1800, "ttl"));
        f.cache.expires_in = Some(Duration::from_secs(3000));
        assert_eq!(wait_for(&f), (3000, "expires"));
        f.cache.retry_after = Some(Duration::from_secs(7200));
        assert_eq!(wait_for(&f), (7200, "retry-after"));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let mut f = FeedFacts {
            consecutive_failures: 1,
            ..FeedFacts::default()
        };
        assert_eq!(wait_for(&f), (600, "interval"));
        f.consecutive_failures = 3;
        assert_eq!(wait_for(&f), (2400, "backoff"));
        f.consecutive_failures = 40;
        assert_eq!(wait_for(&f), (86400, "max_interval"));
    }

    #[test]
    fn retry_after_beyond_the_cap_is_capped_and_says_so() {
        let mut f = FeedFacts::default();
        f.cache.retry_after = Some(Duration::from_secs(10 * 86400));
        assert_eq!(
            wait_for(&f),
            (86400, "retry-after (capped at max_interval)")
        );
    }

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        let f = FeedFacts::default();
        let mut i = inputs(&f);
        i.jitter = 0.999;
        let (d, _) = wait(&i);
        assert!((600..661).contains(&d), "{d}");
    }

    #[test]
    fn the_clamp_applies() {
        let f = FeedFacts::default();
        let mut i = inputs(&f);
        i.interval = Duration::from_secs(5);
        assert_eq!(wait(&i), (60, "min_interval"));
    }

    #[test]
    fn adaptive_mode_polls_busy_feeds_more_and_quiet_feeds_less() {
        let adaptive = |items_7d, oldest: Option<chrono::Duration>, failures| {
            let f = FeedFacts {
                activity: Activity {
                    items_7d,
                    oldest_7d: oldest.map(|ago| now() - ago),
                },
                consecutive_failures: failures,
                ..FeedFacts::default()
            };
            let mut i = inputs(&f);
            i.adaptive = true;
            wait(&i)
        };
        // 100 items in the last 2 days: one every ~29 minutes... of 600 s interval → slower
        let two_days = Some(chrono::Duration::days(2));
        assert_eq!(adaptive(100, two_days, 0), (1728, "adaptive: quiet feed"));
        // 1,000 items in a day: one every 86 s → a quarter of the interval
        let one_day = Some(chrono::Duration::days(1));
        assert_eq!(adaptive(1000, one_day, 0), (150, "adaptive: busy feed"));
        // nothing lately: four times the interval
        assert_eq!(adaptive(0, None, 0), (2400, "adaptive: quiet feed"));
        // a backlog seen at once (1,000 undated items on a first poll) is no rate: no change
        let backlog = Some(chrono::Duration::seconds(2));
        assert_eq!(adaptive(1000, backlog, 0), (600, "interval"));
        // failing feeds back off from the configured interval, not the adapted one
        assert_eq!(adaptive(1000, backlog, 2), (1200, "backoff"));
        // and the activity is read only in adaptive mode
        let f = FeedFacts {
            activity: Activity {
                items_7d: 1000,
                oldest_7d: Some(now() - chrono::Duration::days(1)),
            },
            ..FeedFacts::default()
        };
        assert_eq!(wait_for(&f), (600, "interval"));
    }

    #[test]
    fn skip_hours_and_days_move_the_poll_to_the_next_allowed_hour() {
        // 10:00 + 10 min lands in hour 10, which is skipped with 11: next allowed is 12:00.
        let f = FeedFacts {
            skip_hours: vec![10, 11],
            ..FeedFacts::default()
        };
        assert_eq!(wait_for(&f), (2 * 3600, "skipHours"));
        // Friday skipped: Saturday 00:00.
        let f = FeedFacts {
            skip_days: vec![4],
            ..FeedFacts::default()
        };
        assert_eq!(wait_for(&f), (14 * 3600, "skipDays"));
    }
}
