-- Analytics (`/api/tickets/analytics/*`), the daily queue report and its settings.

-- Solved tickets by when they were solved (`resolved` counts, volume, backlog). A ticket closed
-- without being resolved first counts as solved when it was closed.
CREATE INDEX tickets_ws_solved_idx ON tickets (workspace_id, (COALESCE(resolved_at, closed_at))) WHERE deleted_at IS NULL;
-- Unsolved tickets by creation time: the backlog at an instant.
CREATE INDEX tickets_ws_status_created_idx ON tickets (workspace_id, status, created_at) WHERE deleted_at IS NULL;
-- Reopens and ratings by type and time.
CREATE INDEX ticket_events_ws_type_idx ON ticket_events (workspace_id, event_type, created_at);
-- Public replies of each agent.
CREATE INDEX comments_ws_created_idx ON comments (workspace_id, created_at);

-- `{"daily_queue": {"enabled", "hour", "timezone", "roles"}}`; NULL = defaults.
ALTER TABLE workspaces ADD COLUMN report_settings TEXT;

-- One row per report sent on schedule: the primary key makes the day's run happen once
-- however many nodes scan at the same time.
CREATE TABLE report_runs (
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind, day)
);
