//! One poll of one feed, end to end: fetch → parse and normalize → match topics → commit → log.
//!
//! [`Poller`] holds what every poll shares: the HTTP client, the compiled topics, the store
//! writer, and the global and per-host concurrency limits. `once` runs it over every feed; the
//! daemon runs it on a schedule. Parsing and matching run on a pool of one thread per core, the
//! commit on the store's own thread; no tokio worker blocks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::Semaphore;
use tracing::{Instrument, field};

use crate::config::{AlertLevel, Config, FeedConfig, FeedSource};
use crate::cpu_pool::CpuPool;
use crate::fetch::{CacheHints, FetchError, FetchOutcome, FetchRequest, Fetcher};
use crate::normalize::{ParseError, ParsedFeed, parse_feed};
use crate::store::{
    AlertCandidate, FeedState, MatchedItem, PollOutcome, PollRecord, PollSummary, StoreError,
    StoreHandle,
};
use crate::text::Untrusted;
use crate::topics::{Matcher, Scratch, snippet};

/// What one poll did, for the `once` summary and the scheduler.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub feed: String,
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub result: PollResult,
    /// What the scheduler needs from this poll.
    #[serde(skip)]
    pub hints: Hints,
}

/// What a poll learned about when to poll again.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub cache: CacheHints,
    pub ttl: Option<u32>,
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    pub activity: crate::store::Activity,
    /// The feed answered 410 Gone.
    pub gone: bool,
    /// How long the poll waited for its host (per-host limit and spacing) before fetching.
    pub host_wait: std::time::Duration,
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
        class: &'static str,
        http_status: Option<u16>,
        error: String,
    },
}

impl FeedReport {
    pub fn failed(&self) -> bool {
        matches!(self.result, PollResult::Failed { .. })
    }
}

