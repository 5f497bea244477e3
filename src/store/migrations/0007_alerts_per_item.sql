-- newshound schema v7: an alert is unique per topic and item, no longer per topic and story.
-- Whether a second item of a story alerts is decided when it arrives (the same article, or
-- confidently the same story as an item that alerted, is "also reported"; anything less alerts on
-- its own), so a wrong story merge can no longer hide an alert. Stories are also re-clustered as
-- late items arrive, so `story_id` is the story at alert time.
CREATE TABLE alerts_v7 (
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
    UNIQUE (topic, item_id)
);
INSERT INTO alerts_v7 (id, topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at)
    SELECT id, topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v7 RENAME TO alerts;
CREATE INDEX alerts_by_time ON alerts(created_at);
