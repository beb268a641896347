-- The change feed (`GET /api/incremental/tickets`): every ticket write takes the next change
-- number. SQLite has one writer at a time, so change numbers follow commit order.
ALTER TABLE tickets ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
UPDATE tickets SET change_seq = seq;
CREATE INDEX tickets_change_seq_idx ON tickets (change_seq);
CREATE INDEX tickets_ws_change_idx ON tickets (workspace_id, change_seq);
CREATE TRIGGER tickets_change_ins AFTER INSERT ON tickets BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE seq = NEW.seq;
END;
CREATE TRIGGER tickets_change_upd AFTER UPDATE ON tickets WHEN NEW.change_seq = OLD.change_seq BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE seq = NEW.seq;
END;
