//! Retention on PostgreSQL (`[storage] keep`, `newshound prune`): SQLite's rules
//! (`store/retention.rs`: whole stories, none still open, no item a feed still lists; then the
//! outbox rows done with), in PostgreSQL's dialect, made safe for several daemons:
//!
//! - **One pruner at a time.** A pass holds a session-level advisory lock ([`PRUNE_LOCK`]) from
//!   its plan to its last batch; a daemon (or `newshound prune`) that finds it taken skips its
//!   pass ([`StoreError::PruneBusy`]). The lock goes with the connection if the process dies.
//! - **Never under an ingest.** Each deleting batch takes the store lock, as every ingest
//!   transaction does, so it decides and deletes between two commits, never while another
//!   daemon's poll is half stored; and it bumps the store generation, so every daemon reads its
//!   story index again before placing its next item (none keeps a deleted story in memory).
//!
//! The space freed is PostgreSQL's autovacuum's to reuse; there is no file to shrink.

use chrono::{DateTime, Utc};

use super::{PgStore, STORE_LOCK, Tx};
use crate::store::ingest::NextIds;
use crate::store::retention::{
    BATCH_DELIVERIES, BATCH_STORIES, LISTED_SLACK_SECS, OPEN_MARGIN_SECS,
};
use crate::store::{PrunePlan, PruneReport, Result, StoreError, ts};

/// Held by the one retention pass running on the database (same namespace as the others).
const PRUNE_LOCK: i64 = super::MIGRATION_LOCK + 10;

impl PgStore {
    /// Plans a pass (see [`crate::store::Store::prune_plan`]), first taking the pruner's lock:
    /// [`StoreError::PruneBusy`] when another process holds it.
    pub fn prune_plan(
        &mut self,
        keep: std::time::Duration,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<PrunePlan> {
        if !self.pruning {
            let got: bool = self
                .auto()
                .one("SELECT pg_try_advisory_lock($1)", &[&PRUNE_LOCK])?
                .get(0);
            if !got {
                return Err(StoreError::PruneBusy);
            }
            self.pruning = true;
        }
        let plan = self.plan_locked(keep, window, now);
        if plan.is_err() {
            self.end_pruning();
        }
        plan
    }

    fn plan_locked(
        &mut self,
        keep: std::time::Duration,
        window: i64,
        now: DateTime<Utc>,
    ) -> Result<PrunePlan> {
        let cutoff = ts(now) - keep.as_secs() as i64;
        let covered_from = self.stories.covered_from();
        let mut tx = self.begin()?;
        let bounds = ids_before(&mut tx, cutoff)?;
        let newest: Option<i64> = tx.one("SELECT max(last_at) FROM stories", &[])?.get(0);
        let mut closed_before = newest.map_or(i64::MIN, |n| n - window - 86_400 - OPEN_MARGIN_SECS);
        if let Some(from) = covered_from {
            closed_before = closed_before.min(from);
        }
        let outbox = tx.one(
            "SELECT coalesce(min(id), 0), coalesce(max(id), 0) + 1 FROM outbox",
            &[],
        )?;
        Ok(PrunePlan {
            cutoff,
            closed_before,
            item_bound: bounds.item,
            story_bound: bounds.story,
            cursor: 0,
            outbox_cursor: outbox.get(0),
            outbox_bound: outbox.get(1),
        })
    }

    /// Gives the pruner's lock back (at the end of a pass, or when it failed).
    fn end_pruning(&mut self) {
        if self.pruning {
            self.pruning = false;
            if let Err(e) = self
                .auto()
                .exec("SELECT pg_advisory_unlock($1)", &[&PRUNE_LOCK])
            {
                // It goes with the connection, which has then most likely failed too.
                tracing::warn!(error = %e, "could not release the retention lock");
            }
        }
    }

    /// One batch of a pass, as [`crate::store::Store::prune_batch`]; the last one (or a failed
    /// one) gives the pruner's lock back.
    pub fn prune_batch(
        &mut self,
        plan: &mut PrunePlan,
        dry_run: bool,
    ) -> Result<(PruneReport, bool)> {
        let result = self.batch(plan, dry_run);
        if !matches!(result, Ok((_, false))) {
            self.end_pruning();
        }
        result
    }

    fn batch(&mut self, plan: &mut PrunePlan, dry_run: bool) -> Result<(PruneReport, bool)> {
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

    fn story_batch(&mut self, plan: &mut PrunePlan, dry_run: bool) -> Result<(PruneReport, bool)> {
        // This daemon's index may have read older stories back since the plan was made.
        let closed_before = match self.stories.covered_from() {
            Some(from) => plan.closed_before.min(from),
            None => plan.closed_before,
        };
        let end = (plan.cursor + BATCH_STORIES).min(plan.story_bound);
        let known = self.generation;
        let mut tx = self.begin()?;
        if !dry_run {
            tx.exec("SELECT pg_advisory_xact_lock($1)", &[&STORE_LOCK])?;
        }
        let ids: Vec<i64> = tx
            .all(
                "SELECT st.id FROM stories st
                 WHERE st.id >= $1 AND st.id < $2 AND st.last_at < $3
                   AND NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = st.id AND (i.id >= $4 OR i.first_seen_at >= $5))
                   AND NOT EXISTS (SELECT 1 FROM items i JOIN sightings s ON s.item_id = i.id JOIN feeds f ON f.id = s.feed_id
                                   WHERE i.story_id = st.id
                                     AND (coalesce(s.last_seen_at, s.first_seen_at) >= $5
                                          OR (f.last_success_at >= $5
                                              AND (f.last_document_at IS NULL
                                                   OR coalesce(s.last_seen_at, s.first_seen_at) >= f.last_document_at - $6))))",
                &[
                    &plan.cursor,
                    &end,
                    &closed_before,
                    &plan.item_bound,
                    &plan.cutoff,
                    &LISTED_SLACK_SECS,
                ],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        plan.cursor = end;
        let done = end >= plan.story_bound;
        if ids.is_empty() {
            return Ok((PruneReport::default(), done));
        }
        let report = count(&mut tx, &ids)?;
        if dry_run {
            return Ok((report, done));
        }
        let generation: i64 = tx
            .one(
                "UPDATE generation SET n = n + 1 WHERE id = 1 RETURNING n",
                &[],
            )?
            .get(0);
        // Sightings, features, alerts and search rows go by their foreign keys' cascades.
        tx.exec("DELETE FROM items WHERE story_id = ANY($1)", &[&ids])?;
        tx.exec("DELETE FROM stories WHERE id = ANY($1)", &[&ids])?;
        tx.commit()?;
        if generation != known + 1 {
            // Another daemon wrote since this one last did: as after an ingest, read again.
            self.stories.invalidate();
        }
        self.generation = generation;
        Ok((report, done))
    }

    /// The outbox rows in the next id window that are done with and older than the cutoff
    /// (the rule and its reasons: `store/retention.rs`).
    fn delivery_batch(&mut self, plan: &mut PrunePlan, dry_run: bool) -> Result<PruneReport> {
        let end = (plan.outbox_cursor + BATCH_DELIVERIES).min(plan.outbox_bound);
        let cutoff_ms = plan.cutoff.saturating_mul(1000);
        let params: [&(dyn postgres::types::ToSql + Sync); 3] =
            [&plan.outbox_cursor, &end, &cutoff_ms];
        let mut tx = self.begin()?;
        let n = if dry_run {
            tx.one(
                "SELECT count(*) FROM outbox WHERE id >= $1 AND id < $2 AND (
                   (state = 'sent' AND sent_at < $3)
                   OR (state = 'dead' AND coalesce(last_at, created_at) < $3)
                   OR (state = 'digested' AND created_at < $3
                       AND NOT EXISTS (SELECT 1 FROM outbox d WHERE d.id = outbox.digest_id
                                       AND d.state IN ('pending', 'failed', 'held'))))",
                &params,
            )?
            .get::<_, i64>(0) as u64
        } else {
            let n = tx.exec(
                "DELETE FROM outbox WHERE id >= $1 AND id < $2 AND (
                   (state = 'sent' AND sent_at < $3)
                   OR (state = 'dead' AND coalesce(last_at, created_at) < $3)
                   OR (state = 'digested' AND created_at < $3
                       AND NOT EXISTS (SELECT 1 FROM outbox d WHERE d.id = outbox.digest_id
                                       AND d.state IN ('pending', 'failed', 'held'))))",
                &params,
            )?;
            tx.commit()?;
            n
        };
        plan.outbox_cursor = end;
        Ok(PruneReport {
            deliveries: n,
            ..PruneReport::default()
        })
    }

