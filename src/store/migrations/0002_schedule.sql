-- newshound schema v2: what the daemon's schedule needs to survive restarts.

-- HTTP 410 Gone: the feed is no longer polled by the daemon (a successful `once` revives it).
ALTER TABLE feeds ADD COLUMN dead_since INTEGER;
-- A permanent redirect seen on several consecutive polls becomes the URL polled.
ALTER TABLE feeds ADD COLUMN adopted_url TEXT;
-- RSS <skipHours> (0-23, UTC) and <skipDays> (0 = Monday), comma-separated.
ALTER TABLE feeds ADD COLUMN skip_hours TEXT;
ALTER TABLE feeds ADD COLUMN skip_days TEXT;
-- The feed's publishing over the last 7 days (items, oldest date), computed when it changes.
ALTER TABLE feeds ADD COLUMN activity_items INTEGER;
ALTER TABLE feeds ADD COLUMN activity_oldest INTEGER;
