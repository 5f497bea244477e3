//! The operations listener (`[http]`, off by default): `/metrics`, `/healthz`, `/readyz`, the
//! status page `/` with its search (`/search?q=`, [`crate::search`]) and the JSON API
//! `/api/{feeds,alerts,stories,search,instances}`.
//!
//! One hyper HTTP/1 server on the daemon's runtime. It reads the database through its own
//! read-only connections (at most [`READERS`] at once, on the blocking pool), never through the
//! writer, so a busy page cannot delay a commit.
//!
//! What a bad client can take is bounded, whatever it sends: at most `max_connections`
//! connections (more are closed on accept), a request head of [`MAX_HEAD_BYTES`] in
//! [`MAX_HEADERS`] headers (else 431), [`HEAD_TIMEOUT`] to send it, [`CONNECTION_LIFETIME`] in all
//! (and [`LINGER`] more to close it),
//! no request body read, at most [`READERS`] database reads at once, and at most
//! [`RESPONSE_BUDGET`] bytes of responses built from the database alive until their clients have
//! read them (the status page itself shows at most [`page::MAX_FEEDS`] feeds in each of its two
//! lists). So its memory is bounded by that budget, plus [`READERS`] responses being built, plus
//! hyper's buffers (about 16 KiB) per connection. Polling shares nothing with it but the
//! runtime's threads. docs/operations.md has the measured figures.

mod api;
pub mod page;
mod readers;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, HttpConfig, Token};
use crate::metrics::{Gauges, Metrics};
use crate::store::StoreHandle;
pub use readers::{READERS, RESPONSE_BUDGET};
use readers::{ReadError, Readers, Source};

/// Largest request head (request line and headers) read; a larger one gets 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most headers in a request; more get 431.
pub const MAX_HEADERS: usize = 32;
/// Time a client has to send a request head, from the first byte of it.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed this long after it was accepted, whatever it is doing.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// The daemon's loop ticks every second; older than this, `/readyz` says it is stuck.
const TICK_STALE: Duration = Duration::from_secs(10);

/// What the handlers share: the metrics, the running config's view, the database readers and
/// the daemon's liveness.
pub struct Ops {
    pub metrics: Arc<Metrics>,
    view: RwLock<Arc<View>>,
    readers: Readers,
    writer: StoreHandle,
    started: Instant,
    /// Milliseconds after `started` of the daemon loop's last tick.
    tick_ms: AtomicU64,
    /// Set once the feeds are scheduled; cleared when stopping.
    ready: AtomicBool,
    /// The last count of failing feeds, served when a scrape cannot count them (readers busy).
    failing: AtomicU64,
}

/// What the handlers need of the running config (replaced on reload).
pub struct View {
    pub feeds: Vec<String>,
    pub failing_after: u32,
    pub token: Option<Token>,
    /// `[storage] search`: without it the index is not kept, so there is no search to offer.
    pub search: bool,
    /// The configured sinks, whose queue lengths a scrape reports.
    pub sinks: Vec<String>,
}

impl View {
    fn of(cfg: &Config) -> View {
        View {
            feeds: cfg.feeds.iter().map(|f| f.name.clone()).collect(),
            failing_after: cfg.defaults.failing_after,
            token: cfg.http.as_ref().and_then(|h| h.token.clone()),
            search: cfg.search,
            sinks: cfg.sinks.iter().map(|s| s.name.clone()).collect(),
        }
    }
}

impl Ops {
    pub fn new(cfg: &Config, metrics: Arc<Metrics>, writer: StoreHandle) -> Arc<Ops> {
        Arc::new(Ops {
            metrics,
            view: RwLock::new(Arc::new(View::of(cfg))),
            readers: Readers::new(match &cfg.postgres {
                Some(pg) => Source::Postgres(pg.url.clone()),
                None => Source::Sqlite(cfg.database.clone()),
            }),
            writer,
            started: Instant::now(),
            tick_ms: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            failing: AtomicU64::new(0),
        })
    }

    /// A reloaded config: its feeds, thresholds and token apply to the next requests.
    pub fn set_config(&self, cfg: &Config) {
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(View::of(cfg));
    }

