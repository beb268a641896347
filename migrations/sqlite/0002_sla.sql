-- SLA policies (SPEC §5 "SLA") and each workspace's business calendar.
CREATE TABLE sla_policies (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    first_response_minutes BIGINT NOT NULL,
    resolution_minutes BIGINT NOT NULL,
    priority_overrides TEXT NOT NULL DEFAULT '{}',
    business_hours_only BOOLEAN NOT NULL DEFAULT FALSE,
    conditions TEXT NOT NULL DEFAULT '{}',
    at_risk_percent BIGINT NOT NULL DEFAULT 25,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_policies_workspace_name_key ON sla_policies (workspace_id, name_key);
CREATE INDEX sla_policies_workspace_position_idx ON sla_policies (workspace_id, position);

-- The calendar as its JSON document (`{"timezone","schedule","holidays"}`); NULL = none set.
ALTER TABLE workspaces ADD COLUMN business_hours TEXT;

-- When each clock of a ticket turns at risk (computed with its due date; the scanner and the
-- views read it without a calendar).
ALTER TABLE tickets ADD COLUMN first_response_risk_at BIGINT;
ALTER TABLE tickets ADD COLUMN resolution_risk_at BIGINT;

-- Stretches during which a ticket's resolution clock stood still (status `pending`).
CREATE TABLE ticket_sla_pauses (
    id BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    ticket_id BLOB NOT NULL REFERENCES tickets(id),
    paused_at BIGINT NOT NULL,
    resumed_at BIGINT
);
CREATE INDEX ticket_sla_pauses_ticket_idx ON ticket_sla_pauses (ticket_id, paused_at);
