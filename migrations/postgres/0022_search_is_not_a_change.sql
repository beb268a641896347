-- Writing a ticket's search document is not a change of the ticket. On PostgreSQL the
-- document is a column of the row (`search`), rewritten after every message, so an internal
-- note (which changes no field) gave its ticket a new change number and the change feed
-- offered the same version again; SQLite keeps the document in its own table and did not.
-- Updates are now numbered when they set any column but `search` (`change_seq` included:
-- the touch triggers of tags and comments set it to be renumbered). A column added to
-- `tickets` later must be added here too; `store::postgres_numbers_writes_of_every_ticket_column_but_search`
-- fails until it is.
DROP TRIGGER tickets_change ON tickets;
CREATE TRIGGER tickets_change_ins BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_change();
CREATE TRIGGER tickets_change_upd BEFORE UPDATE OF
    id, workspace_id, number, ticket_number, subject, description, status, priority, kind,
    channel, category_id, group_id, requester_id, assignee_id, custom_fields, external_ref,
    links, sla_policy_id, first_response_due_at, resolution_due_at, sla_due_at,
    first_response_at, resolved_at, closed_at, unread_by_agent, unread_by_customer,
    last_message_at, merged_into_id, follow_up_of_id, satisfaction_rating,
    satisfaction_feedback, deleted_at, version, created_at, updated_at,
    first_response_risk_at, resolution_risk_at, last_agent_reply_at,
    customer_replies_since_agent, ai_summary, ai_confidence_score, ai_first_response_time,
    ai_auto_resolved, change_seq, change_xid
    ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_change();
