-- The active queue (`new`, `open`, `pending`, not deleted) by priority, group and whether it
-- has an assignee, kept by triggers in the writing transaction: the queue endpoint and the
-- console's view tabs read these counts, and counting them from the tickets read every
-- active ticket (1.3 s at a million tickets on SQLite, docs/performance.md, tenth session). A
-- ticket without a group is counted under the nil id (all zeros), as a key cannot be NULL. A
-- reply that moves a ticket between active statuses changes nothing here, nor does a
-- handover from one agent to another, so the triggers only write when a ticket enters or
-- leaves the active queue or changes its priority, its group, or whether anyone has it. An
-- update that moves a ticket between keys locks the two rows in key order, so two moves in
-- opposite directions cannot deadlock.
CREATE TABLE ticket_queue_counts (
    workspace_id uuid NOT NULL,
    priority BIGINT NOT NULL,
    group_id uuid NOT NULL,
    unassigned BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, priority, group_id, unassigned)
);
INSERT INTO ticket_queue_counts (workspace_id, priority, group_id, unassigned, n)
    SELECT workspace_id, priority,
        COALESCE(group_id, '00000000-0000-0000-0000-000000000000'::uuid),
        assignee_id IS NULL, count(*)
    FROM tickets
    WHERE deleted_at IS NULL AND status IN ('new', 'open', 'pending')
    GROUP BY 1, 2, 3, 4;

CREATE FUNCTION tickets_queue_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_queue_counts AS c (workspace_id, priority, group_id, unassigned, n)
        VALUES (NEW.workspace_id, NEW.priority,
            COALESCE(NEW.group_id, '00000000-0000-0000-0000-000000000000'::uuid),
            NEW.assignee_id IS NULL, 1)
        ON CONFLICT (workspace_id, priority, group_id, unassigned) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_queue_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_queue_counts SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND priority = OLD.priority
            AND group_id = COALESCE(OLD.group_id, '00000000-0000-0000-0000-000000000000'::uuid)
            AND unassigned = (OLD.assignee_id IS NULL);
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_queue_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_queue_counts AS c (workspace_id, priority, group_id, unassigned, n)
        SELECT w, p, g, u, sum(d) FROM (
            SELECT OLD.workspace_id, OLD.priority,
                COALESCE(OLD.group_id, '00000000-0000-0000-0000-000000000000'::uuid),
                OLD.assignee_id IS NULL, -1
                WHERE OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending')
            UNION ALL
            SELECT NEW.workspace_id, NEW.priority,
                COALESCE(NEW.group_id, '00000000-0000-0000-0000-000000000000'::uuid),
                NEW.assignee_id IS NULL, 1
                WHERE NEW.deleted_at IS NULL AND NEW.status IN ('new', 'open', 'pending')
        ) AS delta (w, p, g, u, d)
        GROUP BY w, p, g, u HAVING sum(d) <> 0
        ORDER BY w, p, g, u
        ON CONFLICT (workspace_id, priority, group_id, unassigned)
            DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
CREATE TRIGGER tickets_queue_ins AFTER INSERT ON tickets
    FOR EACH ROW WHEN (NEW.deleted_at IS NULL AND NEW.status IN ('new', 'open', 'pending'))
    EXECUTE FUNCTION tickets_queue_ins();
CREATE TRIGGER tickets_queue_del AFTER DELETE ON tickets
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending'))
    EXECUTE FUNCTION tickets_queue_del();
-- Fires when the ticket was or is active, unless it stays under the same key.
CREATE TRIGGER tickets_queue_upd
    AFTER UPDATE OF status, deleted_at, workspace_id, priority, group_id, assignee_id ON tickets
    FOR EACH ROW WHEN (
        ((OLD.deleted_at IS NULL AND OLD.status IN ('new', 'open', 'pending'))
        OR (NEW.deleted_at IS NULL AND NEW.status IN ('new', 'open', 'pending')))
        AND NOT (OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
            AND OLD.status IN ('new', 'open', 'pending') AND NEW.status IN ('new', 'open', 'pending')
            AND OLD.workspace_id IS NOT DISTINCT FROM NEW.workspace_id
            AND OLD.priority IS NOT DISTINCT FROM NEW.priority
            AND OLD.group_id IS NOT DISTINCT FROM NEW.group_id
            AND (OLD.assignee_id IS NULL) = (NEW.assignee_id IS NULL)))
    EXECUTE FUNCTION tickets_queue_upd();
