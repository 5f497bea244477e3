//! Getting a feed's bytes, politely and within hard limits.
//!
//! HTTP through reqwest (rustls): connect, read and total timeouts; a body cap enforced while
//! streaming, on the *decoded* bytes, so a gzip bomb stops at the cap; redirects followed by hand
//! (at most [`MAX_REDIRECTS`], never from https to http) so that a permanent move is seen and
//! recorded; conditional GET with the validators stored for the feed. Local files are read with
//! the same cap, and their modification time and size act as the validator.
//! This module knows nothing of parsing or storage: it returns a [`FetchOutcome`] or a
//! [`FetchError`] with a stable class.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{Defaults, FeedSource};
use crate::error_class::ErrorClass;
use crate::guard::{Guard, GuardedResolver, Mode};

pub const MAX_REDIRECTS: usize = 5;

/// What a successful fetch returned.
#[derive(Debug)]
pub enum FetchOutcome {
    Modified(Box<Body>),
    NotModified {
        status: u16,
        permanent_redirect: Option<Url>,
        cache: CacheHints,
    },
}

#[derive(Debug)]
pub struct Body {
    pub status: u16,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The base for relative links: where the bytes came from (after redirects), or the
    /// response's `Content-Location` resolved against it.
    pub final_url: Option<Url>,
    /// Set when every redirect hop was permanent (301/308).
    pub permanent_redirect: Option<Url>,
    pub cache: CacheHints,
    /// The share of the in-flight body budget these bytes hold: keep it until they are dropped.
    pub budget: Reservation,
}

/// Bytes reserved from the shared in-flight body budget, returned when dropped. Counted in KiB,
/// by the buffer's capacity (what the allocator holds), not its length.
#[derive(Debug, Default)]
pub struct Reservation {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Reservation {
    fn held_kib(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits())
    }

    /// Grows the reservation to `bytes`, at once or not at all: a poll never waits for budget
    /// while holding some (two large bodies could each wait for the other's).
    fn grow_to(&mut self, budget: &Arc<Semaphore>, bytes: usize) -> Result<(), FetchError> {
        let need = bytes.div_ceil(1024);
        let more = need.saturating_sub(self.held_kib());
        if more == 0 {
            return Ok(());
        }
        let refused = || FetchError::Budget {
            held: bytes as u64,
            budget: budget_bytes(budget, self.held_kib()),
        };
        let extra = u32::try_from(more).map_err(|_| refused())?;
        let got = budget
            .clone()
            .try_acquire_many_owned(extra)
            .map_err(|_| refused())?;
        match &mut self.permit {
            Some(p) => p.merge(got),
            None => self.permit = Some(got),
        }
        Ok(())
    }
}

/// The budget's total size for messages: what is free plus what is held.
fn budget_bytes(budget: &Semaphore, held_kib: usize) -> u64 {
    ((budget.available_permits() + held_kib) as u64) * 1024
}

/// What the server said about when to ask again.
#[derive(Debug, Default, Clone, Copy)]
pub struct CacheHints {
    pub max_age: Option<Duration>,
    pub expires_in: Option<Duration>,
    pub retry_after: Option<Duration>,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("body larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error(
        "body passed {held} bytes while other polls held the rest of the {budget}-byte in-flight body budget"
    )]
    Budget { held: u64, budget: u64 },
    #[error("cancelled: the daemon is stopping")]
    Cancelled,
    #[error("redirect refused: {0}")]
    Redirect(String),
    // Not `#[source]`: the OS error is part of this message, so a chain printed with `{:#}`
    // would say it twice.
    #[error("cannot read {}: {error}", path.display())]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("transfer failed: {0}")]
    Transport(String),
    #[error("blocked address: {0}")]
    Blocked(String),
}

