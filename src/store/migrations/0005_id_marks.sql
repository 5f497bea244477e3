-- newshound schema v5: an hourly map from time to ids, instead of two indexes by time.
--
-- Ids grow with time: an item or story is written after every one with a smaller id, and a
-- story cannot start after it is written. So "written since T" is a range of ids from the
-- mark of T's hour (or an earlier one), and "stories started since T" is that range filtered.
-- An index by start was a random insert per new story (a cold run's items span its dates, so
-- every transaction rewrote most of the index's pages): 5% of the CPU of a cold run.

CREATE TABLE id_marks (
    -- Unix time / 3600.
    hour     INTEGER PRIMARY KEY,
    -- The first item and story ids written in this hour or later.
    item_id  INTEGER NOT NULL,
    story_id INTEGER NOT NULL
);

-- From the rows already stored: per hour of first sight, the smallest ids seen then or later
-- (a story is written with its headline item).
INSERT INTO id_marks (hour, item_id, story_id)
SELECT hour,
       min(first_item) OVER later,
       coalesce(min(first_story) OVER later, (SELECT coalesce(max(id), 0) + 1 FROM stories))
FROM (SELECT i.first_seen_at / 3600 AS hour, min(i.id) AS first_item, min(st.id) AS first_story
      FROM items i LEFT JOIN stories st ON st.headline_item_id = i.id
      GROUP BY hour)
WINDOW later AS (ORDER BY hour DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

DROP INDEX items_by_seen;
DROP INDEX stories_by_start;