    fn view(&self) -> Arc<View> {
        self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The daemon's loop is alive (called every second).
    pub fn tick(&self) {
        self.tick_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// Binds the listener (so a bad address fails the start, not a later request).
pub async fn bind(cfg: &HttpConfig) -> std::io::Result<TcpListener> {
    TcpListener::bind(cfg.listen).await
}

/// Serves connections until `stop` is cancelled; then closes the listener, lets requests in
/// flight finish (each connection is told to close after its current response), and returns once
/// every connection is closed. The caller bounds that wait by `shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    ops: Arc<Ops>,
    max_connections: usize,
    stop: CancellationToken,
) {
    let connections = Arc::new(Semaphore::new(max_connections));
    let tasks = TaskTracker::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .max_header_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "http: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            ops.metrics.http_refused();
            drop(stream);
            continue;
        };
        let (ops, stop, builder) = (ops.clone(), stop.clone(), builder.clone());
        tasks.spawn(async move {
            let _permit = permit;
            serve_connection(stream, peer, ops, &builder, stop).await;
        });
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    ops: Arc<Ops>,
    builder: &hyper::server::conn::http1::Builder,
    stop: CancellationToken,
) {
    // A second handle on the socket outlives hyper's, to close the connection as `linger` says.
    let stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(peer = %peer, error = %e, "http: connection lost before serving");
            return;
        }
    };
    let closer = stream
        .try_clone()
        .ok()
        .and_then(|s| tokio::net::TcpStream::from_std(s).ok());
    let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
        return;
    };
    let stopped = stop.is_cancelled() || {
        converse(stream, peer, ops, builder, &stop).await;
        stop.is_cancelled()
    };
    if let Some(closer) = closer
        && !stopped
    {
        linger(closer).await;
    }
}

/// Serves one connection's requests until it ends, its lifetime runs out or the daemon stops.
async fn converse(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    ops: Arc<Ops>,
    builder: &hyper::server::conn::http1::Builder,
    stop: &CancellationToken,
) {
    let service = hyper::service::service_fn(move |req| {
        let ops = ops.clone();
        async move { Ok::<_, Infallible>(respond(&ops, req).await) }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(peer = %peer, error = %e, "http: connection ended with an error");
            }
            return;
        }
        _ = stop.cancelled() => {}
        _ = lifetime => {}
    }
    // Finish the response in flight, if any, then close; a client that does not read it is
    // dropped a second later.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
}

/// Longest a closed connection's input is drained; see `linger`.
pub const LINGER: Duration = Duration::from_secs(2);

/// Closes a connection whose client may still be sending (a head past [`MAX_HEAD_BYTES`] is
/// answered with 431 long before it has all arrived): the kernel answers input that arrives at
/// a closed socket with a reset, and a reset makes the client's kernel discard the response it
/// has not yet read, so the client sees "connection reset" instead of 431. So, as nginx's
/// `lingering_close` does, the write side is shut and the input is read and discarded until the
/// client closes or [`LINGER`] passes. The connection keeps its slot meanwhile.
async fn linger(mut socket: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = socket.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(1..) = socket.read(&mut sink).await {}
    })
    .await;
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body.into())
}

fn unavailable(e: &ReadError) -> Reply {
    text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"))
}

