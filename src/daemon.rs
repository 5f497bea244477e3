//! `newshound run`: every feed on its own schedule until told to stop.
//!
//! One task per feed sleeps until the feed is due, polls it through the shared [`Poller`]
//! (global and per-host limits), asks the [`scheduler`] for the next wait and
//! persists it, so a restart resumes the schedule. Signals: SIGTERM/SIGINT stop starting polls
//! at once (queued ones included), let running ones finish within `shutdown_grace`, then cancel
//! those still running wherever they are, let the writer commit what finished, and exit 0 within
//! about a second more whatever the network does (a second signal exits at once with 130;
//! SQLite's WAL keeps the database consistent either way). SIGHUP
//! reloads the config; an invalid one is reported like `check` and the old one keeps running.
//! systemd: READY=1 after the database is open, STATUS= lines, RELOADING=1, STOPPING=1, and
//! WATCHDOG=1 while the store answers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{self, Config, FeedConfig};
use crate::exit::{Error, Exit, Result};
use crate::http::{self, Ops};
use crate::metrics::Metrics;
use crate::poll::Poller;
use crate::scheduler::{self, Inputs};
use crate::sinks::Outbox;
use crate::store::{self, IngestPolicy};
use crate::text::Untrusted;

fn notify(states: &[NotifyState<'_>]) {
    let _ = sd_notify::notify(states);
}

pub async fn run(cfg: Config, path: PathBuf) -> Result {
    // Signals first: a SIGTERM during start-up then stops the daemon cleanly too.
    let (mut term, mut int, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(i), Ok(h)) => (t, i, h),
        _ => return Err(Error::failure("cannot install signal handlers")),
    };

    let store = crate::commands::open_backend(&cfg, true)?;
    let metrics = Arc::new(Metrics::for_instance(store.instance_id()));
    let on_commit = {
        let m = metrics.clone();
        Box::new(move |took| m.commit(took)) as store::CommitHook
    };
    let (handle, writer) =
        store::spawn_writer_observed(store, IngestPolicy::from(&cfg), Some(on_commit));

    // The listener is bound before anything is polled, so a taken port fails the start.
    let ops = Ops::new(&cfg, metrics.clone(), handle.clone());
    let http_stop = CancellationToken::new();
    let mut http_server = match &cfg.http {
        None => None,
        Some(h) => match http::bind(h).await {
            Ok(listener) => {
                let addr = listener.local_addr().map_or(h.listen, |a| a);
                tracing::info!(addr = %addr, "http: listening (/metrics, /healthz, /readyz, /, /api/)");
                Some(tokio::spawn(http::serve(
                    listener,
                    ops.clone(),
                    h.max_connections,
                    http_stop.clone(),
                )))
            }
            Err(e) => {
                return Err(Error::failure(format!(
                    "cannot listen on {} ([http] listen): {e}",
                    h.listen
                )));
            }
        },
    };
    // Before the first poll: its alerts enqueue for the configured sinks.
    let outbox = Outbox::start(&cfg, handle.clone(), Some(metrics.clone()))
        .await
        .map_err(|e| Error::failure(format!("{e:#}")))?;

    let mut cfg = cfg;
    let mut retired: Vec<Generation> = Vec::new();
    let mut generation =
        start(&cfg, handle.clone(), &metrics).map_err(|e| Error::failure(format!("{e:#}")))?;
    ops.set_ready(true);
    let database = cfg.postgres.as_ref().map_or_else(
        || cfg.database.display().to_string(),
        |p| config::redacted(&p.url),
    );
    tracing::info!(feeds = cfg.feeds.len(), topics = cfg.topics.len(), database = %database, "newshound running");
    notify(&[
        NotifyState::Ready,
        NotifyState::Status(&format!(
            "watching {} feeds, {} topics",
            cfg.feeds.len(),
            cfg.topics.len()
        )),
    ]);

    // Retention follows `[storage] keep`, reloads included (the rest of [storage] needs a restart).
    let mut retention = cfg
        .keep
        .map(|keep| tokio::spawn(retention_task(handle.clone(), keep, FIRST_RETENTION)));

    let watchdog = sd_notify::watchdog_enabled().map(|d| d / 2);
    let mut ping = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // `/readyz` reads this loop's ticks: a loop that stopped ticking is a stuck daemon.
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                notify(&[NotifyState::Reloading]);
                match config::load(&path) {
                    Ok(new_cfg) => {
                        match start(&new_cfg, handle.clone(), &metrics) {
                            Ok(next) => {
                                // The writer's [alerts] and [stories] follow the new config too.
                                handle.set_policy(IngestPolicy::from(&new_cfg)).await;
                                ops.set_config(&new_cfg);
                                // So do the sinks; queued deliveries of removed ones stay queued.
                                if let Err(e) = outbox.reload(&new_cfg, &handle).await {
                                    tracing::error!(error = %format!("{e:#}"), "sinks not reloaded; keeping the running ones");
                                }
                                if new_cfg.http.as_ref().map(|h| (h.listen, h.max_connections)) != cfg.http.as_ref().map(|h| (h.listen, h.max_connections)) {
                                    tracing::warn!("[http] listen or max_connections changed; it applies at the next start (the token applies now)");
                                }
                                if new_cfg.keep != cfg.keep {
                                    if let Some(task) = retention.take() {
                                        task.abort();
                                    }
                                    // A value just set acts now, not in an hour.
                                    retention = new_cfg.keep.map(|keep| tokio::spawn(retention_task(handle.clone(), keep, Duration::ZERO)));
                                    tracing::info!(keep = %new_cfg.keep.map_or("forever".into(), |k| humantime::format_duration(k).to_string()), "[storage] keep applied");
                                }
                                if new_cfg.database != cfg.database || new_cfg.synchronous != cfg.synchronous || new_cfg.search != cfg.search
                                    || new_cfg.postgres.as_ref().map(|p| (&p.url, p.lease)) != cfg.postgres.as_ref().map(|p| (&p.url, p.lease)) {
                                    tracing::warn!(database = %new_cfg.database.display(), "[storage] changed; it applies at the next start (still using {})", cfg.database.display());
                                }
                                let old = std::mem::replace(&mut generation, next);
                                old.stop.cancel();
                                old.tasks.close();
                                // Its polls in flight finish (or are cancelled at shutdown).
                                retired.retain(|g: &Generation| !g.tasks.is_empty());
                                retired.push(old);
                                tracing::info!(feeds = new_cfg.feeds.len(), topics = new_cfg.topics.len(), "config reloaded");
                                notify(&[NotifyState::Ready, NotifyState::Status(&format!("watching {} feeds, {} topics (reloaded)", new_cfg.feeds.len(), new_cfg.topics.len()))]);
                                cfg = new_cfg;
                            }
                            Err(e) => {
                                tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the running config");
                                notify(&[NotifyState::Ready, NotifyState::Status("reload failed; running the previous config")]);
                            }
                        }
                    }
                    Err(e) => {
                        for line in e.to_string().lines() {
                            tracing::error!(detail = %Untrusted(line), "reload failed; keeping the running config");
                        }
                        notify(&[NotifyState::Ready, NotifyState::Status("reload failed: invalid config; running the previous config")]);
                    }
                }
            }
            _ = beat.tick() => ops.tick(),
            _ = ping.tick(), if watchdog.is_some() => {
                // Pet the watchdog only while the store answers.
                if tokio::time::timeout(Duration::from_secs(5), handle.ping()).await.is_ok_and(|r| r.is_ok()) {
                    notify(&[NotifyState::Watchdog]);
                }
            }
        }
    }

    notify(&[NotifyState::Stopping]);
    ops.set_ready(false);
    // The listener closes now; requests in flight finish, within the same deadline as polls.
    http_stop.cancel();
    let grace = cfg.defaults.shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    generation.stop.cancel();
    // Logged once no poll can start: a poll admitted (logged at debug) after this line would be
    // a broken promise.
    tracing::info!(grace = %humantime::format_duration(grace), "stopping: no poll starts; letting running polls finish");
    generation.tasks.close();
    outbox.stop();
    retired.push(generation);
    let all_done = || async {
        for g in &retired {
            g.tasks.wait().await;
        }
        outbox.wait().await;
    };
    tokio::select! {
        _ = all_done() => {}
        _ = tokio::time::sleep_until(deadline) => {
            tracing::warn!("polls still running at the deadline; cancelling them");
            for g in &retired {
                g.abort.cancel();
            }
            outbox.abort();
        }
        _ = term.recv() => { tracing::warn!("second signal: exiting now"); return Ok(Exit::Interrupted); }
        _ = int.recv() => { tracing::warn!("second signal: exiting now"); return Ok(Exit::Interrupted); }
    }
    // Cancelled polls return at once; what finished is committed by the writer, which stops
    // when the last handle is gone. Both are bounded: a writer stuck on a slow disk does not
    // keep the process past its promise (the WAL keeps the database consistent).
    let last = deadline.max(tokio::time::Instant::now()) + AFTER_GRACE;
    let drained = tokio::select! {
        _ = all_done() => true,
        _ = tokio::time::sleep_until(last) => false,
        _ = term.recv() => { tracing::warn!("second signal: exiting now"); return Ok(Exit::Interrupted); }
        _ = int.recv() => { tracing::warn!("second signal: exiting now"); return Ok(Exit::Interrupted); }
    };
    drop(retired);
    if let Some(task) = retention {
        // A batch in the writer finishes (or rolls back) on its own; only the wait is dropped.
        task.abort();
        let _ = task.await;
    }
    if let Some(server) = http_server.take() {
        let _ = tokio::time::timeout_at(last, server).await;
    }
    drop(ops);
    drop(outbox);
    drop(handle);
    let joined = drained
        && tokio::time::timeout_at(last, tokio::task::spawn_blocking(move || writer.join()))
            .await
            .is_ok();
    if joined {
        tracing::info!("stopped");
    } else {
        tracing::warn!("stopped without waiting for the last commits (they are rolled back)");
    }
    Ok(Exit::Ok)
}

