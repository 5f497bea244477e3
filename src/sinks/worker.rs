//! The delivery worker: one tokio task that reads due deliveries through the writer and spawns
//! a send for each (waiting for its sink's slot), and records every outcome through the writer.
//!
//! It wakes when a commit queued deliveries, when a send finished, when the sinks changed
//! (SIGHUP), or when the next retry falls due. Shutdown: `stop` ends the loop and the sends
//! still waiting for a slot (they stay queued); sends in flight finish, or are dropped at
//! `abort` (the daemon's deadline), leaving their deliveries queued: a send dropped after the
//! receiver took it is sent again at the next start, which the idempotency key lets the
//! receiver drop.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::budget::{Budgets, Over};
use super::{Sink, retry};
use crate::config::{Config, DigestGroup};
use crate::metrics::Metrics;
use crate::store::{Budget, Delivery, DeliveryUpdate, OutboxRoutes, StoreError, StoreHandle};
use crate::text::Untrusted;

/// The longest sleep without a wake-up: how soon a delivery queued again by `outbox retry`
/// (another process, which cannot wake this one) is seen.
const IDLE: Duration = Duration::from_secs(5);

type Sinks = Arc<HashMap<String, Arc<Sink>>>;

/// The running worker.
pub struct Outbox {
    sinks: watch::Sender<Sinks>,
    stop: CancellationToken,
    abort: CancellationToken,
    tasks: TaskTracker,
}

impl Outbox {
    /// Tells the writer which sinks to enqueue for, and starts the worker (when there are
    /// sinks, or deliveries may be left from an earlier config: it is cheap when idle).
    pub async fn start(
        cfg: &Config,
        store: StoreHandle,
        metrics: Option<Arc<Metrics>>,
    ) -> anyhow::Result<Outbox> {
        Self::spawn(cfg, store, false, metrics).await
    }

    /// For `once`: sends what is due now (each delivery at most once) and returns when nothing
    /// due is left or `stop` is cancelled.
    pub async fn drain(cfg: &Config, store: StoreHandle, within: Duration) -> anyhow::Result<()> {
        let outbox = Self::spawn(cfg, store, true, None).await?;
        outbox.tasks.close();
        if tokio::time::timeout(within, outbox.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "deliveries still being sent at the deadline; they stay queued for the next run"
            );
            outbox.stop.cancel();
            outbox.abort.cancel();
            outbox.tasks.wait().await;
        }
        Ok(())
    }

    async fn spawn(
        cfg: &Config,
        store: StoreHandle,
        once: bool,
        metrics: Option<Arc<Metrics>>,
    ) -> anyhow::Result<Outbox> {
        let sinks: Sinks = Arc::new(super::build(cfg)?);
        store.set_outbox_routes(OutboxRoutes::new(&cfg.sinks)).await;
        let (tx, rx) = watch::channel(sinks);
        let outbox = Outbox {
            sinks: tx,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            tasks: TaskTracker::new(),
        };
        let w = Worker {
            store,
            sinks: rx,
            stop: outbox.stop.clone(),
            abort: outbox.abort.clone(),
            tasks: outbox.tasks.clone(),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            done: Arc::new(Notify::new()),
            budgets: Arc::new(Mutex::new(Budgets::default())),
            once,
            metrics,
        };
        outbox.tasks.spawn(w.run());
        Ok(outbox)
    }

    /// Applies a reloaded config: new sinks are built first (an error keeps the old ones),
    /// then the writer enqueues for the new set. Deliveries of a removed sink stay queued
    /// (and are sent again if it comes back).
    pub async fn reload(&self, cfg: &Config, store: &StoreHandle) -> anyhow::Result<()> {
        let sinks: Sinks = Arc::new(super::build(cfg)?);
        store.set_outbox_routes(OutboxRoutes::new(&cfg.sinks)).await;
        self.sinks.send_replace(sinks);
        Ok(())
    }

    /// No send starts from now on; those in flight go on until [`Outbox::abort`].
    pub fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
    }

    /// Sends in flight give up (their deliveries stay queued).
    pub fn abort(&self) {
        self.abort.cancel();
    }

    /// Returns when the loop and every send have ended.
    pub async fn wait(&self) {
        self.tasks.wait().await;
    }
}

