//! The store behind the writer thread and the read commands: SQLite or PostgreSQL.
//!
//! An enum rather than a trait object: the writer thread owns exactly one backend for its whole
//! life, so each call is one `match` on a value already in a register, and SQLite's calls inline
//! as they did before (no virtual call, no boxing of its results). The variants' inherent methods
//! keep their own signatures (PostgreSQL's client needs `&mut` to read); the enum gives the
//! writer and the commands the calls they make. What PostgreSQL cannot do yet (the outbox)
//! answers [`StoreError::Unsupported`] (the config already refuses the settings that would need it).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::pg::PgStore;
use super::{
    Claim, Delivery, DeliveryUpdate, FeedState, IngestPolicy, OutboxRoutes, PollRecord,
    PollSummary, PrunePlan, PruneReport, Result, Schedule, Store, StoreError, StoredAlert,
    StoredItem, StoredStory,
};
use crate::config::DigestGroup;

/// One value per writer thread or command: its size does not matter, and boxing a variant would
/// only add a pointer to follow.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    Sqlite(Store),
    Postgres(PgStore),
}

impl From<Store> for Backend {
    fn from(s: Store) -> Backend {
        Backend::Sqlite(s)
    }
}

impl From<PgStore> for Backend {
    fn from(s: PgStore) -> Backend {
        Backend::Postgres(s)
    }
}

impl Backend {
    /// The SQLite store, if that is the backend.
    pub fn sqlite(&self) -> Option<&Store> {
        match self {
            Backend::Sqlite(s) => Some(s),
            Backend::Postgres(_) => None,
        }
    }

    /// Several daemons share this database's work (PostgreSQL opened by a daemon).
    pub fn shares_work(&self) -> bool {
        matches!(self, Backend::Postgres(p) if p.instance.is_some())
    }

    pub fn record_polls(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
    ) -> Vec<Result<PollSummary>> {
        match self {
            Backend::Sqlite(s) => s.record_polls(recs, policy),
            Backend::Postgres(p) => p.record_polls(recs, policy),
        }
    }

    pub fn feed_state(&mut self, name: &str) -> Result<Option<FeedState>> {
        match self {
            Backend::Sqlite(s) => s.feed_state(name),
            Backend::Postgres(p) => p.feed_state(name),
        }
    }

    pub fn feed_states(&mut self) -> Result<Vec<FeedState>> {
        match self {
            Backend::Sqlite(s) => s.feed_states(),
            Backend::Postgres(p) => p.feed_states(),
        }
    }

    pub fn feed_states_named(&mut self, names: &[String]) -> Result<Vec<FeedState>> {
        match self {
            Backend::Sqlite(s) => s.feed_states_named(names),
            Backend::Postgres(p) => p.feed_states_named(names),
        }
    }

