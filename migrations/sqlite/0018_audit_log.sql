-- The audit log of administrative actions (src/workspace/audit.rs): who, when, from which
-- address, what changed (never a secret). Kept forever by default.
CREATE TABLE audit_log (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    actor_id BLOB,
    actor_name TEXT NOT NULL,
    address TEXT,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    changes TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_ws_idx ON audit_log (workspace_id, id);
CREATE INDEX audit_log_ws_action_idx ON audit_log (workspace_id, action, id);