struct Worker {
    store: StoreHandle,
    sinks: watch::Receiver<Sinks>,
    stop: CancellationToken,
    abort: CancellationToken,
    tasks: TaskTracker,
    /// Deliveries being sent: a due query returns them until their outcome is recorded.
    in_flight: Arc<Mutex<HashMap<i64, String>>>,
    /// Notified when a send's outcome was recorded.
    done: Arc<Notify>,
    /// The `max_per_hour` windows, by sink name (kept across reloads).
    budgets: Arc<Mutex<Budgets>>,
    once: bool,
    /// The daemon's `/metrics` (deliveries by sink and outcome); `None` for `once`.
    metrics: Option<Arc<Metrics>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Worker {
    async fn run(mut self) {
        let wake = self.store.outbox_wakeup();
        // PostgreSQL decides the budgets in its claim (strict across daemons); SQLite here.
        let in_claim = self.store.budgets_in_claim();
        // `once`: each delivery is attempted at most once.
        let mut tried: HashMap<i64, String> = HashMap::new();
        // Each digest's next run (ms), by (sink, topic or "" for the sink's own, schedule and
        // zone), computed when the digest is first seen (so a reload changing its schedule
        // computes it again).
        let mut digests: HashMap<(String, String, String), i64> = HashMap::new();
        // The sinks last checked for rows held under an earlier config (by the map's address).
        let mut checked: usize = 0;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let sinks = self.sinks.borrow_and_update().clone();
            let now = now_ms();
            if Arc::as_ptr(&sinks) as usize != checked {
                checked = Arc::as_ptr(&sinks) as usize;
                // A sink that no longer holds alerts for a digest of its own (its digest, or a
                // topic's, removed from the config) would keep rows held under the old config
                // forever: they go out now, as one digest.
                for (name, sink) in sinks.iter() {
                    let groups = sink.cfg.digest_groups();
                    if groups.iter().any(|(g, _)| g.topic.is_empty()) {
                        continue;
                    }
                    let leftover = DigestGroup {
                        topic: String::new(),
                        except: groups.into_iter().map(|(g, _)| g.topic).collect(),
                    };
                    match self.store.outbox_digest(name, &leftover, now, None).await {
                        Ok(Some(id)) => {
                            tracing::info!(sink = %name, delivery = id, "alerts held under an earlier config queued as one digest")
                        }
                        Ok(None) => {}
                        Err(StoreError::WriterGone) => return,
                        Err(e) => {
                            tracing::warn!(sink = %name, error = %e, "could not release held alerts")
                        }
                    }
                }
            }
            let mut next_digest: Option<i64> = None;
            let mut live: HashSet<(String, String, String)> = HashSet::new();
            for (name, sink) in sinks.iter() {
                if !in_claim
                    && sink.cfg.has_budget()
                    && self.budgets.lock().is_ok_and(|b| b.needs_seed(name))
                {
                    match self.store.outbox_sent_since(name, now - 3_600_000).await {
                        Ok(sent) => {
                            if let Ok(mut b) = self.budgets.lock() {
                                b.seed(name, &sent);
                            }
                        }
                        Err(StoreError::WriterGone) => return,
                        Err(e) => {
                            tracing::warn!(sink = %name, error = %e, "could not read the budget's last hour; counting from now")
                        }
                    }
                }
                for (group, schedule) in sink.cfg.digest_groups() {
                    let zone = &sink.cfg.time_zone;
                    let id = (
                        name.clone(),
                        group.topic.clone(),
                        format!("{schedule:?} {zone:?}"),
                    );
                    let next = match digests.get(&id) {
                        Some(&at) => at,
                        None => {
                            let since = match self.store.outbox_digest_since(name, &group).await {
                                Ok(s) => s.unwrap_or(now),
                                Err(StoreError::WriterGone) => return,
                                Err(_) => now,
                            };
                            super::digest::next_run(schedule, zone, crate::store::from_ms(since))
                                .timestamp_millis()
                        }
                    };
                    let next = if next <= now {
                        match self
                            .store
                            .outbox_digest(name, &group, now, Some(next))
                            .await
                        {
                            Ok(Some(id)) => {
                                tracing::info!(sink = %name, topic = %Untrusted(&group.topic), delivery = id, "digest queued");
                            }
                            Ok(None) => {}
                            Err(StoreError::WriterGone) => return,
                            Err(e) => {
                                tracing::warn!(sink = %name, error = %e, "could not make the digest")
                            }
                        }
                        super::digest::next_run(schedule, zone, crate::store::from_ms(now))
                            .timestamp_millis()
                    } else {
                        next
                    };
                    digests.insert(id.clone(), next);
                    live.insert(id);
                    next_digest = Some(next_digest.map_or(next, |n: i64| n.min(next)));
                }
            }
            digests.retain(|id, _| live.contains(id));
            // Per sink, only as many due rows as it has free slots, and none already in flight
            // (or, for `once`, already tried): each wake reads a few rows, not the whole queue.
            let mut next: Option<i64> = None;
            let mut started = 0;
            // A sink whose slots were all taken: its due rows were not read this time.
            let mut full = false;
            // A claim held rows back: more may be due behind them.
            let mut again = false;
            for (name, sink) in sinks.iter() {
                let mut busy: Vec<i64> = self
                    .in_flight
                    .lock()
                    .map(|f| {
                        f.iter()
                            .filter(|(_, s)| *s == name)
                            .map(|(id, _)| *id)
                            .collect()
                    })
                    .unwrap_or_default();
                let free = sink.cfg.concurrency.saturating_sub(busy.len());
                full |= free == 0;
                if self.once {
                    busy.extend(tried.iter().filter(|(_, s)| *s == name).map(|(id, _)| *id));
                }
                let budget = if in_claim {
                    Budget::of(&sink.cfg)
                } else {
                    None
                };
                let due = match self.store.outbox_due(name, now, free, busy, budget).await {
                    Ok(x) => x,
                    Err(StoreError::WriterGone) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the outbox; trying again in a second");
                        tokio::select! {
                            _ = self.stop.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        continue;
                    }
                };
                if let Some(at) = due.next {
                    next = Some(next.map_or(at, |n: i64| n.min(at)));
                }
                // Held by the claim: logged and counted as the holds in `send_one`. They took
                // no slot, so the sink's next due rows are read at once.
                again |= !due.held.is_empty();
                for h in due.held {
                    held_over_budget(name, &h.idem_key, h.over);
                    if let Some(m) = &self.metrics {
                        m.delivery(name, "held");
                    }
                }
                for d in due.send {
                    if self.once {
                        tried.insert(d.id, name.clone());
                    }
                    if let Ok(mut f) = self.in_flight.lock() {
                        f.insert(d.id, name.clone());
                    }
                    started += 1;
                    self.tasks.spawn(self.deliver(sink.clone(), d, !in_claim));
                }
            }
            if again {
                continue;
            }
            let flying = self.in_flight.lock().map_or(0, |s| s.len());
            if self.once && started == 0 && flying == 0 {
                // Done, unless a send ended between the slot count and now: rows it kept
                // from being read may still be due.
                if full {
                    continue;
                }
                return;
            }
            let next = match (next, next_digest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = next
                .map(|at| Duration::from_millis(at.saturating_sub(now).max(0) as u64))
                .unwrap_or(IDLE)
                .min(IDLE);
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = wake.notified() => {}
                _ = self.done.notified() => {}
                _ = self.sinks.changed() => {}
                _ = tokio::time::sleep(wait), if !self.once => {}
            }
        }
    }

