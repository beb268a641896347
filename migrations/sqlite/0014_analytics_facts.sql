-- Analytics keep the facts of every ticket in memory and follow the change feed to stay
-- current (src/analytics/facts.rs). A staff reply, a tag, a reopen or a rating changes what
-- they know of a ticket, so it moves the ticket in the feed like a change of the ticket row.
CREATE TRIGGER comments_touch_ins AFTER INSERT ON comments
    WHEN NEW.author_type = 'agent' AND NEW.is_internal = 0 BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id = NEW.ticket_id;
END;
CREATE TRIGGER comments_touch_upd AFTER UPDATE OF deleted_at, ticket_id, is_internal, author_type, author_id, created_at ON comments BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id IN (OLD.ticket_id, NEW.ticket_id);
END;
CREATE TRIGGER ticket_tags_touch_ins AFTER INSERT ON ticket_tags BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id = NEW.ticket_id;
END;
CREATE TRIGGER ticket_tags_touch_del AFTER DELETE ON ticket_tags BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id = OLD.ticket_id;
END;
CREATE TRIGGER ticket_events_touch_ins AFTER INSERT ON ticket_events
    WHEN NEW.event_type IN ('reopened', 'satisfaction_received') BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id = NEW.ticket_id;
END;

-- Analytics no longer read reopens, ratings and replies by workspace and time (migration
-- 0013): the fact table reads them by ticket. Every write paid for these two.
DROP INDEX ticket_events_ws_type_idx;
DROP INDEX comments_ws_created_idx;