/// When the first retention pass runs after a start: once the first polls are in.
const FIRST_RETENTION: Duration = Duration::from_secs(60);

/// How often the retention pass runs (`[storage] keep`).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// The hourly retention pass: batches through the writer (polls commit between them), then the
/// incremental vacuum. The first pass runs `first` after the start (a minute; at once after a
/// reload that changed `keep`).
async fn retention_task(handle: store::StoreHandle, keep: Duration, first: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + first, RETENTION_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match handle.prune(keep, false).await {
            Ok(r) if r.stories > 0 || r.deliveries > 0 => tracing::info!(
                stories = r.stories,
                items = r.items,
                sightings = r.sightings,
                alerts = r.alerts,
                deliveries = r.deliveries,
                ms = started.elapsed().as_millis() as u64,
                keep = %humantime::format_duration(keep),
                "retention: deleted what is older than keep"
            ),
            Ok(_) => tracing::debug!("retention: nothing to delete"),
            // Another daemon sharing the PostgreSQL database runs this hour's pass.
            Err(store::StoreError::PruneBusy) => {
                tracing::debug!("retention: another daemon is pruning; skipped")
            }
            Err(e) => tracing::warn!(error = %e, "retention pass failed; retrying in an hour"),
        }
    }
}

/// How long after `shutdown_grace` cancelled polls and the writer's last commit may take.
const AFTER_GRACE: Duration = Duration::from_millis(800);