    /// Sends `d` (spawned); `count`: take it from the worker's `max_per_hour` windows first
    /// (unless the store's claim decided the budgets).
    fn deliver(
        &self,
        sink: Arc<Sink>,
        d: Delivery,
        count: bool,
    ) -> impl Future<Output = ()> + use<> {
        let (store, stop, abort) = (self.store.clone(), self.stop.clone(), self.abort.clone());
        let (in_flight, done) = (self.in_flight.clone(), self.done.clone());
        let metrics = self.metrics.clone();
        let budgets = count.then(|| self.budgets.clone());
        async move {
            let id = d.id;
            let outcome = send_one(&sink, d, &store, budgets.as_deref(), &stop, &abort).await;
            if let (Some(m), Some(outcome)) = (&metrics, outcome) {
                m.delivery(&sink.cfg.name, outcome);
            }
            if let Ok(mut s) = in_flight.lock() {
                s.remove(&id);
            }
            done.notify_one();
        }
    }
}

/// An alert over a budget, held for the next digest: the log line, whoever decided it (the
/// worker's windows on SQLite, the claim on PostgreSQL).
fn held_over_budget(sink: &str, key: &str, over: Over) {
    let (budget, max) = match over {
        Over::Sink(n) => ("sink", n),
        Over::Topic(n) => ("topic", n),
    };
    tracing::info!(sink = %sink, key = %Untrusted(key), budget, max_per_hour = max, "over the max_per_hour; folded into the next digest");
}

