//! One poll of one feed, end to end: fetch → parse and normalize → match topics → commit → log.
//!
//! [`Poller`] holds what every poll shares: the HTTP client, the compiled topics, the store
//! writer, and the limits on fetches in flight. `once` runs it over every feed; the daemon runs it
//! on a schedule. Parsing and matching run on a pool of one thread per core, the commit on the
//! store's own thread; no tokio worker blocks.
//!
//! Fetch slots are shared fairly (ARCHITECTURE.md, "Fetch slots"): a poll takes its host's slot
//! first and a fetch slot second, so a host's queued polls never sit on fetch slots; a poll still
//! fetching after `slow_after` trades both for its host's one slow slot and one of the few in the
//! slow lane (or fails when either is taken); a fetch of a feed whose speed is not known yet
//! leaves its fetch slot for probation after `slow_after` / 5; in the daemon, feeds whose last
//! fetch was slow and feeds in backoff use only the slow lane, and feeds not yet seen fast hold
//! at most ¾ of the fetch slots and all of their host's slots but one. Stalled and dripping
//! servers thus hold a bounded share, of the fetch slots and of their own host's slots, and a
//! healthy feed's due poll waits at most `slow_after` for a slot. Two tokens stop polls: after
//! `stop` none starts; after `abort` those in flight give up wherever they are (connect, headers,
//! body, parse queue).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, field};

use crate::config::{AlertLevel, Config, FeedConfig, FeedSource};
use crate::cpu_pool::CpuPool;
use crate::error_class::ErrorClass;
use crate::fetch::{FetchError, FetchOutcome, FetchRequest, Fetcher};
use crate::normalize::{ParseError, ParsedFeed, parse_feed};
use crate::store::{
    FeedFacts, FeedState, PollOutcome, PollRecord, PollSummary, StoreError, StoreHandle,
};
use crate::text::Untrusted;
use crate::topics::Matcher;

mod batch;
mod matching;
mod report;
mod slots;

pub use batch::{poll_all, poll_all_observed};
pub use matching::alert_candidate;
use matching::{ParsedFeedWithMatches, match_items};
use report::cancelled;
pub use report::{FeedReport, PollResult, Waits};
use slots::Host;

/// What parsing a document builds beside its bytes (copies made by the repairs, feed-rs's
/// entries, the normalized items) at most, as a fraction of its bytes: the worst documents
/// measured (docs/testing.md, "Hostile fleets") built about 1.35 times their size.
const PARSE_EXPANSION: (u64, u64) = (3, 2);

/// The expansion charged for a document of `bytes`, in KiB, at most `total`.
fn charge_kib(bytes: u64, total: usize) -> u32 {
    let (times, per) = PARSE_EXPANSION;
    let kib = usize::try_from(bytes.div_ceil(1024).saturating_mul(times) / per)
        .unwrap_or(usize::MAX)
        .min(total)
        .min(Semaphore::MAX_PERMITS);
    u32::try_from(kib).unwrap_or(u32::MAX)
}

/// After parsing a document this large, the parse thread gives the allocator's free pages back.
const GIVE_BACK_AFTER: usize = 1 << 20;

/// What a poll is given of its feed's stored state.
// Moved into the poll once and unpacked at its start: boxing the state would add an allocation
// per poll for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Stored {
    /// Not read yet: the poll asks the store for it.
    Unread,
    /// Already read (`None`: the feed has no row yet).
    Read(Option<FeedState>),
}

