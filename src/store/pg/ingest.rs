//! Committing polls on PostgreSQL: the same group commit, dedup, story and alert rules as SQLite's
//! (`store::ingest`, `store::dedup`), in PostgreSQL's dialect, under the store lock.

use chrono::{DateTime, Utc};
use rustc_hash::FxHashSet;

use super::{PgStore, STORE_LOCK, Tx};
use crate::model::{ItemKey, stable_hash};
use crate::store::dedup::{SEEN_AGAIN_SECS, url_hash};
use crate::store::ingest::{
    ADOPT_REDIRECT_AFTER, NextIds, join_list, rotation_suspected, suppressed,
};
use crate::store::story_db::{StoredMember, StoryDb};
use crate::store::story_index::{self, NewItem, StoryIndex};
use crate::store::{
    Activity, IngestPolicy, MatchedItem, NewAlert, PollOutcome, PollRecord, PollSummary, Result,
    StoreError, from_ts, ts,
};

type PgResult<T> = std::result::Result<T, postgres::Error>;

/// The story index's reads and writes, in PostgreSQL's dialect.
impl StoryDb for Tx<'_> {
    type Error = postgres::Error;

    fn newest_story(&mut self) -> PgResult<Option<i64>> {
        Ok(self.one("SELECT max(last_at) FROM stories", &[])?.get(0))
    }

    fn story_members(
        &mut self,
        lo: i64,
        hi: i64,
        each: &mut dyn FnMut(StoredMember<'_>),
    ) -> PgResult<()> {
        let rows = self.all(
            "SELECT i.id, least(coalesce(i.published_at, i.updated_at, i.first_seen_at), i.first_seen_at), i.first_feed_id,
                    i.url_key, i.content_hash, i.story_id, f.features
             FROM stories st JOIN items i ON i.story_id = st.id JOIN item_features f ON f.item_id = i.id
             WHERE st.last_at >= $1 AND st.started_at < $2",
            &[&lo, &hi],
        )?;
        for r in rows {
            each(StoredMember {
                id: r.get(0),
                at: r.get(1),
                first_feed: r.get(2),
                url_key: r.get(3),
                content_hash: r.get(4),
                story: r.get(5),
                features: r.get(6),
            });
        }
        Ok(())
    }

    fn write_story(
        &mut self,
        story: i64,
        headline: i64,
        started_at: i64,
        last_at: i64,
        items: i64,
    ) -> PgResult<()> {
        self.exec(
            "INSERT INTO stories (id, headline_item_id, started_at, last_at, items) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET headline_item_id = $2, started_at = $3, last_at = $4, items = $5",
            &[&story, &headline, &started_at, &last_at, &items],
        )?;
        Ok(())
    }

    fn move_item(&mut self, item: i64, story: i64, reason: &str) -> PgResult<()> {
        self.exec(
            "UPDATE items SET story_id = $2, join_reason = $3 WHERE id = $1",
            &[&item, &story, &reason],
        )?;
        Ok(())
    }

    fn delete_story(&mut self, story: i64) -> PgResult<()> {
        self.exec("DELETE FROM stories WHERE id = $1", &[&story])?;
        Ok(())
    }

    fn story_row(&mut self, story: i64) -> PgResult<(i64, i64, i64, i64)> {
        let r = self.one(
            "SELECT headline_item_id, started_at, last_at, items FROM stories WHERE id = $1",
            &[&story],
        )?;
        Ok((r.get(0), r.get(1), r.get(2), r.get(3)))
    }
}

/// The first item and story ids that can have been written at or after `t`.
pub(super) fn ids_since(tx: &mut Tx<'_>, t: i64) -> PgResult<NextIds> {
    Ok(tx
        .opt(
            "SELECT item_id, story_id FROM id_marks WHERE hour <= $1 ORDER BY hour DESC LIMIT 1",
            &[&t.div_euclid(3600)],
        )?
        .map(|r| NextIds {
            item: r.get(0),
            story: r.get(1),
        })
        .unwrap_or_default())
}

