-- AI assistance: stored summary versions, the AI fields of seed 002 on every ticket, reply
-- drafts (to learn how much agents edit them), usage counts, per-workspace settings, and
-- sentence embeddings of articles and tickets.
ALTER TABLE tickets ADD COLUMN ai_summary TEXT;
ALTER TABLE tickets ADD COLUMN ai_confidence_score DOUBLE PRECISION;
ALTER TABLE tickets ADD COLUMN ai_first_response_time BIGINT;
ALTER TABLE tickets ADD COLUMN ai_auto_resolved BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE ai_summaries (
    ticket_id uuid NOT NULL,
    version BIGINT NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
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
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    ticket_id uuid NOT NULL,
    user_id uuid NOT NULL,
    draft TEXT NOT NULL,
    tone TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    provider TEXT NOT NULL,
    sent_comment_id uuid,
    edit_ratio DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX ai_drafts_ticket_idx ON ai_drafts (workspace_id, ticket_id, created_at);

-- One row per counted thing: kind is draft, draft_sent, summary or provider_failure;
-- `amount` is the edit ratio of a sent draft (0 = sent as drafted, 1 = rewritten).
CREATE TABLE ai_usage (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    day TEXT NOT NULL,
    user_id uuid,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    amount DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX ai_usage_ws_day_idx ON ai_usage (workspace_id, day);

CREATE TABLE ai_settings (
    workspace_id uuid PRIMARY KEY NOT NULL REFERENCES workspaces(id),
    settings TEXT NOT NULL,
    api_key TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL
);

-- Little-endian f32 vectors; `owner_kind` is article or ticket.
CREATE TABLE ai_embeddings (
    owner_kind TEXT NOT NULL,
    owner_id uuid NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    model TEXT NOT NULL,
    vector BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
CREATE INDEX ai_embeddings_ws_idx ON ai_embeddings (workspace_id, owner_kind, updated_at);
