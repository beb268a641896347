-- Ferrodesk schema, SQLite flavour. Ids are UUIDv7 stored as 16-byte BLOBs; timestamps are
-- microseconds since the Unix epoch (BIGINT on both backends, so one query serves both).
CREATE TABLE workspaces (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    ticket_number_format TEXT NOT NULL DEFAULT '#{n}',
    ticket_number_start BIGINT NOT NULL DEFAULT 1001,
    support_email TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE ticket_counters (
    workspace_id BLOB PRIMARY KEY NOT NULL REFERENCES workspaces(id),
    last_number BIGINT NOT NULL
);

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    available BOOLEAN NOT NULL DEFAULT TRUE,
    is_owner BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_workspace_idx ON users (workspace_id, created_at);

CREATE TABLE groups (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_workspace_name_key ON groups (workspace_id, name_key);

CREATE TABLE group_members (
    group_id BLOB NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

CREATE TABLE api_tokens (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    user_id BLOB NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);

CREATE TABLE customers (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    phone TEXT,
    company TEXT,
    notes TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX customers_workspace_email_key ON customers (workspace_id, email);
CREATE INDEX customers_workspace_created_idx ON customers (workspace_id, created_at, id);

-- `seq` is the FTS5 rowid of the ticket; it aliases SQLite's rowid so VACUUM never renumbers it.
CREATE TABLE tickets (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    number BIGINT NOT NULL,
    ticket_number TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    priority BIGINT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    category_id BLOB,
    group_id BLOB REFERENCES groups(id),
    requester_id BLOB NOT NULL REFERENCES customers(id),
    assignee_id BLOB REFERENCES users(id),
    custom_fields TEXT NOT NULL DEFAULT '{}',
    external_ref TEXT,
    links TEXT NOT NULL DEFAULT '{}',
    sla_policy_id BLOB,
    first_response_due_at BIGINT,
    resolution_due_at BIGINT,
    sla_due_at BIGINT,
    first_response_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    unread_by_agent BIGINT NOT NULL DEFAULT 0,
    unread_by_customer BIGINT NOT NULL DEFAULT 0,
    last_message_at BIGINT NOT NULL,
    merged_into_id BLOB,
    follow_up_of_id BLOB,
    satisfaction_rating BIGINT,
    satisfaction_feedback TEXT,
    deleted_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX tickets_workspace_number_key ON tickets (workspace_id, number);
-- Lists always read live tickets, so their indexes are partial (deleted tickets cost nothing).
-- Sort orders, each ending in the id tie-breaker of cursor pagination:
CREATE INDEX tickets_ws_last_message_idx ON tickets (workspace_id, last_message_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_ws_created_idx ON tickets (workspace_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_ws_updated_idx ON tickets (workspace_id, updated_at, id) WHERE deleted_at IS NULL;
-- The common filters, covering the default sort, so a filtered page and its count are read
-- from this index alone:
CREATE INDEX tickets_ws_facets_idx ON tickets (workspace_id, status, priority, kind, channel, last_message_at, id) WHERE deleted_at IS NULL;
CREATE INDEX tickets_ws_assignee_idx ON tickets (workspace_id, assignee_id, status) WHERE deleted_at IS NULL;
CREATE INDEX tickets_ws_group_idx ON tickets (workspace_id, group_id, status) WHERE deleted_at IS NULL;
CREATE INDEX tickets_ws_sla_due_idx ON tickets (workspace_id, sla_due_at) WHERE deleted_at IS NULL;
CREATE INDEX tickets_ws_requester_idx ON tickets (workspace_id, requester_id);

-- Search documents; `ws` holds the workspace as one token so a search is confined to its
-- workspace inside the index (counting matches then needs no table lookups).
CREATE VIRTUAL TABLE tickets_fts USING fts5(ws, body, tokenize = 'unicode61 remove_diacritics 2');

CREATE TABLE ticket_tags (
    ticket_id BLOB NOT NULL REFERENCES tickets(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    tag TEXT NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_ws_tag_idx ON ticket_tags (workspace_id, tag);

CREATE TABLE comments (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    ticket_id BLOB NOT NULL REFERENCES tickets(id),
    body TEXT NOT NULL,
    author_type TEXT NOT NULL,
    author_id BLOB,
    author_name TEXT NOT NULL,
    is_internal BOOLEAN NOT NULL,
    channel TEXT NOT NULL,
    deleted_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX comments_ticket_idx ON comments (ticket_id, created_at, id);

CREATE TABLE ticket_events (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    ticket_id BLOB NOT NULL REFERENCES tickets(id),
    event_type TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id BLOB,
    from_status TEXT,
    to_status TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, created_at, id);

CREATE TABLE domain_events (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    event_type TEXT NOT NULL,
    subject_id BLOB NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX domain_events_ws_created_idx ON domain_events (workspace_id, created_at, id);

CREATE TABLE jobs (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due_idx ON jobs (status, run_at);

CREATE TABLE idempotency_keys (
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response_status BIGINT NOT NULL,
    response_body TEXT NOT NULL,
    location TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