impl PgStore {
    /// Commits several polls in one transaction (group commit), as [`crate::store::Store::record_polls`]:
    /// without savepoints first; when a poll fails, again with one savepoint per poll, so it is
    /// rolled back alone and reported.
    pub fn record_polls(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
    ) -> Vec<Result<PollSummary>> {
        self.record_batch(recs, policy, false)
    }

    fn record_batch(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
        savepoints: bool,
    ) -> Vec<Result<PollSummary>> {
        let all_fail = |e: &StoreError| {
            recs.iter()
                .map(|_| Err(StoreError::Shared(e.to_string())))
                .collect::<Vec<_>>()
        };
        let mut stories = std::mem::take(&mut self.stories);
        let known = self.generation;
        let routes_empty = self.routes.is_empty();
        if !routes_empty {
            tracing::warn!("sinks are not supported on PostgreSQL yet; no deliveries queued");
        }
        let attempt = (|| -> Result<(Vec<Result<PollSummary>>, i64, bool)> {
            let mut tx = self.begin()?;
            // The store lock: one writer at a time across daemons, from here to COMMIT. Every
            // statement after it sees what the others committed before (READ COMMITTED).
            tx.exec("SELECT pg_advisory_xact_lock($1)", &[&STORE_LOCK])?;
            let generation: i64 = tx
                .one(
                    "UPDATE generation SET n = n + 1 WHERE id = 1 RETURNING n",
                    &[],
                )?
                .get(0);
            if generation != known + 1 {
                // Another daemon wrote since this one last did (or this one never did): its
                // items and the stories it changed are read again, lazily, from the database.
                stories.invalidate();
            }
            let next = tx.one(
                "SELECT (SELECT coalesce(max(id), 0) + 1 FROM items), (SELECT coalesce(max(id), 0) + 1 FROM stories)",
                &[],
            )?;
            stories.next_ids = NextIds {
                item: next.get(0),
                story: next.get(1),
            };
            let t = recs.iter().map(|r| ts(r.at)).fold(ts(Utc::now()), i64::max);
            tx.exec(
                "INSERT INTO id_marks (hour, item_id, story_id) SELECT $1, $2, $3
                 WHERE $1 > (SELECT coalesce(max(hour), -1) FROM id_marks)",
                &[
                    &t.div_euclid(3600),
                    &stories.next_ids.item,
                    &stories.next_ids.story,
                ],
            )?;
            let mut results = Vec::with_capacity(recs.len());
            for rec in recs {
                let one = if savepoints {
                    tx.tx.batch_execute("SAVEPOINT poll")?;
                    let r = record_in(&mut tx, rec, policy, &mut stories);
                    match &r {
                        Ok(_) => tx.tx.batch_execute("RELEASE SAVEPOINT poll")?,
                        Err(_) => tx
                            .tx
                            .batch_execute("ROLLBACK TO SAVEPOINT poll; RELEASE SAVEPOINT poll")?,
                    }
                    r
                } else {
                    record_in(&mut tx, rec, policy, &mut stories)
                };
                if one.is_err() && !savepoints {
                    // Rolled back when `tx` is dropped; run again with savepoints.
                    return Ok((Vec::new(), generation, true));
                }
                results.push(one);
            }
            tx.commit()?;
            Ok((results, generation, false))
        })();
        match attempt {
            Ok((results, generation, false)) => {
                self.generation = generation;
                if results.iter().any(Result::is_err) {
                    // A rolled-back savepoint may have opened stories in memory that do not exist.
                    stories.invalidate();
                }
                self.stories = stories;
                results
            }
            Ok((_, _, true)) => {
                stories.invalidate();
                self.stories = stories;
                self.record_batch(recs, policy, true)
            }
            Err(e) => {
                stories.invalidate();
                self.stories = stories;
                all_fail(&e)
            }
        }
    }
}