/// One attempt at one delivery, and its outcome recorded; the outcome's name for the metrics
/// (`None`: no attempt was made). `budgets`: the worker's `max_per_hour` windows, when they
/// decide (`None`: the store's claim did).
async fn send_one(
    sink: &Sink,
    d: Delivery,
    store: &StoreHandle,
    budgets: Option<&Mutex<Budgets>>,
    stop: &CancellationToken,
    abort: &CancellationToken,
) -> Option<&'static str> {
    let _slot = tokio::select! {
        s = sink.slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => return None },
        _ = stop.cancelled() => return None,
    };
    let key = Untrusted(&d.idem_key);
    // A digest is never held back; an alert over a budget waits for the next digest.
    let taken = now_ms();
    let over = match budgets {
        Some(budgets) if !d.topic.is_empty() => budgets
            .lock()
            .ok()
            .and_then(|mut b| b.take(&sink.cfg, &d.topic, taken).err()),
        _ => None,
    };
    if let Some(over) = over {
        held_over_budget(&sink.cfg.name, &d.idem_key, over);
        if let Err(e) = store.outbox_update(DeliveryUpdate::Hold { id: d.id }).await {
            tracing::warn!(sink = %sink.cfg.name, key = %key, error = %e, "could not hold a delivery");
        }
        return Some("held");
    }
    let give_back = || {
        if !d.topic.is_empty()
            && let Some(Ok(mut b)) = budgets.map(Mutex::lock)
        {
            b.give_back(&sink.cfg.name, &d.topic, taken);
        }
    };
    let outcome = tokio::select! {
        o = sink.send(&d.topic, &d.idem_key, &d.payload) => o,
        _ = abort.cancelled() => {
            give_back();
            return None;
        }
    };
    let update = retry::decide(&d, &outcome, &sink.cfg, now_ms(), fastrand::f64());
    if !matches!(update, DeliveryUpdate::Sent { .. }) {
        give_back();
    }
    let name = match &update {
        DeliveryUpdate::Sent { .. } => "sent",
        DeliveryUpdate::Retry { .. } => "failed",
        DeliveryUpdate::Hold { .. } => "held",
        DeliveryUpdate::Dead { .. } => "dead",
    };
    match &update {
        DeliveryUpdate::Sent { .. } => {
            tracing::debug!(sink = %sink.cfg.name, key = %key, attempts = d.attempts + 1, "alert delivered")
        }
        DeliveryUpdate::Retry { next_at, error, .. } => {
            let next = crate::store::from_ms(*next_at);
            tracing::warn!(sink = %sink.cfg.name, key = %key, attempts = d.attempts + 1, next = %next.format("%Y-%m-%dT%H:%M:%SZ"), error = %Untrusted(error), "delivery failed; will retry")
        }
        DeliveryUpdate::Hold { .. } => {}
        DeliveryUpdate::Dead { error, .. } => {
            tracing::error!(sink = %sink.cfg.name, key = %key, attempts = d.attempts + 1, error = %Untrusted(error), id = d.id, "delivery dead-lettered (kept; `newshound outbox retry ID` sends it again)")
        }
    }
    if let Err(e) = store.outbox_update(update).await {
        // Sent again at the next start: the receiver drops it by its key.
        tracing::warn!(sink = %sink.cfg.name, key = %key, error = %e, "could not record a delivery's outcome");
    }
    Some(name)
}