    pub fn set_schedule(
        &mut self,
        feed: &str,
        next: DateTime<Utc>,
        interval: Duration,
        reason: &str,
    ) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.set_schedule(feed, next, interval, reason),
            Backend::Postgres(p) => p.set_schedule(feed, next, interval, reason),
        }
    }

    pub fn set_schedules(&mut self, rows: &[Schedule]) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.set_schedules(rows),
            Backend::Postgres(p) => p.set_schedules(rows),
        }
    }

    /// Claims a feed for this daemon before it polls it (always granted but on a shared
    /// PostgreSQL).
    pub fn claim(&mut self, feed: &str, url: &str, now: DateTime<Utc>) -> Result<Claim> {
        match self {
            Backend::Sqlite(_) => Ok(Claim::Granted),
            Backend::Postgres(p) => p.claim(feed, url, now),
        }
    }

    pub fn ping(&mut self) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.ping(),
            Backend::Postgres(p) => p.ping(),
        }
    }

    /// SQLite's WAL checkpoint; nothing to do on PostgreSQL.
    pub fn checkpoint(&self) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.checkpoint(),
            Backend::Postgres(_) => Ok(()),
        }
    }

    pub fn catch_up_search_index(&mut self) -> Result<u64> {
        match self {
            Backend::Sqlite(s) => s.catch_up_search_index(),
            Backend::Postgres(p) => p.catch_up_search_index(),
        }
    }

    pub fn set_outbox_routes(&mut self, routes: OutboxRoutes) {
        match self {
            Backend::Sqlite(s) => s.set_outbox_routes(routes),
            Backend::Postgres(p) => p.routes = routes,
        }
    }

    /// On PostgreSQL, also takes the lock held by the one pass running (else
    /// [`StoreError::PruneBusy`]); the pass's last batch gives it back.
    pub fn prune_plan(
        &mut self,
        keep: Duration,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<PrunePlan> {
        match self {
            Backend::Sqlite(s) => s.prune_plan(keep, window, now),
            Backend::Postgres(p) => p.prune_plan(keep, window, now),
        }
    }

    pub fn prune_batch(
        &mut self,
        plan: &mut PrunePlan,
        dry_run: bool,
    ) -> Result<(PruneReport, bool)> {
        match self {
            Backend::Sqlite(s) => s.prune_batch(plan, dry_run),
            Backend::Postgres(p) => p.prune_batch(plan, dry_run),
        }
    }

    /// SQLite's incremental vacuum; on PostgreSQL autovacuum reuses the space (0 pages left).
    pub fn vacuum_step(&mut self) -> Result<i64> {
        match self {
            Backend::Sqlite(s) => s.vacuum_step(),
            Backend::Postgres(_) => Ok(0),
        }
    }

    pub fn outbox_due(
        &self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
    ) -> Result<(Vec<Delivery>, Option<i64>)> {
        match self {
            Backend::Sqlite(s) => s.outbox_due(sink, now_ms, limit, skip),
            Backend::Postgres(_) => Err(StoreError::Unsupported("the outbox")),
        }
    }

    pub fn outbox_update(&mut self, u: &DeliveryUpdate) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.outbox_update(u),
            Backend::Postgres(_) => Err(StoreError::Unsupported("the outbox")),
        }
    }

    pub fn outbox_updates(&mut self, us: &[DeliveryUpdate]) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.outbox_updates(us),
            Backend::Postgres(_) => Err(StoreError::Unsupported("the outbox")),
        }
    }

    pub fn outbox_digest(
        &mut self,
        sink: &str,
        group: &DigestGroup,
        now_ms: i64,
        scheduled: bool,
    ) -> Result<Option<i64>> {
        match self {
            Backend::Sqlite(s) => s.outbox_digest(sink, group, now_ms, scheduled),
            Backend::Postgres(_) => Err(StoreError::Unsupported("the outbox")),
        }
    }

    pub fn outbox_digest_since(&self, sink: &str, group: &DigestGroup) -> Result<Option<i64>> {
        match self {
            Backend::Sqlite(s) => s.outbox_digest_since(sink, group),
            Backend::Postgres(_) => Err(StoreError::Unsupported("the outbox")),
        }
    }

    pub fn outbox_sent_since(&self, sink: &str, since_ms: i64) -> Result<Vec<(String, i64)>> {
        match self {
            Backend::Sqlite(s) => s.outbox_sent_since(sink, since_ms),
            Backend::Postgres(_) => Err(StoreError::Unsupported("the outbox")),
        }
    }

    /// Stored items, newest first.
    pub fn items(
        &mut self,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredItem>> {
        match self {
            Backend::Sqlite(s) => s.items(feed, since, limit),
            Backend::Postgres(p) => p.items(feed, since, limit),
        }
    }

    /// Stories started since `since` with at least `min_sources` feeds, newest first.
    pub fn stories(
        &mut self,
        since: Option<DateTime<Utc>>,
        min_sources: usize,
        limit: usize,
    ) -> Result<Vec<StoredStory>> {
        match self {
            Backend::Sqlite(s) => s.stories(since, min_sources, limit),
            Backend::Postgres(p) => p.stories(since, min_sources, limit),
        }
    }

    /// Stored alerts, newest first.
    pub fn alerts(
        &mut self,
        topic: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>> {
        match self {
            Backend::Sqlite(s) => s.alerts(topic, since, limit),
            Backend::Postgres(p) => p.alerts(topic, since, limit),
        }
    }

    /// Counts for tests and reports: (items, sightings, alerts).
    pub fn counts(&mut self) -> Result<(u64, u64, u64)> {
        match self {
            Backend::Sqlite(s) => s.counts(),
            Backend::Postgres(p) => p.counts(),
        }
    }
}
