//! The outbox on PostgreSQL: SQLite's outbox (`crate::store::outbox`: one row per alert and
//! sink, enqueued in the alert's transaction, sent at least once under its idempotency key) with
//! what several daemons sending from one queue need.
//!
//! **Claims.** A daemon's worker does not read due rows, it claims them: one statement marks up
//! to `limit` due rows with this daemon's id and a claim's end (`claim_until`, the server's clock,
//! the feeds' lease), choosing them with `FOR UPDATE SKIP LOCKED`, so two daemons claiming at once
//! never take the same row nor wait for each other. A claimed row is not claimable by another
//! daemon until its claim ends; the outcome (sent, retry, dead, held) clears the claim, and is
//! recorded only by the claim's owner (a daemon whose claim ended and was taken over does not
//! overwrite the new owner's outcome; the receiver drops its send by the key, as after a crash).
//! A daemon that dies holds its claims until they end; then another daemon claims the rows.
//!
//! **Budgets.** A sink's `max_per_hour` (and its topics', `per_topic`) is decided in the claim,
//! so that it holds across daemons: the claim of a sink with a budget is one transaction that
//! first takes a per-sink advisory lock ([`BUDGET_LOCK`]), so that the sink's claims take turns
//! across daemons; counts what the hour spent: the sink's alerts sent in the last hour (by
//! `sent_at`, which is the server's clock here, as the claims'), plus those claimed by a live
//! claim of any daemon (the sends in flight); and claims at most what is left, holding the due
//! rows over a budget for the next digest (`held`, as the worker's `DeliveryUpdate::Hold`
//! does on SQLite; the worker logs and counts them as it does there). A failed send clears its
//! claim without sending, and a claim that ends without an outcome (its daemon killed) stops
//! counting when it ends: either gives its budget back, as on SQLite. A digest is never held
//! back nor counted. A sink without a budget is claimed by one statement, as before.
//!
//! **Digests.** A scheduled digest run is recorded in `digest_runs` only if no run was recorded
//! at or after its scheduled time (an upsert with a condition, in the transaction that folds the
//! held rows), so two daemons seeing one digest due make it once. The held rows are locked as
//! they are folded (`FOR UPDATE`), so each goes into one digest.

use rustc_hash::FxHashMap;

use super::{PgStore, Tx};
use crate::config::{DigestGroup, SinkConfig};
use crate::store::outbox::{alert_body, digest_body, digest_key, idempotency_key};
use crate::store::{
    Budget, Delivery, DeliveryUpdate, Due, HeldBack, NewAlert, OutboxRoutes, OutboxRow, Result,
    SinkStatus, StoreError, from_ms,
};

/// The per-sink budget lock's class: `pg_advisory_xact_lock(BUDGET_LOCK, hashtext(sink))`, the
/// two-key form (a key space of its own beside the store's one-key locks). Two sinks whose names
/// hash alike share a lock, which only makes their claims take turns.
const BUDGET_LOCK: i32 = 0x6e68_6268; // "nhbh"

/// The server's clock in milliseconds (the claims' clock, as the feeds' leases').
macro_rules! now_ms_sql {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}

