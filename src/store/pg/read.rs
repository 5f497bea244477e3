//! The commands' queries on PostgreSQL: feeds' states, items, stories and alerts, with the same
//! shapes and order as SQLite's (`store::read`).

use chrono::{DateTime, Utc};

use super::ingest::{facts_at, ids_since};
use super::{PgStore, Tx};
use crate::error_class::ErrorClass;
use crate::store::facts::fact_columns;
use crate::store::{
    FeedState, Result, Schedule, StoredAlert, StoredItem, StoredStory, from_ts, ts,
};

fn feed_state(r: &postgres::Row) -> FeedState {
    let u32_of = |v: Option<i64>| v.map(|v| v.clamp(0, i64::from(u32::MAX)) as u32);
    FeedState {
        name: r.get(0),
        url: r.get(1),
        last_fetch_at: from_ts(r.get(2)),
        last_success_at: from_ts(r.get(3)),
        last_status: r
            .get::<_, Option<i64>>(4)
            .and_then(|s| u16::try_from(s).ok()),
        last_error: r.get(5),
        last_error_class: r
            .get::<_, Option<String>>(6)
            .as_deref()
            .and_then(ErrorClass::parse),
        redirect_url: r.get(7),
        redirect_seen: u32_of(r.get(8)).unwrap_or(0),
        next_poll_at: from_ts(r.get(9)),
        poll_interval_secs: r.get::<_, Option<i64>>(10).map(|v| v.max(0) as u64),
        schedule_reason: r.get(11),
        items: r.get::<_, i64>(12).max(0) as u64,
        adopted_url: r.get(13),
        facts: facts_at(r, 14),
    }
}

macro_rules! feed_columns {
    () => {
        concat!(
            "SELECT name, url, last_fetch_at, last_success_at, last_status, last_error, last_error_class,
                redirect_url, redirect_seen, next_poll_at, poll_interval, schedule_reason,
                (SELECT count(*) FROM sightings s WHERE s.feed_id = feeds.id), adopted_url, ",
            fact_columns!(),
            " FROM feeds"
        )
    };
}
const FEED_COLUMNS_ALL: &str = concat!(feed_columns!(), " ORDER BY name");
const FEED_COLUMNS_NAMED: &str = concat!(feed_columns!(), " WHERE name = ANY($1)");

fn items_where(
    tx: &mut Tx<'_>,
    feed: Option<&str>,
    since: Option<DateTime<Utc>>,
    story: Option<i64>,
    limit: usize,
) -> Result<Vec<StoredItem>> {
    let first = match since {
        Some(t) => ids_since(tx, ts(t))?.item,
        None => 0,
    };
    let rows = tx.all(
        "SELECT i.id, f.name, i.title, i.summary, i.url, i.canonical_url, i.published_at, i.updated_at, i.first_seen_at, i.changed_at,
                (SELECT array_agg(f2.name) FROM sightings s JOIN feeds f2 ON f2.id = s.feed_id WHERE s.item_id = i.id),
                i.story_id, i.join_reason
         FROM items i JOIN feeds f ON f.id = i.first_feed_id
         WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM sightings s JOIN feeds f3 ON f3.id = s.feed_id WHERE s.item_id = i.id AND f3.name = $1::text))
           AND i.id >= $5 AND ($2::bigint IS NULL OR i.first_seen_at >= $2::bigint)
           AND ($4::bigint IS NULL OR i.story_id = $4::bigint)
         ORDER BY coalesce(i.published_at, i.first_seen_at) DESC, i.id DESC LIMIT $3",
        &[&feed, &since.map(ts), &(limit as i64), &story, &first],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut sources: Vec<String> = r.get::<_, Option<Vec<String>>>(10).unwrap_or_default();
            sources.sort();
            sources.dedup();
            StoredItem {
                id: r.get(0),
                feed: r.get(1),
                title: r.get(2),
                summary: r.get(3),
                url: r.get(4),
                canonical_url: r.get(5),
                published: from_ts(r.get(6)),
                updated: from_ts(r.get(7)),
                first_seen: from_ts(r.get(8)).unwrap_or_default(),
                changed: from_ts(r.get(9)),
                sources,
                story_id: r.get(11),
                join_reason: r.get(12),
            }
        })
        .collect())
}

impl PgStore {
    pub fn feed_state(&mut self, name: &str) -> Result<Option<FeedState>> {
        Ok(self
            .feed_states_named(&[name.to_owned()])?
            .into_iter()
            .next())
    }

    pub fn feed_states(&mut self) -> Result<Vec<FeedState>> {
        let mut tx = self.begin()?;
        let rows = tx.all(FEED_COLUMNS_ALL, &[])?;
        tx.commit()?;
        Ok(rows.iter().map(feed_state).collect())
    }

