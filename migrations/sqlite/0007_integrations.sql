-- Customer portal credentials, stored as SHA-256 digests only: per-ticket access tokens
-- (`ticket`), one-time sign-in links (`magic`) and customer sessions (`session`).
CREATE TABLE portal_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    customer_id BLOB NOT NULL REFERENCES customers(id),
    ticket_id BLOB REFERENCES tickets(id),
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX portal_tokens_ticket_idx ON portal_tokens (ticket_id);
CREATE INDEX portal_tokens_customer_idx ON portal_tokens (customer_id, kind);

-- Ids of other systems (Thulium tickets and messages, WeCom messages and nonces, chat
-- conversations, CRM notes) and what they became here: replays find them and do nothing.
CREATE TABLE integration_refs (
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    system TEXT NOT NULL,
    external_id TEXT NOT NULL,
    ticket_id BLOB,
    comment_id BLOB,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, system, external_id)
);
CREATE INDEX integration_refs_ticket_idx ON integration_refs (ticket_id, system);

-- Escalations to the CSP (RMA cases) and the TMS (on-site tasks). At most one live (not
-- cancelled) escalation of each kind per ticket.
CREATE TABLE escalations (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    ticket_id BLOB NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    external_id TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    requested_by BLOB,
    note TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX escalations_live_key ON escalations (ticket_id, kind) WHERE status <> 'cancelled';

-- Per-workspace integration settings (JSON; secrets never leave through the API).
ALTER TABLE workspaces ADD COLUMN integration_settings TEXT;
