//! Committing polls on PostgreSQL: the group commit under the store lock, and the statements of
//! a poll's writes ([`DedupDb`], [`IngestDb`], [`StoryDb`]) in PostgreSQL's dialect. What they
//! decide is written once for both backends (`store::dedup`, `store::record`, `store::story_index`).

use chrono::Utc;

use super::{PgStore, STORE_LOCK, Tx};
use crate::model::Item;
use crate::store::dedup::{DedupDb, NewRow, Sighting};
use crate::store::facts::fact_columns;
use crate::store::ingest::{NextIds, join_list};
use crate::store::read::parse_list;
use crate::store::record::{AlertRow, FeedRow, IngestDb, record_in};
use crate::store::story_db::{StoredMember, StoryDb};
use crate::store::{
    Activity, FeedFacts, IngestPolicy, NewAlert, OutboxRoutes, PollRecord, PollSummary, Result,
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
        // Taken out for the transaction (which borrows the store), put back after it.
        let routes = std::mem::take(&mut self.routes);
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
                    let r = record_in(&mut tx, rec, policy, &mut stories, &routes);
                    match &r {
                        Ok(_) => tx.tx.batch_execute("RELEASE SAVEPOINT poll")?,
                        Err(_) => tx
                            .tx
                            .batch_execute("ROLLBACK TO SAVEPOINT poll; RELEASE SAVEPOINT poll")?,
                    }
                    r
                } else {
                    record_in(&mut tx, rec, policy, &mut stories, &routes)
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
        self.routes = routes;
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

/// A feed's facts from a row, its [`fact_columns!`] from `first` on (as SQLite's `facts_at`).
pub(super) fn facts_at(r: &postgres::Row, first: usize) -> FeedFacts {
    let u32_of = |v: Option<i64>| v.map(|v| v.clamp(0, i64::from(u32::MAX)) as u32);
    FeedFacts {
        etag: r.get(first),
        last_modified: r.get(first + 1),
        ttl_minutes: u32_of(r.get(first + 2)),
        skip_hours: parse_list(r.get(first + 3)),
        skip_days: parse_list(r.get(first + 4)),
        consecutive_failures: u32_of(r.get(first + 5)).unwrap_or(0),
        dead_since: from_ts(r.get(first + 6)),
        activity: Activity {
            items_7d: u32_of(r.get(first + 7)).unwrap_or(0),
            oldest_7d: from_ts(r.get(first + 8)),
        },
        cache: Default::default(),
    }
}

/// A poll's other statements: the feed's row, redirects, activity, alerts.
impl IngestDb for Tx<'_> {
    fn feed_row(&mut self, name: &str, url: &str) -> PgResult<FeedRow> {
        self.exec(
            "INSERT INTO feeds (name, url) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &url],
        )?;
        let row = self.one(
            concat!(
                "SELECT id, url, last_success_at, ",
                fact_columns!(),
                " FROM feeds WHERE name = $1"
            ),
            &[&name],
        )?;
        Ok(FeedRow {
            id: row.get(0),
            url: row.get(1),
            last_success: row.get(2),
            facts: facts_at(&row, 3),
        })
    }

    fn repoint_feed(&mut self, feed: i64, url: &str) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET url = $2, redirect_url = NULL, redirect_seen = 0, adopted_url = NULL WHERE id = $1",
            &[&feed, &url],
        )?;
        Ok(())
    }

    fn fetched(
        &mut self,
        feed: i64,
        at: i64,
        status: u16,
        title: Option<&str>,
        warning: Option<&str>,
    ) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET last_fetch_at = $2, last_success_at = $2, last_document_at = $2, last_status = $3,
                last_error = $5::text, last_error_class = CASE WHEN $5::text IS NULL THEN NULL ELSE 'warning' END,
                title = coalesce($4, title) WHERE id = $1",
            &[&feed, &at, &i64::from(status), &title, &warning],
        )?;
        Ok(())
    }

    fn not_modified(&mut self, feed: i64, at: i64, status: u16) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET last_fetch_at = $2, last_success_at = $2, last_status = $3, last_error = NULL,
                last_error_class = NULL WHERE id = $1",
            &[&feed, &at, &i64::from(status)],
        )?;
        Ok(())
    }

    fn failed(
        &mut self,
        feed: i64,
        at: i64,
        status: Option<u16>,
        message: &str,
        class: &str,
    ) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET last_fetch_at = $2, last_status = $3, last_error = $4, last_error_class = $5 WHERE id = $1",
            &[&feed, &at, &status.map(i64::from), &message, &class],
        )?;
        Ok(())
    }

    fn write_facts(&mut self, feed: i64, f: &FeedFacts) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET (etag, last_modified, ttl_minutes, skip_hours, skip_days, consecutive_failures, dead_since,
                activity_items, activity_oldest) = ($2, $3, $4, $5, $6, $7, $8, $9, $10) WHERE id = $1",
            &[
                &feed,
                &f.etag,
                &f.last_modified,
                &f.ttl_minutes.map(i64::from),
                &join_list(&f.skip_hours),
                &join_list(&f.skip_days),
                &i64::from(f.consecutive_failures),
                &f.dead_since.map(ts),
                &i64::from(f.activity.items_7d),
                &f.activity.oldest_7d.map(ts),
            ],
        )?;
        Ok(())
    }

    fn clear_redirect(&mut self, feed: i64) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET redirect_url = NULL, redirect_seen = 0 WHERE id = $1",
            &[&feed],
        )?;
        Ok(())
    }

    fn count_redirect(&mut self, feed: i64, target: &str) -> PgResult<(u32, Option<String>)> {
        self.exec(
            "UPDATE feeds SET redirect_seen = CASE WHEN redirect_url = $2 THEN redirect_seen + 1 ELSE 1 END, redirect_url = $2 WHERE id = $1",
            &[&feed, &target],
        )?;
        let r = self.one(
            "SELECT redirect_seen, adopted_url FROM feeds WHERE id = $1",
            &[&feed],
        )?;
        let seen: i64 = r.get(0);
        Ok((seen.clamp(0, i64::from(u32::MAX)) as u32, r.get(1)))
    }

    fn adopt_redirect(&mut self, feed: i64, target: &str) -> PgResult<()> {
        self.exec(
            "UPDATE feeds SET adopted_url = $2, redirect_url = NULL, redirect_seen = 0 WHERE id = $1",
            &[&feed, &target],
        )?;
        Ok(())
    }

    fn ids_since(&mut self, t: i64) -> PgResult<NextIds> {
        ids_since(self, t)
    }

    fn activity(&mut self, feed: i64, since: i64, first_item: i64) -> PgResult<Activity> {
        let r = self.one(
            "SELECT count(*), min(coalesce(i.published_at, i.first_seen_at)) FROM sightings s JOIN items i ON i.id = s.item_id
             WHERE s.feed_id = $1 AND s.item_id >= $3 AND coalesce(i.published_at, i.first_seen_at) >= $2
               AND (i.published_at IS NOT NULL OR s.first_seen_at > (SELECT min(first_seen_at) FROM sightings WHERE feed_id = $1 AND item_id >= $3))",
            &[&feed, &since, &first_item],
        )?;
        Ok(Activity {
            items_7d: r.get::<_, i64>(0).max(0) as u32,
            oldest_7d: from_ts(r.get(1)),
        })
    }

    fn sightings_of(&mut self, feed: i64) -> PgResult<i64> {
        Ok(self
            .one(
                "SELECT count(*) FROM sightings WHERE feed_id = $1",
                &[&feed],
            )?
            .get(0))
    }

    fn story_of(&mut self, item: i64) -> PgResult<i64> {
        Ok(self
            .one("SELECT story_id FROM items WHERE id = $1", &[&item])?
            .get(0))
    }

    fn alerted_in_story(&mut self, topic: &str, story: i64, except: i64) -> PgResult<Vec<i64>> {
        Ok(self
            .all(
                "SELECT a.item_id FROM items i JOIN alerts a ON a.item_id = i.id AND a.topic = $1
                 WHERE i.story_id = $2 AND i.id != $3",
                &[&topic, &story, &except],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn insert_alert(&mut self, a: &AlertRow<'_>) -> PgResult<Option<i64>> {
        Ok(self
            .opt(
                "INSERT INTO alerts (topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (topic, item_id) DO NOTHING RETURNING id",
                &[
                    &a.m.topic,
                    &a.item,
                    &a.story,
                    &a.feed,
                    &(a.m.query_index as i64),
                    &a.terms,
                    &a.m.snippet,
                    &a.m.field,
                    &a.at,
                ],
            )?
            .map(|r| r.get(0)))
    }

    fn story_sources(&mut self, story: i64) -> PgResult<i64> {
        Ok(self
            .one(
                "SELECT count(DISTINCT s.feed_id) FROM items i JOIN sightings s ON s.item_id = i.id WHERE i.story_id = $1",
                &[&story],
            )?
            .get(0))
    }

    fn enqueue(&mut self, routes: &OutboxRoutes, alert: &NewAlert, now_ms: i64) -> Result<usize> {
        super::outbox::enqueue(self, routes, alert, now_ms)
    }
}

const SIGHTING: &str = "INSERT INTO sightings (feed_id, item_key, item_id, first_seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// Dedup's statements, in PostgreSQL's dialect.
impl DedupDb for Tx<'_> {
    fn sighting(&mut self, feed: i64, key: &str) -> PgResult<Option<Sighting>> {
        Ok(self
            .opt(
                "SELECT s.item_id, i.content_hash, coalesce(s.last_seen_at, s.first_seen_at) FROM sightings s JOIN items i ON i.id = s.item_id
                 WHERE s.feed_id = $1 AND s.item_key = $2",
                &[&feed, &key],
            )?
            .map(|r| Sighting {
                item: r.get(0),
                content_hash: r.get(1),
                last_seen: r.get(2),
            }))
    }

    fn insert_sighting(&mut self, feed: i64, key: &str, item: i64, at: i64) -> PgResult<()> {
        self.exec(SIGHTING, &[&feed, &key, &item, &at])?;
        Ok(())
    }

    fn touch_sighting(&mut self, feed: i64, key: &str, at: i64) -> PgResult<()> {
        self.exec(
            "UPDATE sightings SET last_seen_at = $3 WHERE feed_id = $1 AND item_key = $2",
            &[&feed, &key, &at],
        )?;
        Ok(())
    }

    fn update_item(&mut self, id: i64, item: &Item, hash: i64, at: i64) -> PgResult<()> {
        self.exec(
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
        Ok(())
    }

    fn item_by_url_key(&mut self, url_hash: i64, url_key: &str) -> PgResult<Option<i64>> {
        Ok(self
            .opt(
                "SELECT id FROM items WHERE url_hash = $1 AND url_key = $2",
                &[&url_hash, &url_key],
            )?
            .map(|r| r.get(0)))
    }

    fn item_by_hash(&mut self, hash: i64) -> PgResult<Option<i64>> {
        Ok(self
            .opt(
                "SELECT id FROM items WHERE canonical_url IS NULL AND content_hash = $1 LIMIT 1",
                &[&hash],
            )?
            .map(|r| r.get(0)))
    }

    fn insert_item(&mut self, row: &NewRow<'_>) -> PgResult<()> {
        let item = row.item;
        self.exec(
            "INSERT INTO items (id, canonical_url, url_key, url_hash, content_hash, title, summary, content, url, published_at,
                                updated_at, first_seen_at, authors, categories, first_feed_id, story_id, join_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            &[
                &row.id,
                &item.canonical_url,
                &item.url_key,
                &row.url_hash,
                &row.content_hash,
                &item.title,
                &item.summary,
                &item.content,
                &item.url,
                &item.published.map(ts),
                &item.updated.map(ts),
                &row.at,
                &serde_json::to_string(&item.authors).unwrap_or_else(|_| "[]".into()),
                &serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
                &row.feed,
                &row.story,
                &row.join_reason,
            ],
        )?;
        Ok(())
    }

    fn insert_features(&mut self, id: i64, features: &[u8]) -> PgResult<()> {
        self.exec(
            "INSERT INTO item_features (item_id, features) VALUES ($1, $2)",
            &[&id, &features],
        )?;
        Ok(())
    }

    /// An upsert: the same statement whether or not the item is indexed already.
    fn index_item(&mut self, id: i64, title: &str, summary: &str, _replace: bool) -> PgResult<()> {
        super::search::index_item(self, id, title, summary)
    }
}
