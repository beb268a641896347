-- How many active tickets (`new`, `open`, `pending`, not deleted) each agent has, kept by
-- triggers in the writing transaction: the console shows "My tickets" on every page, and
-- counting an agent's queue from the tickets read every one of them (capped at 10,000, most
-- of an inbox page at a million tickets, docs/performance.md, ninth session). A reply that
-- moves a ticket between active statuses changes nothing here, so the triggers only write
-- when a ticket enters or leaves someone's active queue. A reassignment updates two rows;
-- they are always locked in (workspace, assignee) order, so two reassignments in opposite
-- directions cannot deadlock.
CREATE TABLE ticket_assignee_counts (
    workspace_id uuid NOT NULL,
    assignee_id uuid NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, assignee_id)
);
INSERT INTO ticket_assignee_counts (workspace_id, assignee_id, n)
    SELECT workspace_id, assignee_id, count(*) FROM tickets
    WHERE deleted_at IS NULL AND assignee_id IS NOT NULL AND status IN ('new', 'open', 'pending')
    GROUP BY workspace_id, assignee_id;

CREATE FUNCTION tickets_mine_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_assignee_counts AS c (workspace_id, assignee_id, n)
        VALUES (NEW.workspace_id, NEW.assignee_id, 1)
        ON CONFLICT (workspace_id, assignee_id) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_mine_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_assignee_counts SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND assignee_id = OLD.assignee_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_mine_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_assignee_counts AS c (workspace_id, assignee_id, n)
        SELECT w, a, sum(d) FROM (
            SELECT OLD.workspace_id, OLD.assignee_id, -1
                WHERE OLD.deleted_at IS NULL AND OLD.assignee_id IS NOT NULL
                    AND OLD.status IN ('new', 'open', 'pending')
            UNION ALL
            SELECT NEW.workspace_id, NEW.assignee_id, 1
                WHERE NEW.deleted_at IS NULL AND NEW.assignee_id IS NOT NULL
                    AND NEW.status IN ('new', 'open', 'pending')
        ) AS delta (w, a, d)
        GROUP BY w, a HAVING sum(d) <> 0
        ORDER BY w, a
        ON CONFLICT (workspace_id, assignee_id) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
CREATE TRIGGER tickets_mine_ins AFTER INSERT ON tickets
    FOR EACH ROW WHEN (NEW.deleted_at IS NULL AND NEW.assignee_id IS NOT NULL
        AND NEW.status IN ('new', 'open', 'pending'))
    EXECUTE FUNCTION tickets_mine_ins();
CREATE TRIGGER tickets_mine_del AFTER DELETE ON tickets
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND OLD.assignee_id IS NOT NULL
        AND OLD.status IN ('new', 'open', 'pending'))
    EXECUTE FUNCTION tickets_mine_del();
-- Fires when the ticket was or is in someone's active queue, unless it stays in the same one.
CREATE TRIGGER tickets_mine_upd AFTER UPDATE OF status, deleted_at, workspace_id, assignee_id ON tickets
    FOR EACH ROW WHEN (
        ((OLD.deleted_at IS NULL AND OLD.assignee_id IS NOT NULL
            AND OLD.status IN ('new', 'open', 'pending'))
        OR (NEW.deleted_at IS NULL AND NEW.assignee_id IS NOT NULL
            AND NEW.status IN ('new', 'open', 'pending')))
        AND NOT (OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
            AND OLD.status IN ('new', 'open', 'pending') AND NEW.status IN ('new', 'open', 'pending')
            AND OLD.assignee_id IS NOT DISTINCT FROM NEW.assignee_id
            AND OLD.workspace_id IS NOT DISTINCT FROM NEW.workspace_id))
    EXECUTE FUNCTION tickets_mine_upd();
