//! Retention (`[storage] keep`): deleting what is older than the configured age, a few stories
//! at a time, so the writer is never held for long and polls commit between batches.
//!
//! A story is deleted whole, with its items and their sightings, story features, search rows
//! and alerts, when all of these hold:
//! - every item of it was first stored before the cutoff (`now − keep`), and no feed listed
//!   any of them since (`sightings.last_seen_at`), nor lists it still: a feed that answered
//!   within `keep` still lists what its last document (`feeds.last_document_at`: 304s since
//!   change nothing) held. An item a feed still publishes would come back as new, and could
//!   alert again;
//! - the story is not open: it ended before the start of what the writer's story index holds
//!   in memory, and more than the story window plus [`OPEN_MARGIN_SECS`] before the newest
//!   story (on the items' clock), so no item arriving now can join it.
//!
//! Deleting whole stories keeps every story's headline an existing item. Stories are visited
//! in id order (ids grow with time) a window of [`BATCH_STORIES`] ids per transaction.
//!
//! Then the outbox, [`BATCH_DELIVERIES`] ids per transaction: deliveries sent, or dead, before
//! the cutoff, and alerts folded into a digest that is itself no longer waiting. A delivery
//! still to go out (pending, failed, held) is never deleted, however old: its body was frozen
//! at enqueue (the alert's fields, the story's sources), so it goes out whole even after its
//! alert, item and story were deleted here (`outbox.alert_id` has no foreign key for that
//! reason). `keep` is always longer than a day, so the last hour's sent rows, which the
//! `max_per_hour` budgets are read back from at a start, are never deleted.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::{NextIds, Result, Store, ts};

/// Story ids looked at per batch (one transaction).
pub const BATCH_STORIES: i64 = 500;
/// Beyond the story window and a day, how long before the newest story a story must have
/// ended to be deleted: room for the writer's index extending back for a late item (7 days)
/// when another process (`newshound prune`) deletes.
pub const OPEN_MARGIN_SECS: i64 = 8 * 86_400;
/// A sighting seen this close before its feed's last document was in it (`last_seen_at` is
/// refreshed at most daily, `SEEN_AGAIN_SECS`), with a day to spare.
pub(super) const LISTED_SLACK_SECS: i64 = 2 * 86_400;
/// Outbox ids looked at per batch (one transaction).
pub const BATCH_DELIVERIES: i64 = 5_000;
/// Pages freed per incremental vacuum step (4 MB).
pub const VACUUM_PAGES: i64 = 1024;

/// Where a pruning pass stands, computed once per pass.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PrunePlan {
    /// Items first stored and last listed before this (Unix seconds) may go.
    pub cutoff: i64,
    /// Stories that ended before this (Unix seconds, items' clock) are closed.
    pub closed_before: i64,
    /// Items and stories with ids from these on were written after the cutoff.
    pub(super) item_bound: i64,
    pub(super) story_bound: i64,
    /// The next story id to look at.
    pub cursor: i64,
    /// The next outbox id to look at, and the first one queued after the plan.
    pub(super) outbox_cursor: i64,
    pub(super) outbox_bound: i64,
}

/// What a batch (or a whole pass, summed) deleted, or would delete.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct PruneReport {
    pub stories: u64,
    pub items: u64,
    pub sightings: u64,
    pub features: u64,
    pub alerts: u64,
    /// Outbox rows: deliveries sent or dead, and alerts folded into a digest.
    pub deliveries: u64,
}

impl PruneReport {
    pub fn add(&mut self, o: &PruneReport) {
        self.stories += o.stories;
        self.items += o.items;
        self.sightings += o.sightings;
        self.features += o.features;
        self.alerts += o.alerts;
        self.deliveries += o.deliveries;
    }
}

impl Store {
    /// Plans a pass deleting what is older than `keep` at `now`, for a story window of
    /// `window` seconds.
    pub fn prune_plan(
        &self,
        keep: std::time::Duration,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<PrunePlan> {
        let cutoff = ts(now) - keep.as_secs() as i64;
        let bounds = ids_before(&self.conn, cutoff)?;
        let newest: Option<i64> =
            self.conn
                .query_row("SELECT max(last_at) FROM stories", [], |r| r.get(0))?;
        let mut closed_before = newest.map_or(i64::MIN, |n| n - window - 86_400 - OPEN_MARGIN_SECS);
        if let Some(from) = self.stories.covered_from() {
            closed_before = closed_before.min(from);
        }
        let (outbox_cursor, outbox_bound): (i64, i64) = self.conn.query_row(
            "SELECT coalesce(min(id), 0), coalesce(max(id), 0) + 1 FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(PrunePlan {
            cutoff,
            closed_before,
            item_bound: bounds.item,
            story_bound: bounds.story,
            cursor: 0,
            outbox_cursor,
            outbox_bound,
        })
    }