impl FetchError {
    /// What kind of failure this is (stored with the feed, logged as `class`).
    pub fn class(&self) -> ErrorClass {
        match self {
            FetchError::Timeout(_) => ErrorClass::Timeout,
            FetchError::Connect(_) => ErrorClass::Connect,
            FetchError::Status { .. } => ErrorClass::HttpStatus,
            FetchError::TooLarge { .. } => ErrorClass::BodyTooLarge,
            FetchError::Budget { .. } => ErrorClass::BodyBudget,
            FetchError::Cancelled => ErrorClass::Cancelled,
            FetchError::Redirect(_) => ErrorClass::Redirect,
            FetchError::File { .. } => ErrorClass::File,
            FetchError::Transport(_) => ErrorClass::Transport,
            FetchError::Blocked(_) => ErrorClass::BlockedAddress,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One request to make.
#[derive(Debug, Clone)]
pub struct FetchRequest<'a> {
    pub source: &'a FeedSource,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
    pub headers: &'a [(String, String)],
    pub max_body_bytes: u64,
    /// Which addresses this feed may reach.
    pub guard: Guard,
}

/// A shared HTTP client with newshound's limits.
#[derive(Clone)]
pub struct Fetcher {
    clients: Arc<Clients>,
    total_timeout: Duration,
    /// The in-flight body budget, in KiB: every body being read or parsed holds its share.
    budget: Arc<Semaphore>,
}

/// The two HTTP clients, each built only when needed (for the feeds a config has, by
/// [`Fetcher::prepare`], or on first use): building one loads and parses the system's root
/// certificates (a noticeable share of a warm all-304 round), and most installations only ever
/// use one of them.
struct Clients {
    defaults: Defaults,
    /// For feeds that may reach global addresses only; its resolver drops other answers.
    public: OnceLock<reqwest::Client>,
    /// For feeds configured at local addresses (and for everything when the guard is off).
    local: OnceLock<reqwest::Client>,
}

impl Fetcher {
    pub fn new(d: &Defaults) -> Fetcher {
        Fetcher {
            clients: Arc::new(Clients {
                defaults: d.clone(),
                public: OnceLock::new(),
                local: OnceLock::new(),
            }),
            total_timeout: d.timeout,
            budget: Arc::new(Semaphore::new(kib(d.body_budget.max(d.max_body_bytes)))),
        }
    }

    /// As [`new`](Self::new), with a budget of at least `largest_cap` bytes, so that every feed's
    /// largest allowed body can be read when no other is in flight.
    pub fn with_budget_for(d: &Defaults, largest_cap: u64) -> Fetcher {
        let mut f = Fetcher::new(d);
        f.budget = Arc::new(Semaphore::new(kib(d
            .body_budget
            .max(d.max_body_bytes)
            .max(largest_cap))));
        f
    }

    /// Builds now the client for feeds that may (or may not) reach local addresses, if it is not
    /// built yet: for the feeds a config has, so that a TLS setup error shows at start, and the
    /// root certificates are parsed before any body is in memory.
    pub fn prepare(&self, allow_local: bool) -> Result<(), FetchError> {
        self.client(allow_local).map(|_| ())
    }

    /// The client for feeds that may (or may not) reach local addresses, built if need be.
    fn client(&self, allow_local: bool) -> Result<&reqwest::Client, FetchError> {
        let c = &self.clients;
        let lock = if allow_local { &c.local } else { &c.public };
        if let Some(client) = lock.get() {
            return Ok(client);
        }
        let d = &c.defaults;
        let mut b = reqwest::Client::builder()
            .user_agent(d.user_agent.clone())
            .connect_timeout(d.connect_timeout)
            .read_timeout(d.read_timeout)
            .timeout(d.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .pool_max_idle_per_host(2)
            .pool_idle_timeout(Duration::from_secs(30))
            .no_proxy();
        if d.address_guard != Mode::Off {
            let guard = Guard {
                allow_local,
                allow_link_local: d.allow_link_local,
                enabled: true,
            };
            b = b.dns_resolver(GuardedResolver { guard });
        }
        let client = b
            .build()
            .map_err(|e| FetchError::Transport(error_chain(&e)))?;
        // Two first fetches at once may both build one; either serves.
        Ok(lock.get_or_init(|| client))
    }

    /// Fetches a feed. The total timeout covers every redirect hop and the whole body.
    pub async fn fetch(&self, req: &FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        match req.source {
            FeedSource::File(path) => fetch_file(path, req).await,
            FeedSource::Http(url) => {
                match tokio::time::timeout(self.total_timeout, self.fetch_http(url, req)).await {
                    Ok(r) => r,
                    Err(_) => Err(FetchError::Timeout(format!(
                        "no complete response within {}",
                        humantime::format_duration(self.total_timeout)
                    ))),
                }
            }
        }
    }

    async fn fetch_http(
        &self,
        start: &Url,
        req: &FetchRequest<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut url = start.clone();
        let mut all_permanent = true;
        for hop in 0..=MAX_REDIRECTS {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static("application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"));
            for (k, v) in req.headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    headers.insert(k, v);
                }
            }
            // Validators go back exactly as the server gave them.
            if let Some(etag) = req.etag.and_then(|e| HeaderValue::from_str(e).ok()) {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = req
                .last_modified
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, lm);
            }
            req.guard.check_url(&url).map_err(FetchError::Blocked)?;
            let resp = self
                .client(req.guard.allow_local)?
                .get(url.clone())
                .headers(headers)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if hop == MAX_REDIRECTS {
                    return Err(FetchError::Redirect(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )));
                }
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Redirect(format!("HTTP {} without a Location", status.as_u16()))
                    })?;
                let next = url
                    .join(location)
                    .map_err(|e| FetchError::Redirect(format!("bad Location {location:?}: {e}")))?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::Redirect(format!(
                        "to unsupported scheme {}",
                        next.scheme()
                    )));
                }
                if url.scheme() == "https" && next.scheme() == "http" {
                    return Err(FetchError::Redirect(format!("from https to http ({next})")));
                }
                if next == url {
                    return Err(FetchError::Redirect("redirect loop".into()));
                }
                all_permanent &= matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                url = next;
                continue;
            }
            let moved = (all_permanent && url != *start).then(|| url.clone());
            let cache = cache_hints(resp.headers());
            if status == StatusCode::NOT_MODIFIED {
                return Ok(FetchOutcome::NotModified {
                    status: 304,
                    permanent_redirect: moved,
                    cache,
                });
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    status: status.as_u16(),
                    retry_after: cache.retry_after,
                });
            }
            let h = resp.headers();
            let text = |name: header::HeaderName| {
                h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            let content_type = text(header::CONTENT_TYPE);
            let etag = text(header::ETAG);
            let last_modified = text(header::LAST_MODIFIED);
            let base = text(header::CONTENT_LOCATION).and_then(|l| url.join(&l).ok());
            let (bytes, budget) = read_capped(resp, req.max_body_bytes, &self.budget).await?;
            return Ok(FetchOutcome::Modified(Box::new(Body {
                status: status.as_u16(),
                bytes,
                content_type,
                etag,
                last_modified,
                final_url: Some(base.unwrap_or(url)),
                permanent_redirect: moved,
                cache,
                budget,
            })));
        }
        Err(FetchError::Redirect(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }
}