async fn respond(ops: &Ops, req: Request<Incoming>) -> Reply {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = req.uri().path();
    let view = ops.view();
    // `/healthz` stays open: it says nothing but "the process is up".
    if path != "/healthz"
        && let Some(token) = &view.token
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map_or(&b""[..], HeaderValue::as_bytes);
        if !token.accepts(given) {
            let mut r = text(StatusCode::UNAUTHORIZED, "a bearer token is required\n");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"newshound\""),
            );
            return r;
        }
    }
    let query = api::Query::parse(req.uri().query());
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => readyz(ops).await,
        "/metrics" => metrics(ops, &view).await,
        "/" => status_page(ops, view).await,
        "/api/feeds" => api::feeds(ops, view).await,
        "/api/alerts" => api::alerts(ops, &query).await,
        "/api/stories" => api::stories(ops, &query).await,
        "/api/instances" => api::instances(ops).await,
        "/search" | "/api/search" if !ops.view().search => text(
            StatusCode::NOT_FOUND,
            "search is off: add search = true under [storage] (the index is built at the next start)\n",
        ),
        "/search" => api::search_page(ops, &query).await,
        "/api/search" => api::search(ops, &query).await,
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Ready when the feeds are scheduled, the daemon's loop ticked lately, a reader gets an answer
/// from the database and the writer answers a ping; else 503 saying which is not.
async fn readyz(ops: &Ops) -> Reply {
    let mut problems = Vec::new();
    if !ops.ready.load(Ordering::Relaxed) {
        problems.push("not started, or stopping".to_owned());
    }
    let since_tick = ops
        .started
        .elapsed()
        .saturating_sub(Duration::from_millis(ops.tick_ms.load(Ordering::Relaxed)));
    if since_tick > TICK_STALE {
        problems.push(format!(
            "the scheduler has not ticked for {}s",
            since_tick.as_secs()
        ));
    }
    if let Err(e) = ops.readers.read(|s| s.answers()).await {
        problems.push(format!("database: {e}"));
    }
    match tokio::time::timeout(Duration::from_secs(5), ops.writer.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(format!("writer: {e}")),
        Err(_) => problems.push("writer: no answer within 5s".to_owned()),
    }
    if problems.is_empty() {
        text(StatusCode::OK, "ready\n")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
    }
}

async fn metrics(ops: &Ops, view: &View) -> Reply {
    let names = view.feeds.clone();
    let after = view.failing_after;
    // Within a scrape's usual timeout (10 s) whatever pages are being built meanwhile.
    let sinks = view.sinks.clone();
    let count = ops.readers.read(move |s| {
        let failing = s.feeds_failing(&names, after)?;
        let queues = if sinks.is_empty() {
            Vec::new()
        } else {
            s.sink_statuses(&sinks)?
        };
        Ok((failing, queues))
    });
    let failing = match tokio::time::timeout(Duration::from_secs(2), count).await {
        Ok(Ok((n, queues))) => {
            for q in &queues {
                ops.metrics
                    .delivery_queue_length(&q.sink, q.queued as usize);
            }
            ops.failing.store(n, Ordering::Relaxed);
            n
        }
        // The scrape still serves the counters, with the last count.
        _ => ops.failing.load(Ordering::Relaxed),
    };
    // SQLite's files; a PostgreSQL server's size is its own to report.
    let size = |suffix: &str| match &ops.readers.source {
        Source::Sqlite(path) => {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            std::fs::metadata(p).map_or(0, |m| m.len())
        }
        Source::Postgres(_) => 0,
    };
    let gauges = Gauges {
        feeds: view.feeds.len() as u64,
        feeds_failing: failing,
        database_bytes: size(""),
        wal_bytes: size("-wal"),
    };
    reply(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ops.metrics.render(gauges),
    )
}

async fn status_page(ops: &Ops, view: Arc<View>) -> Reply {
    let page = ops
        .readers
        .read_body(move |s| {
            let data = page::Data {
                feeds: s.feed_states()?,
                alerts: s.alerts(None, None, page::MAX_ALERTS)?,
                stories: s.stories(None, 1, page::MAX_STORIES)?,
                instances: s.instances()?,
            };
            let html = page::render(
                &data,
                &view.feeds,
                view.failing_after,
                view.search,
                chrono::Utc::now(),
            );
            Ok((StatusCode::OK, html.into_bytes()))
        })
        .await;
    html(page)
}

/// An HTML page, or 503 saying why there is none.
fn html(page: Result<(StatusCode, Bytes), ReadError>) -> Reply {
    let (status, page) = match page {
        Ok(p) => p,
        Err(e) => return unavailable(&e),
    };
    let mut r = reply(status, "text/html; charset=utf-8", page);
    let h = r.headers_mut();
    // No script runs, whatever a feed managed to put in the page.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}