/// One poll's writes, inside the caller's transaction (or savepoint).
fn record_in(
    tx: &mut Tx<'_>,
    rec: &PollRecord,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
) -> Result<PollSummary> {
    tx.exec(
        "INSERT INTO feeds (name, url) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&rec.feed, &rec.url],
    )?;
    let row = tx.one(
        "SELECT id, url, last_success_at FROM feeds WHERE name = $1",
        &[&rec.feed],
    )?;
    let (feed_id, known_url, last_success): (i64, String, Option<i64>) =
        (row.get(0), row.get(1), row.get(2));
    if known_url != rec.url {
        tx.exec(
            "UPDATE feeds SET url = $2, etag = NULL, last_modified = NULL, redirect_url = NULL, redirect_seen = 0,
                    dead_since = NULL, adopted_url = NULL WHERE id = $1",
            &[&feed_id, &rec.url],
        )?;
    }
    let at = ts(rec.at);
    let mut summary = PollSummary {
        first_fetch: last_success.is_none(),
        ..PollSummary::default()
    };
    match &rec.outcome {
        PollOutcome::Fetched {
            status,
            etag,
            last_modified,
            permanent_redirect,
            title,
            ttl,
            skip_hours,
            skip_days,
            items,
            warning,
        } => {
            ingest(
                tx,
                feed_id,
                &rec.feed,
                at,
                items,
                policy,
                rec.at,
                stories,
                &mut summary,
            )?;
            tx.exec(
                "UPDATE feeds SET etag = $2, last_modified = $3, last_fetch_at = $4, last_success_at = $4, last_document_at = $4, last_status = $5,
                    last_error = $10::text, last_error_class = CASE WHEN $10::text IS NULL THEN NULL ELSE 'warning' END,
                    consecutive_failures = 0, title = coalesce($6, title),
                    ttl_minutes = $7, skip_hours = $8, skip_days = $9, dead_since = NULL WHERE id = $1",
                &[
                    &feed_id,
                    etag,
                    last_modified,
                    &at,
                    &i64::from(*status),
                    title,
                    &ttl.map(i64::from),
                    &join_list(skip_hours),
                    &join_list(skip_days),
                    warning,
                ],
            )?;
            summary.adopted = note_redirect(tx, feed_id, permanent_redirect.as_deref())?;
        }
        PollOutcome::NotModified {
            status,
            permanent_redirect,
        } => {
            tx.exec(
                "UPDATE feeds SET last_fetch_at = $2, last_success_at = $2, last_status = $3, last_error = NULL,
                    last_error_class = NULL, consecutive_failures = 0, dead_since = NULL WHERE id = $1",
                &[&feed_id, &at, &i64::from(*status)],
            )?;
            summary.adopted = note_redirect(tx, feed_id, permanent_redirect.as_deref())?;
        }
        PollOutcome::Failed {
            status,
            class,
            message,
        } => {
            let was_dead: Option<i64> = tx
                .one("SELECT dead_since FROM feeds WHERE id = $1", &[&feed_id])?
                .get(0);
            let gone = *status == Some(410);
            summary.gone = gone && was_dead.is_none();
            tx.exec(
                "UPDATE feeds SET last_fetch_at = $2, last_status = $3, last_error = $4, last_error_class = $5,
                    consecutive_failures = consecutive_failures + 1,
                    dead_since = CASE WHEN $6 THEN coalesce(dead_since, $2) ELSE dead_since END WHERE id = $1",
                &[
                    &feed_id,
                    &at,
                    &status.map(i64::from),
                    message,
                    &class.as_str(),
                    &gone,
                ],
            )?;
        }
    }
    summary.activity = if matches!(rec.outcome, PollOutcome::Fetched { .. }) {
        let a = activity(tx, feed_id, at)?;
        tx.exec(
            "UPDATE feeds SET activity_items = $2, activity_oldest = $3 WHERE id = $1",
            &[&feed_id, &i64::from(a.items_7d), &a.oldest_7d.map(ts)],
        )?;
        a
    } else {
        let r = tx.one(
            "SELECT activity_items, activity_oldest FROM feeds WHERE id = $1",
            &[&feed_id],
        )?;
        Activity {
            items_7d: r.get::<_, Option<i64>>(0).unwrap_or(0).max(0) as u32,
            oldest_7d: from_ts(r.get(1)),
        }
    };
    Ok(summary)
}

