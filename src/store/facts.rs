//! A feed's facts: what decides how and when it is polled next, defined once.
//!
//! The poll fills what the answer said (validators, the cache directives, a document's `<ttl>`,
//! `<skipHours>`, `<skipDays>`) into the facts it read with the feed's state; the store applies
//! the outcome ([`FeedFacts::after`]: failures in a row, gone), adds the publishing activity,
//! writes them in the feed's row and returns them whole with the poll's summary; the daemon's
//! schedule ([`crate::scheduler`]) and the next poll read them from there. A new fact is a field
//! here, the code producing it and the code reading it, and its column in both backends.

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use super::{PollOutcome, PollRecord};
use crate::fetch::CacheHints;

/// The feeds table's columns holding a feed's facts, in the order each backend reads them
/// (`store::ingest::facts_at`, `store::pg::ingest::facts_at`) and writes them.
macro_rules! fact_columns {
    () => {
        "etag, last_modified, ttl_minutes, skip_hours, skip_days, consecutive_failures, dead_since, activity_items, activity_oldest"
    };
}
pub(crate) use fact_columns;

/// What is known about a feed that decides how and when it is polled next.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedFacts {
    /// The validators of the last document fetched, sent back as a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The last answer's `Cache-Control: max-age`, `Expires` and `Retry-After`: for the schedule
    /// decided right after it (which is stored, so they are not: read with a feed's state, they
    /// are empty).
    #[serde(skip)]
    pub cache: CacheHints,
    /// RSS `<ttl>`, minutes.
    pub ttl_minutes: Option<u32>,
    /// RSS `<skipHours>` (UTC hours) and `<skipDays>` (0 = Monday).
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    /// Failures in a row (0 after a success): the one count the scheduler's backoff, the slow
    /// lane, the "failing" warning and `feeds` read.
    pub consecutive_failures: u32,
    /// Answered 410 Gone, since then: the daemon no longer polls it (a success revives it).
    pub dead_since: Option<DateTime<Utc>>,
    /// Its publishing lately, for adaptive scheduling (changes only when a document is fetched).
    #[serde(skip)]
    pub activity: Activity,
}

/// How much a feed published lately: items dated (or first seen) in the last 7 days, and the
/// oldest such date.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Activity {
    pub items_7d: u32,
    pub oldest_7d: Option<DateTime<Utc>>,
}

impl FeedFacts {
    /// Answered 410 Gone (and not revived since).
    pub fn gone(&self) -> bool {
        self.dead_since.is_some()
    }

    /// Forgets what was learned at another URL (the config now points the feed elsewhere): its
    /// validators and its 410.
    pub(crate) fn forget_url(&mut self) {
        self.etag = None;
        self.last_modified = None;
        self.dead_since = None;
    }

    /// The stored facts after `rec`: what its answer said (validators, ttl and skips of a fetched
    /// document; the cache directives of any answer) and what its outcome means (a success
    /// clears the failures and revives a gone feed; a failure counts, a 410 marks the feed
    /// gone). The activity is the store's to recompute. Both backends write exactly this.
    pub(crate) fn after(mut self, rec: &PollRecord) -> FeedFacts {
        let said = &rec.facts;
        match &rec.outcome {
            PollOutcome::Fetched { .. } => {
                self.etag.clone_from(&said.etag);
                self.last_modified.clone_from(&said.last_modified);
                self.ttl_minutes = said.ttl_minutes;
                self.skip_hours.clone_from(&said.skip_hours);
                self.skip_days.clone_from(&said.skip_days);
                self.succeeded();
            }
            PollOutcome::NotModified { .. } => self.succeeded(),
            PollOutcome::Failed { status, .. } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if *status == Some(410) && self.dead_since.is_none() {
                    // Stored in whole seconds.
                    self.dead_since = Some(rec.at.with_nanosecond(0).unwrap_or(rec.at));
                }
            }
        }
        self.cache = said.cache;
        self
    }

    fn succeeded(&mut self) {
        self.consecutive_failures = 0;
        self.dead_since = None;
    }
}
