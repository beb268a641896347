-- Exact ticket counts per workspace and status, kept by triggers in the writing
-- transaction: a list filtered by status alone (or not at all) is counted from here, never
-- by reading every matching ticket (src/store/tickets/filters.rs `count`). A status change
-- updates two rows; they are always locked in (workspace, status) order, so two changes in
-- opposite directions cannot deadlock.
CREATE TABLE ticket_status_counts (
    workspace_id uuid NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, status)
);
INSERT INTO ticket_status_counts (workspace_id, status, n)
    SELECT workspace_id, status, count(*) FROM tickets WHERE deleted_at IS NULL
    GROUP BY workspace_id, status;

CREATE FUNCTION tickets_count_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_status_counts AS c (workspace_id, status, n)
        VALUES (NEW.workspace_id, NEW.status, 1)
        ON CONFLICT (workspace_id, status) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_count_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_status_counts SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND status = OLD.status;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_count_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_status_counts AS c (workspace_id, status, n)
        SELECT w, s, sum(d) FROM (
            SELECT OLD.workspace_id, OLD.status, -1 WHERE OLD.deleted_at IS NULL
            UNION ALL
            SELECT NEW.workspace_id, NEW.status, 1 WHERE NEW.deleted_at IS NULL
        ) AS delta (w, s, d)
        GROUP BY w, s HAVING sum(d) <> 0
        ORDER BY w, s
        ON CONFLICT (workspace_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
CREATE TRIGGER tickets_count_ins AFTER INSERT ON tickets
    FOR EACH ROW WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION tickets_count_ins();
CREATE TRIGGER tickets_count_del AFTER DELETE ON tickets
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL) EXECUTE FUNCTION tickets_count_del();
CREATE TRIGGER tickets_count_upd AFTER UPDATE OF status, deleted_at, workspace_id ON tickets
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.workspace_id IS DISTINCT FROM NEW.workspace_id
        OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
    EXECUTE FUNCTION tickets_count_upd();