/// Everything polls share.
pub struct Poller {
    fetcher: Fetcher,
    matcher: Arc<Matcher>,
    levels: HashMap<String, AlertLevel>,
    store: StoreHandle,
    /// Fetch slots for polls of hosts in good standing (`concurrency`).
    global: Arc<Semaphore>,
    /// The slow lane: polls of feeds whose last fetch was slow or that are in backoff, and polls
    /// that outlived `slow_after` in a fetch slot (a quarter of `concurrency`, at least one).
    slow: Arc<Semaphore>,
    slow_after: Duration,
    /// Probation: fetches of feeds whose speed is not known yet (the daemon's first polls;
    /// every poll of `once`) still running after `probe_after` wait here, instead of in a
    /// fetch slot, until `slow_after` judges them (2 × `concurrency`).
    probation: Arc<Semaphore>,
    /// `slow_after` / 5: a healthy fetch takes milliseconds.
    probe_after: Duration,
    /// The daemon reads each feed's history (last fetch slow, in backoff) to send its poll to
    /// the slow lane; `once` does not: each of its feeds is fetched once, in a fetch slot, and a
    /// stall costs it at most `slow_after` there, however many stall.
    history: bool,
    /// In the daemon, a feed failing this many times in a row is logged (`failing_after`).
    failing_after: u32,
    /// How each feed's last fetch went (by URL): `true`, it outlived `slow_after` or timed out;
    /// `false`, it was fast. Feeds not in it are unproven.
    speeds: Mutex<HashMap<String, bool>>,
    /// In the daemon, fetches of unproven feeds hold at most three quarters of the fetch slots, so
    /// that while a fleet's stalling feeds are being found out, the feeds known to be fast keep the
    /// rest (a quarter is plenty for fetches that take milliseconds).
    unproven: Option<Arc<Semaphore>>,
    /// No poll starts once cancelled.
    stop: CancellationToken,
    /// Polls in flight give up once cancelled.
    abort: CancellationToken,
    /// Parsing and matching are CPU work: one thread per core, so parsed feeds do not pile up
    /// in memory (each thread also keeps its own caches).
    parsing: CpuPool,
    /// The parse's expansion, charged before it runs (in KiB): a parse builds up to
    /// [`PARSE_EXPANSION`] of a document's bytes while the body is still held, which the
    /// bodies' own budget does not count. Room for the largest allowed body's expansion;
    /// smaller documents parse side by side within it.
    expansion: Arc<Semaphore>,
    expansion_kib: usize,
    per_host: usize,
    host_spacing: std::time::Duration,
    guard_mode: crate::guard::Mode,
    allow_link_local: bool,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    /// Counted once per poll (never per item); the daemon shares one set with `/metrics`.
    metrics: Arc<crate::metrics::Metrics>,
}

impl Poller {
    pub fn new(cfg: &Config, store: StoreHandle) -> anyhow::Result<Poller> {
        let specs: Vec<_> = cfg.topics.iter().map(|t| t.spec.clone()).collect();
        let matcher = Matcher::new(&specs)
            .map_err(|(i, e)| anyhow::anyhow!("topic {}: {}", specs[i].name, e))?;
        let d = &cfg.defaults;
        let largest_cap = cfg
            .feeds
            .iter()
            .map(|f| f.max_body_bytes)
            .max()
            .unwrap_or(0);
        let fetcher = Fetcher::with_budget_for(d, largest_cap);
        let expansion_kib = charge_kib(largest_cap.max(d.max_body_bytes), usize::MAX) as usize;
        for allow_local in [false, true] {
            let needed = cfg.feeds.iter().any(|f| {
                matches!(f.source, FeedSource::Http(_))
                    && guard_for(&f.source, d.address_guard, d.allow_link_local).allow_local
                        == allow_local
            });
            if needed {
                fetcher.prepare(allow_local)?;
            }
        }
        Ok(Poller {
            fetcher,
            matcher: Arc::new(matcher),
            levels: cfg
                .topics
                .iter()
                .map(|t| (t.spec.name.clone(), t.level))
                .collect(),
            store,
            global: Arc::new(Semaphore::new(cfg.defaults.concurrency)),
            slow: Arc::new(Semaphore::new((cfg.defaults.concurrency / 4).max(1))),
            slow_after: cfg.defaults.slow_after,
            probation: Arc::new(Semaphore::new(
                cfg.defaults.concurrency.saturating_mul(2).max(1),
            )),
            probe_after: cfg.defaults.slow_after / 5,
            history: false,
            failing_after: cfg.defaults.failing_after,
            speeds: Mutex::new(HashMap::new()),
            unproven: None,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            parsing: CpuPool::per_core("newshound-parse")
                .map_err(|e| anyhow::anyhow!("cannot start the parse threads: {e}"))?,
            expansion: Arc::new(Semaphore::new(expansion_kib)),
            expansion_kib,
            per_host: cfg.defaults.per_host_concurrency,
            host_spacing: cfg.defaults.host_spacing,
            guard_mode: cfg.defaults.address_guard,
            allow_link_local: cfg.defaults.allow_link_local,
            hosts: Mutex::new(HashMap::new()),
            metrics: Arc::default(),
        })
    }

