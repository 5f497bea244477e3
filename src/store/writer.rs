//! The single writer: a dedicated thread owns the [`Store`] and serves requests from async tasks
//! over a channel, so no tokio worker ever blocks on SQLite.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Backend, Budget, Claim, DeliveryUpdate, Due, OutboxRoutes};
use super::{
    FeedState, IngestPolicy, PollRecord, PollSummary, PrunePlan, PruneReport, Result, Store,
    StoreError,
};
use crate::config::DigestGroup;

/// Most polls committed in one transaction.
const MAX_GROUP: usize = 32;

/// Least time between two background checkpoints: each ends with `fsync`s, so a burst of
/// commits is copied in a few checkpoints rather than one per commit. Short enough that the WAL
/// stays small and the checkpoint a `once` run ends with has little left to copy
/// (docs/performance.md, "Why the constants are what they are").
const CHECKPOINT_SPACING: Duration = Duration::from_millis(100);

/// Starts the checkpointer thread, or returns `None` (the writer then checkpoints by itself,
/// as SQLite does by default) when its connection cannot be opened. Each message says "there
/// were commits"; the thread ends when the sender is dropped.
fn spawn_checkpointer(
    store: &Store,
) -> Option<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>)> {
    let ckpt = match store
        .checkpointer()
        .and_then(|c| store.leave_checkpoints_to_another().map(|()| c))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no background checkpoints; the writer will checkpoint by itself");
            return None;
        }
    };
    let (kick, kicked) = std::sync::mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("newshound-ckpt".into())
        .spawn(move || {
            let mut last = std::time::Instant::now();
            while kicked.recv().is_ok() {
                // Let commits gather until the spacing is over, but leave as soon as the writer
                // stops: its own final checkpoint follows.
                let until = last + CHECKPOINT_SPACING;
                while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
                    match kicked.recv_timeout(left) {
                        Ok(()) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                if let Err(e) = ckpt.run() {
                    // The writer's backstop checkpoint still bounds the WAL.
                    tracing::debug!(error = %e, "background checkpoint failed");
                }
                last = std::time::Instant::now();
            }
        })
        .ok()?;
    Some((kick, thread))
}

enum Request {
    Record(Box<PollRecord>, oneshot::Sender<Result<PollSummary>>),
    FeedState(String, oneshot::Sender<Result<Option<FeedState>>>),
    FeedStates(oneshot::Sender<Result<Vec<FeedState>>>),
    FeedStatesNamed(Vec<String>, oneshot::Sender<Result<Vec<FeedState>>>),
    Schedule(String, DateTime<Utc>, Duration, String),
    Schedules(Vec<super::Schedule>, oneshot::Sender<Result<()>>),
    Checkpoint(oneshot::Sender<Result<()>>),
    /// A reloaded config's `[alerts]` and `[stories]`: polls committed after it use them.
    Policy(IngestPolicy),
    /// The watchdog's health check: the writer is not stuck and the database answers.
    Ping(oneshot::Sender<Result<()>>),
    /// Retention: plan a pass for this `keep`, run one batch of it, free some pages.
    PrunePlan(Duration, oneshot::Sender<Result<PrunePlan>>),
    PruneBatch(
        PrunePlan,
        bool,
        oneshot::Sender<Result<(PrunePlan, PruneReport, bool)>>,
    ),
    VacuumStep(oneshot::Sender<Result<i64>>),
    /// The configured sinks: alerts committed after it enqueue deliveries for them.
    Routes(OutboxRoutes),
    /// Due deliveries of a sink: (sink, now in ms, limit, ids to leave out, its budgets when
    /// the claim decides them).
    OutboxDue(
        String,
        i64,
        usize,
        Vec<i64>,
        Option<Budget>,
        oneshot::Sender<Result<Due>>,
    ),
    OutboxUpdate(DeliveryUpdate, oneshot::Sender<Result<()>>),
    /// Fold a sink's held deliveries of one digest into it: (sink, which, now in ms, the
    /// scheduled run's time if it is one).
    OutboxDigest(
        String,
        DigestGroup,
        i64,
        Option<i64>,
        oneshot::Sender<Result<Option<i64>>>,
    ),
    OutboxDigestSince(String, DigestGroup, oneshot::Sender<Result<Option<i64>>>),
    /// A sink's alerts sent one by one since a time (ms): its budgets' window.
    OutboxSentSince(String, i64, oneshot::Sender<Result<Vec<(String, i64)>>>),
    /// Work sharing: (feed, URL) claimed before a poll.
    Claim(String, String, oneshot::Sender<Result<Claim>>),
    Renew(String, oneshot::Sender<Result<bool>>),
}

