-- Nothing to change on PostgreSQL: its `tickets_change` trigger numbers a row before it is
-- written (BEFORE INSERT OR UPDATE), so no row is written twice. SQLite's side of this
-- migration lets an INSERT carry its own change number.
SELECT 1;