    /// One batch of a pass: the stories in the next id window that may go, or once they are
    /// done the deliveries, deleted (or only counted when `dry_run`). Returns what it found and
    /// whether the pass is over; the plan's cursors move on.
    pub fn prune_batch(
        &mut self,
        plan: &mut PrunePlan,
        dry_run: bool,
    ) -> Result<(PruneReport, bool)> {
        if plan.cursor < plan.story_bound {
            let (report, stories_done) = self.story_batch(plan, dry_run)?;
            return Ok((
                report,
                stories_done && plan.outbox_cursor >= plan.outbox_bound,
            ));
        }
        if plan.outbox_cursor < plan.outbox_bound {
            let report = self.delivery_batch(plan, dry_run)?;
            return Ok((report, plan.outbox_cursor >= plan.outbox_bound));
        }
        Ok((PruneReport::default(), true))
    }

    /// The outbox rows in the next id window that are done with and older than the cutoff.
    fn delivery_batch(&mut self, plan: &mut PrunePlan, dry_run: bool) -> Result<PruneReport> {
        let end = (plan.outbox_cursor + BATCH_DELIVERIES).min(plan.outbox_bound);
        let behavior = if dry_run {
            rusqlite::TransactionBehavior::Deferred
        } else {
            rusqlite::TransactionBehavior::Immediate
        };
        let tx = self.conn.transaction_with_behavior(behavior)?;
        let done_with = "id >= ?1 AND id < ?2 AND (
               (state = 'sent' AND sent_at < ?3)
               OR (state = 'dead' AND coalesce(last_at, created_at) < ?3)
               OR (state = 'digested' AND created_at < ?3
                   AND NOT EXISTS (SELECT 1 FROM outbox d WHERE d.id = outbox.digest_id
                                   AND d.state IN ('pending', 'failed', 'held'))))";
        let cutoff_ms = plan.cutoff.saturating_mul(1000);
        let n = if dry_run {
            tx.prepare_cached(&format!("SELECT count(*) FROM outbox WHERE {done_with}"))?
                .query_row(params![plan.outbox_cursor, end, cutoff_ms], |r| {
                    r.get::<_, i64>(0)
                })? as usize
        } else {
            let n = tx
                .prepare_cached(&format!("DELETE FROM outbox WHERE {done_with}"))?
                .execute(params![plan.outbox_cursor, end, cutoff_ms])?;
            tx.commit()?;
            n
        };
        plan.outbox_cursor = end;
        Ok(PruneReport {
            deliveries: n as u64,
            ..PruneReport::default()
        })
    }

    fn story_batch(&mut self, plan: &mut PrunePlan, dry_run: bool) -> Result<(PruneReport, bool)> {
        // The index may have read older stories back since the plan was made.
        let closed_before = match self.stories.covered_from() {
            Some(from) => plan.closed_before.min(from),
            None => plan.closed_before,
        };
        let end = (plan.cursor + BATCH_STORIES).min(plan.story_bound);
        let behavior = if dry_run {
            rusqlite::TransactionBehavior::Deferred
        } else {
            rusqlite::TransactionBehavior::Immediate
        };
        let tx = self.conn.transaction_with_behavior(behavior)?;
        let ids: Vec<i64> = tx
            .prepare_cached(
                "SELECT st.id FROM stories st
                 WHERE st.id >= ?1 AND st.id < ?2 AND st.last_at < ?3
                   AND NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = st.id AND (i.id >= ?4 OR i.first_seen_at >= ?5))
                   AND NOT EXISTS (SELECT 1 FROM items i JOIN sightings s ON s.item_id = i.id JOIN feeds f ON f.id = s.feed_id
                                   WHERE i.story_id = st.id
                                     AND (coalesce(s.last_seen_at, s.first_seen_at) >= ?5
                                          OR (f.last_success_at >= ?5
                                              AND (f.last_document_at IS NULL
                                                   OR coalesce(s.last_seen_at, s.first_seen_at) >= f.last_document_at - ?6))))",
            )?
            .query_map(
                params![
                    plan.cursor,
                    end,
                    closed_before,
                    plan.item_bound,
                    plan.cutoff,
                    LISTED_SLACK_SECS
                ],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        plan.cursor = end;
        let done = end >= plan.story_bound;
        if ids.is_empty() {
            return Ok((PruneReport::default(), done));
        }
        let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        let report = count(&tx, &list)?;
        if !dry_run {
            delete(&tx, &list)?;
            tx.commit()?;
        }
        Ok((report, done))
    }

    /// A whole pass in this process (`newshound prune`): batch after batch, then (unless
    /// `dry_run`) the incremental vacuum. The daemon runs the same batches through its writer.
    pub fn prune(
        &mut self,
        keep: std::time::Duration,
        window: i64,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<(PrunePlan, PruneReport)> {
        let mut plan = self.prune_plan(keep, window, now)?;
        let first = plan;
        let mut total = PruneReport::default();
        loop {
            let (report, done) = self.prune_batch(&mut plan, dry_run)?;
            total.add(&report);
            if done {
                break;
            }
        }
        if !dry_run {
            for _ in 0..100_000 {
                if self.vacuum_step()? == 0 {
                    break;
                }
            }
        }
        Ok((first, total))
    }

    /// Gives up to `VACUUM_PAGES` free pages back to the file system; the number of free
    /// pages left (0 when the database does not use incremental vacuum: see
    /// [`Store::incremental_vacuum_enabled`]).
    pub fn vacuum_step(&mut self) -> Result<i64> {
        if !self.incremental_vacuum_enabled()? {
            return Ok(0);
        }
        self.conn
            .execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
        Ok(self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))?)
    }

    /// Databases created before retention existed do not shrink (their free pages are reused).
    pub fn incremental_vacuum_enabled(&self) -> Result<bool> {
        let mode: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
        Ok(mode == 2)
    }

    /// The database's pages and free pages, and its page size: for `prune`'s report.
    pub fn page_counts(&self) -> Result<(i64, i64, i64)> {
        let get = |p: &str| -> rusqlite::Result<i64> {
            self.conn.pragma_query_value(None, p, |r| r.get(0))
        };
        Ok((
            get("page_count")?,
            get("freelist_count")?,
            get("page_size")?,
        ))
    }
}

