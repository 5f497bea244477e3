-- PostgreSQL schema v4: a strict `max_per_hour` across daemons. A sink with a budget is claimed
-- under a lock of its own, counting its alerts sent in the last hour (`outbox_sent_by_sink`, v3)
-- and those claimed by a live claim: the sends in flight, found through this index. A row is
-- claimed only while it is sent (the outcome clears the claim), so the index stays small.
CREATE INDEX outbox_claimed ON outbox (sink, claim_until) WHERE claim_owner IS NOT NULL;
