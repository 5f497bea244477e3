//! What a poll reports: to `once`'s summary, to the scheduler (the feed's facts, where it waited)
//! and to `/metrics`.

use std::time::Duration;

use serde::Serialize;

use crate::error_class::ErrorClass;
use crate::fetch::FetchError;
use crate::store::FeedFacts;

/// What one poll did, for the `once` summary and the scheduler.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub feed: String,
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub result: PollResult,
    /// The feed's facts after this poll, as the store returned them (failures in a row, gone,
    /// ttl, skips, cache directives, activity): what the schedule reads. When the poll could not
    /// be committed, those it read with this poll's failure counted; unchanged by a cancelled
    /// poll.
    #[serde(skip)]
    pub facts: FeedFacts,
    /// Where and how long it waited for its turn.
    #[serde(skip)]
    pub waits: Waits,
}

/// Where a poll waited for its turn, and how long: the schedule's reason and `once` say so.
#[derive(Debug, Clone, Default)]
pub struct Waits {
    /// How long the poll, in the daemon, of a feed not fetched since the start waited for a
    /// share of the slots such feeds may hold (its host's, then the fleet's).
    pub first_wait: Duration,
    /// How long the poll waited for its host (per-host limit and spacing) before fetching.
    pub host_wait: Duration,
    /// How long it then waited for a fetch slot (in `lane`).
    pub slot_wait: Duration,
    /// Where it fetched: "fetch slots", "probation" (not fast on a first fetch), or "slow lane"
    /// (slow last time, backoff, or moved there).
    pub lane: &'static str,
    /// It started in the fetch slots and moved to the slow lane after `slow_after`.
    pub moved_to_slow_lane: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PollResult {
    Fetched {
        new: usize,
        updated: usize,
        unchanged: usize,
        merged: usize,
        alerts: usize,
    },
    NotModified,
    Failed {
        class: ErrorClass,
        http_status: Option<u16>,
        error: String,
    },
    /// Several daemons on one database: this one's claim on the feed ran out while the poll
    /// waited for its slots and another daemon may hold it now, so nothing was fetched or recorded.
    Yielded,
}

impl FeedReport {
    pub fn failed(&self) -> bool {
        matches!(self.result, PollResult::Failed { .. })
    }

    /// The claim on the feed ran out before the fetch (nothing fetched, nothing recorded).
    pub fn yielded(&self) -> bool {
        matches!(self.result, PollResult::Yielded)
    }

    /// The poll never started, or gave up, because the daemon is stopping (nothing recorded).
    pub fn cancelled(&self) -> bool {
        matches!(
            self.result,
            PollResult::Failed {
                class: ErrorClass::Cancelled,
                ..
            }
        )
    }
}

pub(super) fn cancelled() -> PollResult {
    PollResult::Failed {
        class: ErrorClass::Cancelled,
        http_status: None,
        error: FetchError::Cancelled.to_string(),
    }
}
