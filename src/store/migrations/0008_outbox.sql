-- newshound schema v8: the outbox. Each alert enqueues, in its own transaction, one delivery per
-- sink that wants it; the delivery worker sends them and records the outcome here. Times are in
-- milliseconds since the epoch (delivery latency is measured in them).
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    sink        TEXT NOT NULL,
    alert_id    INTEGER,
    topic       TEXT NOT NULL,
    -- `topic:story:sink`, sent with every attempt so a receiver can drop a repeat.
    idem_key    TEXT NOT NULL UNIQUE,
    -- The alert as sent (JSON), frozen at enqueue.
    payload     TEXT NOT NULL,
    -- pending (never tried), failed (will be retried), sent, dead (given up; retryable by hand),
    -- held (waiting for the sink's next digest), digested (sent within digest `digest_id`).
    state       TEXT NOT NULL DEFAULT 'pending',
    digest_id   INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    -- Where `give_up_after` counts from: the enqueue, or the last retry by hand.
    retry_since INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    last_at     INTEGER,
    last_error  TEXT,
    sent_at     INTEGER
);
CREATE INDEX outbox_due ON outbox(sink, next_at) WHERE state IN ('pending', 'failed');
CREATE INDEX outbox_by_sink ON outbox(sink, state);
CREATE INDEX outbox_sent ON outbox(sink, sent_at) WHERE state = 'sent';

-- Each sink's last outcomes, for `newshound sinks` and the metrics.
CREATE TABLE sink_status (
    sink            TEXT PRIMARY KEY,
    last_success_at INTEGER,
    last_error_at   INTEGER,
    last_error      TEXT,
    last_digest_at  INTEGER,
    sends           INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0
);
