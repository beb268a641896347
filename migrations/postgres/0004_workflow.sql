-- Workflow: categories, canned responses, watchers, automation rules, assignment state and
-- pending notifications.
CREATE TABLE categories (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    color TEXT,
    parent_id uuid REFERENCES categories(id),
    position BIGINT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Names are unique per workspace regardless of case (`name_key` is the lower-cased name).
CREATE UNIQUE INDEX categories_workspace_name_key ON categories (workspace_id, name_key);
CREATE INDEX categories_workspace_position_idx ON categories (workspace_id, position);

-- `scope` is `shared` or the owner's id: shortcuts are unique within a scope.
CREATE TABLE canned_responses (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    title TEXT NOT NULL,
    shortcut TEXT,
    shortcut_key TEXT,
    scope TEXT NOT NULL,
    category_id uuid REFERENCES categories(id),
    content TEXT NOT NULL,
    shared BOOLEAN NOT NULL,
    owner_id uuid REFERENCES users(id),
    usage_count BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX canned_responses_shortcut_key ON canned_responses (workspace_id, scope, shortcut_key);
CREATE INDEX canned_responses_workspace_idx ON canned_responses (workspace_id, title);

-- Subscriptions of staff to tickets (seed 000 roles WATCHER and CC; ASSIGNEE is the ticket's).
CREATE TABLE ticket_watchers (
    ticket_id uuid NOT NULL REFERENCES tickets(id),
    user_id uuid NOT NULL REFERENCES users(id),
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    role TEXT NOT NULL,
    notify_email BOOLEAN NOT NULL DEFAULT TRUE,
    notify_wecom BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_watchers_user_idx ON ticket_watchers (workspace_id, user_id);

CREATE TABLE automation_rules (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    position BIGINT NOT NULL,
    trigger_on TEXT NOT NULL,
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX automation_rules_trigger_idx ON automation_rules (workspace_id, trigger_on, position);

-- A time rule that fired on a ticket; deleted when its condition stops holding, so it can
-- fire again. The primary key makes a firing exactly once across nodes.
CREATE TABLE rule_firings (
    rule_id uuid NOT NULL REFERENCES automation_rules(id) ON DELETE CASCADE,
    ticket_id uuid NOT NULL REFERENCES tickets(id),
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    fired_at BIGINT NOT NULL,
    PRIMARY KEY (rule_id, ticket_id)
);

-- Round-robin position per group (the agent chosen last); the row is locked while choosing.
CREATE TABLE assignment_cursors (
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    group_id uuid NOT NULL REFERENCES groups(id),
    last_user_id uuid,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, group_id)
);

-- Messages waiting for a channel to deliver them (email, WeCom).
CREATE TABLE notifications (
    id uuid PRIMARY KEY NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces(id),
    ticket_id uuid REFERENCES tickets(id),
    recipient_type TEXT NOT NULL,
    recipient_id uuid,
    address TEXT NOT NULL,
    channel TEXT NOT NULL,
    template TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX notifications_ticket_idx ON notifications (ticket_id, created_at);
CREATE INDEX notifications_status_idx ON notifications (status, created_at);

ALTER TABLE users ADD COLUMN last_assigned_at BIGINT;
ALTER TABLE tickets ADD COLUMN last_agent_reply_at BIGINT;
ALTER TABLE tickets ADD COLUMN customer_replies_since_agent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN merged_from_ticket_id uuid;
CREATE INDEX tickets_ws_category_idx ON tickets (workspace_id, category_id) WHERE deleted_at IS NULL;
