-- The guard table of writes prepared ahead on SQLite (see the SQLite migration of the same
-- number); PostgreSQL runs every write in its own transaction and never uses it. Kept so that
-- both schemas hold the same tables. It never holds a row.
CREATE TABLE stale_writes (stale INTEGER NOT NULL CHECK (stale = 0));
