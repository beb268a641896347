-- A write prepared ahead on a read connection and applied later by the group writer (a
-- reply, see `store/prepared.rs`) first checks that what it read is still so:
-- `INSERT INTO stale_writes (stale) SELECT 1 WHERE NOT EXISTS (…)` puts a row here only when
-- it is not, and this table's CHECK then fails the statement, which stops the write before
-- any of its changes land. The table never holds a row.
CREATE TABLE stale_writes (stale INTEGER NOT NULL CHECK (stale = 0));
