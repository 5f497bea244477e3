//! The outbox: one row per (alert, sink), enqueued in the alert's own transaction, so an alert
//! is never stored without its deliveries nor a delivery queued for an alert that rolled back.
//! The delivery worker (`crate::sinks`) reads due rows and records each attempt's outcome here,
//! through the writer; the CLI lists and retries them.
//!
//! Each row carries its idempotency key `topic:story:sink` and its body (the alert as JSON),
//! frozen at enqueue: a retry three days later sends the same bytes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::{NewAlert, Result, Store};
use crate::config::{DigestGroup, SinkConfig};

/// Which sinks want which topics: what the writer needs to enqueue, nothing more. Empty when no
/// sink is configured, and then enqueueing costs nothing.
#[derive(Debug, Clone, Default)]
pub struct OutboxRoutes {
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Route {
    sink: String,
    /// Its topics, or every topic.
    topics: Option<FxHashSet<String>>,
    /// Whether its alerts wait for a digest...
    held: bool,
    /// ...unless their topic says otherwise (`per_topic`).
    held_by_topic: FxHashMap<String, bool>,
}

impl OutboxRoutes {
    pub fn new(sinks: &[SinkConfig]) -> OutboxRoutes {
        OutboxRoutes {
            routes: sinks
                .iter()
                .map(|s| Route {
                    sink: s.name.clone(),
                    topics: s.topics.as_ref().map(|ts| ts.iter().cloned().collect()),
                    held: s.digest.is_some(),
                    held_by_topic: s
                        .per_topic
                        .keys()
                        .map(|t| (t.clone(), s.digest_for(t).is_some()))
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub(super) fn sinks_for<'a>(
        &'a self,
        topic: &'a str,
    ) -> impl Iterator<Item = (&'a str, bool)> + 'a {
        self.routes
            .iter()
            .filter(move |r| r.topics.as_ref().is_none_or(|ts| ts.contains(topic)))
            .map(move |r| {
                let held = r.held_by_topic.get(topic).copied().unwrap_or(r.held);
                (r.sink.as_str(), held)
            })
    }
}

/// The JSON every sink receives for one alert (the webhook's body, the exec's stdin): the
/// alert's stable fields, the story's sources, and why it matched. Documented in the README.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    pub idempotency_key: &'a str,
    pub sink: &'a str,
    pub topic: &'a str,
    pub title: &'a str,
    pub url: Option<&'a str>,
    pub feed: &'a str,
    pub published: Option<DateTime<Utc>>,
    /// Feeds that reported the story so far.
    pub sources: &'a [String],
    pub story_id: i64,
    pub item_id: i64,
    pub alert_id: i64,
    /// Why it matched: the query's terms found, the field they were found in, and a snippet.
    pub terms: &'a [String],
    pub field: &'a str,
    pub snippet: &'a str,
    /// When the delivery was queued (milliseconds since the epoch).
    pub enqueued_at: i64,
}

/// `topic:story:sink`. Topic names may hold ':'; the key is opaque to receivers.
pub fn idempotency_key(topic: &str, story_id: i64, sink: &str) -> String {
    format!("{topic}:{story_id}:{sink}")
}

/// Queues one delivery per sink that wants the alert's topic. Called inside the alert's
/// transaction; returns how many rows were queued.
pub(super) fn enqueue(
    tx: &Connection,
    routes: &OutboxRoutes,
    alert: &NewAlert,
    now_ms: i64,
) -> rusqlite::Result<usize> {
    let mut sinks = routes.sinks_for(&alert.topic).peekable();
    if sinks.peek().is_none() {
        return Ok(0);
    }
    let sources: Vec<String> = tx
        .prepare_cached(
            "SELECT DISTINCT f.name FROM items i JOIN sightings s ON s.item_id = i.id
             JOIN feeds f ON f.id = s.feed_id WHERE i.story_id = ?1 ORDER BY f.name LIMIT 100",
        )?
        .query_map(params![alert.story_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (sink, alert_id, topic, idem_key, payload, created_at, retry_since, next_at, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, CASE WHEN ?7 THEN 'held' ELSE 'pending' END)
         ON CONFLICT (idem_key) DO NOTHING",
    )?;
    let mut queued = 0;
    for (sink, held) in sinks {
        let mut key = idempotency_key(&alert.topic, alert.story_id, sink);
        // The store alerts a second time on a story only when it is not sure the two items are
        // the same story; that alert is delivered too, under a key of its own.
        for attempt in 0..2 {
            if attempt == 1 {
                key = format!("{key}:{}", alert.item_id);
            }
            let body = alert_body(alert, sink, &key, &sources, now_ms)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            if insert.execute(params![
                sink,
                alert.alert_id,
                alert.topic,
                key,
                body,
                now_ms,
                held
            ])? == 1
            {
                queued += 1;
                break;
            }
        }
    }
    Ok(queued)
}

/// The JSON body of one alert's delivery to `sink` under `key` (SQLite's and PostgreSQL's
/// enqueue).
pub(super) fn alert_body(
    alert: &NewAlert,
    sink: &str,
    key: &str,
    sources: &[String],
    now_ms: i64,
) -> serde_json::Result<String> {
    serde_json::to_string(&Payload {
        idempotency_key: key,
        sink,
        topic: &alert.topic,
        title: &alert.title,
        url: alert.url.as_deref(),
        feed: &alert.feed,
        published: alert.published,
        sources,
        story_id: alert.story_id,
        item_id: alert.item_id,
        alert_id: alert.alert_id,
        terms: &alert.terms,
        field: &alert.field,
        snippet: &alert.snippet,
        enqueued_at: now_ms,
    })
}

/// A digest's key: `digest:SINK:TIME`, or `digest:SINK:TOPIC:TIME` for a topic's own digest.
pub(super) fn digest_key(sink: &str, topic: &str, now_ms: i64) -> String {
    if topic.is_empty() {
        format!("digest:{sink}:{now_ms}")
    } else {
        format!("digest:{sink}:{topic}:{now_ms}")
    }
}

/// A digest's JSON body: the held alerts' payloads `(id, payload, created_at)`, in order.
pub(super) fn digest_body(
    sink: &str,
    topic: &str,
    key: &str,
    held: &[(i64, String, i64)],
    now_ms: i64,
) -> String {
    let alerts: Vec<serde_json::Value> = held
        .iter()
        .filter_map(|(_, p, _)| serde_json::from_str(p).ok())
        .collect();
    let since = held.iter().map(|h| h.2).min().unwrap_or(now_ms);
    serde_json::json!({
        "idempotency_key": key,
        "sink": sink,
        "digest": true,
        "topic": (!topic.is_empty()).then_some(topic),
        "since": from_ms(since),
        "count": alerts.len(),
        "alerts": alerts,
        "enqueued_at": now_ms,
    })
    .to_string()
}

/// A delivery the worker may send now.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub sink: String,
    pub topic: String,
    pub idem_key: String,
    pub payload: String,
    pub attempts: u32,
    pub created_at: i64,
    pub retry_since: i64,
}

/// One attempt's outcome, as the worker decided it.
#[derive(Debug, Clone)]
pub enum DeliveryUpdate {
    Sent {
        id: i64,
        at: i64,
    },
    /// Failed; retried at `next_at`.
    Retry {
        id: i64,
        at: i64,
        next_at: i64,
        error: String,
    },
    /// Failed for good (a permanent error, or past `give_up_after`): kept, retryable by hand.
    Dead {
        id: i64,
        at: i64,
        error: String,
    },
    /// Not sent: over the sink's `max_per_hour`; it goes out in the next digest.
    Hold {
        id: i64,
    },
}

/// Which `max_per_hour` an alert was over (it is then held for the next digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The sink's `max_per_hour`.
    Sink(u32),
    /// The topic's `per_topic.NAME.max_per_hour` on this sink.
    Topic(u32),
}

/// A sink's `max_per_hour` budgets, for a store that decides them in its claim of due deliveries
/// (PostgreSQL: strict across daemons, docs/postgres.md); SQLite's worker counts in memory
/// instead (`sinks::budget`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    /// The sink's `max_per_hour`.
    pub sink: Option<u32>,
    /// Each topic's `per_topic.NAME.max_per_hour` on this sink.
    pub topics: Vec<(String, u32)>,
}

impl Budget {
    /// The sink's budgets; `None` when it has none (and then a claim counts nothing).
    pub fn of(cfg: &SinkConfig) -> Option<Budget> {
        cfg.has_budget().then(|| Budget {
            sink: cfg.max_per_hour,
            topics: cfg
                .per_topic
                .iter()
                .filter_map(|(t, d)| d.max_per_hour.map(|n| (t.clone(), n)))
                .collect(),
        })
    }

