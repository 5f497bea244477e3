-- newshound schema v9: full-text search, and what retention needs.
--
-- The search index: each item's title and summary as `search::index_text` writes them (CJK
-- runs cut into character pairs), tokenized by unicode61. Contentless: the text stays in
-- `items` only; `contentless_delete` lets a changed or pruned item's row be deleted by id.
-- The writer fills it for the items already stored, in this migration's transaction.
CREATE VIRTUAL TABLE items_fts USING fts5(
    title, summary,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- When a feed's document last listed the item (refreshed at most daily; NULL: first_seen_at).
-- Retention never deletes an item a feed still publishes: it would come back as new.
ALTER TABLE sightings ADD COLUMN last_seen_at INTEGER;
