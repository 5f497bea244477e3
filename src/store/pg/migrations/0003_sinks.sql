-- PostgreSQL schema v3: sinks with several daemons. v1 made the outbox and sink_status as
-- SQLite's; this adds what sharing them needs.
--
-- A delivery is claimed before it is sent, as a feed is before it is polled: `claim_owner` is
-- the claiming daemon's instance id, `claim_until` when its claim ends (milliseconds, the server's
-- clock). A due row is claimable when nobody holds it or its claim ended; the outcome clears it.
ALTER TABLE outbox ADD COLUMN claim_owner TEXT, ADD COLUMN claim_until BIGINT;
CREATE INDEX outbox_claimable ON outbox (sink, next_at) WHERE state IN ('pending', 'failed');
CREATE INDEX outbox_sink_state ON outbox (sink, state);
CREATE INDEX outbox_sent_by_sink ON outbox (sink, sent_at) WHERE state = 'sent';

-- Each digest's last run (the sink's own under topic ''), as SQLite's v10. Across daemons it is
-- also the digest's guard: a run is recorded only if none was recorded at or after the run's
-- scheduled time, in the transaction that folds the held alerts, so a digest goes out once per
-- sink (and topic) per period whichever daemons see it due.
CREATE TABLE digest_runs (
    sink    TEXT NOT NULL,
    topic   TEXT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (sink, topic)
);
INSERT INTO digest_runs (sink, topic, last_at)
    SELECT sink, '', last_digest_at FROM sink_status WHERE last_digest_at IS NOT NULL;
