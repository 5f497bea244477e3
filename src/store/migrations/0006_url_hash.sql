-- newshound schema v6: the cross-feed dedup index holds a 64-bit hash of each URL key, not the
-- key itself.
--
-- Every new item is looked up and inserted by its URL key, and a burst of new items spreads
-- over the whole key range, so each write transaction rewrote most of that index's pages. An
-- integer entry is a third the size of a key ("news.example/2026/11/27/story-slug"): a third
-- the pages to rewrite and to keep in cache. Lookups compare the key itself too, so two keys
-- with one hash stay two items. The writer fills `url_hash` for the rows already stored.

ALTER TABLE items ADD COLUMN url_hash INTEGER;
DROP INDEX items_by_url_key;
CREATE INDEX items_by_url_hash ON items(url_hash) WHERE url_hash IS NOT NULL;
