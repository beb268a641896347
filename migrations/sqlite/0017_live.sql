-- Live pages (src/tickets/live.rs): on SQLite one process owns the database and its
-- transactions wake the live pages themselves when they commit; PostgreSQL's version of
-- this migration adds the notifying triggers.

-- Which node holds a claimed job (src/jobs/runner.rs): it renews only its own holds and gives
-- them back when it shuts down; operators see who is working on what.
ALTER TABLE jobs ADD COLUMN locked_by TEXT;

-- Failed sign-ins (src/auth/throttle.rs), in the database so that every node counts the same
-- guesses: N nodes must not allow N times the attempts.
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_key_at_idx ON login_failures (key, at);