/// Queues one delivery per sink that wants the alert's topic, inside the alert's transaction
/// (as SQLite's `outbox::enqueue`); returns how many rows were queued.
pub(super) fn enqueue(
    tx: &mut Tx<'_>,
    routes: &OutboxRoutes,
    alert: &NewAlert,
    now_ms: i64,
) -> Result<usize> {
    let sinks: Vec<(&str, bool)> = routes.sinks_for(&alert.topic).collect();
    if sinks.is_empty() {
        return Ok(0);
    }
    let sources: Vec<String> = tx
        .all(
            "SELECT DISTINCT f.name FROM items i JOIN sightings s ON s.item_id = i.id
             JOIN feeds f ON f.id = s.feed_id WHERE i.story_id = $1 ORDER BY f.name LIMIT 100",
            &[&alert.story_id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut queued = 0;
    for (sink, held) in sinks {
        let mut key = idempotency_key(&alert.topic, alert.story_id, sink);
        // A second alert on a story (the store was not sure the items are one story) is
        // delivered under a key of its own, as on SQLite.
        for attempt in 0..2 {
            if attempt == 1 {
                key = format!("{key}:{}", alert.item_id);
            }
            let body = alert_body(alert, sink, &key, &sources, now_ms).map_err(|e| {
                StoreError::Shared(format!("cannot encode the alert's delivery: {e}"))
            })?;
            let state = if held { "held" } else { "pending" };
            let n = tx.exec(
                "INSERT INTO outbox (sink, alert_id, topic, idem_key, payload, created_at, retry_since, next_at, state)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $7) ON CONFLICT (idem_key) DO NOTHING",
                &[&sink, &alert.alert_id, &alert.topic, &key, &body, &now_ms, &state],
            )?;
            if n == 1 {
                queued += 1;
                break;
            }
        }
    }
    Ok(queued)
}

/// Claimed rows (as `RETURNING` gives them, in no order), oldest due first.
fn in_due_order(rows: &[postgres::Row]) -> Vec<Delivery> {
    let mut due: Vec<(i64, Delivery)> = rows.iter().map(|r| (r.get(8), delivery(r))).collect();
    due.sort_by_key(|(next_at, d)| (*next_at, d.id));
    due.into_iter().map(|(_, d)| d).collect()
}

fn delivery(r: &postgres::Row) -> Delivery {
    Delivery {
        id: r.get(0),
        sink: r.get(1),
        topic: r.get(2),
        idem_key: r.get(3),
        payload: r.get(4),
        attempts: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
        created_at: r.get(6),
        retry_since: r.get(7),
    }
}

impl PgStore {
    /// Claims up to `limit` due deliveries of `sink` for this process, oldest due first, leaving
    /// out `skip` (those it is sending); and when its next delivery not yet due falls due. With a
    /// `budget`, the claim decides it (see the module's doc): rows over it are held, not claimed.
    pub fn outbox_due(
        &mut self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
        budget: Option<&Budget>,
    ) -> Result<Due> {
        self.claimed |= limit > 0;
        let (send, held) = match budget {
            _ if limit == 0 => (Vec::new(), Vec::new()),
            None => (
                self.claim_deliveries(sink, now_ms, limit, skip)?,
                Vec::new(),
            ),
            Some(b) => self.claim_deliveries_within(b, sink, now_ms, limit, skip)?,
        };
        let next: Option<i64> = self
            .auto()
            .one(
                "SELECT min(next_at) FROM outbox WHERE state IN ('pending', 'failed') AND next_at > $1 AND sink = $2",
                &[&now_ms, &sink],
            )?
            .get(0);
        Ok(Due { send, held, next })
    }

    /// The claim of a sink without a budget: one autocommit statement. The row locks last only
    /// as long as the statement; the claim is what keeps the other daemons off the rows after it.
    fn claim_deliveries(
        &mut self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
    ) -> Result<Vec<Delivery>> {
        let (me, claim_ms) = (self.claimer.clone(), self.claim_ms());
        let rows = self.auto().all(
            concat!(
                "UPDATE outbox SET claim_owner = $1, claim_until = ",
                now_ms_sql!(),
                " + $2
                 WHERE id IN (SELECT id FROM outbox
                              WHERE sink = $3 AND state IN ('pending', 'failed') AND next_at <= $4
                                AND (claim_owner IS NULL OR claim_owner = $1 OR claim_until < ",
                now_ms_sql!(),
                ")
                                AND NOT (id = ANY($5))
                              ORDER BY next_at LIMIT $6
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id, sink, topic, idem_key, payload, attempts, created_at, retry_since, next_at"
            ),
            &[&me, &claim_ms, &sink, &now_ms, &skip, &(limit as i64)],
        )?;
        Ok(in_due_order(&rows))
    }

    /// The claim of a sink with a budget: in one transaction under the sink's budget lock, what
    /// the hour spent (the sink's alerts sent in the last hour, and those claimed by a live claim
    /// of any daemon: sends in flight), then up to `limit` due rows, claiming those the budget
    /// lets through and holding the others for the next digest.
    fn claim_deliveries_within(
        &mut self,
        budget: &Budget,
        sink: &str,
        now_ms: i64,
        limit: usize,
        skip: &[i64],
    ) -> Result<(Vec<Delivery>, Vec<HeldBack>)> {
        let (me, claim_ms) = (self.claimer.clone(), self.claim_ms());
        let mut tx = self.begin()?;
        tx.exec(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&BUDGET_LOCK, &sink],
        )?;
        // A statement after the lock: its snapshot holds every claim and outcome committed
        // before this claim could start. This process's own claims count only while it sends
        // them (`skip`); any other of them is claimable again, and counted as claimed below.
        let spent: FxHashMap<String, u32> = tx
            .all(
                concat!(
                    "WITH t AS (SELECT ",
                    now_ms_sql!(),
                    " AS now)
                     SELECT topic, count(*) FROM (
                       SELECT topic FROM outbox, t
                        WHERE sink = $1 AND state = 'sent' AND sent_at > t.now - 3600000 AND topic <> ''
                       UNION ALL
                       SELECT topic FROM outbox, t
                        WHERE sink = $1 AND claim_owner IS NOT NULL AND claim_until >= t.now
                          AND state IN ('pending', 'failed') AND topic <> ''
                          AND (claim_owner <> $2 OR id = ANY($3))
                     ) spent GROUP BY topic"
                ),
                &[&sink, &me, &skip],
            )?
            .iter()
            .map(|r| (r.get(0), u32::try_from(r.get::<_, i64>(1)).unwrap_or(u32::MAX)))
            .collect();
        let candidates: Vec<(i64, String)> = tx
            .all(
                concat!(
                    "SELECT id, topic FROM outbox
                     WHERE sink = $1 AND state IN ('pending', 'failed') AND next_at <= $2
                       AND (claim_owner IS NULL OR claim_owner = $3 OR claim_until < ",
                    now_ms_sql!(),
                    ")
                       AND NOT (id = ANY($4))
                     ORDER BY next_at, id LIMIT $5
                     FOR UPDATE SKIP LOCKED"
                ),
                &[&sink, &now_ms, &me, &skip, &(limit as i64)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let (go, over) = budget.split(&spent, &candidates);
        let send = if go.is_empty() {
            Vec::new()
        } else {
            let rows = tx.all(
                concat!(
                    "UPDATE outbox SET claim_owner = $1, claim_until = ",
                    now_ms_sql!(),
                    " + $2 WHERE id = ANY($3)
                     RETURNING id, sink, topic, idem_key, payload, attempts, created_at, retry_since, next_at"
                ),
                &[&me, &claim_ms, &go],
            )?;
            in_due_order(&rows)
        };
        let held = if over.is_empty() {
            Vec::new()
        } else {
            // As the worker's `DeliveryUpdate::Hold`: the row waits for the next digest.
            let ids: Vec<i64> = over.iter().map(|o| o.0).collect();
            let keys: FxHashMap<i64, String> = tx
                .all(
                    "UPDATE outbox SET state = 'held', claim_owner = NULL, claim_until = NULL
                     WHERE id = ANY($1) RETURNING id, idem_key",
                    &[&ids],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            over.into_iter()
                .filter_map(|(id, over)| {
                    let idem_key = keys.get(&id)?.clone();
                    Some(HeldBack { id, idem_key, over })
                })
                .collect()
        };
        tx.commit()?;
        Ok((send, held))
    }

    /// Records several outcomes in one transaction, each only if this process still holds the
    /// delivery's claim (or nobody does); the claim is cleared.
    pub fn outbox_updates(&mut self, us: &[DeliveryUpdate]) -> Result<()> {
        let me = self.claimer.clone();
        let mut tx = self.begin()?;
        for u in us {
            apply_update(&mut tx, &me, u)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// As [`crate::store::Store::outbox_digest`]; `slot` is the run's scheduled time (`None`: not
    /// a scheduled run but a release of rows held under an earlier config). A scheduled run that
    /// another daemon made already (a run recorded at or after `slot`) does nothing.
    pub fn outbox_digest(
        &mut self,
        sink: &str,
        group: &DigestGroup,
        now_ms: i64,
        slot: Option<i64>,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin()?;
        if let Some(slot) = slot {
            let ran = tx.opt(
                "INSERT INTO digest_runs (sink, topic, last_at) VALUES ($1, $2, $3)
                 ON CONFLICT (sink, topic) DO UPDATE SET last_at = excluded.last_at
                 WHERE digest_runs.last_at < $4
                 RETURNING last_at",
                &[&sink, &group.topic, &now_ms, &slot],
            )?;
            if ran.is_none() {
                // Another daemon made this run (its transaction committed first).
                tx.commit()?;
                return Ok(None);
            }
            tx.exec(
                "INSERT INTO sink_status (sink, last_digest_at) VALUES ($1, $2)
                 ON CONFLICT (sink) DO UPDATE SET last_digest_at = excluded.last_digest_at",
                &[&sink, &now_ms],
            )?;
        }
        // Locked: a daemon folding the same rows at once waits, then finds them digested.
        let held: Vec<(i64, String, i64)> = tx
            .all(
                "SELECT id, payload, created_at FROM outbox WHERE sink = $1 AND state = 'held'
                   AND ($2 = '' OR topic = $2) AND NOT (topic = ANY($3))
                 ORDER BY id FOR UPDATE",
                &[&sink, &group.topic, &group.except],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        if held.is_empty() {
            tx.commit()?;
            return Ok(None);
        }
        let key = digest_key(sink, &group.topic, now_ms);
        let body = digest_body(sink, &group.topic, &key, &held, now_ms);
        let inserted = tx.opt(
            "INSERT INTO outbox (sink, topic, idem_key, payload, created_at, retry_since, next_at)
             VALUES ($1, '', $2, $3, $4, $4, $4) ON CONFLICT (idem_key) DO NOTHING RETURNING id",
            &[&sink, &key, &body, &now_ms],
        )?;
        let digest_id: i64 = match inserted {
            Some(r) => r.get(0),
            None => tx
                .one("SELECT id FROM outbox WHERE idem_key = $1", &[&key])?
                .get(0),
        };
        let ids: Vec<i64> = held.iter().map(|h| h.0).collect();
        tx.exec(
            "UPDATE outbox SET state = 'digested', digest_id = $2 WHERE id = ANY($1)",
            &[&ids, &digest_id],
        )?;
        tx.commit()?;
        Ok(Some(digest_id))
    }

    /// `outbox digest SINK`, as [`crate::store::Store::outbox_digest_now`].
    pub fn outbox_digest_now(
        &mut self,
        sink: &str,
        cfg: Option<&SinkConfig>,
        now_ms: i64,
    ) -> Result<Vec<i64>> {
        let groups: Vec<DigestGroup> = match cfg {
            Some(c) => {
                let mut gs: Vec<DigestGroup> =
                    c.digest_groups().into_iter().map(|(g, _)| g).collect();
                if !gs.iter().any(|g| g.topic.is_empty()) {
                    gs.push(c.group_of(""));
                }
                gs
            }
            None => vec![DigestGroup {
                topic: String::new(),
                except: Vec::new(),
            }],
        };
        let mut ids = Vec::new();
        for g in &groups {
            if let Some(id) = self.outbox_digest(sink, g, now_ms, Some(now_ms))? {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Where a digest's schedule counts from: its last run (by any daemon), else its oldest
    /// held delivery.
    pub fn outbox_digest_since(&mut self, sink: &str, group: &DigestGroup) -> Result<Option<i64>> {
        let mut db = self.auto();
        if let Some(r) = db.opt(
            "SELECT last_at FROM digest_runs WHERE sink = $1 AND topic = $2",
            &[&sink, &group.topic],
        )? {
            return Ok(Some(r.get(0)));
        }
        Ok(db
            .one(
                "SELECT min(created_at) FROM outbox WHERE sink = $1 AND state = 'held'
                   AND ($2 = '' OR topic = $2) AND NOT (topic = ANY($3))",
                &[&sink, &group.topic, &group.except],
            )?
            .get(0))
    }

    /// The alerts of `sink` sent one by one since `since_ms`, by every daemon.
    pub fn outbox_sent_since(&mut self, sink: &str, since_ms: i64) -> Result<Vec<(String, i64)>> {
        Ok(self
            .auto()
            .all(
                "SELECT topic, sent_at FROM outbox
                 WHERE sink = $1 AND state = 'sent' AND sent_at > $2 AND topic != ''
                 ORDER BY sent_at",
                &[&sink, &since_ms],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Outbox rows, newest first, optionally of one sink and one state.
    pub fn outbox_list(
        &mut self,
        sink: Option<&str>,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        let rows = self.auto().all(
            "SELECT id, sink, topic, idem_key, state, attempts, created_at, next_at, last_at, last_error, sent_at,
                    payload::jsonb ->> 'title'
             FROM outbox WHERE ($1::text IS NULL OR sink = $1) AND ($2::text IS NULL OR state = $2)
             ORDER BY id DESC LIMIT $3",
            &[&sink, &state, &(limit as i64)],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let state: String = r.get(4);
                let waiting = matches!(state.as_str(), "pending" | "failed");
                OutboxRow {
                    id: r.get(0),
                    sink: r.get(1),
                    topic: r.get(2),
                    idempotency_key: r.get(3),
                    attempts: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
                    created: from_ms(r.get(6)),
                    next: waiting.then(|| from_ms(r.get(7))),
                    last_attempt: r.get::<_, Option<i64>>(8).map(from_ms),
                    last_error: r.get(9),
                    sent: r.get::<_, Option<i64>>(10).map(from_ms),
                    title: r.get(11),
                    state,
                }
            })
            .collect())
    }

    /// Queues dead or failed deliveries again, due now (their claims cleared): one by id, or
    /// every dead one. Returns how many.
    pub fn outbox_retry(&mut self, id: Option<i64>, now_ms: i64) -> Result<usize> {
        let mut db = self.auto();
        let n = match id {
            Some(id) => db.exec(
                "UPDATE outbox SET state = 'failed', next_at = $2, retry_since = $2, claim_owner = NULL, claim_until = NULL
                 WHERE id = $1 AND state IN ('dead', 'failed', 'pending')",
                &[&id, &now_ms],
            )?,
            None => db.exec(
                "UPDATE outbox SET state = 'failed', next_at = $1, retry_since = $1, claim_owner = NULL, claim_until = NULL
                 WHERE state = 'dead'",
                &[&now_ms],
            )?,
        };
        Ok(n as usize)
    }

    /// Every sink's status: those configured (`names`), and any other with rows.
    pub fn sink_statuses(&mut self, names: &[String]) -> Result<Vec<SinkStatus>> {
        let mut db = self.auto();
        let counts = db.all(
            "SELECT sink, count(*) FILTER (WHERE state IN ('pending', 'failed', 'held')), count(*) FILTER (WHERE state = 'dead')
             FROM outbox GROUP BY sink",
            &[],
        )?;
        let statuses = db.all(
            "SELECT sink, last_success_at, last_error_at, last_error, sends, failures FROM sink_status",
            &[],
        )?;
        let mut out: Vec<SinkStatus> = names
            .iter()
            .map(|n| SinkStatus {
                sink: n.clone(),
                ..SinkStatus::default()
            })
            .collect();
        let mut at: FxHashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, s)| (s.sink.clone(), i))
            .collect();
        let mut slot = |out: &mut Vec<SinkStatus>, sink: String| -> usize {
            *at.entry(sink.clone()).or_insert_with(|| {
                out.push(SinkStatus {
                    sink,
                    ..SinkStatus::default()
                });
                out.len() - 1
            })
        };
        for r in &statuses {
            let i = slot(&mut out, r.get(0));
            let o = &mut out[i];
            o.last_success = r.get::<_, Option<i64>>(1).map(from_ms);
            o.last_error_at = r.get::<_, Option<i64>>(2).map(from_ms);
            o.last_error = r.get(3);
            o.sends = r.get::<_, i64>(4).max(0) as u64;
            o.failures = r.get::<_, i64>(5).max(0) as u64;
        }
        for r in &counts {
            let i = slot(&mut out, r.get(0));
            out[i].queued = r.get::<_, i64>(1).max(0) as u64;
            out[i].dead = r.get::<_, i64>(2).max(0) as u64;
        }
        Ok(out)
    }

    /// How many of `names` have failed `after` times in a row and are not dead (the metrics).
    pub fn feeds_failing(&mut self, names: &[String], after: u32) -> Result<u64> {
        let n: i64 = self
            .auto()
            .one(
                "SELECT count(*) FROM feeds WHERE consecutive_failures >= $2 AND dead_since IS NULL AND name = ANY($1)",
                &[&names, &i64::from(after)],
            )?
            .get(0);
        Ok(n.max(0) as u64)
    }

    /// Gives back this process's claims on deliveries it did not finish (a clean stop).
    pub(super) fn release_deliveries(client: &mut postgres::Client, me: &str) -> Result<()> {
        client.execute(
            "UPDATE outbox SET claim_owner = NULL, claim_until = NULL WHERE claim_owner = $1",
            &[&me],
        )?;
        Ok(())
    }
}

/// One outcome, if this process still holds the claim; and its sink's status. Two statements: the
/// row's update names its sink (`RETURNING`), the status is one upsert.
fn apply_update(tx: &mut Tx<'_>, me: &str, u: &DeliveryUpdate) -> Result<()> {
    // Only the claim's owner (or anyone, when nobody holds it: a retry by hand cleared it).
    let row = match u {
        DeliveryUpdate::Sent { id, at } => tx.opt(
            concat!(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_at = $3, sent_at = ",
                now_ms_sql!(),
                ", last_error = NULL, claim_owner = NULL, claim_until = NULL
                 WHERE id = $1 AND (claim_owner IS NULL OR claim_owner = $2) RETURNING sink"
            ),
            &[id, &me, at],
        )?,
        DeliveryUpdate::Retry {
            id,
            at,
            next_at,
            error,
        } => tx.opt(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_at = $3, next_at = $4, last_error = $5,
                    claim_owner = NULL, claim_until = NULL
             WHERE id = $1 AND (claim_owner IS NULL OR claim_owner = $2) RETURNING sink",
            &[id, &me, at, next_at, error],
        )?,
        DeliveryUpdate::Hold { id } => tx.opt(
            "UPDATE outbox SET state = 'held', claim_owner = NULL, claim_until = NULL
             WHERE id = $1 AND (claim_owner IS NULL OR claim_owner = $2) RETURNING sink",
            &[id, &me],
        )?,
        DeliveryUpdate::Dead { id, at, error } => tx.opt(
            "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_at = $3, last_error = $4,
                    claim_owner = NULL, claim_until = NULL
             WHERE id = $1 AND (claim_owner IS NULL OR claim_owner = $2) RETURNING sink",
            &[id, &me, at, error],
        )?,
    };
    let id = match u {
        DeliveryUpdate::Sent { id, .. }
        | DeliveryUpdate::Retry { id, .. }
        | DeliveryUpdate::Hold { id }
        | DeliveryUpdate::Dead { id, .. } => *id,
    };
    let Some(row) = row else {
        taken_over(id);
        return Ok(());
    };
    let sink: String = row.get(0);
    match u {
        DeliveryUpdate::Sent { at, .. } => tx.exec(
            "INSERT INTO sink_status (sink, sends, last_success_at) VALUES ($1, 1, $2)
             ON CONFLICT (sink) DO UPDATE SET sends = sink_status.sends + 1, last_success_at = excluded.last_success_at",
            &[&sink, at],
        )?,
        DeliveryUpdate::Hold { .. } => 0,
        DeliveryUpdate::Retry { at, error, .. } | DeliveryUpdate::Dead { at, error, .. } => tx.exec(
            "INSERT INTO sink_status (sink, failures, last_error_at, last_error) VALUES ($1, 1, $2, $3)
             ON CONFLICT (sink) DO UPDATE SET failures = sink_status.failures + 1, last_error_at = excluded.last_error_at,
                                              last_error = excluded.last_error",
            &[&sink, at, error],
        )?,
    };
    Ok(())
}

/// This process's claim on delivery `id` ended and another daemon claimed it: that daemon's
/// outcome stands (if this one was sent too, the receiver drops the repeat by its key).
fn taken_over(id: i64) {
    tracing::warn!(
        delivery = id,
        "a delivery's claim ended before its outcome was recorded; another daemon took it over (consider a longer [storage] lease)"
    );
}