    /// A whole pass in this process (`newshound prune`), batch after batch. Returns the plan (its
    /// cutoff) and what was deleted, or would be with `dry_run`.
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
                return Ok((first, total));
            }
        }
    }
}

/// As SQLite's `ids_before`: ids above every item and story written before `t`.
fn ids_before(tx: &mut Tx<'_>, t: i64) -> std::result::Result<NextIds, postgres::Error> {
    let marked = tx.opt(
        "SELECT item_id, story_id FROM id_marks WHERE hour > $1 ORDER BY hour LIMIT 1",
        &[&t.div_euclid(3600)],
    )?;
    let r = match marked {
        Some(r) => r,
        None => tx.one(
            "SELECT (SELECT coalesce(max(id), 0) + 1 FROM items), (SELECT coalesce(max(id), 0) + 1 FROM stories)",
            &[],
        )?,
    };
    Ok(NextIds {
        item: r.get(0),
        story: r.get(1),
    })
}

/// What deleting the stories `ids` deletes.
fn count(tx: &mut Tx<'_>, ids: &[i64]) -> std::result::Result<PruneReport, postgres::Error> {
    let r = tx.one(
        "WITH it AS (SELECT id FROM items WHERE story_id = ANY($1))
         SELECT (SELECT count(*) FROM stories WHERE id = ANY($1)), (SELECT count(*) FROM it),
                (SELECT count(*) FROM sightings s JOIN it ON s.item_id = it.id),
                (SELECT count(*) FROM item_features f JOIN it ON f.item_id = it.id),
                (SELECT count(*) FROM alerts a JOIN it ON a.item_id = it.id)",
        &[&ids],
    )?;
    let n = |i: usize| r.get::<_, i64>(i).max(0) as u64;
    Ok(PruneReport {
        stories: n(0),
        items: n(1),
        sightings: n(2),
        features: n(3),
        alerts: n(4),
        deliveries: 0,
    })
}