/// A cloneable handle to the writer thread.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Request>,
    /// Woken after a commit that queued deliveries (the delivery worker waits on it).
    outbox: Arc<Notify>,
    /// Other daemons share the database's feeds: polls are claimed first.
    shared: bool,
    /// The store decides `max_per_hour` in its claim of due deliveries (PostgreSQL).
    budgets_in_claim: bool,
}

/// Called with each write transaction's duration (the daemon's metrics).
pub type CommitHook = Box<dyn Fn(Duration) + Send>;

/// Starts the writer thread. It stops, checkpointing the WAL, when every handle is dropped.
pub fn spawn_writer(
    store: impl Into<Backend>,
    policy: IngestPolicy,
) -> (StoreHandle, std::thread::JoinHandle<()>) {
    spawn_writer_observed(store, policy, None)
}

/// As [`spawn_writer`], calling `on_commit` after each group of polls is committed.
pub fn spawn_writer_observed(
    store: impl Into<Backend>,
    mut policy: IngestPolicy,
    on_commit: Option<CommitHook>,
) -> (StoreHandle, std::thread::JoinHandle<()>) {
    let mut store: Backend = store.into();
    let shared = store.shares_work();
    let budgets_in_claim = store.budgets_in_claim();
    let (tx, mut rx) = mpsc::channel::<Request>(64);
    let outbox = Arc::new(Notify::new());
    let wake = outbox.clone();
    let thread = std::thread::Builder::new()
        .name("newshound-store".into())
        .spawn(move || {
            if policy.search {
                let started = std::time::Instant::now();
                match store.catch_up_search_index() {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(items = n, ms = started.elapsed().as_millis() as u64, "search index brought up to date"),
                    Err(e) => tracing::warn!(error = %e, "could not bring the search index up to date; searches miss older items"),
                }
            }
            let checkpointer = store.sqlite().and_then(spawn_checkpointer);
            // Group commit: polls that arrive while one commits are committed together (one
            // transaction; see `Store::record_polls`), so the writer keeps up with many feeds.
            while let Some(first) = rx.blocking_recv() {
                let mut polls = Vec::new();
                let mut others = Vec::new();
                let mut next = Some(first);
                while let Some(req) = next.take() {
                    match req {
                        Request::Record(rec, reply) => polls.push((rec, reply)),
                        // A change of what a commit does (the policy, the sinks to enqueue for)
                        // ends the group: the polls sent after it must be committed under it,
                        // and the group's polls are committed before the others are handled.
                        other @ (Request::Policy(_) | Request::Routes(_)) => {
                            others.push(other);
                            break;
                        }
                        other => others.push(other),
                    }
                    if polls.len() < MAX_GROUP {
                        next = rx.try_recv().ok();
                    }
                }
                if !polls.is_empty() {
                    let recs: Vec<&PollRecord> = polls.iter().map(|(r, _)| r.as_ref()).collect();
                    let started = std::time::Instant::now();
                    let results = store.record_polls(&recs, policy);
                    if let Some(hook) = &on_commit {
                        hook(started.elapsed());
                    }
                    let queued = results
                        .iter()
                        .any(|r| r.as_ref().is_ok_and(|s| s.enqueued > 0));
                    for ((_, reply), result) in polls.into_iter().zip(results) {
                        let _ = reply.send(result);
                    }
                    if let Some((kick, _)) = &checkpointer {
                        let _ = kick.try_send(());
                    }
                    if queued {
                        wake.notify_one();
                    }
                }
                // Delivery outcomes that arrived together commit together.
                let (updates, others): (Vec<Request>, Vec<Request>) = others
                    .into_iter()
                    .partition(|r| matches!(r, Request::OutboxUpdate(..)));
                let (updates, replies): (Vec<DeliveryUpdate>, Vec<_>) = updates
                    .into_iter()
                    .filter_map(|r| match r {
                        Request::OutboxUpdate(u, reply) => Some((u, reply)),
                        _ => None,
                    })
                    .unzip();
                if !updates.is_empty() {
                    if store.outbox_updates(&updates).is_ok() {
                        for reply in replies {
                            let _ = reply.send(Ok(()));
                        }
                    } else {
                        // Each on its own, so each gets its own answer.
                        for (u, reply) in updates.iter().zip(replies) {
                            let _ = reply.send(store.outbox_update(u));
                        }
                    }
                }
                for req in others {
                    match req {
                        Request::Record(..) => unreachable!("records are grouped above"),
                        Request::FeedState(name, reply) => {
                            let _ = reply.send(store.feed_state(&name));
                        }
                        Request::FeedStates(reply) => {
                            let _ = reply.send(store.feed_states());
                        }
                        Request::FeedStatesNamed(names, reply) => {
                            let _ = reply.send(store.feed_states_named(&names));
                        }
                        Request::Schedule(name, next, interval, reason) => {
                            if let Err(e) = store.set_schedule(&name, next, interval, &reason) {
                                tracing::warn!(feed = %name, error = %e, "could not save the feed's schedule");
                            }
                        }
                        Request::Schedules(rows, reply) => {
                            let _ = reply.send(store.set_schedules(&rows));
                        }
                        // The search index stays as it started: switching it on needs the
                        // catch-up above, which a reload does not run.
                        Request::Policy(p) => {
                            policy = IngestPolicy {
                                search: policy.search,
                                ..p
                            }
                        }
                        Request::Ping(reply) => {
                            let _ = reply.send(store.ping());
                        }
                        Request::Checkpoint(reply) => {
                            let _ = reply.send(store.checkpoint());
                        }
                        Request::PrunePlan(keep, reply) => {
                            let window = policy.story_window.as_secs() as i64;
                            let _ = reply.send(store.prune_plan(keep, window, Utc::now()));
                        }
                        Request::PruneBatch(mut plan, dry_run, reply) => {
                            let result = store
                                .prune_batch(&mut plan, dry_run)
                                .map(|(report, done)| (plan, report, done));
                            let _ = reply.send(result);
                        }
                        Request::VacuumStep(reply) => {
                            let _ = reply.send(store.vacuum_step());
                        }
                        Request::Routes(routes) => store.set_outbox_routes(routes),
                        Request::OutboxDue(sink, now, limit, skip, budget, reply) => {
                            let _ = reply.send(store.outbox_due(
                                &sink,
                                now,
                                limit,
                                &skip,
                                budget.as_ref(),
                            ));
                        }
                        Request::OutboxUpdate(..) => unreachable!("outcomes are grouped above"),
                        Request::OutboxDigest(sink, group, now, slot, reply) => {
                            let _ = reply.send(store.outbox_digest(&sink, &group, now, slot));
                        }
                        Request::OutboxDigestSince(sink, group, reply) => {
                            let _ = reply.send(store.outbox_digest_since(&sink, &group));
                        }
                        Request::OutboxSentSince(sink, since, reply) => {
                            let _ = reply.send(store.outbox_sent_since(&sink, since));
                        }
                        Request::Claim(feed, url, reply) => {
                            let _ = reply.send(store.claim(&feed, &url, Utc::now()));
                        }
                        Request::Renew(feed, reply) => {
                            let _ = reply.send(store.renew(&feed));
                        }
                    }
                }
            }
            if let Some((kick, thread)) = checkpointer {
                drop(kick);
                let _ = thread.join();
            }
            if let Err(e) = store.checkpoint() {
                tracing::warn!(error = %e, "final WAL checkpoint failed");
            }
        })
        .expect("spawning the store thread");
    (
        StoreHandle {
            tx,
            outbox,
            shared,
            budgets_in_claim,
        },
        thread,
    )
}

