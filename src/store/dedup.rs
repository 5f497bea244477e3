//! Is this item new? Sightings by feed and key, URL keys across feeds, content hashes; insert or update.

use super::*;

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

/// The statements of [`upsert_item`], taken from the statement cache once per poll rather than
/// once per item: each take and return costs a hash of the SQL text and an allocation, which
/// showed in a cold run's profile when done per item.
pub(super) struct ItemStatements<'c> {
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

impl<'c> ItemStatements<'c> {
    pub(super) fn prepare(tx: &'c Connection, search: bool) -> rusqlite::Result<Self> {
        Ok(ItemStatements {
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

/// Finds the item an incoming one is, strongest key first: this feed's key for it; its GUID
/// without scheme and host; its URL key (any feed); for link-less items, identical content.
#[allow(clippy::too_many_arguments)]
pub(super) fn upsert_item(
    tx: &Connection,
    stmts: &mut ItemStatements<'_>,
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
    // (item id, its content hash, when this feed last listed it)
    let by_key =
        |stmts: &mut ItemStatements<'_>, k: &str| -> rusqlite::Result<Option<(i64, i64, i64)>> {
            stmts
                .by_key
                .query_row(params![feed_id, k], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
        };
    let path_key = match &item.key {
        crate::model::ItemKey::Guid(g) => {
            crate::stories::guid_path_key(g).map(|p| format!("p:{p}"))
        }
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
    let mut known = if lookup { by_key(stmts, &key)? } else { None };
    if lookup
        && known.is_none()
        && let Some(pk) = &path_key
    {
        // A GUID that only changed scheme or host: the same item; remember the new spelling.
        known = by_key(stmts, pk)?;
        if let Some((id, _, _)) = known {
            stmts.sighting.execute(params![feed_id, key, id, at])?;
            remember(&key);
        }
    }
    if let Some((id, old_hash, last_seen)) = known {
        // Still listed by the feed: retention keeps it. Written at most once a day per item, so
        // re-polls of unchanged documents write nothing.
        if at - last_seen >= SEEN_AGAIN_SECS {
            stmts.seen_again.execute(params![feed_id, key, at])?;
        }
        if old_hash == hash {
            return Ok(Seen::Unchanged);
        }
        stmts.update_item.execute(params![
            id,
            item.title,
            item.summary,
            item.content,
            hash,
            item.updated.map(ts),
            at
        ])?;
        if let Some((insert, delete)) = &mut stmts.index {
            delete.execute(params![id])?;
            insert.execute(params![
                id,
                crate::search::index_text(&item.title),
                crate::search::index_text(&item.summary)
            ])?;
        }
        return Ok(Seen::Updated(id));
    }
    let url_key = &item.url_key;
    let url_hash = url_key.as_deref().map(url_hash);
    let existing: Option<i64> = match (url_key, url_hash) {
        (Some(k), Some(h)) => stmts
            .by_url_key
            .query_row(params![h, k], |r| r.get(0))
            .optional()?,
        _ => stmts
            .by_hash
            .query_row(params![hash], |r| r.get(0))
            .optional()?,
    };
    if let Some(id) = existing {
        stmts.sighting.execute(params![feed_id, key, id, at])?;
        remember(&key);
        if let Some(pk) = &path_key {
            stmts.sighting.execute(params![feed_id, pk, id, at])?;
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
        &mut &*tx,
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
    let (story_id, join_reason) = (placed.story, placed.reason);
    stmts.insert_item.execute(params![
        id,
        item.canonical_url,
        url_key,
        url_hash,
        hash,
        item.title,
        item.summary,
        item.content,
        item.url,
        item.published.map(ts),
        item.updated.map(ts),
        at,
        serde_json::to_string(&item.authors).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
        feed_id,
        story_id,
        join_reason,
    ])?;
    stmts
        .insert_features
        .execute(params![id, mi.features.to_bytes()])?;
    if let Some((insert, _)) = &mut stmts.index {
        insert.execute(params![
            id,
            crate::search::index_text(&item.title),
            crate::search::index_text(&item.summary)
        ])?;
    }
    stmts.sighting.execute(params![feed_id, key, id, at])?;
    remember(&key);
    if let Some(pk) = &path_key {
        stmts.sighting.execute(params![feed_id, pk, id, at])?;
        remember(pk);
    }
    Ok(Seen::New(id))
}
