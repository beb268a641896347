-- AI assistance: stored summary versions, the AI fields of seed 002 on every ticket, reply
-- drafts (to learn how much agents edit them), usage counts, per-workspace settings, and
-- sentence embeddings of articles and tickets.
ALTER TABLE tickets ADD COLUMN ai_summary TEXT;
ALTER TABLE tickets ADD COLUMN ai_confidence_score REAL;
ALTER TABLE tickets ADD COLUMN ai_first_response_time BIGINT;
ALTER TABLE tickets ADD COLUMN ai_auto_resolved BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE ai_summaries (
    ticket_id BLOB NOT NULL,
    version BIGINT NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    summary TEXT NOT NULL,
    key_points TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    suggested_actions TEXT NOT NULL,
    conversation TEXT NOT NULL,
    provider TEXT NOT NULL,
    content_chars BIGINT NOT NULL,
    public_messages BIGINT NOT NULL,
    generated_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, version)
);

CREATE TABLE ai_drafts (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    ticket_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    draft TEXT NOT NULL,
    tone TEXT NOT NULL,
    confidence REAL NOT NULL,
    provider TEXT NOT NULL,
    sent_comment_id BLOB,
    edit_ratio REAL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ai_drafts_ticket_idx ON ai_drafts (workspace_id, ticket_id, created_at);

-- One row per counted thing: kind is draft, draft_sent, summary or provider_failure;
-- `amount` is the edit ratio of a sent draft (0 = sent as drafted, 1 = rewritten).
CREATE TABLE ai_usage (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    day TEXT NOT NULL,
    user_id BLOB,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    amount REAL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ai_usage_ws_day_idx ON ai_usage (workspace_id, day);

CREATE TABLE ai_settings (
    workspace_id BLOB PRIMARY KEY NOT NULL REFERENCES workspaces(id),
    settings TEXT NOT NULL,
    api_key TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL
);

-- Little-endian f32 vectors; `owner_kind` is article or ticket.
CREATE TABLE ai_embeddings (
    owner_kind TEXT NOT NULL,
    owner_id BLOB NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
CREATE INDEX ai_embeddings_ws_idx ON ai_embeddings (workspace_id, owner_kind, updated_at);
