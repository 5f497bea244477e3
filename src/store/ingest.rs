//! Committing polls on SQLite: group commit (a batch of polls in one transaction, savepoints
//! only after a failure), and the statements of a poll's writes ([`PollStatements`], which
//! implements [`DedupDb`] and [`IngestDb`]; what they decide is in `dedup` and `record`).

use super::facts::fact_columns;
use super::read::parse_list;
use super::record::{AlertRow, FeedRow, IngestDb, record_in};
use super::story_db::{StoredMember, StoryDb};
use super::*;

/// Counts down an injected fault; the error when it fires.
pub(super) fn take_fault(
    fault: &mut Option<(u64, rusqlite::ErrorCode)>,
) -> Option<rusqlite::Error> {
    {
        let (n, code) = (*fault)?;
        if n > 1 {
            *fault = Some((n - 1, code));
            return None;
        }
        *fault = None;
        let raw = match code {
            rusqlite::ErrorCode::DiskFull => rusqlite::ffi::SQLITE_FULL,
            rusqlite::ErrorCode::DatabaseBusy => rusqlite::ffi::SQLITE_BUSY,
            _ => rusqlite::ffi::SQLITE_IOERR,
        };
        Some(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(raw),
            Some("injected storage fault".into()),
        ))
    }
}

/// A feed's facts from a row, its [`fact_columns!`] from `first` on.
pub(super) fn facts_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<FeedFacts> {
    Ok(FeedFacts {
        etag: r.get(first)?,
        last_modified: r.get(first + 1)?,
        ttl_minutes: r.get(first + 2)?,
        skip_hours: parse_list(r.get(first + 3)?),
        skip_days: parse_list(r.get(first + 4)?),
        consecutive_failures: r.get(first + 5)?,
        dead_since: from_ts(r.get(first + 6)?),
        activity: Activity {
            items_7d: r.get::<_, Option<u32>>(first + 7)?.unwrap_or(0),
            oldest_7d: from_ts(r.get(first + 8)?),
        },
        cache: Default::default(),
    })
}

pub(super) fn join_list(xs: &[u8]) -> Option<String> {
    (!xs.is_empty()).then(|| xs.iter().map(u8::to_string).collect::<Vec<_>>().join(","))
}

pub(super) fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// The next free item and story ids, read at the start of each write transaction.
#[derive(Default, Clone, Copy)]
pub(crate) struct NextIds {
    pub(crate) item: i64,
    pub(crate) story: i64,
}

impl NextIds {
    fn reset(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        let next = |table: &str| {
            tx.query_row(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
                [],
                |r| r.get::<_, i64>(0),
            )
        };
        *self = NextIds {
            item: next("items")?,
            story: next("stories")?,
        };
        Ok(())
    }
}

/// One poll's writes on SQLite: the transaction, and dedup's statements taken from the
/// statement cache once per poll rather than once per item: each take and return costs a hash
/// of the SQL text and an allocation, which showed in a cold run's profile when done per item.
/// The rest of a poll's statements (a few per poll) go through the cache each time.
pub(super) struct PollStatements<'c> {
    tx: &'c Connection,
    sighting: rusqlite::CachedStatement<'c>,
    by_key: rusqlite::CachedStatement<'c>,
    update_item: rusqlite::CachedStatement<'c>,
    by_url_key: rusqlite::CachedStatement<'c>,
    by_hash: rusqlite::CachedStatement<'c>,
    insert_item: rusqlite::CachedStatement<'c>,
    insert_features: rusqlite::CachedStatement<'c>,
    /// The search index's statements, when it is kept.
    index: Option<(rusqlite::CachedStatement<'c>, rusqlite::CachedStatement<'c>)>,
    seen_again: rusqlite::CachedStatement<'c>,
}

