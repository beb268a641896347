-- Email: every Message-ID Ferrodesk received or sent, for threading and duplicate detection.
CREATE TABLE email_messages (
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    message_id TEXT NOT NULL,
    ticket_id uuid NOT NULL REFERENCES tickets(id),
    comment_id uuid,
    direction TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
);
CREATE INDEX email_messages_ticket_idx ON email_messages (ticket_id, created_at);

-- Files kept in the object store (data folder or S3); `storage_key` never comes from user input.
CREATE TABLE attachments (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    ticket_id uuid REFERENCES tickets(id),
    comment_id uuid,
    file_name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    file_size BIGINT NOT NULL,
    storage_key TEXT NOT NULL,
    content_id TEXT,
    is_inline BOOLEAN NOT NULL DEFAULT FALSE,
    uploaded_by uuid,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_comment_idx ON attachments (comment_id);
CREATE INDEX attachments_ticket_idx ON attachments (ticket_id);

-- Per-workspace email settings (JSON) and the token that authorizes inbound mail.
ALTER TABLE workspaces ADD COLUMN email_settings TEXT;
ALTER TABLE workspaces ADD COLUMN inbound_token TEXT;
CREATE UNIQUE INDEX workspaces_inbound_token_key ON workspaces (inbound_token);

-- Outbound mail is a notification: its delivery state lives on it.
ALTER TABLE notifications ADD COLUMN comment_id uuid;
ALTER TABLE notifications ADD COLUMN message_id TEXT;
ALTER TABLE notifications ADD COLUMN last_error TEXT;
ALTER TABLE notifications ADD COLUMN sent_at BIGINT;
CREATE INDEX notifications_comment_idx ON notifications (comment_id);

-- The sanitized HTML of a message that arrived as HTML (the body holds its text).
ALTER TABLE comments ADD COLUMN html_body TEXT;