impl StoreHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Several daemons share this database's work (and its outbox).
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// Does the store decide each sink's `max_per_hour` in its claim of due deliveries
    /// (PostgreSQL: strict across daemons), so that the worker does not count in memory?
    pub fn budgets_in_claim(&self) -> bool {
        self.budgets_in_claim
    }

    /// Claims a feed before polling it: always granted unless several daemons share a
    /// PostgreSQL database (then no round trip is made at all on SQLite).
    pub async fn claim(&self, feed: &str, url: &str) -> Result<Claim> {
        if !self.shared {
            return Ok(Claim::Granted);
        }
        let (feed, url) = (feed.to_owned(), url.to_owned());
        self.ask(|r| Request::Claim(feed, url, r)).await
    }

    /// Extends this daemon's claim on a feed just before it is fetched: `false` when the claim
    /// ran out meanwhile (another daemon may hold the feed). Always `true` unless several
    /// daemons share a PostgreSQL database (then no round trip is made at all).
    pub async fn renew(&self, feed: &str) -> Result<bool> {
        if !self.shared {
            return Ok(true);
        }
        let feed = feed.to_owned();
        self.ask(|r| Request::Renew(feed, r)).await
    }

    pub async fn record(&self, rec: PollRecord) -> Result<PollSummary> {
        self.ask(|r| Request::Record(Box::new(rec), r)).await
    }

    pub async fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        let name = name.to_owned();
        self.ask(|r| Request::FeedState(name, r)).await
    }

    pub async fn feed_states(&self) -> Result<Vec<FeedState>> {
        self.ask(Request::FeedStates).await
    }

    pub async fn feed_states_named(&self, names: Vec<String>) -> Result<Vec<FeedState>> {
        self.ask(|r| Request::FeedStatesNamed(names, r)).await
    }

    pub async fn set_schedule(
        &self,
        name: &str,
        next: DateTime<Utc>,
        interval: Duration,
        reason: &str,
    ) {
        let _ = self
            .tx
            .send(Request::Schedule(
                name.to_owned(),
                next,
                interval,
                reason.to_owned(),
            ))
            .await;
    }

    /// Records a round's schedule decisions (`once`) in one transaction.
    pub async fn set_schedules(&self, rows: Vec<super::Schedule>) -> Result<()> {
        self.ask(|r| Request::Schedules(rows, r)).await
    }

    /// Answers when the writer thread is free and the database answers a trivial query: the
    /// watchdog's health check (cheap whatever the database's size).
    pub async fn ping(&self) -> Result<()> {
        self.ask(Request::Ping).await
    }

    /// Applies a reloaded config's ingest policy to every poll committed from now on.
    pub async fn set_policy(&self, policy: IngestPolicy) {
        let _ = self.tx.send(Request::Policy(policy)).await;
    }

    /// Alerts committed from now on enqueue deliveries for these sinks.
    pub async fn set_outbox_routes(&self, routes: OutboxRoutes) {
        let _ = self.tx.send(Request::Routes(routes)).await;
    }

    /// Up to `limit` due deliveries of `sink` (oldest due first), leaving out `skip` (those in
    /// flight), and when its next one not yet due falls due (ms). With `budget` (only where
    /// [`StoreHandle::budgets_in_claim`]), the claim holds back those over it.
    pub async fn outbox_due(
        &self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: Vec<i64>,
        budget: Option<Budget>,
    ) -> Result<Due> {
        let sink = sink.to_owned();
        self.ask(|r| Request::OutboxDue(sink, now_ms, limit, skip, budget, r))
            .await
    }

    pub async fn outbox_update(&self, update: DeliveryUpdate) -> Result<()> {
        self.ask(|r| Request::OutboxUpdate(update, r)).await
    }

    /// Folds `sink`'s held deliveries of `group` into one digest delivery, due now (see
    /// [`Store::outbox_digest`]).
    pub async fn outbox_digest(
        &self,
        sink: &str,
        group: &DigestGroup,
        now_ms: i64,
        slot: Option<i64>,
    ) -> Result<Option<i64>> {
        let (sink, group) = (sink.to_owned(), group.clone());
        self.ask(|r| Request::OutboxDigest(sink, group, now_ms, slot, r))
            .await
    }

    /// The digest's last run, else its oldest held delivery (ms).
    pub async fn outbox_digest_since(
        &self,
        sink: &str,
        group: &DigestGroup,
    ) -> Result<Option<i64>> {
        let (sink, group) = (sink.to_owned(), group.clone());
        self.ask(|r| Request::OutboxDigestSince(sink, group, r))
            .await
    }

    /// `sink`'s alerts sent one by one since `since_ms`: (topic, sent at).
    pub async fn outbox_sent_since(&self, sink: &str, since_ms: i64) -> Result<Vec<(String, i64)>> {
        let sink = sink.to_owned();
        self.ask(|r| Request::OutboxSentSince(sink, since_ms, r))
            .await
    }

    /// Notified after each commit that queued deliveries.
    pub fn outbox_wakeup(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    pub async fn checkpoint(&self) -> Result<()> {
        self.ask(Request::Checkpoint).await
    }

    /// Plans a retention pass: see [`Store::prune_plan`].
    pub async fn prune_plan(&self, keep: Duration) -> Result<PrunePlan> {
        self.ask(|r| Request::PrunePlan(keep, r)).await
    }

    /// One batch of a retention pass (one short transaction; polls commit between batches).
    pub async fn prune_batch(
        &self,
        plan: PrunePlan,
        dry_run: bool,
    ) -> Result<(PrunePlan, PruneReport, bool)> {
        self.ask(|r| Request::PruneBatch(plan, dry_run, r)).await
    }

    /// Frees some pages: see [`Store::vacuum_step`]. Returns the free pages left.
    pub async fn vacuum_step(&self) -> Result<i64> {
        self.ask(Request::VacuumStep).await
    }

    /// A whole retention pass, batch by batch, then the incremental vacuum.
    pub async fn prune(&self, keep: Duration, dry_run: bool) -> Result<PruneReport> {
        let mut plan = self.prune_plan(keep).await?;
        let mut total = PruneReport::default();
        loop {
            let (next, report, done) = self.prune_batch(plan, dry_run).await?;
            total.add(&report);
            plan = next;
            if done {
                break;
            }
        }
        if !dry_run {
            // Each step frees up to VACUUM_PAGES; the bound only guards against a step that
            // frees nothing.
            for _ in 0..100_000 {
                if self.vacuum_step().await? == 0 {
                    break;
                }
            }
        }
        Ok(total)
    }
}