    /// Splits `candidates` (id, topic; in the order they would be sent) into those the budgets
    /// let through and those over one, given what each topic `spent` in the hour (its sends and
    /// the sends in flight). A digest (topic `""`) is never held back nor counted; an alert is
    /// checked against the sink's budget first, then its topic's, as `sinks::budget` does.
    pub fn split(
        &self,
        spent: &FxHashMap<String, u32>,
        candidates: &[(i64, String)],
    ) -> (Vec<i64>, Vec<(i64, Over)>) {
        let mut spent = spent.clone();
        let mut all: u32 = spent.values().sum();
        let (mut go, mut held) = (Vec::new(), Vec::new());
        for (id, topic) in candidates {
            if topic.is_empty() {
                go.push(*id);
                continue;
            }
            let used = spent.entry(topic.clone()).or_default();
            let topic_max = self.topics.iter().find(|(t, _)| t == topic).map(|t| t.1);
            if let Some(max) = self.sink
                && all >= max
            {
                held.push((*id, Over::Sink(max)));
            } else if let Some(max) = topic_max
                && *used >= max
            {
                held.push((*id, Over::Topic(max)));
            } else {
                *used += 1;
                all += 1;
                go.push(*id);
            }
        }
        (go, held)
    }
}

/// What a claim of due deliveries found.
#[derive(Debug, Default)]
pub struct Due {
    /// To send now.
    pub send: Vec<Delivery>,
    /// Held by the claim for the next digest, over a budget (PostgreSQL only): already `held`
    /// in the store, to be logged and counted as the worker's own holds are.
    pub held: Vec<HeldBack>,
    /// When the sink's next delivery not yet due falls due (ms).
    pub next: Option<i64>,
}

/// A delivery a claim held back, over a budget.
#[derive(Debug, Clone)]
pub struct HeldBack {
    pub id: i64,
    pub idem_key: String,
    pub over: Over,
}

/// An outbox row as `newshound outbox` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub sink: String,
    pub topic: String,
    pub idempotency_key: String,
    pub state: String,
    pub attempts: u32,
    pub created: DateTime<Utc>,
    pub next: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent: Option<DateTime<Utc>>,
    pub title: Option<String>,
}

/// A sink's state as `newshound sinks` shows it (and the metrics read).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SinkStatus {
    pub sink: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sends: u64,
    pub failures: u64,
    /// Deliveries waiting: never tried, to be retried, or held for a digest.
    pub queued: u64,
    pub dead: u64,
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// Up to `limit` due deliveries of `sink`, oldest due first, leaving out `skip` (those in
    /// flight); and when its next delivery not yet due falls due.
    pub fn outbox_due(
        &self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
    ) -> Result<(Vec<Delivery>, Option<i64>)> {
        let skip = serde_json::to_string(skip).unwrap_or_else(|_| "[]".into());
        let due = if limit == 0 {
            Vec::new()
        } else {
            self.conn
                .prepare_cached(
                    "SELECT id, sink, topic, idem_key, payload, attempts, created_at, retry_since FROM outbox
                     WHERE state IN ('pending', 'failed') AND next_at <= ?1 AND sink = ?2
                       AND id NOT IN (SELECT value FROM json_each(?4))
                     ORDER BY next_at LIMIT ?3",
                )?
                .query_map(params![now_ms, sink, limit as i64, skip], |r| {
                    Ok(Delivery {
                        id: r.get(0)?,
                        sink: r.get(1)?,
                        topic: r.get(2)?,
                        idem_key: r.get(3)?,
                        payload: r.get(4)?,
                        attempts: r.get(5)?,
                        created_at: r.get(6)?,
                        retry_since: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let next: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT min(next_at) FROM outbox WHERE state IN ('pending', 'failed') AND next_at > ?1 AND sink = ?2",
            )?
            .query_row(params![now_ms, sink], |r| r.get(0))?;
        Ok((due, next))
    }

    /// Records one attempt's outcome and the sink's status, in one transaction.
    pub fn outbox_update(&mut self, u: &DeliveryUpdate) -> Result<()> {
        self.outbox_updates(std::slice::from_ref(u))
    }

    /// Records several outcomes in one transaction (the writer groups those that arrive
    /// together: in a burst, one commit for many sends).
    pub fn outbox_updates(&mut self, us: &[DeliveryUpdate]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for u in us {
            apply_update(&tx, u)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Folds the sink's held deliveries of one digest group into one digest delivery, due now,
    /// and returns its id (`None` when nothing was held). The held rows become `digested`,
    /// pointing at it; the digest is sent, retried and dead-lettered like any delivery. Its key
    /// is `digest:SINK:TIME`, or `digest:SINK:TOPIC:TIME` for a topic's own digest.
    /// `scheduled`: this is the digest's run (recorded, so that its schedule counts from it),
    /// not a release of rows held under an earlier config.
    pub fn outbox_digest(
        &mut self,
        sink: &str,
        group: &DigestGroup,
        now_ms: i64,
        scheduled: bool,
    ) -> Result<Option<i64>> {
        let tx = self.conn.transaction()?;
        if scheduled {
            tx.execute(
                "INSERT INTO sink_status (sink) VALUES (?1) ON CONFLICT DO NOTHING",
                params![sink],
            )?;
            tx.execute(
                "UPDATE sink_status SET last_digest_at = ?2 WHERE sink = ?1",
                params![sink, now_ms],
            )?;
            tx.execute(
                "INSERT INTO digest_runs (sink, topic, last_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sink, topic) DO UPDATE SET last_at = excluded.last_at",
                params![sink, group.topic, now_ms],
            )?;
        }
        let except = serde_json::to_string(&group.except).unwrap_or_else(|_| "[]".into());
        let held: Vec<(i64, String, i64)> = tx
            .prepare(
                "SELECT id, payload, created_at FROM outbox WHERE sink = ?1 AND state = 'held'
                   AND (?2 = '' OR topic = ?2)
                   AND topic NOT IN (SELECT value FROM json_each(?3))
                 ORDER BY id",
            )?
            .query_map(params![sink, group.topic, except], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if held.is_empty() {
            tx.commit()?;
            return Ok(None);
        }
        let key = digest_key(sink, &group.topic, now_ms);
        let body = digest_body(sink, &group.topic, &key, &held, now_ms);
        tx.execute(
            "INSERT INTO outbox (sink, topic, idem_key, payload, created_at, retry_since, next_at)
             VALUES (?1, '', ?2, ?3, ?4, ?4, ?4) ON CONFLICT (idem_key) DO NOTHING",
            params![sink, key, body, now_ms],
        )?;
        let digest_id = tx.last_insert_rowid();
        let mut fold =
            tx.prepare("UPDATE outbox SET state = 'digested', digest_id = ?2 WHERE id = ?1")?;
        for (id, _, _) in &held {
            fold.execute(params![id, digest_id])?;
        }
        drop(fold);
        tx.commit()?;
        Ok(Some(digest_id))
    }

    /// `outbox digest SINK`: every digest of the sink now (of the configured sink's groups; of
    /// all it holds when it is no longer configured). The ids of the digests queued.
    pub fn outbox_digest_now(
        &mut self,
        sink: &str,
        cfg: Option<&SinkConfig>,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let all = DigestGroup {
            topic: String::new(),
            except: Vec::new(),
        };
        let groups: Vec<DigestGroup> = match cfg {
            Some(c) => {
                let mut gs: Vec<DigestGroup> =
                    c.digest_groups().into_iter().map(|(g, _)| g).collect();
                // Held rows outside every group (the config changed since): the sink's.
                if !gs.iter().any(|g| g.topic.is_empty()) {
                    gs.push(c.group_of(""));
                }
                gs
            }
            None => vec![all],
        };
        let mut ids = Vec::new();
        for g in &groups {
            if let Some(id) = self.outbox_digest(sink, g, now_ms, true)? {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Where a digest's schedule counts from: its last run, else its oldest held delivery (so
    /// a digest missed while the daemon was down goes out at the start).
    pub fn outbox_digest_since(&self, sink: &str, group: &DigestGroup) -> Result<Option<i64>> {
        let last: Option<i64> = self
            .conn
            .query_row(
                "SELECT last_at FROM digest_runs WHERE sink = ?1 AND topic = ?2",
                params![sink, group.topic],
                |r| r.get(0),
            )
            .optional()?;
        if last.is_some() {
            return Ok(last);
        }
        let except = serde_json::to_string(&group.except).unwrap_or_else(|_| "[]".into());
        Ok(self.conn.query_row(
            "SELECT min(created_at) FROM outbox WHERE sink = ?1 AND state = 'held'
               AND (?2 = '' OR topic = ?2) AND topic NOT IN (SELECT value FROM json_each(?3))",
            params![sink, group.topic, except],
            |r| r.get(0),
        )?)
    }

    /// The alerts of `sink` sent one by one since `since_ms`, with their topics and times: what
    /// its `max_per_hour` budgets have spent, read back at the start so that a restart does not
    /// begin a fresh hour. (A digest is never counted; nor is a held alert, which went out in one.)
    pub fn outbox_sent_since(&self, sink: &str, since_ms: i64) -> Result<Vec<(String, i64)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT topic, sent_at FROM outbox
                 WHERE sink = ?1 AND state = 'sent' AND sent_at > ?2 AND topic != ''
                 ORDER BY sent_at",
            )?
            .query_map(params![sink, since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Outbox rows, newest first, optionally of one sink and one state.
    pub fn outbox_list(
        &self,
        sink: Option<&str>,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        let rows = self
            .conn
            .prepare(
                "SELECT id, sink, topic, idem_key, state, attempts, created_at, next_at, last_at, last_error, sent_at,
                        json_extract(payload, '$.title')
                 FROM outbox WHERE (?1 IS NULL OR sink = ?1) AND (?2 IS NULL OR state = ?2)
                 ORDER BY id DESC LIMIT ?3",
            )?
            .query_map(params![sink, state, limit as i64], |r| {
                let state: String = r.get(4)?;
                let waiting = matches!(state.as_str(), "pending" | "failed");
                Ok(OutboxRow {
                    id: r.get(0)?,
                    sink: r.get(1)?,
                    topic: r.get(2)?,
                    idempotency_key: r.get(3)?,
                    attempts: r.get(5)?,
                    created: from_ms(r.get(6)?),
                    next: waiting.then(|| r.get::<_, i64>(7).map(from_ms)).transpose()?,
                    last_attempt: r.get::<_, Option<i64>>(8)?.map(from_ms),
                    last_error: r.get(9)?,
                    sent: r.get::<_, Option<i64>>(10)?.map(from_ms),
                    title: r.get(11)?,
                    state,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Queues dead or failed deliveries again, due now, with a fresh `give_up_after`: one by
    /// id, or every dead one. Returns how many.
    pub fn outbox_retry(&mut self, id: Option<i64>, now_ms: i64) -> Result<usize> {
        let n = match id {
            Some(id) => self.conn.execute(
                "UPDATE outbox SET state = 'failed', next_at = ?2, retry_since = ?2
                 WHERE id = ?1 AND state IN ('dead', 'failed', 'pending')",
                params![id, now_ms],
            )?,
            None => self.conn.execute(
                "UPDATE outbox SET state = 'failed', next_at = ?1, retry_since = ?1 WHERE state = 'dead'",
                params![now_ms],
            )?,
        };
        Ok(n)
    }

    /// Every sink's status: those configured (`names`), and any other with rows.
    pub fn sink_statuses(&self, names: &[String]) -> Result<Vec<SinkStatus>> {
        let mut out: Vec<SinkStatus> = names
            .iter()
            .map(|n| SinkStatus {
                sink: n.clone(),
                ..SinkStatus::default()
            })
            .collect();
        let mut stmt = self.conn.prepare(
            "SELECT sink, sum(state IN ('pending', 'failed', 'held')), sum(state = 'dead') FROM outbox GROUP BY sink",
        )?;
        let counts = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT sink, last_success_at, last_error_at, last_error, sends, failures FROM sink_status",
        )?;
        let statuses = stmt
            .query_map([], |r| {
                Ok(SinkStatus {
                    sink: r.get(0)?,
                    last_success: r.get::<_, Option<i64>>(1)?.map(from_ms),
                    last_error_at: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    last_error: r.get(3)?,
                    sends: r.get::<_, i64>(4)? as u64,
                    failures: r.get::<_, i64>(5)? as u64,
                    queued: 0,
                    dead: 0,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for s in statuses {
            match out.iter_mut().find(|o| o.sink == s.sink) {
                Some(o) => *o = s,
                None => out.push(s),
            }
        }
        for (sink, queued, dead) in counts {
            let i = match out.iter().position(|o| o.sink == sink) {
                Some(i) => i,
                None => {
                    out.push(SinkStatus {
                        sink: sink.clone(),
                        ..SinkStatus::default()
                    });
                    out.len() - 1
                }
            };
            out[i].queued = queued as u64;
            out[i].dead = dead as u64;
        }
        Ok(out)
    }
}

/// One outcome: the row's state, and its sink's status.
fn apply_update(tx: &Connection, u: &DeliveryUpdate) -> rusqlite::Result<()> {
    let (id, at) = match u {
        DeliveryUpdate::Sent { id, at } => {
            tx.prepare_cached(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_at = ?2, sent_at = ?2, last_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, at])?;
            (*id, *at)
        }
        DeliveryUpdate::Retry {
            id,
            at,
            next_at,
            error,
        } => {
            tx.prepare_cached(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_at = ?2, next_at = ?3, last_error = ?4 WHERE id = ?1",
            )?
            .execute(params![id, at, next_at, error])?;
            (*id, *at)
        }
        DeliveryUpdate::Hold { id } => {
            tx.prepare_cached("UPDATE outbox SET state = 'held' WHERE id = ?1")?
                .execute(params![id])?;
            return Ok(());
        }
        DeliveryUpdate::Dead { id, at, error } => {
            tx.prepare_cached(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_at = ?2, last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![id, at, error])?;
            (*id, *at)
        }
    };
    let sink: Option<String> = tx
        .prepare_cached("SELECT sink FROM outbox WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?;
    let Some(sink) = sink else {
        return Ok(());
    };
    tx.prepare_cached("INSERT INTO sink_status (sink) VALUES (?1) ON CONFLICT DO NOTHING")?
        .execute(params![sink])?;
    match u {
        DeliveryUpdate::Sent { .. } => tx
            .prepare_cached(
                "UPDATE sink_status SET sends = sends + 1, last_success_at = ?2 WHERE sink = ?1",
            )?
            .execute(params![sink, at])?,
        DeliveryUpdate::Hold { .. } => 0,
        DeliveryUpdate::Retry { error, .. } | DeliveryUpdate::Dead { error, .. } => tx
            .prepare_cached(
                "UPDATE sink_status SET failures = failures + 1, last_error_at = ?2, last_error = ?3 WHERE sink = ?1",
            )?
            .execute(params![sink, at, error])?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(topics: &[&str]) -> Vec<(i64, String)> {
        topics
            .iter()
            .enumerate()
            .map(|(i, t)| (i as i64, t.to_string()))
            .collect()
    }

    #[test]
    fn a_claim_lets_through_what_the_hour_left_and_holds_the_rest() {
        let budget = Budget {
            sink: Some(3),
            topics: vec![("noisy".into(), 1)],
        };
        let spent: FxHashMap<String, u32> = [("calm".to_owned(), 1)].into_iter().collect();
        let (go, held) = budget.split(&spent, &rows(&["noisy", "noisy", "", "calm", "calm"]));
        // The sink had 2 left: the first noisy, then a calm one; the topic had 1.
        assert_eq!(go, vec![0, 2, 3]);
        assert_eq!(held, vec![(1, Over::Topic(1)), (4, Over::Sink(3))]);
    }

    #[test]
    fn a_digest_is_never_held_back_nor_counted() {
        let budget = Budget {
            sink: Some(1),
            topics: Vec::new(),
        };
        let spent: FxHashMap<String, u32> = [("t".to_owned(), 5)].into_iter().collect();
        let (go, held) = budget.split(&spent, &rows(&["", "t", ""]));
        assert_eq!(go, vec![0, 2]);
        assert_eq!(held, vec![(1, Over::Sink(1))]);
    }

    #[test]
    fn a_topic_budget_alone_leaves_other_topics_free() {
        let budget = Budget {
            sink: None,
            topics: vec![("noisy".into(), 2)],
        };
        let (go, held) = budget.split(
            &FxHashMap::default(),
            &rows(&["noisy", "calm", "noisy", "noisy", "calm"]),
        );
        assert_eq!(go, vec![0, 1, 2, 4]);
        assert_eq!(held, vec![(3, Over::Topic(2))]);
    }
}
