-- Nothing to change on PostgreSQL: a ticket's `search` vector stays on its row and is
-- rebuilt with its thread. SQLite's side of this migration splits its search index into
-- one document per message.
SELECT 1;