/// As SQLite's `activity`: the feed's publishing over the last 7 days.
fn activity(tx: &mut Tx<'_>, feed_id: i64, now: i64) -> PgResult<Activity> {
    let recent = ids_since(tx, now - 8 * 86_400)?.item;
    let r = tx.one(
        "SELECT count(*), min(coalesce(i.published_at, i.first_seen_at)) FROM sightings s JOIN items i ON i.id = s.item_id
         WHERE s.feed_id = $1 AND s.item_id >= $3 AND coalesce(i.published_at, i.first_seen_at) >= $2
           AND (i.published_at IS NOT NULL OR s.first_seen_at > (SELECT min(first_seen_at) FROM sightings WHERE feed_id = $1 AND item_id >= $3))",
        &[&feed_id, &(now - 7 * 86_400), &recent],
    )?;
    Ok(Activity {
        items_7d: r.get::<_, i64>(0).max(0) as u32,
        oldest_7d: from_ts(r.get(1)),
    })
}

/// As SQLite's `note_redirect`.
fn note_redirect(tx: &mut Tx<'_>, feed_id: i64, target: Option<&str>) -> PgResult<Option<String>> {
    let Some(t) = target else {
        tx.exec(
            "UPDATE feeds SET redirect_url = NULL, redirect_seen = 0 WHERE id = $1",
            &[&feed_id],
        )?;
        return Ok(None);
    };
    tx.exec(
        "UPDATE feeds SET redirect_seen = CASE WHEN redirect_url = $2 THEN redirect_seen + 1 ELSE 1 END, redirect_url = $2 WHERE id = $1",
        &[&feed_id, &t],
    )?;
    let r = tx.one(
        "SELECT redirect_seen, adopted_url FROM feeds WHERE id = $1",
        &[&feed_id],
    )?;
    let (seen, adopted): (i64, Option<String>) = (r.get(0), r.get(1));
    if seen >= i64::from(ADOPT_REDIRECT_AFTER) && adopted.as_deref() != Some(t) {
        tx.exec(
            "UPDATE feeds SET adopted_url = $2, redirect_url = NULL, redirect_seen = 0 WHERE id = $1",
            &[&feed_id, &t],
        )?;
        return Ok(Some(t.to_owned()));
    }
    Ok(None)
}

enum Seen {
    New(i64),
    Updated(i64),
    Unchanged,
    Merged,
}

