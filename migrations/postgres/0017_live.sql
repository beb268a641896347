-- Live pages on every node (src/tickets/live.rs): each node listens on one connection and
-- hears, at commit, which domain events were added to the outbox (so it reads just those)
-- and whose presence on a ticket changed. Identical notifications of one transaction arrive
-- once.
CREATE FUNCTION domain_events_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferrodesk_events', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER domain_events_added
    AFTER INSERT ON domain_events
    FOR EACH ROW EXECUTE FUNCTION domain_events_added();

CREATE FUNCTION presence_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferrodesk_presence', NEW.ticket_id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER presence_changed
    AFTER INSERT OR UPDATE ON ticket_presence
    FOR EACH ROW EXECUTE FUNCTION presence_changed();

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
