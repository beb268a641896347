-- Who is looking at or answering a ticket right now (collision warnings in the console).
-- Rows older than a minute mean nothing; they are overwritten or ignored.
CREATE TABLE ticket_presence (
    ticket_id uuid NOT NULL,
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    user_name TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