/// One running configuration: its feed tasks, their stop signal (no poll starts) and their
/// abort signal (polls in flight give up).
struct Generation {
    stop: CancellationToken,
    abort: CancellationToken,
    tasks: TaskTracker,
}

fn start(
    cfg: &Config,
    handle: store::StoreHandle,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Generation> {
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    let poller = Arc::new(
        Poller::new(cfg, handle)?
            .with_shutdown(stop.clone(), abort.clone())
            .for_daemon()
            .with_metrics(metrics.clone()),
    );
    let tasks = TaskTracker::new();
    for feed in cfg.feeds.clone() {
        let (poller, stop, d) = (poller.clone(), stop.clone(), cfg.defaults.clone());
        // The first round is spread over up to a minute, so feeds never polled do not all start
        // at once.
        let spread = feed.interval.min(Duration::from_secs(60));
        tasks.spawn(async move { feed_loop(poller, feed, d, spread, stop).await });
    }
    Ok(Generation { stop, abort, tasks })
}

async fn feed_loop(
    poller: Arc<Poller>,
    feed: FeedConfig,
    d: config::Defaults,
    spread: Duration,
    stop: CancellationToken,
) {
    // Resume the persisted schedule; feeds never polled start spread over the first seconds.
    let state = poller.store().feed_state(&feed.name).await.ok().flatten();
    let now = Utc::now();
    let mut wait = match state.as_ref().and_then(|s| s.next_poll_at) {
        Some(next) if next > now => (next - now).to_std().unwrap_or_default(),
        _ => spread.mul_f64(scheduler::random_unit()),
    };
    // Gone, unless the config now points the feed at another URL.
    let url = feed.source.to_string();
    if let Some(since) = state
        .as_ref()
        .filter(|s| s.url == url)
        .and_then(|s| s.facts.dead_since)
    {
        tracing::info!(feed = %Untrusted(&feed.name), since = %since, "feed is gone (HTTP 410); not polling it");
        return;
    }
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        // Several daemons on one PostgreSQL: poll only what this one claimed (no-op on SQLite).
        if let Some(later) = claimed_elsewhere(&poller, &feed.name, &url).await {
            wait = later;
            continue;
        }
        // Boxed: the poll's state (several KB) exists only while polling, not in every
        // sleeping feed task.
        let report = Box::pin(poller.poll(&feed)).await;
        if report.cancelled() {
            return;
        }
        if report.yielded() {
            // Claim again at once: the answer says how long the holder has it.
            wait = Duration::ZERO;
            continue;
        }
        if report.facts.gone() {
            // Already logged once by the poll that recorded it.
            return;
        }
        let next = schedule(&feed, &d, &report);
        poller
            .store()
            .set_schedule(&feed.name, next.at, next.interval, &next.reason)
            .await;
        wait = next.wait;
        if stop.is_cancelled() {
            return;
        }
    }
}