impl<'c> PollStatements<'c> {
    pub(super) fn prepare(tx: &'c Connection, search: bool) -> rusqlite::Result<Self> {
        Ok(PollStatements {
            tx,
            sighting: tx.prepare_cached(
                "INSERT INTO sightings (feed_id, item_key, item_id, first_seen_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?,
            by_key: tx.prepare_cached(
                "SELECT s.item_id, i.content_hash, coalesce(s.last_seen_at, s.first_seen_at) FROM sightings s JOIN items i ON i.id = s.item_id
                 WHERE s.feed_id = ?1 AND s.item_key = ?2",
            )?,
            update_item: tx.prepare_cached(
                "UPDATE items SET title = ?2, summary = ?3, content = ?4, content_hash = ?5, updated_at = coalesce(?6, updated_at),
                        changed_at = ?7 WHERE id = ?1",
            )?,
            by_url_key: tx
                .prepare_cached("SELECT id FROM items WHERE url_hash = ?1 AND url_key = ?2")?,
            by_hash: tx.prepare_cached(
                "SELECT id FROM items WHERE canonical_url IS NULL AND content_hash = ?1 LIMIT 1",
            )?,
            insert_item: tx.prepare_cached(
                "INSERT INTO items (id, canonical_url, url_key, url_hash, content_hash, title, summary, content, url, published_at,
                                    updated_at, first_seen_at, authors, categories, first_feed_id, story_id, join_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?,
            insert_features: tx
                .prepare_cached("INSERT INTO item_features (item_id, features) VALUES (?1, ?2)")?,
            index: if search {
                Some((tx.prepare_cached(fts::INSERT)?, tx.prepare_cached(fts::DELETE)?))
            } else {
                None
            },
            seen_again: tx.prepare_cached(
                "UPDATE sightings SET last_seen_at = ?3 WHERE feed_id = ?1 AND item_key = ?2",
            )?,
        })
    }
}

/// The story index's statements: the connection's own.
impl StoryDb for PollStatements<'_> {
    type Error = rusqlite::Error;

    fn newest_story(&mut self) -> rusqlite::Result<Option<i64>> {
        self.tx.newest_story()
    }

    fn story_members(
        &mut self,
        lo: i64,
        hi: i64,
        each: &mut dyn FnMut(StoredMember<'_>),
    ) -> rusqlite::Result<()> {
        self.tx.story_members(lo, hi, each)
    }

    fn write_story(
        &mut self,
        story: i64,
        headline: i64,
        started_at: i64,
        last_at: i64,
        items: i64,
    ) -> rusqlite::Result<()> {
        self.tx
            .write_story(story, headline, started_at, last_at, items)
    }

    fn move_item(&mut self, item: i64, story: i64, reason: &str) -> rusqlite::Result<()> {
        self.tx.move_item(item, story, reason)
    }

    fn delete_story(&mut self, story: i64) -> rusqlite::Result<()> {
        self.tx.delete_story(story)
    }

    fn story_row(&mut self, story: i64) -> rusqlite::Result<(i64, i64, i64, i64)> {
        self.tx.story_row(story)
    }
}

impl DedupDb for PollStatements<'_> {
    fn sighting(&mut self, feed: i64, key: &str) -> rusqlite::Result<Option<Sighting>> {
        self.by_key
            .query_row(params![feed, key], |r| {
                Ok(Sighting {
                    item: r.get(0)?,
                    content_hash: r.get(1)?,
                    last_seen: r.get(2)?,
                })
            })
            .optional()
    }

    fn insert_sighting(
        &mut self,
        feed: i64,
        key: &str,
        item: i64,
        at: i64,
    ) -> rusqlite::Result<()> {
        self.sighting.execute(params![feed, key, item, at])?;
        Ok(())
    }

    fn touch_sighting(&mut self, feed: i64, key: &str, at: i64) -> rusqlite::Result<()> {
        self.seen_again.execute(params![feed, key, at])?;
        Ok(())
    }

    fn update_item(&mut self, id: i64, item: &Item, hash: i64, at: i64) -> rusqlite::Result<()> {
        self.update_item.execute(params![
            id,
            item.title,
            item.summary,
            item.content,
            hash,
            item.updated.map(ts),
            at
        ])?;
        Ok(())
    }

    fn item_by_url_key(&mut self, url_hash: i64, url_key: &str) -> rusqlite::Result<Option<i64>> {
        self.by_url_key
            .query_row(params![url_hash, url_key], |r| r.get(0))
            .optional()
    }

    fn item_by_hash(&mut self, hash: i64) -> rusqlite::Result<Option<i64>> {
        self.by_hash
            .query_row(params![hash], |r| r.get(0))
            .optional()
    }

    fn insert_item(&mut self, row: &NewRow<'_>) -> rusqlite::Result<()> {
        let item = row.item;
        self.insert_item.execute(params![
            row.id,
            item.canonical_url,
            item.url_key,
            row.url_hash,
            row.content_hash,
            item.title,
            item.summary,
            item.content,
            item.url,
            item.published.map(ts),
            item.updated.map(ts),
            row.at,
            serde_json::to_string(&item.authors).unwrap_or_else(|_| "[]".into()),
            serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
            row.feed,
            row.story,
            row.join_reason,
        ])?;
        Ok(())
    }

    fn insert_features(&mut self, id: i64, features: &[u8]) -> rusqlite::Result<()> {
        self.insert_features.execute(params![id, features])?;
        Ok(())
    }

    fn index_item(
        &mut self,
        id: i64,
        title: &str,
        summary: &str,
        replace: bool,
    ) -> rusqlite::Result<()> {
        if let Some((insert, delete)) = &mut self.index {
            if replace {
                delete.execute(params![id])?;
            }
            insert.execute(params![
                id,
                crate::search::index_text(title),
                crate::search::index_text(summary)
            ])?;
        }
        Ok(())
    }
}

/// A poll's other statements: the feed's row, redirects, activity, alerts.
impl IngestDb for PollStatements<'_> {
    fn feed_row(&mut self, name: &str, url: &str) -> rusqlite::Result<FeedRow> {
        self.tx.execute_cached(
            "INSERT INTO feeds (name, url) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, url],
        )?;
        self.tx.query_row_cached(
            concat!(
                "SELECT id, url, last_success_at, ",
                fact_columns!(),
                " FROM feeds WHERE name = ?1"
            ),
            params![name],
            |r| {
                Ok(FeedRow {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    last_success: r.get(2)?,
                    facts: facts_at(r, 3)?,
                })
            },
        )
    }