/// Semaphore permits for a byte count: KiB, rounded up, within what a semaphore holds.
fn kib(bytes: u64) -> usize {
    usize::try_from(bytes.div_ceil(1024))
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

/// Reads the (decoded) body, refusing it as soon as it passes `limit` bytes, or as soon as it
/// needs more of the shared in-flight budget than is free. A declared length over the limit is
/// refused before any byte is read.
async fn read_capped(
    mut resp: reqwest::Response,
    limit: u64,
    budget: &Arc<Semaphore>,
) -> Result<(Vec<u8>, Reservation), FetchError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge { limit });
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut held = Reservation::default();
    let first = resp.content_length().unwrap_or(64 * 1024).min(limit) as usize;
    held.grow_to(budget, first)?;
    let mut body = Vec::with_capacity(first);
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
        let len = body.len() + chunk.len();
        if len as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        if len > body.capacity() {
            // Grown by doubling as a Vec would, but reserved from the budget first.
            let want = len.max(body.capacity() * 2).min(limit_usize);
            held.grow_to(budget, want)?;
            body.reserve_exact(want - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, held))
}

fn classify(e: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(blocked) = err.downcast_ref::<crate::guard::Blocked>() {
            return FetchError::Blocked(blocked.to_string());
        }
        source = err.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout(error_chain(e));
    }
    if e.is_connect() {
        return FetchError::Connect(error_chain(e));
    }
    FetchError::Transport(error_chain(e))
}

/// "outer: inner: innermost", without repeating text the outer error already printed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

