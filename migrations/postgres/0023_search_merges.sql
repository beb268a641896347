-- Nothing to change on PostgreSQL: SQLite's side of this migration tunes how its FTS5 search
-- index merges; PostgreSQL's GIN index has its own pending list.
SELECT 1;
