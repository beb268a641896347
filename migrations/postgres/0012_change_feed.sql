-- The change feed (`GET /api/incremental/tickets`): every ticket write records its change
-- number and its transaction id. Concurrent transactions may commit out of number order, so
-- the feed reads only changes of transactions older than every one still running
-- (`pg_snapshot_xmin`), in (transaction, number) order: a slower transaction's change is never
-- passed over.
CREATE SEQUENCE tickets_change_seq;
ALTER TABLE tickets ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
UPDATE tickets SET change_seq = nextval('tickets_change_seq');
CREATE INDEX tickets_ws_change_idx ON tickets (workspace_id, change_xid, change_seq);
CREATE FUNCTION tickets_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval('tickets_change_seq');
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;
CREATE TRIGGER tickets_change BEFORE INSERT OR UPDATE ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_change();