    fn repoint_feed(&mut self, feed: i64, url: &str) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET url = ?2, redirect_url = NULL, redirect_seen = 0, adopted_url = NULL WHERE id = ?1",
            params![feed, url],
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
    ) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET last_fetch_at = ?2, last_success_at = ?2, last_document_at = ?2, last_status = ?3,
                last_error = ?5, last_error_class = CASE WHEN ?5 IS NULL THEN NULL ELSE 'warning' END,
                title = coalesce(?4, title) WHERE id = ?1",
            params![feed, at, status, title, warning],
        )?;
        Ok(())
    }

    fn not_modified(&mut self, feed: i64, at: i64, status: u16) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET last_fetch_at = ?2, last_success_at = ?2, last_status = ?3, last_error = NULL,
                last_error_class = NULL WHERE id = ?1",
            params![feed, at, status],
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
    ) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET last_fetch_at = ?2, last_status = ?3, last_error = ?4, last_error_class = ?5 WHERE id = ?1",
            params![feed, at, status, message, class],
        )?;
        Ok(())
    }

    fn write_facts(&mut self, feed: i64, f: &FeedFacts) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET (etag, last_modified, ttl_minutes, skip_hours, skip_days, consecutive_failures, dead_since,
                activity_items, activity_oldest) = (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) WHERE id = ?1",
            params![
                feed,
                f.etag,
                f.last_modified,
                f.ttl_minutes,
                join_list(&f.skip_hours),
                join_list(&f.skip_days),
                f.consecutive_failures,
                f.dead_since.map(ts),
                f.activity.items_7d,
                f.activity.oldest_7d.map(ts)
            ],
        )?;
        Ok(())
    }

    fn clear_redirect(&mut self, feed: i64) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET redirect_url = NULL, redirect_seen = 0 WHERE id = ?1",
            params![feed],
        )?;
        Ok(())
    }

    fn count_redirect(
        &mut self,
        feed: i64,
        target: &str,
    ) -> rusqlite::Result<(u32, Option<String>)> {
        self.tx.execute_cached(
            "UPDATE feeds SET redirect_seen = CASE WHEN redirect_url = ?2 THEN redirect_seen + 1 ELSE 1 END, redirect_url = ?2 WHERE id = ?1",
            params![feed, target],
        )?;
        self.tx.query_row_cached(
            "SELECT redirect_seen, adopted_url FROM feeds WHERE id = ?1",
            params![feed],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn adopt_redirect(&mut self, feed: i64, target: &str) -> rusqlite::Result<()> {
        self.tx.execute_cached(
            "UPDATE feeds SET adopted_url = ?2, redirect_url = NULL, redirect_seen = 0 WHERE id = ?1",
            params![feed, target],
        )?;
        Ok(())
    }

    fn ids_since(&mut self, t: i64) -> rusqlite::Result<NextIds> {
        ids_since(self.tx, t)
    }

    fn activity(&mut self, feed: i64, since: i64, first_item: i64) -> rusqlite::Result<Activity> {
        self.tx.query_row_cached(
            "SELECT count(*), min(coalesce(i.published_at, i.first_seen_at)) FROM sightings s JOIN items i ON i.id = s.item_id
             WHERE s.feed_id = ?1 AND s.item_id >= ?3 AND coalesce(i.published_at, i.first_seen_at) >= ?2
               AND (i.published_at IS NOT NULL OR s.first_seen_at > (SELECT min(first_seen_at) FROM sightings WHERE feed_id = ?1 AND item_id >= ?3))",
            params![feed, since, first_item],
            |r| {
                Ok(Activity {
                    items_7d: r.get::<_, i64>(0)?.max(0) as u32,
                    oldest_7d: from_ts(r.get(1)?),
                })
            },
        )
    }

    fn sightings_of(&mut self, feed: i64) -> rusqlite::Result<i64> {
        self.tx.query_row_cached(
            "SELECT count(*) FROM sightings WHERE feed_id = ?1",
            params![feed],
            |r| r.get(0),
        )
    }

    fn story_of(&mut self, item: i64) -> rusqlite::Result<i64> {
        self.tx.query_row_cached(
            "SELECT story_id FROM items WHERE id = ?1",
            params![item],
            |r| r.get(0),
        )
    }

    fn alerted_in_story(
        &mut self,
        topic: &str,
        story: i64,
        except: i64,
    ) -> rusqlite::Result<Vec<i64>> {
        self.tx
            .prepare_cached(
                "SELECT a.item_id FROM items i JOIN alerts a ON a.item_id = i.id AND a.topic = ?1
                 WHERE i.story_id = ?2 AND i.id != ?3",
            )?
            .query_map(params![topic, story, except], |r| r.get(0))?
            .collect()
    }

    fn insert_alert(&mut self, a: &AlertRow<'_>) -> rusqlite::Result<Option<i64>> {
        let n = self.tx.execute_cached(
            "INSERT INTO alerts (topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (topic, item_id) DO NOTHING",
            params![
                a.m.topic,
                a.item,
                a.story,
                a.feed,
                a.m.query_index as i64,
                a.terms,
                a.m.snippet,
                a.m.field,
                a.at
            ],
        )?;
        Ok((n == 1).then(|| self.tx.last_insert_rowid()))
    }

    fn story_sources(&mut self, story: i64) -> rusqlite::Result<i64> {
        self.tx.query_row_cached(
            "SELECT count(DISTINCT s.feed_id) FROM items i JOIN sightings s ON s.item_id = i.id WHERE i.story_id = ?1",
            params![story],
            |r| r.get(0),
        )
    }

    fn enqueue(&mut self, routes: &OutboxRoutes, alert: &NewAlert, now_ms: i64) -> Result<usize> {
        Ok(outbox::enqueue(self.tx, routes, alert, now_ms)?)
    }
}

/// One poll's writes: its statements, then the sequence both backends share.
fn record_one(
    tx: &Connection,
    rec: &PollRecord,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
    routes: &OutboxRoutes,
) -> Result<PollSummary> {
    let mut db = PollStatements::prepare(tx, policy.search)?;
    record_in(&mut db, rec, policy, stories, routes)
}

impl Store {
    /// A trivial query: the database answers.
    pub fn ping(&mut self) -> Result<()> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Records the daemon's schedule decision for a feed.
    pub fn set_schedule(
        &mut self,
        feed: &str,
        next: DateTime<Utc>,
        interval: Duration,
        reason: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE feeds SET next_poll_at = ?2, poll_interval = ?3, schedule_reason = ?4 WHERE name = ?1",
            params![feed, ts(next), interval.as_secs() as i64, reason],
        )?;
        Ok(())
    }

    /// Records the schedule decisions of a round of polls (`once`) in one transaction.
    pub fn set_schedules(&mut self, rows: &[Schedule]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE feeds SET next_poll_at = ?2, poll_interval = ?3, schedule_reason = ?4 WHERE name = ?1",
            )?;
            for r in rows {
                stmt.execute(params![
                    r.feed,
                    ts(r.next),
                    r.interval.as_secs() as i64,
                    r.reason
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Commits one poll: items, alerts and the feed's new state, in one transaction.
    pub fn record_poll(&mut self, rec: &PollRecord, policy: IngestPolicy) -> Result<PollSummary> {
        self.record_polls(&[rec], policy)
            .pop()
            .unwrap_or(Err(StoreError::WriterGone))
    }

    /// Commits several polls in one transaction (group commit). A poll whose writes fail is
    /// rolled back alone and reported; the others commit. If the final commit fails, every poll
    /// reports it, and none of them advanced its validators.
    ///
    /// Writes almost never fail, so the batch first runs without savepoints (a savepoint makes
    /// SQLite copy every page a poll touches that an earlier poll of the batch had already
    /// changed: a tenth of the allocations of a cold run). Only when a poll fails is the batch
    /// rolled back and run again with each poll inside its own savepoint.
    pub fn record_polls(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
    ) -> Vec<Result<PollSummary>> {
        self.record_batch(recs, policy, false)
    }

    /// One attempt at a batch. Without savepoints, the first failing poll abandons the attempt
    /// (nothing kept) for one with them, where it is rolled back alone and reported.
    pub(super) fn record_batch(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
        savepoints: bool,
    ) -> Vec<Result<PollSummary>> {
        let all_fail = |e: &rusqlite::Error| {
            recs.iter()
                .map(|_| Err(StoreError::Sqlite(clone_error(e))))
                .collect()
        };
        let mut tx = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => return all_fail(&e),
        };
        // Rows get their ids from the writer, so an item is inserted once, already in its story.
        // Inside this IMMEDIATE transaction nobody else writes; a rolled-back savepoint only
        // leaves a gap.
        if let Err(e) = self.stories.next_ids.reset(&tx) {
            return all_fail(&e);
        }
        // The polls' times are at most the transaction's; a clock running ahead in a test
        // still leaves every item after its hour's mark.
        let t = recs.iter().map(|r| ts(r.at)).fold(ts(Utc::now()), i64::max);
        if let Err(e) = mark_ids(&tx, t, self.stories.next_ids) {
            return all_fail(&e);
        }
        let mut results = Vec::with_capacity(recs.len());
        for rec in recs {
            let one = if savepoints {
                (|| {
                    let sp = tx.savepoint()?;
                    let summary = record_one(&sp, rec, policy, &mut self.stories, &self.routes)?;
                    sp.commit()?;
                    Ok(summary)
                })()
            } else {
                record_one(&tx, rec, policy, &mut self.stories, &self.routes)
            };
            if one.is_err() && !savepoints {
                drop(tx); // rolled back: nothing of the attempt is kept
                // Nor what it did to the in-memory story index.
                self.stories.invalidate();
                return self.record_batch(recs, policy, true);
            }
            results.push(one);
        }
        let failed = results.iter().any(Result::is_err);
        if let Some(e) = take_fault(&mut self.fault) {
            drop(tx); // rolled back, as a failed COMMIT is
            self.stories.invalidate();
            return all_fail(&e);
        }
        if let Err(e) = tx.commit() {
            self.stories.invalidate();
            return all_fail(&e);
        }
        if failed {
            // A rolled-back savepoint may have opened stories in memory that do not exist.
            self.stories.invalidate();
        }
        results
    }

    /// Which sinks get which topics' alerts from the next commit on.
    pub fn set_outbox_routes(&mut self, routes: OutboxRoutes) {
        self.routes = routes;
    }

    /// Test seam: the `nth` write transaction from now (1 = the next) fails with `code` instead of
    /// committing; nothing it wrote is kept.
    #[doc(hidden)]
    pub fn inject_commit_failure(&mut self, nth: u64, code: rusqlite::ErrorCode) {
        self.fault = Some((nth.max(1), code));
    }
}
