-- newshound's PostgreSQL schema v2: the full-text search index (SQLite's items_fts, v9).
--
-- One row per indexed item: its title (weight A) and summary (weight B) as a tsvector, written
-- by the writer in the item's transaction (`store/pg/search.rs` cuts the words in Rust, as
-- SQLite's FTS5 unicode61 tokenizer does, so no text-search configuration or extension is
-- involved). The GIN index serves `doc @@ tsquery`. Deleting an item (retention) deletes its
-- row by the foreign key's cascade. Empty until a daemon starts with `[storage] search = true`,
-- which indexes what is stored first.
CREATE TABLE items_search (
    item_id BIGINT PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    doc     TSVECTOR NOT NULL
);
CREATE INDEX items_search_doc ON items_search USING GIN (doc);
