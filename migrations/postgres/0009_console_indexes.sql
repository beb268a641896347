-- The console's "My tickets" and per-agent views: an agent's tickets in activity order,
-- answered by an index range instead of a walk through the whole activity index.
CREATE INDEX IF NOT EXISTS tickets_ws_assignee_recent_idx ON tickets (workspace_id, assignee_id, last_message_at, id) WHERE deleted_at IS NULL;
