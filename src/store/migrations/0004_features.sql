-- newshound schema v4: story features in a narrow table of their own.
--
-- The writer reads the features of every recent item when it starts (term statistics) and of
-- every open story's headline; beside the item text, that was a scan of the whole items table.
-- Rows are in item order, so "items seen since T" is a range of item ids.

CREATE TABLE item_features (
    item_id  INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    features BLOB NOT NULL
);
INSERT INTO item_features (item_id, features)
    SELECT id, features FROM items WHERE features IS NOT NULL;
ALTER TABLE items DROP COLUMN features;