    /// Counts into `metrics` (the daemon's, which `/metrics` serves) rather than a set of its own.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Poller {
        self.metrics = metrics;
        self
    }

    /// With the daemon's tokens: after `stop` no poll starts; after `abort` running polls give up.
    pub fn with_shutdown(mut self, stop: CancellationToken, abort: CancellationToken) -> Poller {
        self.stop = stop;
        self.abort = abort;
        self
    }

    /// For the daemon, whose feeds prove themselves on their first poll: a feed's history (its
    /// last fetch slow, or in backoff) sends its poll to the slow lane, and fetches of feeds not
    /// yet seen fast hold at most three quarters of the fetch slots. (`once` polls each feed
    /// once, all of them in fetch slots.)
    pub fn for_daemon(mut self) -> Poller {
        let slots = self.global.available_permits();
        self.unproven = Some(Arc::new(Semaphore::new(
            slots.saturating_sub((slots / 4).max(1)).max(1),
        )));
        self.history = true;
        self
    }

    /// How many polls `poll_all` keeps started at once: every slot a poll can hold (fetch slots,
    /// probation, slow lane) and as many more as there are fetch slots, waiting for one, so that
    /// polls in probation or waiting for a busy host never leave the fetch slots idle.
    fn window(&self) -> usize {
        (self.global.available_permits() * 2
            + self.probation.available_permits()
            + self.slow.available_permits())
        .max(1)
    }

    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// `f`, unless the daemon stops first (`None`).
    async fn until_stop<F: std::future::Future>(&self, f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => None,
            r = f => Some(r),
        }
    }

    /// `f`, unless the daemon's grace runs out first.
    async fn until_abort<T, F>(&self, f: F) -> Result<T, FetchError>
    where
        F: std::future::Future<Output = Result<T, FetchError>>,
    {
        tokio::select! {
            biased;
            _ = self.abort.cancelled() => Err(FetchError::Cancelled),
            r = f => r,
        }
    }

    fn speeds(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.speeds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Polls one feed and commits the result. Errors are recorded against the feed and logged
    /// once here; they never propagate to other feeds.
    pub async fn poll(&self, feed: &FeedConfig) -> FeedReport {
        self.poll_known(feed, Stored::Unread).await
    }

    /// As [`poll`](Self::poll), with the feed's stored state already read rather than asked of
    /// the writer, which may be busy committing.
    pub async fn poll_known(&self, feed: &FeedConfig, state: Stored) -> FeedReport {
        let span = tracing::info_span!("poll", feed = %Untrusted(&feed.name), http.status = field::Empty, items.new = field::Empty);
        let started = Instant::now();
        let report = self.poll_inner(feed, state).instrument(span).await;
        self.metrics.poll(&report, started.elapsed());
        report
    }

    async fn poll_inner(&self, feed: &FeedConfig, state: Stored) -> FeedReport {
        let started = Instant::now();
        // Failures in a row before this poll (whatever URL they were at), for the daemon's
        // "failing" and "recovered" lines. (Atomic: the closure is held across awaits, so the
        // future stays `Send`.)
        use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
        let before = AtomicU32::new(0);
        let report = |result: PollResult, facts: FeedFacts, waits: Waits| {
            if !matches!(
                result,
                PollResult::Failed {
                    class: ErrorClass::Cancelled,
                    ..
                }
            ) {
                self.note_failures(before.load(Relaxed), facts.consecutive_failures);
            }
            FeedReport {
                feed: feed.name.clone(),
                elapsed_ms: started.elapsed().as_millis() as u64,
                result,
                facts,
                waits,
            }
        };
        let state = match state {
            Stored::Read(known) => known,
            Stored::Unread => match self.store.feed_state(&feed.name).await {
                Ok(s) => s,
                Err(e) => {
                    let facts = FeedFacts {
                        consecutive_failures: 1,
                        ..FeedFacts::default()
                    };
                    return report(store_failure(&e), facts, Waits::default());
                }
            },
        };
        // Validators (and an adopted redirect) only apply to the URL they were learned for.
        let url = feed.source.to_string();
        let known = state.as_ref().filter(|s| s.url == url);
        let mut facts = state.as_ref().map(|s| s.facts.clone()).unwrap_or_default();
        before.store(facts.consecutive_failures, Relaxed);
        if known.is_none() {
            facts.forget_url();
        }
        let source = match known
            .and_then(|s| s.adopted_url.as_deref())
            .and_then(|u| url::Url::parse(u).ok())
        {
            Some(moved) => FeedSource::Http(moved),
            None => feed.source.clone(),
        };
        let mut waits = Waits::default();
        // The slot is held until the poll is committed, so at most `concurrency` (plus the slow
        // lane) parsed feeds wait for the writer at once: memory stays bounded however many feeds.
        let Some(mut admission) = self.admit(&source, known, &mut waits).await else {
            return report(cancelled(), facts, waits);
        };
        // Several daemons: the feed was claimed before the wait for slots, which can outlast
        // the claim under load; the fetch goes ahead only if the claim still holds (renewed for
        // a whole lease from now), so no two daemons ever fetch a feed within its interval.
        match self.store.renew(&feed.name).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    "claim ran out while waiting for a slot; leaving the feed to the daemon that holds it"
                );
                return report(PollResult::Yielded, facts, waits);
            }
            Err(e) => return report(store_failure(&e), facts, waits),
        }
        let request = FetchRequest {
            source: &source,
            etag: facts.etag.as_deref(),
            last_modified: facts.last_modified.as_deref(),
            headers: &feed.headers,
            max_body_bytes: feed.max_body_bytes,
            // What the feed may reach depends on where the user configured it, not where it moved.
            guard: guard_for(&feed.source, self.guard_mode, self.allow_link_local),
        };
        let fetched = self
            .fetch_fairly(&request, &mut admission, &mut waits)
            .await;
        if matches!(fetched, Err(FetchError::Cancelled)) {
            return report(cancelled(), facts, waits);
        }
        let at = Utc::now();
        // The body's share of the in-flight budget is held until the poll is committed: the
        // parsed items, as large as the body or nearly, wait for the writer meanwhile.
        let mut budget = crate::fetch::Reservation::default();
        let Some(outcome) = self
            .outcome_of(&feed.name, fetched, &mut facts, &mut budget)
            .await
        else {
            return report(cancelled(), facts, waits);
        };
        let failed = match &outcome {
            PollOutcome::Failed {
                status,
                class,
                message,
            } => Some(PollResult::Failed {
                class: *class,
                http_status: *status,
                error: message.clone(),
            }),
            _ => None,
        };
        let not_modified = matches!(outcome, PollOutcome::NotModified { .. });
        let record = PollRecord {
            feed: feed.name.clone(),
            url,
            at,
            outcome,
            facts,
        };
        // If the store cannot take it: what the poll learned, and one more failure.
        let mut unrecorded = record.facts.clone().after(&record);
        unrecorded.consecutive_failures = before.load(Relaxed).saturating_add(1);
        let summary = match self.store.record(record).await {
            Ok(s) => s,
            Err(e) => return report(store_failure(&e), unrecorded, waits),
        };
        self.log_outcome(&summary);
        let result = match (failed, not_modified) {
            (Some(f), _) => f,
            (None, true) => PollResult::NotModified,
            (None, false) => PollResult::Fetched {
                new: summary.new,
                updated: summary.updated,
                unchanged: summary.unchanged,
                merged: summary.merged,
                alerts: summary.alerts.len(),
            },
        };
        drop((admission, budget));
        report(result, summary.facts, waits)
    }

    /// In the daemon: a feed that just reached `failing_after` failures in a row, or succeeded
    /// after failing that long, is logged (once each).
    fn note_failures(&self, before: u32, now: u32) {
        if !self.history {
            return;
        }
        if now == self.failing_after {
            tracing::warn!(
                failures = now,
                "feed is failing; backing off (it will keep being retried)"
            );
        } else if now == 0 && before >= self.failing_after {
            tracing::info!("feed recovered");
        }
    }

    /// The parse stage and what the store is told: a fetched document parsed and matched on the
    /// parse pool (after its share of the expansion budget), or the fetch's failure; what the
    /// answer said about the feed goes into `facts` (its cache directives; a parsed document's
    /// validators, ttl and skips). `None`: cancelled at the grace's end while it waited.
    async fn outcome_of(
        &self,
        feed: &str,
        fetched: Result<FetchOutcome, FetchError>,
        facts: &mut FeedFacts,
        budget: &mut crate::fetch::Reservation,
    ) -> Option<PollOutcome> {
        Some(match fetched {
            Ok(FetchOutcome::NotModified {
                status,
                permanent_redirect,
                cache,
            }) => {
                tracing::Span::current().record("http.status", status);
                self.metrics.response(status, 0);
                facts.cache = cache;
                PollOutcome::NotModified {
                    status,
                    permanent_redirect: permanent_redirect.map(String::from),
                }
            }
            Ok(FetchOutcome::Modified(body)) => {
                tracing::Span::current().record("http.status", body.status);
                self.metrics.response(body.status, body.bytes.len());
                facts.cache = body.cache;
                let body = *body;
                *budget = body.budget;
                let charge = charge_kib(body.bytes.len() as u64, self.expansion_kib);
                let (bytes, content_type, final_url) =
                    (body.bytes, body.content_type, body.final_url);
                let parsed = tokio::select! {
                    biased;
                    _ = self.abort.cancelled() => return None,
                    p = async {
                        // Waiting here holds no part of the expansion budget, so it cannot
                        // deadlock; the body's own reservation is held meanwhile.
                        let _charged = self.expansion.acquire_many(charge).await;
                        self.parse_and_match(feed, bytes, content_type, final_url).await
                    } => p,
                };
                match parsed {
                    Ok(parsed) => {
                        facts.etag = body.etag;
                        facts.last_modified = body.last_modified;
                        facts.ttl_minutes = parsed.feed.ttl;
                        facts.skip_hours = parsed.feed.skip_hours;
                        facts.skip_days = parsed.feed.skip_days;
                        PollOutcome::Fetched {
                            status: body.status,
                            permanent_redirect: body.permanent_redirect.map(String::from),
                            title: parsed.feed.title,
                            items: parsed.items,
                            warning: parsed.warning,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(class = e.class().as_str(), error = %Untrusted(&e.to_string()), "feed could not be parsed");
                        PollOutcome::Failed {
                            status: Some(body.status),
                            class: e.class(),
                            message: e.to_string(),
                        }
                    }
                }
            }
            Err(e) => {
                if let Some(status) = e.status() {
                    tracing::Span::current().record("http.status", status);
                    self.metrics.response(status, 0);
                }
                tracing::warn!(class = e.class().as_str(), error = %Untrusted(&e.to_string()), "fetch failed");
                if let FetchError::Status { retry_after, .. } = &e {
                    facts.cache.retry_after = *retry_after;
                }
                PollOutcome::Failed {
                    status: e.status(),
                    class: e.class(),
                    message: e.to_string(),
                }
            }
        })
    }

    fn log_outcome(&self, summary: &PollSummary) {
        self.metrics.stored(summary);
        tracing::Span::current().record("items.new", summary.new);
        if let Some(url) = &summary.adopted {
            tracing::info!(url = %Untrusted(url), "feed moved permanently (seen on several polls in a row); polling the new URL");
        }
        if summary.became_gone {
            tracing::warn!(
                "feed is gone (HTTP 410): the daemon stops polling it; fix or remove its URL (a successful `newshound once` revives it)"
            );
        }
        if summary.rotation_suspected {
            tracing::warn!(
                new = summary.new,
                suppressed = summary.suppressed,
                "most of this feed's items look new at once (GUIDs rotated?); not alerting on them"
            );
        }
        for (topic, story) in &summary.also_reported {
            tracing::debug!(topic = %Untrusted(topic), story_id = story, "also reported by this feed; the story already alerted for the topic");
        }
        for a in &summary.alerts {
            crate::alert::emit(
                a,
                self.levels
                    .get(&a.topic)
                    .copied()
                    .unwrap_or(AlertLevel::Info),
            );
        }
        tracing::debug!(
            new = summary.new,
            updated = summary.updated,
            unchanged = summary.unchanged,
            merged = summary.merged,
            "stored"
        );
    }

    async fn parse_and_match(
        &self,
        feed: &str,
        bytes: Vec<u8>,
        content_type: Option<String>,
        base: Option<url::Url>,
    ) -> Result<ParsedFeedWithMatches, ParseError> {
        let matcher = self.matcher.clone();
        let feed = feed.to_owned();
        self.parsing
            .run(move || {
                let parsed = parse_stage(bytes, content_type.as_deref(), base.as_ref());
                Ok(match_items(&matcher, &feed, parsed?))
            })
            .await
            .unwrap_or(Err(ParseError::Panicked))
    }
}

