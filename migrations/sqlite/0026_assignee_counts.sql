-- How many active tickets (`new`, `open`, `pending`, not deleted) each agent has, kept by
-- triggers in the writing transaction: the console shows "My tickets" on every page, and
-- counting an agent's queue from the tickets read every one of them (capped at 10,000, still
-- 9.8 ms of a 12.3 ms inbox page at a million tickets, docs/performance.md, ninth session).
-- A reply that moves a ticket between active statuses changes nothing here, so the triggers
-- only write when a ticket enters or leaves someone's active queue.
CREATE TABLE ticket_assignee_counts (
    workspace_id BLOB NOT NULL,
    assignee_id BLOB NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, assignee_id)
) WITHOUT ROWID;
INSERT INTO ticket_assignee_counts (workspace_id, assignee_id, n)
    SELECT workspace_id, assignee_id, count(*) FROM tickets
    WHERE deleted_at IS NULL AND assignee_id IS NOT NULL AND status IN ('new', 'open', 'pending')
    GROUP BY workspace_id, assignee_id;

CREATE TRIGGER tickets_mine_ins AFTER INSERT ON tickets
    WHEN NEW.deleted_at IS NULL AND NEW.assignee_id IS NOT NULL
        AND NEW.status IN ('new', 'open', 'pending')
BEGIN
    INSERT INTO ticket_assignee_counts (workspace_id, assignee_id, n)
        VALUES (NEW.workspace_id, NEW.assignee_id, 1)
        ON CONFLICT (workspace_id, assignee_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tickets_mine_del AFTER DELETE ON tickets
    WHEN OLD.deleted_at IS NULL AND OLD.assignee_id IS NOT NULL
        AND OLD.status IN ('new', 'open', 'pending')
BEGIN
    UPDATE ticket_assignee_counts SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND assignee_id = OLD.assignee_id;
END;
-- Fires when the ticket was or is in someone's active queue, unless it stays in the same one.
CREATE TRIGGER tickets_mine_upd AFTER UPDATE OF status, deleted_at, workspace_id, assignee_id ON tickets
    WHEN ((OLD.deleted_at IS NULL AND OLD.assignee_id IS NOT NULL
            AND OLD.status IN ('new', 'open', 'pending'))
        OR (NEW.deleted_at IS NULL AND NEW.assignee_id IS NOT NULL
            AND NEW.status IN ('new', 'open', 'pending')))
    AND NOT (OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
        AND OLD.status IN ('new', 'open', 'pending') AND NEW.status IN ('new', 'open', 'pending')
        AND OLD.assignee_id IS NEW.assignee_id AND OLD.workspace_id IS NEW.workspace_id)
BEGIN
    UPDATE ticket_assignee_counts SET n = n - 1
        WHERE OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending')
            AND workspace_id = OLD.workspace_id AND assignee_id = OLD.assignee_id;
    INSERT INTO ticket_assignee_counts (workspace_id, assignee_id, n)
        SELECT NEW.workspace_id, NEW.assignee_id, 1
        WHERE NEW.deleted_at IS NULL AND NEW.assignee_id IS NOT NULL
            AND NEW.status IN ('new', 'open', 'pending')
        ON CONFLICT (workspace_id, assignee_id) DO UPDATE SET n = n + 1;
END;
