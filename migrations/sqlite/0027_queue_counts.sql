-- The active queue (`new`, `open`, `pending`, not deleted) by priority, group and whether it
-- has an assignee, kept by triggers in the writing transaction: the queue endpoint and the
-- console's view tabs read these counts, and counting them from the tickets read every
-- active ticket (1.3 s at a million tickets, docs/performance.md, tenth session). A ticket
-- without a group is counted under the nil id (all zeros), as a key cannot be NULL. A reply
-- that moves a ticket between active statuses changes nothing here, nor does a handover from
-- one agent to another, so the triggers only write when a ticket enters or leaves the active
-- queue or changes its priority, its group, or whether anyone has it.
CREATE TABLE ticket_queue_counts (
    workspace_id BLOB NOT NULL,
    priority BIGINT NOT NULL,
    group_id BLOB NOT NULL,
    unassigned BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, priority, group_id, unassigned)
) WITHOUT ROWID;
INSERT INTO ticket_queue_counts (workspace_id, priority, group_id, unassigned, n)
    SELECT workspace_id, priority, COALESCE(group_id, zeroblob(16)), assignee_id IS NULL, count(*)
    FROM tickets
    WHERE deleted_at IS NULL AND status IN ('new', 'open', 'pending')
    GROUP BY 1, 2, 3, 4;

CREATE TRIGGER tickets_queue_ins AFTER INSERT ON tickets
    WHEN NEW.deleted_at IS NULL AND NEW.status IN ('new', 'open', 'pending')
BEGIN
    INSERT INTO ticket_queue_counts (workspace_id, priority, group_id, unassigned, n)
        VALUES (NEW.workspace_id, NEW.priority, COALESCE(NEW.group_id, zeroblob(16)),
            NEW.assignee_id IS NULL, 1)
        ON CONFLICT (workspace_id, priority, group_id, unassigned) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER tickets_queue_del AFTER DELETE ON tickets
    WHEN OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending')
BEGIN
    UPDATE ticket_queue_counts SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND priority = OLD.priority
            AND group_id = COALESCE(OLD.group_id, zeroblob(16))
            AND unassigned = (OLD.assignee_id IS NULL);
END;
-- Fires when the ticket was or is active, unless it stays under the same key.
CREATE TRIGGER tickets_queue_upd
    AFTER UPDATE OF status, deleted_at, workspace_id, priority, group_id, assignee_id ON tickets
    WHEN ((OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending'))
        OR (NEW.deleted_at IS NULL AND NEW.status IN ('new', 'open', 'pending')))
    AND NOT (OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
        AND OLD.status IN ('new', 'open', 'pending') AND NEW.status IN ('new', 'open', 'pending')
        AND OLD.workspace_id IS NEW.workspace_id AND OLD.priority IS NEW.priority
        AND OLD.group_id IS NEW.group_id
        AND (OLD.assignee_id IS NULL) = (NEW.assignee_id IS NULL))
BEGIN
    UPDATE ticket_queue_counts SET n = n - 1
        WHERE OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending')
            AND workspace_id = OLD.workspace_id AND priority = OLD.priority
            AND group_id = COALESCE(OLD.group_id, zeroblob(16))
            AND unassigned = (OLD.assignee_id IS NULL);
    INSERT INTO ticket_queue_counts (workspace_id, priority, group_id, unassigned, n)
        SELECT NEW.workspace_id, NEW.priority, COALESCE(NEW.group_id, zeroblob(16)),
            NEW.assignee_id IS NULL, 1
        WHERE NEW.deleted_at IS NULL AND NEW.status IN ('new', 'open', 'pending')
        ON CONFLICT (workspace_id, priority, group_id, unassigned) DO UPDATE SET n = n + 1;
END;
