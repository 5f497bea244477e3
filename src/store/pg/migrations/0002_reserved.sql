-- PostgreSQL schema v2 is reserved for the search index and retention (branch pgsearch); this
-- placeholder keeps the versions' numbers until that migration takes its place.
SELECT 1;
