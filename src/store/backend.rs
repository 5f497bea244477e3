//! The store behind the writer thread and the read commands: SQLite or PostgreSQL.
//!
//! An enum rather than a trait object: the writer thread owns exactly one backend for its whole
//! life, so each call is one `match` on a value already in a register, and SQLite's calls inline
//! as they did before (no virtual call, no boxing of its results). The variants' inherent methods
//! keep their own signatures (PostgreSQL's client needs `&mut` to read); the enum gives the
//! writer and the commands the calls they make.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::pg::PgStore;
use super::{
    Budget, Claim, DeliveryUpdate, Due, FeedState, IngestPolicy, OutboxRoutes, OutboxRow,
    PollRecord, PollSummary, PrunePlan, PruneReport, Result, Schedule, SinkStatus, Store,
    StoredAlert, StoredItem, StoredStory,
};
use crate::config::{DigestGroup, SinkConfig};

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

    /// This daemon's instance id, when it shares a PostgreSQL database's work.
    pub fn instance_id(&self) -> Option<String> {
        match self {
            Backend::Postgres(p) => p.instance.as_ref().map(|i| i.id.clone()),
            Backend::Sqlite(_) => None,
        }
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

    /// Extends this daemon's claim on `feed` for a whole lease, if it still holds it.
    pub fn renew(&mut self, feed: &str) -> Result<bool> {
        match self {
            Backend::Sqlite(_) => Ok(true),
            Backend::Postgres(p) => p.renew(feed),
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
    /// [`StoreError::PruneBusy`](super::StoreError::PruneBusy)); the pass's last batch gives it back.
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

    /// Due deliveries of `sink` to send now (on PostgreSQL, claimed for this process, and the
    /// sink's `budget` decided in the claim: see `pg::outbox`), and when the next one falls due.
    /// SQLite reads the due rows and leaves `budget` to the worker (`sinks::budget`).
    pub fn outbox_due(
        &mut self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
        budget: Option<&Budget>,
    ) -> Result<Due> {
        match self {
            Backend::Sqlite(s) => {
                let (send, next) = s.outbox_due(sink, now_ms, limit, skip)?;
                Ok(Due {
                    send,
                    held: Vec::new(),
                    next,
                })
            }
            Backend::Postgres(p) => p.outbox_due(sink, now_ms, limit, skip, budget),
        }
    }

    /// Does this store decide `max_per_hour` in its claim (PostgreSQL), rather than the worker?
    pub fn budgets_in_claim(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    pub fn outbox_update(&mut self, u: &DeliveryUpdate) -> Result<()> {
        self.outbox_updates(std::slice::from_ref(u))
    }

    pub fn outbox_updates(&mut self, us: &[DeliveryUpdate]) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.outbox_updates(us),
            Backend::Postgres(p) => p.outbox_updates(us),
        }
    }

    /// Folds held deliveries into a digest. `slot`: the scheduled run's time (`None`: a release
    /// of rows held under an earlier config); on PostgreSQL a run some daemon already made for
    /// that slot does nothing.
    pub fn outbox_digest(
        &mut self,
        sink: &str,
        group: &DigestGroup,
        now_ms: i64,
        slot: Option<i64>,
    ) -> Result<Option<i64>> {
        match self {
            Backend::Sqlite(s) => s.outbox_digest(sink, group, now_ms, slot.is_some()),
            Backend::Postgres(p) => p.outbox_digest(sink, group, now_ms, slot),
        }
    }

    pub fn outbox_digest_now(
        &mut self,
        sink: &str,
        cfg: Option<&SinkConfig>,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        match self {
            Backend::Sqlite(s) => s.outbox_digest_now(sink, cfg, now_ms),
            Backend::Postgres(p) => p.outbox_digest_now(sink, cfg, now_ms),
        }
    }

    pub fn outbox_digest_since(&mut self, sink: &str, group: &DigestGroup) -> Result<Option<i64>> {
        match self {
            Backend::Sqlite(s) => s.outbox_digest_since(sink, group),
            Backend::Postgres(p) => p.outbox_digest_since(sink, group),
        }
    }

    pub fn outbox_sent_since(&mut self, sink: &str, since_ms: i64) -> Result<Vec<(String, i64)>> {
        match self {
            Backend::Sqlite(s) => s.outbox_sent_since(sink, since_ms),
            Backend::Postgres(p) => p.outbox_sent_since(sink, since_ms),
        }
    }

    pub fn outbox_list(
        &mut self,
        sink: Option<&str>,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        match self {
            Backend::Sqlite(s) => s.outbox_list(sink, state, limit),
            Backend::Postgres(p) => p.outbox_list(sink, state, limit),
        }
    }

    pub fn outbox_retry(&mut self, id: Option<i64>, now_ms: i64) -> Result<usize> {
        match self {
            Backend::Sqlite(s) => s.outbox_retry(id, now_ms),
            Backend::Postgres(p) => p.outbox_retry(id, now_ms),
        }
    }

    pub fn sink_statuses(&mut self, names: &[String]) -> Result<Vec<SinkStatus>> {
        match self {
            Backend::Sqlite(s) => s.sink_statuses(names),
            Backend::Postgres(p) => p.sink_statuses(names),
        }
    }

    /// Feeds of `names` failing `after` times in a row (the metrics).
    pub fn feeds_failing(&mut self, names: &[String], after: u32) -> Result<u64> {
        match self {
            Backend::Sqlite(s) => s.feeds_failing(names, after),
            Backend::Postgres(p) => p.feeds_failing(names, after),
        }
    }

    /// The database answers a read (`/readyz`).
    pub fn answers(&mut self) -> Result<()> {
        match self {
            Backend::Sqlite(s) => s.answers(),
            Backend::Postgres(p) => p.ping(),
        }
    }

    /// The daemons sharing the database (PostgreSQL); none on SQLite.
    pub fn instances(&mut self) -> Result<Vec<super::InstanceRow>> {
        match self {
            Backend::Sqlite(_) => Ok(Vec::new()),
            Backend::Postgres(p) => p.instances(),
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
