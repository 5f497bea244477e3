-- newshound schema v10: digests per topic. A sink's topic may have a digest of its own
-- (`per_topic.NAME = { digest = "daily 08:00" }`); each digest's last run is kept here, the
-- sink's own under topic ''. (`sink_status.last_digest_at` stays: the last of any.)
CREATE TABLE digest_runs (
    sink    TEXT NOT NULL,
    topic   TEXT NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (sink, topic)
) WITHOUT ROWID;
INSERT INTO digest_runs (sink, topic, last_at)
    SELECT sink, '', last_digest_at FROM sink_status WHERE last_digest_at IS NOT NULL;
