-- Nothing to change on PostgreSQL: SQLite's side of this migration sets when its FTS5 search
-- index merges a whole level at once; PostgreSQL's GIN index has its own pending list.
SELECT 1;
