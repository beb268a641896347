-- Webhook subscriptions and their deliveries (one row per event and subscription, or per rule
-- action; its id is the stable X-Ferrodesk-Delivery across retries).
CREATE TABLE webhooks (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    include_internal BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_workspace_idx ON webhooks (workspace_id);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    webhook_id uuid REFERENCES webhooks(id) ON DELETE CASCADE,
    -- Set instead of webhook_id for a rule's `webhook` action (its own URL, unsigned).
    target_url TEXT,
    event_type TEXT NOT NULL,
    subject_id uuid NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    response_code BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, created_at);
CREATE INDEX webhook_deliveries_subject_idx ON webhook_deliveries (webhook_id, subject_id, status, created_at);