/// `Some(wait)` when another daemon holds the feed or polled it lately; a failing claim waits
/// too (a poll could not be committed anyway).
async fn claimed_elsewhere(poller: &Poller, name: &str, url: &str) -> Option<Duration> {
    match poller.store().claim(name, url).await {
        Ok(store::Claim::Granted) => None,
        Ok(store::Claim::Busy(wait)) => Some(wait),
        Err(e) => {
            tracing::debug!(feed = %Untrusted(name), error = %e, "could not claim the feed; trying again soon");
            Some(Duration::from_secs(5))
        }
    }
}

/// When a feed is polled next, after `report`: what the daemon waits for, and what `feeds` shows.
pub struct NextPoll {
    pub wait: Duration,
    pub at: chrono::DateTime<Utc>,
    /// The base interval (configured, or adapted to the feed's publishing).
    pub interval: Duration,
    pub reason: String,
}

/// The schedule decision after one poll, shared by the daemon and `once` (which stores it, so
/// `feeds` shows the poll the daemon would make next).
pub fn schedule(
    feed: &FeedConfig,
    d: &config::Defaults,
    report: &crate::poll::FeedReport,
) -> NextPoll {
    let now = Utc::now();
    let decision = scheduler::next_wait(&Inputs {
        now,
        interval: feed.interval,
        min: d.min_interval,
        max: d.max_interval,
        facts: &report.facts,
        adaptive: d.adaptive,
        jitter: scheduler::random_unit(),
    });
    NextPoll {
        wait: decision.wait,
        at: now + chrono::Duration::from_std(decision.wait).unwrap_or_default(),
        interval: decision.interval,
        reason: wait_reason(decision.reason, &report.waits),
    }
}

/// The schedule's reason, and where the poll waited when it waited noticeably: for a share of
/// the first fetches (the daemon's first polls), its host's queue (per-host limit, spacing) and
/// the fetch slots or the slow lane (`feeds` shows it).
fn wait_reason(reason: &str, h: &crate::poll::Waits) -> String {
    let noticeable = Duration::from_millis(500);
    let mut out = reason.to_owned();
    if h.first_wait >= noticeable {
        out.push_str(&format!(
            "; waited {:.1}s for a first fetch's share (feeds not fetched yet are being found out)",
            h.first_wait.as_secs_f64()
        ));
    }
    if h.host_wait >= noticeable {
        out.push_str(&format!(
            "; waited {:.1}s in the host queue",
            h.host_wait.as_secs_f64()
        ));
    }
    if h.slot_wait >= noticeable {
        out.push_str(&format!(
            "; waited {:.1}s for the {}",
            h.slot_wait.as_secs_f64(),
            h.lane
        ));
    }
    if h.moved_to_slow_lane {
        out.push_str("; moved to the slow lane (slow fetch)");
    } else if h.lane == "probation" {
        out.push_str("; slow to answer its first fetch (finished in probation)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_says_where_a_poll_waited() {
        let mut h = crate::poll::Waits {
            lane: "fetch slots",
            ..Default::default()
        };
        assert_eq!(wait_reason("interval", &h), "interval");
        h.first_wait = Duration::from_millis(2500);
        assert_eq!(
            wait_reason("interval", &h),
            "interval; waited 2.5s for a first fetch's share (feeds not fetched yet are being found out)"
        );
        h.first_wait = Duration::ZERO;
        h.host_wait = Duration::from_millis(1500);
        h.slot_wait = Duration::from_millis(4200);
        assert_eq!(
            wait_reason("interval", &h),
            "interval; waited 1.5s in the host queue; waited 4.2s for the fetch slots"
        );
        h = crate::poll::Waits {
            lane: "slow lane",
            moved_to_slow_lane: true,
            ..Default::default()
        };
        assert_eq!(
            wait_reason("backoff", &h),
            "backoff; moved to the slow lane (slow fetch)"
        );
    }
}