/// The parse stage, on a parse pool thread: a fetched document to a normalized feed, the
/// allocator's free pages given back after a large one. Polls and the `parse` command share it.
fn parse_stage(
    bytes: Vec<u8>,
    content_type: Option<&str>,
    base: Option<&url::Url>,
) -> Result<ParsedFeed, ParseError> {
    let parsed = parse_feed(&bytes, content_type, base, Utc::now());
    let large = bytes.len() >= GIVE_BACK_AFTER;
    drop(bytes);
    if large {
        // What feed-rs built is freed by now; its thousands of strings went back to this
        // thread's arena, not to the system.
        crate::memory::give_back_free_memory();
    }
    parsed
}

/// Storage faults (disk full, I/O errors) hit every feed at once: they are logged at error at most
/// once every five minutes, and at debug otherwise.
fn store_failure(e: &StoreError) -> PollResult {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST_REPORTED: AtomicI64 = AtomicI64::new(i64::MIN);
    let now = Utc::now().timestamp();
    let last = LAST_REPORTED.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 300
        && LAST_REPORTED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::error!(error = %e, fault = e.is_storage_fault(), "could not commit polls (repeats are logged at debug for 5 minutes); the feeds will be fetched again in full");
    } else {
        tracing::debug!(error = %e, "could not commit the poll");
    }
    PollResult::Failed {
        class: e.class(),
        http_status: None,
        error: e.to_string(),
    }
}

