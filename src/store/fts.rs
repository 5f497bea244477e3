//! The full-text index (`items_fts`, FTS5): kept by the writer as items are inserted, changed
//! and pruned, and read by [`Store::search_index`]. The query language and the text indexed
//! are [`crate::search`]'s; this file only holds the SQL.
//!
//! The table is contentless (`content=''`): it holds the index alone, not a second copy of the
//! text, and snippets are cut from `items.summary`. `contentless_delete=1` lets the writer
//! delete an item's row by id when the item changes or is pruned.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Result, Store, from_ts, ids_since, ts};
use crate::search::index_text;

/// How a search ranks: BM25 with the title weighed more, discounted by age.
#[derive(Debug, Clone, Copy)]
pub struct SearchRanking {
    pub title_weight: f64,
    /// The age (seconds) at which a score is halved.
    pub recency_secs: f64,
}

/// A search result as stored (the snippet is cut by the caller).
#[derive(Debug, Clone)]
pub struct IndexHit {
    pub item_id: i64,
    pub title: String,
    pub summary: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub feed: String,
    pub story_id: Option<i64>,
    pub score: f64,
}

pub(super) const INSERT: &str = "INSERT INTO items_fts (rowid, title, summary) VALUES (?1, ?2, ?3)";
pub(super) const DELETE: &str = "DELETE FROM items_fts WHERE rowid = ?1";

/// Indexes the items above the highest one indexed: those stored while `[storage] search` was
/// off (or before the index existed). Ids grow with time and the writer runs this before it
/// indexes anything new, so they are exactly the items missing. Returns how many.
fn catch_up(tx: &Connection) -> rusqlite::Result<u64> {
    let top: i64 = tx.query_row(
        "SELECT coalesce((SELECT rowid FROM items_fts ORDER BY rowid DESC LIMIT 1), 0)",
        [],
        |r| r.get(0),
    )?;
    let mut read = tx.prepare("SELECT id, title, summary FROM items WHERE id > ?1")?;
    let mut insert = tx.prepare(INSERT)?;
    let mut rows = read.query(params![top])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let (id, title, summary): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        insert.execute(params![id, index_text(&title), index_text(&summary)])?;
        n += 1;
    }
    Ok(n)
}

impl Store {
    /// Brings the search index up to date with the stored items (the writer's first step when
    /// `[storage] search` is on). Returns how many items it indexed.
    pub fn catch_up_search_index(&mut self) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = catch_up(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    /// False for a database opened read-only before migration 0009 ran on it.
    pub fn has_search_index(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'items_fts'",
            [],
            |r| r.get::<_, i64>(0),
        )? > 0)
    }

    /// Items matching an FTS5 query (already made safe by [`crate::search::Query::to_fts`]),
    /// best first: BM25 over title and summary, divided by `1 + age / recency`.
    pub fn search_index(
        &self,
        fts_query: &str,
        since: Option<DateTime<Utc>>,
        limit: usize,
        now: DateTime<Utc>,
        ranking: SearchRanking,
    ) -> Result<Vec<IndexHit>> {
        let first = match since {
            Some(t) => ids_since(&self.conn, ts(t))?.item,
            None => 0,
        };
        // bm25() is negative, more negative for a better match.
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.id, i.title, i.summary, i.url, i.published_at, i.first_seen_at, f.name, i.story_id,
                    -bm25(items_fts, ?5, 1.0) / (1.0 + max(0, ?4 - coalesce(i.published_at, i.first_seen_at)) / ?6) AS score
             FROM items_fts JOIN items i ON i.id = items_fts.rowid JOIN feeds f ON f.id = i.first_feed_id
             WHERE items_fts MATCH ?1 AND i.id >= ?2 AND (?3 IS NULL OR i.first_seen_at >= ?3)
             ORDER BY score DESC, i.id DESC LIMIT ?7",
        )?;
        let rows = stmt.query_map(
            params![
                fts_query,
                first,
                since.map(ts),
                ts(now),
                ranking.title_weight,
                ranking.recency_secs.max(1.0),
                limit as i64
            ],
            |r| {
                Ok(IndexHit {
                    item_id: r.get(0)?,
                    title: r.get(1)?,
                    summary: r.get(2)?,
                    url: r.get(3)?,
                    published: from_ts(r.get(4)?),
                    first_seen: from_ts(r.get(5)?).unwrap_or_default(),
                    feed: r.get(6)?,
                    story_id: r.get(7)?,
                    score: r.get(8)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
