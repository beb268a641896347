-- The watchers of one ticket, in the order they are listed (see the SQLite migration of the
-- same number): both columns of the read's condition first, then its order.
CREATE INDEX ticket_watchers_ticket_idx ON ticket_watchers (workspace_id, ticket_id, created_at, user_id);
