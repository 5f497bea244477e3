//! What the story index reads and writes in the database, as a trait: the index's policy is the
//! same on every backend, only these few statements differ. Generic, not `dyn`: the SQLite
//! writer's calls compile to the same direct calls they were before.

use rusqlite::{Connection, params};

/// An item read back into the story index.
pub(crate) struct StoredMember<'a> {
    pub id: i64,
    /// Its own date: published, else updated, else first seen; never after first seen.
    pub at: i64,
    pub first_feed: i64,
    pub url_key: Option<String>,
    pub content_hash: i64,
    pub story: i64,
    pub features: &'a [u8],
}

pub(crate) trait StoryDb {
    type Error;
    /// The newest `last_at` of any story.
    fn newest_story(&mut self) -> Result<Option<i64>, Self::Error>;
    /// Every item of the stories that overlap `[lo, hi)`, with its features.
    fn story_members(
        &mut self,
        lo: i64,
        hi: i64,
        each: &mut dyn FnMut(StoredMember<'_>),
    ) -> Result<(), Self::Error>;
    /// Inserts or updates a story's row.
    fn write_story(
        &mut self,
        story: i64,
        headline: i64,
        started_at: i64,
        last_at: i64,
        items: i64,
    ) -> Result<(), Self::Error>;
    /// Moves a stored item to another story.
    fn move_item(&mut self, item: i64, story: i64, reason: &str) -> Result<(), Self::Error>;
    fn delete_story(&mut self, story: i64) -> Result<(), Self::Error>;
    /// A story's row: (headline, started, last, items).
    fn story_row(&mut self, story: i64) -> Result<(i64, i64, i64, i64), Self::Error>;
}

impl StoryDb for &Connection {
    type Error = rusqlite::Error;

    fn newest_story(&mut self) -> rusqlite::Result<Option<i64>> {
        self.query_row("SELECT max(last_at) FROM stories", [], |r| r.get(0))
    }

    fn story_members(
        &mut self,
        lo: i64,
        hi: i64,
        each: &mut dyn FnMut(StoredMember<'_>),
    ) -> rusqlite::Result<()> {
        let mut stmt = self.prepare(
            "SELECT i.id, min(coalesce(i.published_at, i.updated_at, i.first_seen_at), i.first_seen_at) AS at, i.first_feed_id,
                    i.url_key, i.content_hash, i.story_id, f.features
             FROM stories st JOIN items i ON i.story_id = st.id JOIN item_features f ON f.item_id = i.id
             WHERE st.last_at >= ?1 AND st.started_at < ?2",
        )?;
        let mut rows = stmt.query(params![lo, hi])?;
        while let Some(r) = rows.next()? {
            each(StoredMember {
                id: r.get(0)?,
                at: r.get(1)?,
                first_feed: r.get(2)?,
                url_key: r.get(3)?,
                content_hash: r.get(4)?,
                story: r.get(5)?,
                features: r.get_ref(6)?.as_blob().unwrap_or_default(),
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
    ) -> rusqlite::Result<()> {
        self.prepare_cached(
            "INSERT INTO stories (id, headline_item_id, started_at, last_at, items) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET headline_item_id = ?2, started_at = ?3, last_at = ?4, items = ?5",
        )?
        .execute(params![story, headline, started_at, last_at, items])?;
        Ok(())
    }

    fn move_item(&mut self, item: i64, story: i64, reason: &str) -> rusqlite::Result<()> {
        self.prepare_cached("UPDATE items SET story_id = ?2, join_reason = ?3 WHERE id = ?1")?
            .execute(params![item, story, reason])?;
        Ok(())
    }

    fn delete_story(&mut self, story: i64) -> rusqlite::Result<()> {
        self.prepare_cached("DELETE FROM stories WHERE id = ?1")?
            .execute(params![story])?;
        Ok(())
    }

    fn story_row(&mut self, story: i64) -> rusqlite::Result<(i64, i64, i64, i64)> {
        self.prepare_cached(
            "SELECT headline_item_id, started_at, last_at, items FROM stories WHERE id = ?1",
        )?
        .query_row(params![story], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
    }
}
