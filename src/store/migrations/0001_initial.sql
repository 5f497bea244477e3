-- newshound schema v1. Times are Unix seconds, UTC.

CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_fetch_at        INTEGER,
    last_success_at      INTEGER,
    last_status          INTEGER,
    last_error           TEXT,
    last_error_class     TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- a 301/308 seen on the last poll: the URL the feed says it moved to
    redirect_url         TEXT,
    redirect_seen        INTEGER NOT NULL DEFAULT 0,
    next_poll_at         INTEGER,
    poll_interval        INTEGER,
    schedule_reason      TEXT,
    ttl_minutes          INTEGER,
    title                TEXT
);

CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    canonical_url  TEXT,
    content_hash   INTEGER NOT NULL,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    content        TEXT,
    url            TEXT,
    published_at   INTEGER,
    updated_at     INTEGER,
    first_seen_at  INTEGER NOT NULL,
    changed_at     INTEGER,
    authors        TEXT NOT NULL DEFAULT '[]',
    categories     TEXT NOT NULL DEFAULT '[]',
    first_feed_id  INTEGER NOT NULL REFERENCES feeds(id)
);
CREATE UNIQUE INDEX items_by_canonical_url ON items(canonical_url) WHERE canonical_url IS NOT NULL;
CREATE INDEX items_by_hash ON items(content_hash) WHERE canonical_url IS NULL;
CREATE INDEX items_by_seen ON items(first_seen_at);

-- Every (feed, key) an item was seen under: the feed's own identity of it, and the proof that
-- one item came from several feeds.
CREATE TABLE sightings (
    feed_id       INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    item_key      TEXT NOT NULL,
    item_id       INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    first_seen_at INTEGER NOT NULL,
    PRIMARY KEY (feed_id, item_key)
) WITHOUT ROWID;
CREATE INDEX sightings_by_item ON sightings(item_id);

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    feed_id     INTEGER NOT NULL REFERENCES feeds(id),
    query_index INTEGER NOT NULL,
    terms       TEXT NOT NULL,
    snippet     TEXT NOT NULL,
    field       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (topic, item_id)
);
CREATE INDEX alerts_by_time ON alerts(created_at);
