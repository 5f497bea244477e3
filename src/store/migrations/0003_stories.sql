-- newshound schema v3: layered identity and stories.

ALTER TABLE items ADD COLUMN url_key TEXT;
ALTER TABLE items ADD COLUMN story_id INTEGER;
ALTER TABLE items ADD COLUMN features BLOB;
ALTER TABLE items ADD COLUMN join_reason TEXT;
CREATE UNIQUE INDEX items_by_url_key ON items(url_key) WHERE url_key IS NOT NULL;
-- The URL key supersedes the canonical URL as the unique key.
DROP INDEX items_by_canonical_url;
CREATE INDEX items_by_story ON items(story_id);

-- A story: items from any feeds that report the same news. Its first item is its headline.
CREATE TABLE stories (
    id               INTEGER PRIMARY KEY,
    headline_item_id INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    last_at          INTEGER NOT NULL,
    items            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX stories_by_start ON stories(started_at);

-- Candidate search needs no table: the writer keeps the open stories' key terms in memory and
-- rebuilds them from `stories` and `items.features` at start.

-- Items stored before stories existed are stories of their own.
INSERT INTO stories (id, headline_item_id, started_at, last_at)
    SELECT id, id, coalesce(published_at, first_seen_at), coalesce(published_at, first_seen_at) FROM items;
UPDATE items SET story_id = id, join_reason = 'first item';

-- Alerts are per story now: one per topic and story.
CREATE TABLE alerts_v3 (
    id          INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    story_id    INTEGER NOT NULL,
    feed_id     INTEGER NOT NULL REFERENCES feeds(id),
    query_index INTEGER NOT NULL,
    terms       TEXT NOT NULL,
    snippet     TEXT NOT NULL,
    field       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (topic, story_id)
);
INSERT INTO alerts_v3 (id, topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at)
    SELECT a.id, a.topic, a.item_id, i.story_id, a.feed_id, a.query_index, a.terms, a.snippet, a.field, a.created_at
    FROM alerts a JOIN items i ON i.id = a.item_id;
DROP TABLE alerts;
ALTER TABLE alerts_v3 RENAME TO alerts;
CREATE INDEX alerts_by_time ON alerts(created_at);
