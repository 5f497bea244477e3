//! The commands' queries: feeds' states, items, stories and alerts.

use super::facts::fact_columns;
use super::*;

/// Which feeds' states to read: one name, or a JSON array of names.
pub(super) enum Names<'a> {
    One(&'a str),
    Json(&'a str),
}

pub(crate) fn parse_list(s: Option<String>) -> Vec<u8> {
    s.map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_default()
}

impl Store {
    /// One feed's state, if it was ever polled.
    pub fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        Ok(self
            .feed_states_where(Some(Names::One(name)))?
            .into_iter()
            .next())
    }

    pub fn feed_states(&self) -> Result<Vec<FeedState>> {
        self.feed_states_where(None)
    }

    /// The stored state of the named feeds (those that have one), in one query.
    pub fn feed_states_named(&self, names: &[String]) -> Result<Vec<FeedState>> {
        let names = serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
        self.feed_states_where(Some(Names::Json(&names)))
    }

    pub(super) fn feed_states_where(&self, name: Option<Names<'_>>) -> Result<Vec<FeedState>> {
        const COLUMNS: &str = concat!(
            "SELECT name, url, last_fetch_at, last_success_at, last_status, last_error, last_error_class,
                    redirect_url, redirect_seen, next_poll_at, poll_interval, schedule_reason,
                    (SELECT count(*) FROM sightings s WHERE s.feed_id = feeds.id), adopted_url, ",
            fact_columns!(),
            " FROM feeds"
        );
        // Two statements, not `?1 IS NULL OR name = ?1`: a plan fixed at prepare time (QPSG)
        // could not use the name index for that, and one feed's lookup would scan them all.
        let (mut stmt, args) = match name {
            Some(Names::One(n)) => (
                self.conn
                    .prepare_cached(&format!("{COLUMNS} WHERE name = ?1"))?,
                vec![n],
            ),
            Some(Names::Json(list)) => (
                self.conn.prepare_cached(&format!(
                    "{COLUMNS} WHERE name IN (SELECT value FROM json_each(?1))"
                ))?,
                vec![list],
            ),
            None => (
                self.conn
                    .prepare_cached(&format!("{COLUMNS} ORDER BY name"))?,
                vec![],
            ),
        };
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(FeedState {
                name: r.get(0)?,
                url: r.get(1)?,
                last_fetch_at: from_ts(r.get(2)?),
                last_success_at: from_ts(r.get(3)?),
                last_status: r.get(4)?,
                last_error: r.get(5)?,
                last_error_class: r
                    .get::<_, Option<String>>(6)?
                    .as_deref()
                    .and_then(ErrorClass::parse),
                redirect_url: r.get(7)?,
                redirect_seen: r.get(8)?,
                next_poll_at: from_ts(r.get(9)?),
                poll_interval_secs: r.get::<_, Option<i64>>(10)?.map(|v| v.max(0) as u64),
                schedule_reason: r.get(11)?,
                items: r.get::<_, i64>(12)?.max(0) as u64,
                adopted_url: r.get(13)?,
                facts: super::ingest::facts_at(r, 14)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stored items, newest first.
    pub fn items(
        &self,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredItem>> {
        self.items_where(feed, since, None, limit)
    }

    pub(super) fn items_where(
        &self,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
        story: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.id, f.name, i.title, i.summary, i.url, i.canonical_url, i.published_at, i.updated_at, i.first_seen_at, i.changed_at,
                    (SELECT group_concat(f2.name, char(31)) FROM sightings s JOIN feeds f2 ON f2.id = s.feed_id WHERE s.item_id = i.id),
                    i.story_id, i.join_reason
             FROM items i JOIN feeds f ON f.id = i.first_feed_id
             WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM sightings s JOIN feeds f3 ON f3.id = s.feed_id WHERE s.item_id = i.id AND f3.name = ?1))
               AND i.id >= ?5 AND (?2 IS NULL OR i.first_seen_at >= ?2)
               AND (?4 IS NULL OR i.story_id = ?4)
             ORDER BY coalesce(i.published_at, i.first_seen_at) DESC, i.id DESC LIMIT ?3",
        )?;
        let first = match since {
            Some(t) => ids_since(&self.conn, ts(t))?.item,
            None => 0,
        };
        let params = params![feed, since.map(ts), limit as i64, story, first];
        let rows = stmt.query_map(params, |r| {
            let sources: Option<String> = r.get(10)?;
            let mut sources: Vec<String> = sources
                .map(|s| s.split('\u{1f}').map(str::to_owned).collect())
                .unwrap_or_default();
            sources.sort();
            sources.dedup();
            Ok(StoredItem {
                id: r.get(0)?,
                feed: r.get(1)?,
                title: r.get(2)?,
                summary: r.get(3)?,
                url: r.get(4)?,
                canonical_url: r.get(5)?,
                published: from_ts(r.get(6)?),
                updated: from_ts(r.get(7)?),
                first_seen: from_ts(r.get(8)?).unwrap_or_default(),
                changed: from_ts(r.get(9)?),
                sources,
                story_id: r.get(11)?,
                join_reason: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stories started since `since` with at least `min_sources` feeds, newest first.
    pub fn stories(
        &self,
        since: Option<DateTime<Utc>>,
        min_sources: usize,
        limit: usize,
    ) -> Result<Vec<StoredStory>> {
        type Row = (i64, String, Option<String>, i64, i64);
        // Those started since `from` (all with `None`), read from the first story that can have
        // been written since: a story cannot start after it is written. Every story has a
        // source, so only a `min_sources` above one counts each story's feeds: counting them for
        // every story of the span, before the limit, made the status page's latest stories slow.
        let started_since = |from: Option<i64>| -> Result<Vec<Row>> {
            let first = match from {
                Some(t) => ids_since(&self.conn, t)?.story,
                None => 0,
            };
            let mut stmt = self.conn.prepare_cached(
                "SELECT st.id, i.title, i.url, st.started_at, st.last_at FROM stories st JOIN items i ON i.id = st.headline_item_id
                 WHERE st.id >= ?1 AND (?2 IS NULL OR st.started_at >= ?2)
                   AND (?3 <= 1 OR (SELECT count(DISTINCT s.feed_id) FROM items m JOIN sightings s ON s.item_id = m.id WHERE m.story_id = st.id) >= ?3)
                 ORDER BY st.started_at DESC, st.id DESC LIMIT ?4",
            )?;
            Ok(stmt
                .query_map(
                    params![first, from, min_sources as i64, limit as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?
                .collect::<rusqlite::Result<_>>()?)
        };
        let ids = match since {
            Some(t) => started_since(Some(ts(t)))?,
            None => {
                // The newest `limit` of all: looked for in the last day, then 8, 64, ... days,
                // then everywhere. Once a span holds `limit` of them they are the newest, as
                // every story written before the span started before it.
                let now = ts(Utc::now());
                let mut days = 1;
                loop {
                    if days > 100_000 {
                        break started_since(None)?;
                    }
                    let found = started_since(Some(now - days * 86_400))?;
                    if found.len() >= limit {
                        break found;
                    }
                    days *= 8;
                }
            }
        };
        ids.into_iter()
            .map(|(id, headline, url, started, last)| {
                let mut items = self.items_where(None, None, Some(id), 1000)?;
                items.reverse();
                let mut sources: Vec<String> = items
                    .iter()
                    .flat_map(|i| i.sources.iter().cloned())
                    .collect();
                sources.sort();
                sources.dedup();
                Ok(StoredStory {
                    id,
                    headline,
                    url,
                    started: from_ts(Some(started)).unwrap_or_default(),
                    last: from_ts(Some(last)).unwrap_or_default(),
                    sources,
                    items,
                })
            })
            .collect()
    }

    /// Stored alerts, newest first.
    pub fn alerts(
        &self,
        topic: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.id, a.topic, f.name, a.item_id, i.title, i.url, i.published_at, a.terms, a.field, a.snippet, a.created_at, a.story_id
             FROM alerts a JOIN items i ON i.id = a.item_id JOIN feeds f ON f.id = a.feed_id
             WHERE (?1 IS NULL OR a.topic = ?1) AND (?2 IS NULL OR a.created_at >= ?2)
             ORDER BY a.created_at DESC, a.id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![topic, since.map(ts), limit as i64], |r| {
            let terms: String = r.get(7)?;
            Ok(StoredAlert {
                id: r.get(0)?,
                topic: r.get(1)?,
                feed: r.get(2)?,
                item_id: r.get(3)?,
                title: r.get(4)?,
                url: r.get(5)?,
                published: from_ts(r.get(6)?),
                terms: serde_json::from_str(&terms).unwrap_or_default(),
                field: r.get(8)?,
                snippet: r.get(9)?,
                created: from_ts(r.get(10)?).unwrap_or_default(),
                story_id: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many of the named feeds failed `after` times in a row or more (gone ones excluded):
    /// `/metrics` reads it on every scrape, so it counts without reading the feeds' rows.
    pub fn feeds_failing(&self, names: &[String], after: u32) -> Result<u64> {
        let names = serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM feeds WHERE consecutive_failures >= ?2 AND dead_since IS NULL
               AND name IN (SELECT value FROM json_each(?1))",
            )?
            .query_row(params![names, after], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    }

    /// Answers if the database can be read (`/readyz`).
    pub fn answers(&self) -> Result<()> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(())
    }

    /// Counts for tests and reports: (items, sightings, alerts).
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        Ok(self.conn.query_row("SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM sightings), (SELECT count(*) FROM alerts)", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })?)
    }
}