/// For `parse`: a feed's items, normalized, without storing: the poll's fetch (no validators)
/// and its parse stage on a parse thread, without matching or the store.
pub async fn fetch_and_parse(
    cfg_defaults: &crate::config::Defaults,
    source: &FeedSource,
) -> anyhow::Result<ParsedFeed> {
    let fetcher = Fetcher::new(cfg_defaults);
    let req = FetchRequest {
        source,
        etag: None,
        last_modified: None,
        headers: &[],
        max_body_bytes: cfg_defaults.max_body_bytes,
        guard: guard_for(
            source,
            cfg_defaults.address_guard,
            cfg_defaults.allow_link_local,
        ),
    };
    match fetcher.fetch(&req).await? {
        FetchOutcome::Modified(body) => {
            // One document: one parse thread, as a poll's parse runs (not tokio's blocking pool).
            let pool = CpuPool::new(1, "newshound-parse")
                .map_err(|e| anyhow::anyhow!("cannot start the parse thread: {e}"))?;
            let body = *body;
            let (bytes, content_type, base) = (body.bytes, body.content_type, body.final_url);
            let parsed = pool
                .run(move || parse_stage(bytes, content_type.as_deref(), base.as_ref()))
                .await
                .unwrap_or(Err(ParseError::Panicked))?;
            Ok(parsed)
        }
        FetchOutcome::NotModified { .. } => {
            anyhow::bail!("the server answered 304 Not Modified to an unconditional request")
        }
    }
}

/// The address guard for a feed, from where it was configured.
fn guard_for(
    source: &FeedSource,
    mode: crate::guard::Mode,
    allow_link_local: bool,
) -> crate::guard::Guard {
    match source {
        FeedSource::Http(url) => crate::guard::Guard::for_feed(url, mode, allow_link_local),
        FeedSource::File(_) => crate::guard::Guard {
            allow_local: true,
            allow_link_local: true,
            enabled: false,
        },
    }
}
