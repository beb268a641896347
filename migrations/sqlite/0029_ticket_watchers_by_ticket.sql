-- The watchers of one ticket, in the order they are listed. Their read (`store::watchers::list`:
-- a reply to a watched ticket, the watchers endpoint, a merge) names the workspace and the
-- ticket; with no statistics for the table the planner took the (workspace, user) index and
-- read every watcher of the workspace for it: 1.9 ms a reply with 10,000 watched tickets.
-- With both columns of the condition leading here, and the listing order after them, the read
-- is a seek to the ticket's few rows.
CREATE INDEX ticket_watchers_ticket_idx ON ticket_watchers (workspace_id, ticket_id, created_at, user_id);
