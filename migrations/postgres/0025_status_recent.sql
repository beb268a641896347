-- A page of one status by last message (`status=open`, the default sort) walks this index
-- within the status, however the statuses are spread in time. Without it the page walked
-- every ticket from the newest, keeping those of the status: cheap while a status is spread
-- over time, 13.5 ms a page when tens of thousands of `new` tickets were newer than nearly
-- every `open` one (docs/performance.md, seventh session).
CREATE INDEX tickets_ws_status_recent_idx ON tickets (workspace_id, status, last_message_at, id) WHERE deleted_at IS NULL;