#[allow(clippy::too_many_arguments)]
fn ingest(
    tx: &mut Tx<'_>,
    feed_id: i64,
    feed_name: &str,
    at: i64,
    items: &[MatchedItem],
    policy: IngestPolicy,
    now: DateTime<Utc>,
    stories: &mut StoryIndex,
    summary: &mut PollSummary,
) -> Result<()> {
    let stored_before: i64 = tx
        .one(
            "SELECT count(*) FROM sightings WHERE feed_id = $1",
            &[&feed_id],
        )?
        .get(0);
    let mut to_alert: Vec<(i64, &MatchedItem)> = Vec::new();
    let mut first_poll = (stored_before == 0).then(FxHashSet::<u64>::default);
    for mi in items {
        match upsert_item(tx, feed_id, at, mi, policy, stories, first_poll.as_mut())? {
            Seen::New(id) => {
                summary.new += 1;
                if !mi.matches.is_empty() {
                    to_alert.push((id, mi));
                }
            }
            Seen::Updated(id) => {
                summary.updated += 1;
                if !mi.matches.is_empty() {
                    to_alert.push((id, mi));
                }
            }
            Seen::Unchanged => summary.unchanged += 1,
            Seen::Merged => summary.merged += 1,
        }
    }
    summary.rotation_suspected = rotation_suspected(stored_before, summary.new, items.len());
    for (item_id, mi) in to_alert {
        if suppressed(mi, policy, now, summary) {
            summary.suppressed += mi.matches.len();
            continue;
        }
        let story_id: i64 = tx
            .one("SELECT story_id FROM items WHERE id = $1", &[&item_id])?
            .get(0);
        for m in &mi.matches {
            // Once per story where it is certain, as on SQLite: the story index decides.
            let alerted: Vec<i64> = tx
                .all(
                    "SELECT a.item_id FROM items i JOIN alerts a ON a.item_id = i.id AND a.topic = $1
                     WHERE i.story_id = $2 AND i.id != $3",
                    &[&m.topic, &story_id, &item_id],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if alerted
                .iter()
                .any(|&other| stories.confidently_same(item_id, other))
            {
                summary.also_reported.push((m.topic.clone(), story_id));
                continue;
            }
            let terms = serde_json::to_string(&m.terms).unwrap_or_else(|_| "[]".into());
            let inserted = tx.opt(
                "INSERT INTO alerts (topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (topic, item_id) DO NOTHING RETURNING id",
                &[
                    &m.topic,
                    &item_id,
                    &story_id,
                    &feed_id,
                    &(m.query_index as i64),
                    &terms,
                    &m.snippet,
                    &m.field,
                    &at,
                ],
            )?;
            let Some(row) = inserted else {
                summary.also_reported.push((m.topic.clone(), story_id));
                continue;
            };
            let sources: i64 = tx
                .one(
                    "SELECT count(DISTINCT s.feed_id) FROM items i JOIN sightings s ON s.item_id = i.id WHERE i.story_id = $1",
                    &[&story_id],
                )?
                .get(0);
            summary.alerts.push(NewAlert {
                alert_id: row.get(0),
                item_id,
                story_id,
                sources: sources.max(1) as u32,
                topic: m.topic.clone(),
                feed: feed_name.to_owned(),
                title: mi.item.title.clone(),
                url: mi.item.url.clone(),
                published: mi.item.published,
                terms: m.terms.clone(),
                field: m.field.clone(),
                snippet: m.snippet.clone(),
                query_index: m.query_index,
            });
        }
    }
    Ok(())
}

const SIGHTING: &str = "INSERT INTO sightings (feed_id, item_key, item_id, first_seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// As SQLite's `upsert_item`: this feed's key, its GUID path key, its URL key, its content hash.
fn upsert_item(
    tx: &mut Tx<'_>,
    feed_id: i64,
    at: i64,
    mi: &MatchedItem,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
    mut first_poll: Option<&mut FxHashSet<u64>>,
) -> Result<Seen> {
    let item = &mi.item;
    let key = item.key.as_stored();
    let hash = item.content_hash as i64;
    let by_key = |tx: &mut Tx<'_>, k: &str| -> PgResult<Option<(i64, i64, i64)>> {
        Ok(tx
            .opt(
                "SELECT s.item_id, i.content_hash, coalesce(s.last_seen_at, s.first_seen_at) FROM sightings s JOIN items i ON i.id = s.item_id
                 WHERE s.feed_id = $1 AND s.item_key = $2",
                &[&feed_id, &k],
            )?
            .map(|r| (r.get(0), r.get(1), r.get(2))))
    };
    let path_key = match &item.key {
        ItemKey::Guid(g) => crate::stories::guid_path_key(g).map(|p| format!("p:{p}")),
        _ => None,
    };
    let met = |seen: &FxHashSet<u64>, k: &str| seen.contains(&stable_hash(&[k]));
    let lookup = match first_poll.as_deref() {
        Some(seen) => met(seen, &key) || path_key.as_deref().is_some_and(|p| met(seen, p)),
        None => true,
    };
    let mut remember = |k: &str| {
        if let Some(seen) = first_poll.as_deref_mut() {
            seen.insert(stable_hash(&[k]));
        }
    };
    let mut known = if lookup { by_key(tx, &key)? } else { None };
    if lookup
        && known.is_none()
        && let Some(pk) = &path_key
    {
        known = by_key(tx, pk)?;
        if let Some((id, _, _)) = known {
            tx.exec(SIGHTING, &[&feed_id, &key, &id, &at])?;
            remember(&key);
        }
    }
    if let Some((id, old_hash, last_seen)) = known {
        if at - last_seen >= SEEN_AGAIN_SECS {
            tx.exec(
                "UPDATE sightings SET last_seen_at = $3 WHERE feed_id = $1 AND item_key = $2",
                &[&feed_id, &key, &at],
            )?;
        }
        if old_hash == hash {
            return Ok(Seen::Unchanged);
        }
        tx.exec(
            "UPDATE items SET title = $2, summary = $3, content = $4, content_hash = $5, updated_at = coalesce($6, updated_at),
                    changed_at = $7 WHERE id = $1",
            &[
                &id,
                &item.title,
                &item.summary,
                &item.content,
                &hash,
                &item.updated.map(ts),
                &at,
            ],
        )?;
        if policy.search {
            super::search::index_item(tx, id, &item.title, &item.summary)?;
        }
        return Ok(Seen::Updated(id));
    }
    let url_key = &item.url_key;
    let url_hash = url_key.as_deref().map(url_hash);
    let existing: Option<i64> = match (url_key, url_hash) {
        (Some(k), Some(h)) => tx
            .opt(
                "SELECT id FROM items WHERE url_hash = $1 AND url_key = $2",
                &[&h, k],
            )?
            .map(|r| r.get(0)),
        _ => tx
            .opt(
                "SELECT id FROM items WHERE canonical_url IS NULL AND content_hash = $1 LIMIT 1",
                &[&hash],
            )?
            .map(|r| r.get(0)),
    };
    if let Some(id) = existing {
        tx.exec(SIGHTING, &[&feed_id, &key, &id, &at])?;
        remember(&key);
        if let Some(pk) = &path_key {
            tx.exec(SIGHTING, &[&feed_id, pk, &id, &at])?;
            remember(pk);
        }
        return Ok(Seen::Merged);
    }
    let when = item.date().map_or(at, ts).min(at);
    let id = stories.next_ids.item;
    stories.next_ids.item += 1;
    let placed = stories.place(
        tx,
        NewItem {
            id,
            at: when,
            feed: feed_id,
            order: story_index::order_key(url_key.as_deref(), hash),
            features: &mi.features,
        },
        policy.story_window.as_secs() as i64,
        policy.story_threshold,
    )?;
    tx.exec(
        "INSERT INTO items (id, canonical_url, url_key, url_hash, content_hash, title, summary, content, url, published_at,
                            updated_at, first_seen_at, authors, categories, first_feed_id, story_id, join_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        &[
            &id,
            &item.canonical_url,
            url_key,
            &url_hash,
            &hash,
            &item.title,
            &item.summary,
            &item.content,
            &item.url,
            &item.published.map(ts),
            &item.updated.map(ts),
            &at,
            &serde_json::to_string(&item.authors).unwrap_or_else(|_| "[]".into()),
            &serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
            &feed_id,
            &placed.story,
            &placed.reason,
        ],
    )?;
    tx.exec(
        "INSERT INTO item_features (item_id, features) VALUES ($1, $2)",
        &[&id, &mi.features.to_bytes()],
    )?;
    if policy.search {
        super::search::index_item(tx, id, &item.title, &item.summary)?;
    }
    tx.exec(SIGHTING, &[&feed_id, &key, &id, &at])?;
    remember(&key);
    if let Some(pk) = &path_key {
        tx.exec(SIGHTING, &[&feed_id, pk, &id, &at])?;
        remember(pk);
    }
    Ok(Seen::New(id))
}
