-- One row per SLA notice fired: a clock of a ticket turning at risk or breaching at a given
-- due date. The primary key makes firing exactly once even when several nodes scan at once.
CREATE TABLE sla_notices (
    ticket_id BLOB NOT NULL REFERENCES tickets(id),
    workspace_id BLOB NOT NULL REFERENCES workspaces(id),
    clock TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, clock, kind, due_at)
);

-- What happens to a ticket when one of its clocks turns at risk or breaches (JSON document).
ALTER TABLE workspaces ADD COLUMN sla_escalation TEXT;
