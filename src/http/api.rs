//! The status page's search and the JSON API: each a read on a [`Readers`] connection, through
//! the same store queries as the CLI's `--json` listings (`commands::feed_rows`,
//! `Store::alerts`, `Store::stories`, `search::search`), so the rows have the same shapes.

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;

use super::readers::ReadError;
use hyper::header::{self, HeaderValue};

use super::{Ops, Reply, View, html, page, reply, text, unavailable};
use crate::store::{self, Backend};

/// Rows an API listing returns unless `limit` says otherwise, and the most it may ask for.
const API_LIMIT: usize = 100;
const API_MAX: usize = 10_000;

/// Results shown on the search page, and returned by `/api/search` unless `limit` says otherwise.
const SEARCH_LIMIT: usize = 50;

/// A search: the hits, or what is wrong with the query (for the user); a database failure is
/// the outer error.
fn run_search(
    s: &mut Backend,
    q: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
    limit: usize,
) -> store::Result<Result<Vec<crate::search::Hit>, String>> {
    Ok(match crate::search::search_backend(s, q, since, limit) {
        Ok(hits) => Ok(hits),
        Err(crate::search::SearchError::Store(e)) => return Err(e),
        Err(e) => Err(e.to_string()),
    })
}

pub(super) async fn search_page(ops: &Ops, q: &Query) -> Reply {
    let Some(words) = q.get("q").map(str::to_owned) else {
        return see_other("/");
    };
    html(
        ops.readers
            .read_body(move |s| {
                let hits = run_search(s, &words, None, SEARCH_LIMIT)?;
                let page = page::render_search(&words, hits, chrono::Utc::now());
                Ok((StatusCode::OK, page.into_bytes()))
            })
            .await,
    )
}

pub(super) async fn search(ops: &Ops, q: &Query) -> Reply {
    let Some(words) = q.get("q") else {
        return text(StatusCode::BAD_REQUEST, "q (the search query) is missing\n");
    };
    let (since, limit) = match (
        q.get("since").map(parse_since).transpose(),
        q.limit_or(SEARCH_LIMIT),
    ) {
        (Ok(since), Ok(limit)) => (since, limit),
        (Err(e), _) | (_, Err(e)) => return text(StatusCode::BAD_REQUEST, e),
    };
    let words = words.to_owned();
    json(
        ops.readers
            .read_body(move |s| {
                Ok(match run_search(s, &words, since, limit)? {
                    Ok(hits) => (
                        StatusCode::OK,
                        serde_json::to_vec(&hits).unwrap_or_default(),
                    ),
                    Err(message) => (
                        StatusCode::BAD_REQUEST,
                        serde_json::to_vec(&serde_json::json!({ "error": message }))
                            .unwrap_or_default(),
                    ),
                })
            })
            .await,
    )
}

fn see_other(to: &'static str) -> Reply {
    let mut r = text(StatusCode::SEE_OTHER, "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

fn json(body: Result<(StatusCode, Bytes), ReadError>) -> Reply {
    match body {
        Ok((status, b)) => reply(status, "application/json", b),
        Err(e) => unavailable(&e),
    }
}

/// A JSON listing's bytes, with 200.
fn listing<T: serde::Serialize>(rows: &T) -> (StatusCode, Vec<u8>) {
    (StatusCode::OK, serde_json::to_vec(rows).unwrap_or_default())
}

pub(super) async fn feeds(ops: &Ops, view: Arc<View>) -> Reply {
    json(
        ops.readers
            .read_body(move |s| {
                let states = s.feed_states()?;
                let names = view.feeds.iter().map(String::as_str).collect();
                Ok(listing(&crate::commands::feed_rows(&names, &states)))
            })
            .await,
    )
}

pub(super) async fn alerts(ops: &Ops, q: &Query) -> Reply {
    let (topic, since, limit) = match (q.get("since").map(parse_since).transpose(), q.limit()) {
        (Ok(since), Ok(limit)) => (q.get("topic").map(str::to_owned), since, limit),
        (Err(e), _) | (_, Err(e)) => return text(StatusCode::BAD_REQUEST, e),
    };
    json(
        ops.readers
            .read_body(move |s| Ok(listing(&s.alerts(topic.as_deref(), since, limit)?)))
            .await,
    )
}

pub(super) async fn stories(ops: &Ops, q: &Query) -> Reply {
    let min_sources = match q.get("min_sources").map(str::parse::<usize>).transpose() {
        Ok(m) => m.unwrap_or(1),
        Err(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                "min_sources must be a whole number\n",
            );
        }
    };
    let (since, limit) = match (q.get("since").map(parse_since).transpose(), q.limit()) {
        (Ok(since), Ok(limit)) => (since, limit),
        (Err(e), _) | (_, Err(e)) => return text(StatusCode::BAD_REQUEST, e),
    };
    json(
        ops.readers
            .read_body(move |s| Ok(listing(&s.stories(since, min_sources, limit)?)))
            .await,
    )
}

/// The daemons sharing a PostgreSQL database, as `newshound instances --json` (an empty list on
/// SQLite).
pub(super) async fn instances(ops: &Ops) -> Reply {
    json(
        ops.readers
            .read_body(move |s| Ok(listing(&s.instances()?)))
            .await,
    )
}

/// `since=24h`, as the CLI's `--since`.
fn parse_since(v: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    humantime::parse_duration(v)
        .ok()
        .and_then(|d| crate::commands::since(Some(d)))
        .ok_or_else(|| format!("since must be a duration such as 24h or 7d, got {v:?}\n"))
}

/// A request's query string, decoded.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(q: Option<&str>) -> Query {
        Query(
            url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .take(32)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn limit(&self) -> Result<usize, String> {
        self.limit_or(API_LIMIT)
    }

    fn limit_or(&self, default: usize) -> Result<usize, String> {
        match self.get("limit").map(str::parse::<usize>) {
            None => Ok(default),
            Some(Ok(n)) if (1..=API_MAX).contains(&n) => Ok(n),
            Some(_) => Err(format!(
                "limit must be a whole number from 1 to {API_MAX}\n"
            )),
        }
    }
}
