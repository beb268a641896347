-- Exact ticket counts per workspace and status, kept by triggers in the writing
-- transaction: a list filtered by status alone (or not at all) is counted from here, never
-- by reading every matching ticket (src/store/tickets/filters.rs `count`).
CREATE TABLE ticket_status_counts (
    workspace_id BLOB NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, status)
) WITHOUT ROWID;
INSERT INTO ticket_status_counts (workspace_id, status, n)
    SELECT workspace_id, status, count(*) FROM tickets WHERE deleted_at IS NULL
    GROUP BY workspace_id, status;

CREATE TRIGGER tickets_count_ins AFTER INSERT ON tickets WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO ticket_status_counts (workspace_id, status, n) VALUES (NEW.workspace_id, NEW.status, 1)
        ON CONFLICT (workspace_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tickets_count_del AFTER DELETE ON tickets WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE ticket_status_counts SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND status = OLD.status;
END;
CREATE TRIGGER tickets_count_upd AFTER UPDATE OF status, deleted_at, workspace_id ON tickets
    WHEN OLD.status IS NOT NEW.status OR OLD.workspace_id IS NOT NEW.workspace_id
        OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
BEGIN
    UPDATE ticket_status_counts SET n = n - 1
        WHERE OLD.deleted_at IS NULL AND workspace_id = OLD.workspace_id AND status = OLD.status;
    INSERT INTO ticket_status_counts (workspace_id, status, n)
        SELECT NEW.workspace_id, NEW.status, 1 WHERE NEW.deleted_at IS NULL
        ON CONFLICT (workspace_id, status) DO UPDATE SET n = n + 1;
END;

-- The search index keeps only its index: the documents are built from the tickets and
-- their threads whenever they change, so a second copy of every text is not needed
-- (contentless, with deletes). Ranking (bm25) still works; nothing reads the text back.
CREATE VIRTUAL TABLE tickets_fts_slim USING fts5(
    ws, body, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO tickets_fts_slim (rowid, ws, body) SELECT rowid, ws, body FROM tickets_fts;
DROP TABLE tickets_fts;
ALTER TABLE tickets_fts_slim RENAME TO tickets_fts;

-- A reply, tag or reopen moves its ticket in the change feed by giving it the next change
-- number at once: the old triggers rewrote the row with its own number, which the row's
-- update trigger then rewrote again with the next one (two row writes, now one).
DROP TRIGGER comments_touch_ins;
DROP TRIGGER comments_touch_upd;
DROP TRIGGER ticket_tags_touch_ins;
DROP TRIGGER ticket_tags_touch_del;
DROP TRIGGER ticket_events_touch_ins;
CREATE TRIGGER comments_touch_ins AFTER INSERT ON comments
    WHEN NEW.author_type = 'agent' AND NEW.is_internal = 0 BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE id = NEW.ticket_id;
END;
CREATE TRIGGER comments_touch_upd AFTER UPDATE OF deleted_at, ticket_id, is_internal, author_type, author_id, created_at ON comments BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE id = OLD.ticket_id;
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1
        WHERE id = NEW.ticket_id AND NEW.ticket_id IS NOT OLD.ticket_id;
END;
CREATE TRIGGER ticket_tags_touch_ins AFTER INSERT ON ticket_tags BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE id = NEW.ticket_id;
END;
CREATE TRIGGER ticket_tags_touch_del AFTER DELETE ON ticket_tags BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE id = OLD.ticket_id;
END;
CREATE TRIGGER ticket_events_touch_ins AFTER INSERT ON ticket_events
    WHEN NEW.event_type IN ('reopened', 'satisfaction_received') BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE id = NEW.ticket_id;
END;
