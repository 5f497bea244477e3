//! Is this item new? The dedup decision, written once for both backends over [`DedupDb`]:
//! sightings by feed and key, GUID path keys, URL keys across feeds, content hashes; insert or
//! update. Each backend implements the trait with its own SQL (SQLite: `store::ingest`,
//! PostgreSQL: `store::pg::ingest`); no SQL lives here.

use rustc_hash::FxHashSet;

use super::story_db::StoryDb;
use super::story_index::{self, NewItem, StoryIndex};
use super::{IngestPolicy, MatchedItem, StoreError, ts};
use crate::model::{Item, ItemKey, stable_hash};

/// How stale a sighting's `last_seen_at` may get before a poll that lists the item again
/// refreshes it: retention counts in days, and a daily write keeps re-polls write-free.
pub(super) const SEEN_AGAIN_SECS: i64 = 86_400;

/// The index key of a URL key (`items.url_hash`): its host's hash in the top 24 bits and the
/// whole key's in the low 40, so that a site's items sit together in the index (a feed's new
/// items mostly touch its own site's few pages) while an entry stays 8 bytes. Keys that share a
/// value are told apart by the lookup, which compares the key itself.
pub(super) fn url_hash(url_key: &str) -> i64 {
    const LOW: u64 = (1 << 40) - 1;
    let host = url_key.split('/').next().unwrap_or(url_key);
    ((stable_hash(&[host]) & !LOW) | (stable_hash(&[url_key]) & LOW)) as i64
}

pub(super) enum Seen {
    New(i64),
    Updated(i64),
    Unchanged,
    Merged,
}

/// A feed's sighting of a key, as [`DedupDb::sighting`] finds it.
pub(crate) struct Sighting {
    pub item: i64,
    /// The item's content hash.
    pub content_hash: i64,
    /// When the feed last listed it (its first sighting if never refreshed).
    pub last_seen: i64,
}

/// A new item's row, as [`DedupDb::insert_item`] writes it.
pub(crate) struct NewRow<'a> {
    pub id: i64,
    pub item: &'a Item,
    pub url_hash: Option<i64>,
    pub content_hash: i64,
    /// When it was first seen (the poll's time).
    pub at: i64,
    /// The feed that first listed it.
    pub feed: i64,
    pub story: i64,
    pub join_reason: &'a str,
}