    pub fn feed_states_named(&mut self, names: &[String]) -> Result<Vec<FeedState>> {
        let mut tx = self.begin()?;
        let rows = tx.all(FEED_COLUMNS_NAMED, &[&names])?;
        tx.commit()?;
        Ok(rows.iter().map(feed_state).collect())
    }

    /// Records the schedule decisions of a round of polls (`once`) in one transaction.
    pub fn set_schedules(&mut self, rows: &[Schedule]) -> Result<()> {
        let mut tx = self.begin()?;
        for r in rows {
            tx.exec(
                "UPDATE feeds SET next_poll_at = $2, next_poll_ms = $5, poll_interval = $3, schedule_reason = $4 WHERE name = $1",
                &[&r.feed, &ts(r.next), &(r.interval.as_secs() as i64), &r.reason, &r.next.timestamp_millis()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stored items, newest first.
    pub fn items(
        &mut self,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredItem>> {
        let mut tx = self.begin()?;
        let items = items_where(&mut tx, feed, since, None, limit)?;
        tx.commit()?;
        Ok(items)
    }

    /// Stories started since `since` with at least `min_sources` feeds, newest first.
    pub fn stories(
        &mut self,
        since: Option<DateTime<Utc>>,
        min_sources: usize,
        limit: usize,
    ) -> Result<Vec<StoredStory>> {
        let mut tx = self.begin()?;
        let first = match since {
            Some(t) => ids_since(&mut tx, ts(t))?.story,
            None => 0,
        };
        // PostgreSQL plans this with the story ids' index and a top-N sort; SQLite's widening
        // search by day is not needed.
        let rows = tx.all(
            "SELECT st.id, i.title, i.url, st.started_at, st.last_at FROM stories st JOIN items i ON i.id = st.headline_item_id
             WHERE st.id >= $1 AND ($2::bigint IS NULL OR st.started_at >= $2::bigint)
               AND ($3::bigint <= 1 OR (SELECT count(DISTINCT s.feed_id) FROM items m JOIN sightings s ON s.item_id = m.id WHERE m.story_id = st.id) >= $3::bigint)
             ORDER BY st.started_at DESC, st.id DESC LIMIT $4",
            &[&first, &since.map(ts), &(min_sources as i64), &(limit as i64)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let mut items = items_where(&mut tx, None, None, Some(id), 1000)?;
            items.reverse();
            let mut sources: Vec<String> = items
                .iter()
                .flat_map(|i| i.sources.iter().cloned())
                .collect();
            sources.sort();
            sources.dedup();
            out.push(StoredStory {
                id,
                headline: r.get(1),
                url: r.get(2),
                started: from_ts(Some(r.get(3))).unwrap_or_default(),
                last: from_ts(Some(r.get(4))).unwrap_or_default(),
                sources,
                items,
            });
        }
        tx.commit()?;
        Ok(out)
    }

    /// Stored alerts, newest first.
    pub fn alerts(
        &mut self,
        topic: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>> {
        let mut tx = self.begin()?;
        let rows = tx.all(
            "SELECT a.id, a.topic, f.name, a.item_id, i.title, i.url, i.published_at, a.terms, a.field, a.snippet, a.created_at, a.story_id
             FROM alerts a JOIN items i ON i.id = a.item_id JOIN feeds f ON f.id = a.feed_id
             WHERE ($1::text IS NULL OR a.topic = $1::text) AND ($2::bigint IS NULL OR a.created_at >= $2::bigint)
             ORDER BY a.created_at DESC, a.id DESC LIMIT $3",
            &[&topic, &since.map(ts), &(limit as i64)],
        )?;
        tx.commit()?;
        Ok(rows
            .iter()
            .map(|r| {
                let terms: String = r.get(7);
                StoredAlert {
                    id: r.get(0),
                    topic: r.get(1),
                    feed: r.get(2),
                    item_id: r.get(3),
                    title: r.get(4),
                    url: r.get(5),
                    published: from_ts(r.get(6)),
                    terms: serde_json::from_str(&terms).unwrap_or_default(),
                    field: r.get(8),
                    snippet: r.get(9),
                    created: from_ts(r.get(10)).unwrap_or_default(),
                    story_id: r.get(11),
                }
            })
            .collect())
    }

    /// Counts for tests and reports: (items, sightings, alerts).
    pub fn counts(&mut self) -> Result<(u64, u64, u64)> {
        let mut tx = self.begin()?;
        let r = tx.one(
            "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM sightings), (SELECT count(*) FROM alerts)",
            &[],
        )?;
        tx.commit()?;
        let n = |i: usize| r.get::<_, i64>(i).max(0) as u64;
        Ok((n(0), n(1), n(2)))
    }
}
