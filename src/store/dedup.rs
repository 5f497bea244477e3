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

/// The decision alone, against a map-backed database that logs each primitive it is asked for:
/// which lookups run, in which order, and what is written.
#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;

    use chrono::Utc;

    use super::*;
    use crate::store::story_db::StoredMember;

    #[derive(Default)]
    struct Fake {
        /// (feed, key) → (item, last seen)
        sightings: HashMap<(i64, String), (i64, i64)>,
        /// item → (content hash, URL key)
        items: HashMap<i64, (i64, Option<String>)>,
        log: Vec<String>,
    }

    impl StoryDb for Fake {
        type Error = Infallible;
        fn newest_story(&mut self) -> Result<Option<i64>, Infallible> {
            Ok(None)
        }
        fn story_members(
            &mut self,
            _: i64,
            _: i64,
            _: &mut dyn FnMut(StoredMember<'_>),
        ) -> Result<(), Infallible> {
            Ok(())
        }
        fn write_story(
            &mut self,
            _: i64,
            _: i64,
            _: i64,
            _: i64,
            _: i64,
        ) -> Result<(), Infallible> {
            Ok(())
        }
        fn move_item(&mut self, _: i64, _: i64, _: &str) -> Result<(), Infallible> {
            Ok(())
        }
        fn delete_story(&mut self, _: i64) -> Result<(), Infallible> {
            Ok(())
        }
        fn story_row(&mut self, _: i64) -> Result<(i64, i64, i64, i64), Infallible> {
            Ok((0, 0, 0, 0))
        }
    }

    impl DedupDb for Fake {
        fn sighting(&mut self, feed: i64, key: &str) -> Result<Option<Sighting>, Infallible> {
            self.log.push(format!("sighting {feed} {key}"));
            Ok(self
                .sightings
                .get(&(feed, key.into()))
                .map(|&(item, last_seen)| Sighting {
                    item,
                    content_hash: self.items[&item].0,
                    last_seen,
                }))
        }
        fn insert_sighting(
            &mut self,
            feed: i64,
            key: &str,
            item: i64,
            at: i64,
        ) -> Result<(), Infallible> {
            self.log
                .push(format!("insert_sighting {feed} {key} {item}"));
            self.sightings
                .entry((feed, key.into()))
                .or_insert((item, at));
            Ok(())
        }
        fn touch_sighting(&mut self, feed: i64, key: &str, at: i64) -> Result<(), Infallible> {
            self.log.push(format!("touch_sighting {feed} {key}"));
            if let Some(s) = self.sightings.get_mut(&(feed, key.into())) {
                s.1 = at;
            }
            Ok(())
        }
        fn update_item(&mut self, id: i64, _: &Item, hash: i64, _: i64) -> Result<(), Infallible> {
            self.log.push(format!("update_item {id}"));
            self.items.get_mut(&id).unwrap().0 = hash;
            Ok(())
        }
        fn item_by_url_key(&mut self, _: i64, url_key: &str) -> Result<Option<i64>, Infallible> {
            self.log.push(format!("item_by_url_key {url_key}"));
            Ok(self
                .items
                .iter()
                .find(|(_, (_, k))| k.as_deref() == Some(url_key))
                .map(|(&id, _)| id))
        }
        fn item_by_hash(&mut self, hash: i64) -> Result<Option<i64>, Infallible> {
            self.log.push("item_by_hash".into());
            Ok(self
                .items
                .iter()
                .find(|(_, (h, k))| *h == hash && k.is_none())
                .map(|(&id, _)| id))
        }
        fn insert_item(&mut self, row: &NewRow<'_>) -> Result<(), Infallible> {
            self.log.push(format!("insert_item {}", row.id));
            self.items
                .insert(row.id, (row.content_hash, row.item.url_key.clone()));
            Ok(())
        }
        fn insert_features(&mut self, id: i64, _: &[u8]) -> Result<(), Infallible> {
            self.log.push(format!("insert_features {id}"));
            Ok(())
        }
        fn index_item(
            &mut self,
            id: i64,
            _: &str,
            _: &str,
            replace: bool,
        ) -> Result<(), Infallible> {
            self.log.push(format!("index_item {id} {replace}"));
            Ok(())
        }
    }

    impl From<Infallible> for StoreError {
        fn from(e: Infallible) -> Self {
            match e {}
        }
    }

    fn listed(key: ItemKey, url_key: Option<&str>, title: &str) -> MatchedItem {
        let item = Item {
            key,
            url: None,
            canonical_url: url_key.map(|k| format!("https://{k}")),
            url_key: url_key.map(str::to_owned),
            title: title.into(),
            summary: String::new(),
            content: None,
            published: Some(Utc::now()),
            updated: None,
            authors: vec![],
            categories: vec![],
            content_hash: stable_hash(&[title]),
        };
        MatchedItem {
            features: crate::stories::features(&item.title, &item.summary),
            item,
            matches: vec![],
        }
    }

    struct Run {
        db: Fake,
        stories: StoryIndex,
        policy: IngestPolicy,
    }

    impl Run {
        fn new(search: bool) -> Run {
            let mut stories = StoryIndex::default();
            stories.next_ids.item = 1;
            stories.next_ids.story = 1;
            Run {
                db: Fake::default(),
                stories,
                policy: IngestPolicy {
                    search,
                    ..IngestPolicy::default()
                },
            }
        }

        /// The item as `feed` lists it at `at`, and the primitives that took.
        fn upsert(
            &mut self,
            feed: i64,
            at: i64,
            mi: &MatchedItem,
            first_poll: Option<&mut FxHashSet<u64>>,
        ) -> (Seen, Vec<String>) {
            self.db.log.clear();
            let seen = upsert_item(
                &mut self.db,
                feed,
                at,
                mi,
                self.policy,
                &mut self.stories,
                first_poll,
            )
            .unwrap();
            (seen, std::mem::take(&mut self.db.log))
        }
    }

    const T: i64 = 1_700_000_000;

    #[test]
    fn a_new_item_is_looked_up_by_every_key_then_written_in_order() {
        let mut run = Run::new(true);
        let mi = listed(
            ItemKey::Guid("https://a.example/n/1".into()),
            Some("a.example/n/1"),
            "one",
        );
        let (seen, log) = run.upsert(7, T, &mi, None);
        assert!(matches!(seen, Seen::New(1)));
        assert_eq!(
            log,
            [
                "sighting 7 g:https://a.example/n/1",
                "sighting 7 p:/n/1",
                "item_by_url_key a.example/n/1",
                "insert_item 1",
                "insert_features 1",
                "index_item 1 false",
                "insert_sighting 7 g:https://a.example/n/1 1",
                "insert_sighting 7 p:/n/1 1",
            ]
        );
    }

    #[test]
    fn a_guid_that_moved_host_is_the_same_item_under_its_new_spelling() {
        let mut run = Run::new(false);
        run.upsert(
            7,
            T,
            &listed(ItemKey::Guid("https://a.example/n/1".into()), None, "one"),
            None,
        );
        let moved = listed(ItemKey::Guid("http://b.example/n/1".into()), None, "one");
        let (seen, log) = run.upsert(7, T + 60, &moved, None);
        assert!(matches!(seen, Seen::Unchanged));
        assert_eq!(
            log,
            [
                "sighting 7 g:http://b.example/n/1",
                "sighting 7 p:/n/1",
                "insert_sighting 7 g:http://b.example/n/1 1",
            ]
        );
    }

    #[test]
    fn a_sighting_is_refreshed_once_a_day_and_an_edit_updates_in_place() {
        let mut run = Run::new(true);
        let key = ItemKey::Url("a.example/n/2".into());
        run.upsert(
            7,
            T,
            &listed(key.clone(), Some("a.example/n/2"), "two"),
            None,
        );
        let (seen, log) = run.upsert(
            7,
            T + SEEN_AGAIN_SECS - 1,
            &listed(key.clone(), Some("a.example/n/2"), "two"),
            None,
        );
        assert!(matches!(seen, Seen::Unchanged));
        assert_eq!(log, ["sighting 7 u:a.example/n/2"]);
        let (seen, log) = run.upsert(
            7,
            T + SEEN_AGAIN_SECS,
            &listed(key, Some("a.example/n/2"), "two, edited"),
            None,
        );
        assert!(matches!(seen, Seen::Updated(1)));
        assert_eq!(
            log,
            [
                "sighting 7 u:a.example/n/2",
                "touch_sighting 7 u:a.example/n/2",
                "update_item 1",
                "index_item 1 true",
            ]
        );
    }

    #[test]
    fn other_feeds_merge_by_url_key_and_link_less_items_by_content() {
        let mut run = Run::new(false);
        run.upsert(
            7,
            T,
            &listed(
                ItemKey::Url("a.example/n/3".into()),
                Some("a.example/n/3"),
                "three",
            ),
            None,
        );
        let (seen, log) = run.upsert(
            8,
            T,
            &listed(
                ItemKey::Guid("x-3".into()),
                Some("a.example/n/3"),
                "three, retitled",
            ),
            None,
        );
        assert!(matches!(seen, Seen::Merged));
        assert_eq!(
            log,
            [
                "sighting 8 g:x-3",
                "item_by_url_key a.example/n/3",
                "insert_sighting 8 g:x-3 1"
            ]
        );

        run.upsert(
            7,
            T,
            &listed(ItemKey::Hash("h1".into()), None, "four"),
            None,
        );
        let (seen, log) = run.upsert(
            8,
            T,
            &listed(ItemKey::Hash("h2".into()), None, "four"),
            None,
        );
        assert!(matches!(seen, Seen::Merged));
        assert_eq!(
            log,
            [
                "sighting 8 h:h2",
                "item_by_hash",
                "insert_sighting 8 h:h2 2"
            ]
        );
    }

    #[test]
    fn a_first_poll_looks_up_only_the_keys_it_already_met() {
        let mut run = Run::new(false);
        let mut met = FxHashSet::default();
        let mi = listed(
            ItemKey::Url("a.example/n/5".into()),
            Some("a.example/n/5"),
            "five",
        );
        let (_, log) = run.upsert(7, T, &mi, Some(&mut met));
        assert!(!log.iter().any(|l| l.starts_with("sighting")), "{log:?}");
        // The document lists it twice: the second time it is looked up, and known.
        let (seen, log) = run.upsert(7, T, &mi, Some(&mut met));
        assert!(matches!(seen, Seen::Unchanged));
        assert_eq!(log, ["sighting 7 u:a.example/n/5"]);
    }
}