/// Ids above every item and story written before `t`: those of the first hourly mark after
/// `t`'s hour, else the next ids. (Items written in `t`'s hour after `t` are told apart by
/// their `first_seen_at`.)
fn ids_before(conn: &Connection, t: i64) -> rusqlite::Result<NextIds> {
    use rusqlite::OptionalExtension;
    let marked = conn
        .prepare_cached(
            "SELECT item_id, story_id FROM id_marks WHERE hour > ?1 ORDER BY hour LIMIT 1",
        )?
        .query_row(params![t.div_euclid(3600)], |r| {
            Ok(NextIds {
                item: r.get(0)?,
                story: r.get(1)?,
            })
        })
        .optional()?;
    match marked {
        Some(ids) => Ok(ids),
        None => conn.query_row(
            "SELECT (SELECT coalesce(max(id), 0) + 1 FROM items), (SELECT coalesce(max(id), 0) + 1 FROM stories)",
            [],
            |r| {
                Ok(NextIds {
                    item: r.get(0)?,
                    story: r.get(1)?,
                })
            },
        ),
    }
}

/// What deleting the stories in `list` (a JSON array of ids) deletes.
fn count(tx: &Connection, list: &str) -> rusqlite::Result<PruneReport> {
    tx.prepare_cached(
        "WITH st(id) AS (SELECT value FROM json_each(?1)),
              it(id) AS (SELECT i.id FROM items i JOIN st ON i.story_id = st.id)
         SELECT (SELECT count(*) FROM st), (SELECT count(*) FROM it),
                (SELECT count(*) FROM sightings s JOIN it ON s.item_id = it.id),
                (SELECT count(*) FROM item_features f JOIN it ON f.item_id = it.id),
                (SELECT count(*) FROM alerts a JOIN it ON a.item_id = it.id)",
    )?
    .query_row(params![list], |r| {
        let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
        Ok(PruneReport {
            stories: n(0)?,
            items: n(1)?,
            sightings: n(2)?,
            features: n(3)?,
            alerts: n(4)?,
            deliveries: 0,
        })
    })
}