fn cache_hints(h: &HeaderMap) -> CacheHints {
    let get = |name| h.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let max_age = get(header::CACHE_CONTROL).and_then(|cc| {
        cc.split(',').find_map(|d| {
            let (k, v) = d.trim().split_once('=')?;
            (k.trim().eq_ignore_ascii_case("max-age"))
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    let now = SystemTime::now();
    let expires_in = get(header::EXPIRES)
        .and_then(httpdate)
        .and_then(|t| t.duration_since(now).ok());
    let retry_after = get(header::RETRY_AFTER).and_then(|v| match v.trim().parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => httpdate(v).and_then(|t| t.duration_since(now).ok()),
    });
    CacheHints {
        max_age: max_age.map(Duration::from_secs),
        expires_in,
        retry_after,
    }
}

/// An HTTP date in any of the three forms RFC 9110 §5.6.7 says a recipient must accept
/// (IMF-fixdate, RFC 850, asctime).
fn httpdate(v: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(v.trim()).ok()
}

/// A file's validator: modification time and size.
fn file_validator(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default();
    format!(
        "file:{}.{:09}:{}",
        mtime.as_secs(),
        mtime.subsec_nanos(),
        meta.len()
    )
}

async fn fetch_file(path: &Path, req: &FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
    let path = path.to_owned();
    let limit = req.max_body_bytes;
    let known = req.etag.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let err = |error| FetchError::File {
            path: path.clone(),
            error,
        };
        let file = std::fs::File::open(&path).map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        let validator = file_validator(&meta);
        if known.as_deref() == Some(validator.as_str()) {
            return Ok(FetchOutcome::NotModified {
                status: 304,
                permanent_redirect: None,
                cache: CacheHints::default(),
            });
        }
        if meta.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(limit + 1).read_to_end(&mut bytes).map_err(err)?;
        if bytes.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        let final_url = std::fs::canonicalize(&path)
            .ok()
            .and_then(|p| Url::from_file_path(p).ok());
        Ok(FetchOutcome::Modified(Box::new(Body {
            status: 200,
            bytes,
            content_type: None,
            etag: Some(validator),
            last_modified: None,
            final_url,
            permanent_redirect: None,
            cache: CacheHints::default(),
            budget: Reservation::default(),
        })))
    })
    .await
    .map_err(|e| FetchError::Transport(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one HTTP response on a loopback port; returns its URL.
    fn serve_once(body: &'static str) -> Url {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = Url::parse(&format!(
            "http://{}/feed.xml",
            listener.local_addr().expect("addr")
        ))
        .expect("url");
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        url
    }

    #[tokio::test]
    async fn only_the_client_a_feed_needs_is_built() {
        let fetcher = Fetcher::new(&Defaults::default());
        assert!(fetcher.clients.public.get().is_none());
        assert!(fetcher.clients.local.get().is_none());
        let url = serve_once("<rss/>");
        let source = FeedSource::Http(url.clone());
        let req = FetchRequest {
            source: &source,
            etag: None,
            last_modified: None,
            headers: &[],
            max_body_bytes: 1 << 20,
            guard: Guard::for_feed(&url, Mode::default(), false),
        };
        assert!(
            req.guard.allow_local,
            "a feed configured on loopback may reach it"
        );
        match fetcher.fetch(&req).await {
            Ok(FetchOutcome::Modified(body)) => assert_eq!(body.bytes, b"<rss/>"),
            other => panic!("{other:?}"),
        }
        assert!(fetcher.clients.local.get().is_some());
        assert!(
            fetcher.clients.public.get().is_none(),
            "built without a use"
        );
        // Clones share the clients.
        assert!(fetcher.clone().clients.local.get().is_some());
    }

    #[test]
    fn cache_hints_read_max_age_and_retry_after() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        let c = cache_hints(&h);
        assert_eq!(c.max_age, Some(Duration::from_secs(600)));
        assert_eq!(c.retry_after, Some(Duration::from_secs(120)));
    }

    #[test]
    fn http_dates_are_read_in_all_three_forms() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(httpdate(form), Some(at), "{form}");
        }
        assert_eq!(httpdate("soon"), None);
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(&future).unwrap());
        h.insert(header::EXPIRES, HeaderValue::from_str(&future).unwrap());
        let c = cache_hints(&h);
        let hour = Duration::from_secs(3600);
        for d in [c.retry_after, c.expires_in] {
            let d = d.expect("a date an hour ahead");
            assert!(d <= hour && d > hour - Duration::from_secs(5), "{d:?}");
        }
    }
}