/// The statements dedup runs, in a backend's dialect: the decisions stay in [`upsert_item`].
/// A new item is placed in a story before it is inserted, so the story index's statements
/// ([`StoryDb`]) come with these. Generic, not `dyn`: SQLite's calls compile to direct calls
/// on statements it took from its cache once per poll.
pub(crate) trait DedupDb: StoryDb {
    /// `feed`'s sighting of `key`, if it listed the key before.
    fn sighting(&mut self, feed: i64, key: &str) -> Result<Option<Sighting>, Self::Error>;
    /// Records that `feed` lists `item` under `key` from `at` on; nothing if it already did.
    fn insert_sighting(
        &mut self,
        feed: i64,
        key: &str,
        item: i64,
        at: i64,
    ) -> Result<(), Self::Error>;
    /// `feed` listed `key` again at `at`.
    fn touch_sighting(&mut self, feed: i64, key: &str, at: i64) -> Result<(), Self::Error>;
    /// A stored item's new title, summary, content and hash; its `updated_at` when the feed
    /// gives one; `changed_at` = `at`.
    fn update_item(&mut self, id: i64, item: &Item, hash: i64, at: i64) -> Result<(), Self::Error>;
    /// The item stored under a URL key (from any feed).
    fn item_by_url_key(&mut self, url_hash: i64, url_key: &str)
    -> Result<Option<i64>, Self::Error>;
    /// A link-less item stored with this content hash.
    fn item_by_hash(&mut self, hash: i64) -> Result<Option<i64>, Self::Error>;
    fn insert_item(&mut self, row: &NewRow<'_>) -> Result<(), Self::Error>;
    fn insert_features(&mut self, id: i64, features: &[u8]) -> Result<(), Self::Error>;
    /// Puts an item in the search index; `replace`: it is there already, with older text.
    fn index_item(
        &mut self,
        id: i64,
        title: &str,
        summary: &str,
        replace: bool,
    ) -> Result<(), Self::Error>;
}

/// Finds the item an incoming one is, strongest key first: this feed's key for it; its GUID
/// without scheme and host; its URL key (any feed); for link-less items, identical content.
///
/// `first_poll`: the feed has no sightings yet, so its keys are looked up only when this poll
/// already met them (the hashes of the keys it recorded).
pub(super) fn upsert_item<D>(
    db: &mut D,
    feed_id: i64,
    at: i64,
    mi: &MatchedItem,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
    mut first_poll: Option<&mut FxHashSet<u64>>,
) -> Result<Seen, StoreError>
where
    D: DedupDb,
    StoreError: From<D::Error>,
{
    let item = &mi.item;
    let key = item.key.as_stored();
    let hash = item.content_hash as i64;
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
    let mut known = if lookup {
        db.sighting(feed_id, &key)?
    } else {
        None
    };
    if lookup
        && known.is_none()
        && let Some(pk) = &path_key
    {
        // A GUID that only changed scheme or host: the same item; remember the new spelling.
        known = db.sighting(feed_id, pk)?;
        if let Some(s) = &known {
            db.insert_sighting(feed_id, &key, s.item, at)?;
            remember(&key);
        }
    }
    if let Some(Sighting {
        item: id,
        content_hash: old_hash,
        last_seen,
    }) = known
    {
        // Still listed by the feed: retention keeps it. Written at most once a day per item, so
        // re-polls of unchanged documents write nothing.
        if at - last_seen >= SEEN_AGAIN_SECS {
            db.touch_sighting(feed_id, &key, at)?;
        }
        if old_hash == hash {
            return Ok(Seen::Unchanged);
        }
        db.update_item(id, item, hash, at)?;
        if policy.search {
            db.index_item(id, &item.title, &item.summary, true)?;
        }
        return Ok(Seen::Updated(id));
    }
    let url_key = item.url_key.as_deref();
    let url_hash = url_key.map(url_hash);
    let existing = match (url_key, url_hash) {
        (Some(k), Some(h)) => db.item_by_url_key(h, k)?,
        _ => db.item_by_hash(hash)?,
    };
    if let Some(id) = existing {
        db.insert_sighting(feed_id, &key, id, at)?;
        remember(&key);
        if let Some(pk) = &path_key {
            db.insert_sighting(feed_id, pk, id, at)?;
            remember(pk);
        }
        return Ok(Seen::Merged);
    }
    // The item's own date (published, else first seen; never later than now): stories run on
    // the items' clock.
    let when = item.date().map_or(at, ts).min(at);
    let id = stories.next_ids.item;
    stories.next_ids.item += 1;
    let placed = stories.place(
        db,
        NewItem {
            id,
            at: when,
            feed: feed_id,
            order: story_index::order_key(url_key, hash),
            features: &mi.features,
        },
        policy.story_window.as_secs() as i64,
        policy.story_threshold,
    )?;
    db.insert_item(&NewRow {
        id,
        item,
        url_hash,
        content_hash: hash,
        at,
        feed: feed_id,
        story: placed.story,
        join_reason: &placed.reason,
    })?;
    db.insert_features(id, &mi.features.to_bytes())?;
    if policy.search {
        db.index_item(id, &item.title, &item.summary, false)?;
    }
    db.insert_sighting(feed_id, &key, id, at)?;
    remember(&key);
    if let Some(pk) = &path_key {
        db.insert_sighting(feed_id, pk, id, at)?;
        remember(pk);
    }
    Ok(Seen::New(id))
}