/// Everything polls share.
pub struct Poller {
    fetcher: Fetcher,
    matcher: Arc<Matcher>,
    levels: HashMap<String, AlertLevel>,
    store: StoreHandle,
    global: Arc<Semaphore>,
    /// Parsing and matching are CPU work: one thread per core, so parsed feeds do not pile up
    /// in memory (each thread also keeps its own caches).
    parsing: CpuPool,
    per_host: usize,
    host_spacing: std::time::Duration,
    guard_mode: crate::guard::Mode,
    allow_link_local: bool,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

/// Per-host politeness: a limit on requests in flight, and the earliest start of the next one.
struct Host {
    in_flight: Semaphore,
    next_start: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Poller {
    pub fn new(cfg: &Config, store: StoreHandle) -> anyhow::Result<Poller> {
        let specs: Vec<_> = cfg.topics.iter().map(|t| t.spec.clone()).collect();
        let matcher = Matcher::new(&specs)
            .map_err(|(i, e)| anyhow::anyhow!("topic {}: {}", specs[i].name, e))?;
        let fetcher = Fetcher::new(&cfg.defaults);
        let d = &cfg.defaults;
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
            parsing: CpuPool::per_core("newshound-parse")
                .map_err(|e| anyhow::anyhow!("cannot start the parse threads: {e}"))?,
            per_host: cfg.defaults.per_host_concurrency,
            host_spacing: cfg.defaults.host_spacing,
            guard_mode: cfg.defaults.address_guard,
            allow_link_local: cfg.defaults.allow_link_local,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    fn host(&self, source: &FeedSource) -> Option<Arc<Host>> {
        let FeedSource::Http(url) = source else {
            return None;
        };
        let host = url.host_str()?.to_owned();
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = hosts.entry(host).or_insert_with(|| {
            Arc::new(Host {
                in_flight: Semaphore::new(self.per_host),
                next_start: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            })
        });
        Some(entry.clone())
    }

    /// Fetches within the host's limits: at most `per_host_concurrency` in flight, and starts at
    /// least `host_spacing` apart.
    async fn fetch_politely(
        &self,
        source: &FeedSource,
        request: &FetchRequest<'_>,
        host_wait: &mut std::time::Duration,
    ) -> Result<FetchOutcome, FetchError> {
        let Some(host) = self.host(source) else {
            return self.fetcher.fetch(request).await;
        };
        let queued = tokio::time::Instant::now();
        let _slot = host.in_flight.acquire().await;
        if !self.host_spacing.is_zero() {
            // A start is claimed when it happens, not ahead: a task that wakes late (a busy
            // machine) then pushes the next start back instead of leaving it too close.
            loop {
                let mut next = host.next_start.lock().await;
                let now = tokio::time::Instant::now();
                if *next <= now {
                    *next = now + self.host_spacing;
                    break;
                }
                let wait = *next;
                drop(next);
                tokio::time::sleep_until(wait).await;
            }
        }
        *host_wait = queued.elapsed();
        self.fetcher.fetch(request).await
    }

    /// Polls one feed and commits the result. Errors are recorded against the feed and logged
    /// once here; they never propagate to other feeds.
    pub async fn poll(&self, feed: &FeedConfig) -> FeedReport {
        self.poll_known(feed, None).await
    }

    /// As [`poll`](Self::poll), with the feed's stored state already read (`Some(None)`: the
    /// feed has none yet) rather than asked of the writer, which may be busy committing.
    pub async fn poll_known(
        &self,
        feed: &FeedConfig,
        state: Option<Option<FeedState>>,
    ) -> FeedReport {
        let span = tracing::info_span!("poll", feed = %Untrusted(&feed.name), http.status = field::Empty, items.new = field::Empty);
        self.poll_inner(feed, state).instrument(span).await
    }

    async fn poll_inner(&self, feed: &FeedConfig, state: Option<Option<FeedState>>) -> FeedReport {
        let started = Instant::now();
        let report = |result, hints| FeedReport {
            feed: feed.name.clone(),
            elapsed_ms: started.elapsed().as_millis() as u64,
            result,
            hints,
        };
        let state = match state {
            Some(known) => known,
            None => match self.store.feed_state(&feed.name).await {
                Ok(s) => s,
                Err(e) => return report(store_failure(&e), Hints::default()),
            },
        };
        // Validators (and an adopted redirect) only apply to the URL they were learned for.
        let url = feed.source.to_string();
        let known = state.as_ref().filter(|s| s.url == url);
        let source = match known
            .and_then(|s| s.adopted_url.as_deref())
            .and_then(|u| url::Url::parse(u).ok())
        {
            Some(moved) => FeedSource::Http(moved),
            None => feed.source.clone(),
        };
        let request = FetchRequest {
            source: &source,
            etag: known.and_then(|s| s.etag.as_deref()),
            last_modified: known.and_then(|s| s.last_modified.as_deref()),
            headers: &feed.headers,
            max_body_bytes: feed.max_body_bytes,
            // What the feed may reach depends on where the user configured it, not where it moved.
            guard: guard_for(&feed.source, self.guard_mode, self.allow_link_local),
        };
        let mut hints = Hints {
            skip_hours: known.map(|s| s.skip_hours.clone()).unwrap_or_default(),
            skip_days: known.map(|s| s.skip_days.clone()).unwrap_or_default(),
            ttl: known.and_then(|s| s.ttl_minutes),
            ..Hints::default()
        };
        // The global permit is held until the poll is committed, so at most `concurrency`
        // parsed feeds wait for the writer at once: memory stays bounded however many feeds.
        let _global = self.global.acquire().await;
        let fetched = self
            .fetch_politely(&source, &request, &mut hints.host_wait)
            .await;
        let at = Utc::now();
        let outcome = match fetched {
            Ok(FetchOutcome::NotModified {
                status,
                permanent_redirect,
                cache,
            }) => {
                tracing::Span::current().record("http.status", status);
                hints.cache = cache;
                PollOutcome::NotModified {
                    status,
                    permanent_redirect: permanent_redirect.map(String::from),
                }
            }
            Ok(FetchOutcome::Modified(body)) => {
                tracing::Span::current().record("http.status", body.status);
                hints.cache = body.cache;
                match self
                    .parse_and_match(&feed.name, body.bytes, body.content_type, body.final_url)
                    .await
                {
                    Ok(parsed) => {
                        hints.ttl = parsed.ttl;
                        hints.skip_hours = parsed.skip_hours.clone();
                        hints.skip_days = parsed.skip_days.clone();
                        PollOutcome::Fetched {
                            status: body.status,
                            etag: body.etag,
                            last_modified: body.last_modified,
                            permanent_redirect: body.permanent_redirect.map(String::from),
                            title: parsed.title,
                            ttl: parsed.ttl,
                            skip_hours: parsed.skip_hours,
                            skip_days: parsed.skip_days,
                            items: parsed.items,
                            warning: parsed.warning,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(class = e.class(), error = %Untrusted(&e.to_string()), "feed could not be parsed");
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
                }
                tracing::warn!(class = e.class(), error = %Untrusted(&e.to_string()), "fetch failed");
                if let FetchError::Status { retry_after, .. } = &e {
                    hints.cache.retry_after = *retry_after;
                }
                PollOutcome::Failed {
                    status: e.status(),
                    class: e.class(),
                    message: e.to_string(),
                }
            }
        };
        let failed = match &outcome {
            PollOutcome::Failed {
                status,
                class,
                message,
            } => Some(PollResult::Failed {
                class,
                http_status: *status,
                error: message.clone(),
            }),
            _ => None,
        };
        hints.gone = matches!(
            &outcome,
            PollOutcome::Failed {
                status: Some(410),
                ..
            }
        );
        let not_modified = matches!(outcome, PollOutcome::NotModified { .. });
        let summary = match self
            .store
            .record(PollRecord {
                feed: feed.name.clone(),
                url,
                at,
                outcome,
            })
            .await
        {
            Ok(s) => s,
            Err(e) => return report(store_failure(&e), hints),
        };
        hints.activity = summary.activity;
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
        report(result, hints)
    }

    fn log_outcome(&self, summary: &PollSummary) {
        tracing::Span::current().record("items.new", summary.new);
        if let Some(url) = &summary.adopted {
            tracing::info!(url = %Untrusted(url), "feed moved permanently (seen on several polls in a row); polling the new URL");
        }
        if summary.gone {
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
                let parsed =
                    parse_feed(&bytes, content_type.as_deref(), base.as_ref(), Utc::now())?;
                Ok(match_items(&matcher, &feed, parsed))
            })
            .await
            .unwrap_or(Err(ParseError::Panicked))
    }
}

pub(crate) struct ParsedFeedWithMatches {
    title: Option<String>,
    ttl: Option<u32>,
    skip_hours: Vec<u8>,
    skip_days: Vec<u8>,
    items: Vec<MatchedItem>,
    /// The parser's warnings, joined ("3 of 50 entries unreadable: …"); logged once here.
    warning: Option<String>,
}

/// Runs every topic over every item of a parsed feed.
fn match_items(matcher: &Matcher, feed: &str, parsed: ParsedFeed) -> ParsedFeedWithMatches {
    let mut scratch = Scratch::default();
    let items = parsed
        .items
        .into_iter()
        .map(|item| {
            let matches = matcher
                .match_item_with(&mut scratch, feed, &item.title, &item.summary)
                .into_iter()
                .map(|m| alert_candidate(matcher, &item.title, &item.summary, m))
                .collect();
            let (title_tokens, summary_tokens) = scratch.tokens();
            let features = crate::stories::features_of_tokens(
                &item.title,
                title_tokens,
                &item.summary,
                summary_tokens,
            );
            MatchedItem {
                item,
                matches,
                features,
            }
        })
        .collect();
    let warning = (!parsed.warnings.is_empty()).then(|| parsed.warnings.join("; "));
    if let Some(w) = &warning {
        // Entries lost are worth a warning; a document read leniently (entities, a charset
        // guessed) is noted, and shown by `feeds`, without one on every poll.
        if parsed.unreadable + parsed.empty > 0 {
            tracing::warn!(warning = ?Untrusted(w), "feed read with problems");
        } else {
            tracing::info!(warning = ?Untrusted(w), "feed read with problems");
        }
    }
    ParsedFeedWithMatches {
        title: parsed.title,
        ttl: parsed.ttl,
        skip_hours: parsed.skip_hours,
        skip_days: parsed.skip_days,
        items,
        warning,
    }
}

/// Describes a match for storage and logs: the words found, the fields, a snippet.
pub fn alert_candidate(
    matcher: &Matcher,
    title: &str,
    summary: &str,
    m: crate::topics::TopicMatch,
) -> AlertCandidate {
    let text_of = |f: crate::topics::Field| {
        if f == crate::topics::Field::Title {
            title
        } else {
            summary
        }
    };
    let terms: Vec<String> = m
        .terms
        .iter()
        .map(|t| text_of(t.field)[t.range.clone()].to_owned())
        .collect();
    let mut fields: Vec<&str> = m.terms.iter().map(|t| t.field.as_str()).collect();
    fields.dedup();
    fields.sort_unstable();
    fields.dedup();
    let snippet = match m.terms.first() {
        Some(t) => snippet(text_of(t.field), t.range.clone(), 60).0,
        None => String::new(),
    };
    AlertCandidate {
        topic: matcher.topic_name(m.topic).to_owned(),
        query_index: m.query,
        terms,
        field: fields.join(","),
        snippet,
    }
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
        class: "storage",
        http_status: None,
        error: e.to_string(),
    }
}

/// Polls every feed once, concurrently within the configured limits.
pub async fn poll_all(poller: Arc<Poller>, feeds: &[FeedConfig]) -> Vec<FeedReport> {
    // A poll's future is several KB; with 10,000 feeds, one task each from the start would hold
    // them all while they wait for a permit. A window of twice the concurrency keeps every
    // permit busy.
    let window = poller.global.available_permits().max(1) * 2;
    let mut out: Vec<Option<FeedReport>> = vec![None; feeds.len()];
    let mut set = tokio::task::JoinSet::new();
    // Feed states are read a window of feeds at a time, in one query each: a poll that asked
    // for its own would queue behind the commits of the polls before it, and reading them all
    // at once would hold every feed's state (10 MB for 10,000 feeds) through the run.
    let mut states: HashMap<String, FeedState> = HashMap::new();
    let mut read_to = 0;
    let mut chunk_read = false;
    let mut next = 0;
    while next < feeds.len() {
        if set.len() >= window {
            let Some(r) = set.join_next().await else {
                break;
            };
            if let Ok((i, report)) = r {
                out[i] = Some(report);
            }
            continue;
        }
        if next >= read_to {
            read_to = (next + window).min(feeds.len());
            let names = feeds[next..read_to]
                .iter()
                .map(|f| f.name.clone())
                .collect();
            states.clear();
            chunk_read = match poller.store.feed_states_named(names).await {
                Ok(found) => {
                    states.extend(found.into_iter().map(|s| (s.name.clone(), s)));
                    true
                }
                Err(_) => false, // each poll then asks for its own
            };
        }
        let f = feeds[next].clone();
        let state = chunk_read.then(|| states.remove(&f.name));
        let p = poller.clone();
        let i = next;
        set.spawn(async move { (i, p.poll_known(&f, state).await) });
        next += 1;
    }
    while let Some(r) = set.join_next().await {
        if let Ok((i, report)) = r {
            out[i] = Some(report);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| FeedReport {
                feed: feeds[i].name.clone(),
                elapsed_ms: 0,
                result: PollResult::Failed {
                    class: "internal",
                    http_status: None,
                    error: "the poll task panicked".into(),
                },
                hints: Hints::default(),
            })
        })
        .collect()
}

/// For `parse`: a feed's items, normalized, without storing.
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
            let parsed = tokio::task::spawn_blocking(move || {
                parse_feed(
                    &body.bytes,
                    body.content_type.as_deref(),
                    body.final_url.as_ref(),
                    Utc::now(),
                )
            })
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
