-- Nothing to change on SQLite: the search document lives in its own table (`tickets_fts`), so
-- writing it never renumbered a ticket for the change feed. PostgreSQL's side of this
-- migration stops numbering updates of its `search` column alone.
SELECT 1;