/// Deletes the stories in `list` with everything of their items (sightings, features and
/// alerts by their foreign keys' cascades; search rows by hand: FTS5 has no foreign keys).
fn delete(tx: &Connection, list: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "DELETE FROM items_fts WHERE rowid IN (SELECT i.id FROM items i WHERE i.story_id IN (SELECT value FROM json_each(?1)))",
    )?
    .execute(params![list])?;
    tx.prepare_cached("DELETE FROM items WHERE story_id IN (SELECT value FROM json_each(?1))")?
        .execute(params![list])?;
    tx.prepare_cached("DELETE FROM stories WHERE id IN (SELECT value FROM json_each(?1))")?
        .execute(params![list])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{
        DeliveryUpdate, IngestPolicy, MatchedItem, PollOutcome, PollRecord, spawn_writer,
    };
    use super::*;
    use crate::config::Synchronous;
    use crate::model::{Item, ItemKey, stable_hash};

    fn poll(feed: &str, titles: &[String]) -> PollRecord {
        let items = titles
            .iter()
            .map(|t| {
                let url = format!("https://{feed}.example/{}", stable_hash(&[t]));
                let item = Item {
                    key: ItemKey::Guid(url.clone()),
                    url_key: Some(crate::stories::url_key(&url::Url::parse(&url).unwrap())),
                    url: Some(url.clone()),
                    canonical_url: Some(url),
                    title: t.clone(),
                    summary: String::new(),
                    content: None,
                    published: Some(Utc::now()),
                    updated: None,
                    authors: vec![],
                    categories: vec![],
                    content_hash: stable_hash(&[t]),
                };
                MatchedItem {
                    features: crate::stories::features(&item.title, &item.summary),
                    item,
                    matches: vec![],
                }
            })
            .collect();
        PollRecord {
            feed: feed.into(),
            url: format!("https://{feed}.example/rss"),
            at: Utc::now(),
            outcome: PollOutcome::Fetched {
                status: 200,
                permanent_redirect: None,
                title: None,
                items,
                warning: None,
            },
            facts: Default::default(),
        }
    }

    #[test]
    fn a_pass_through_the_writer_deletes_every_old_closed_story_batch_by_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            Store::open_with(&dir.path().join("t.db"), Synchronous::Normal, true).unwrap();
        let policy = IngestPolicy {
            search: true,
            ..IngestPolicy::default()
        };
        // More stories than one batch looks at; words no two items share, so each is a story.
        let old: Vec<String> = (0..(BATCH_STORIES * 2 + 37))
            .map(|n| format!("qa{n}x qb{n}y qc{n}z"))
            .collect();
        store.record_poll(&poll("old", &old), policy).unwrap();
        // As if stored 400 days ago.
        let d = 400 * 86_400;
        store
            .conn
            .execute_batch(&format!(
                "UPDATE items SET first_seen_at = first_seen_at - {d}, published_at = published_at - {d};
                 UPDATE sightings SET first_seen_at = first_seen_at - {d};
                 UPDATE stories SET started_at = started_at - {d}, last_at = last_at - {d};
                 UPDATE id_marks SET hour = hour - {};",
                d / 3600
            ))
            .unwrap();
        store.stories.invalidate();
        store
            .record_poll(&poll("fresh", &["today's news".to_owned()]), policy)
            .unwrap();
        let (handle, writer) = spawn_writer(store, policy);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let keep = std::time::Duration::from_secs(180 * 86_400);
        let (dry, done) = rt.block_on(async {
            let dry = handle.prune(keep, true).await.unwrap();
            let done = handle.prune(keep, false).await.unwrap();
            (dry, done)
        });
        assert_eq!(dry, done);
        assert_eq!(done.stories, old.len() as u64);
        // A URL-shaped GUID is two sightings: as published, and by its path.
        assert_eq!(
            (done.items, done.sightings, done.features),
            (done.stories, 2 * done.stories, done.stories)
        );
        let again = rt.block_on(handle.prune(keep, false)).unwrap();
        assert_eq!(again, PruneReport::default());
        drop(handle);
        writer.join().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Synchronous::Normal).unwrap();
        assert_eq!(store.counts().unwrap(), (1, 2, 0));
        assert_eq!(store.integrity_check().unwrap(), "ok");
        assert!(store.incremental_vacuum_enabled().unwrap());
    }

    /// Retention deletes what the outbox is done with (sent, dead, before the cutoff) and
    /// keeps what is still to go out, however old; those still go out whole after their alert,
    /// item and story were deleted, since their bodies are frozen (`alert_id` has no foreign
    /// key): a digest made afterwards carries every held alert too.
    #[test]
    fn pruning_keeps_waiting_deliveries_whole_and_deletes_those_done_with() {
        use crate::config::{DigestGroup, Schedule, test_sink};
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            Store::open_with(&dir.path().join("t.db"), Synchronous::Normal, true).unwrap();
        let mut daily = test_sink("daily");
        daily.digest = Some(Schedule::Hourly);
        store.set_outbox_routes(super::super::OutboxRoutes::new(&[test_sink("hook"), daily]));
        let titles: Vec<String> = (0..4).map(|n| format!("summit qa{n}x qb{n}y")).collect();
        let mut rec = poll("old", &titles);
        if let PollOutcome::Fetched { items, .. } = &mut rec.outcome {
            for m in items.iter_mut() {
                m.matches = vec![crate::store::AlertCandidate {
                    topic: "summit".into(),
                    query_index: 0,
                    terms: vec!["summit".into()],
                    field: "title".into(),
                    snippet: m.item.title.clone(),
                }];
            }
        }
        let policy = IngestPolicy {
            search: true,
            ..IngestPolicy::default()
        };
        store.record_poll(&rec, policy).unwrap();
        let d = 400 * 86_400;
        store
            .conn
            .execute_batch(&format!(
                "UPDATE items SET first_seen_at = first_seen_at - {d}, published_at = published_at - {d};
                 UPDATE sightings SET first_seen_at = first_seen_at - {d};
                 UPDATE stories SET started_at = started_at - {d}, last_at = last_at - {d};
                 UPDATE id_marks SET hour = hour - {};
                 UPDATE outbox SET created_at = created_at - {d}000, retry_since = retry_since - {d}000,
                                   next_at = next_at - {d}000;",
                d / 3600
            ))
            .unwrap();
        store.stories.invalidate();
        store
            .record_poll(&poll("fresh", &["today's news".to_owned()]), policy)
            .unwrap();
        let now = Utc::now().timestamp_millis();
        let old = now - d * 1000;
        let (hook, _) = store.outbox_due("hook", now, 10, &[]).unwrap();
        assert_eq!(hook.len(), 4);
        for u in [
            DeliveryUpdate::Sent {
                id: hook[0].id,
                at: old,
            },
            DeliveryUpdate::Dead {
                id: hook[1].id,
                at: old,
                error: "HTTP 400".into(),
            },
            DeliveryUpdate::Sent {
                id: hook[2].id,
                at: now - 600_000,
            },
        ] {
            store.outbox_update(&u).unwrap();
        }
        let waiting = hook[3].clone();

        let keep = std::time::Duration::from_secs(180 * 86_400);
        let window = policy.story_window.as_secs() as i64;
        let (_, dry) = store.prune(keep, window, Utc::now(), true).unwrap();
        let (_, done) = store.prune(keep, window, Utc::now(), false).unwrap();
        assert_eq!(dry, done);
        assert_eq!((done.stories, done.alerts), (4, 4), "{done:?}");
        assert_eq!(done.deliveries, 2, "the old sent one and the dead one");
        let alerts: i64 = store
            .conn
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(alerts, 0);

        // The waiting delivery is due still, its body as queued.
        let (due, _) = store.outbox_due("hook", now, 10, &[]).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].id, &due[0].payload), (waiting.id, &waiting.payload));
        let body: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
        assert!(body["title"].as_str().unwrap().starts_with("summit qa"));
        assert_eq!(body["sources"], serde_json::json!(["old"]));
        // The held ones make a whole digest.
        let all = DigestGroup {
            topic: String::new(),
            except: vec![],
        };
        let id = store
            .outbox_digest("daily", &all, now, true)
            .unwrap()
            .unwrap();
        let (due, _) = store.outbox_due("daily", now, 10, &[]).unwrap();
        assert_eq!(due[0].id, id);
        let digest: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
        assert_eq!(digest["count"], 4);
        assert!(
            digest["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["title"].as_str().unwrap().starts_with("summit qa"))
        );

        // Once sent and old, the digest and the alerts folded into it go too.
        store
            .outbox_update(&DeliveryUpdate::Sent { id, at: old })
            .unwrap();
        store
            .conn
            .execute_batch(&format!(
                "UPDATE outbox SET created_at = created_at - {d}000 WHERE sink = 'daily'"
            ))
            .unwrap();
        let (_, again) = store.prune(keep, window, Utc::now(), false).unwrap();
        assert_eq!(again.deliveries, 5, "{again:?}");
        let left: Vec<String> = store
            .outbox_list(None, None, 100)
            .unwrap()
            .into_iter()
            .map(|r| r.state)
            .collect();
        assert_eq!(left, ["pending", "sent"], "newest first");
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }
}
