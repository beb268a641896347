-- Nothing to change on PostgreSQL: SQLite's side of this migration adds a view of its FTS5
-- index's words; PostgreSQL's `tsquery` prefixes read the GIN index directly.
SELECT 1;
