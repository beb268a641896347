-- Analytics keep the facts of every ticket in memory and follow the change feed to stay
-- current (src/analytics/facts.rs). A staff reply, a tag, a reopen or a rating changes what
-- they know of a ticket, so it moves the ticket in the feed like a change of the ticket row
-- (the row's own trigger gives it the next change number).
CREATE FUNCTION tickets_touch_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id = NEW.ticket_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_touch_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id = OLD.ticket_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION tickets_touch_both() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tickets SET change_seq = change_seq WHERE id IN (OLD.ticket_id, NEW.ticket_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER comments_touch_ins AFTER INSERT ON comments
    FOR EACH ROW WHEN (NEW.author_type = 'agent' AND NOT NEW.is_internal)
    EXECUTE FUNCTION tickets_touch_new();
CREATE TRIGGER comments_touch_upd AFTER UPDATE OF deleted_at, ticket_id, is_internal, author_type, author_id, created_at ON comments
    FOR EACH ROW EXECUTE FUNCTION tickets_touch_both();
CREATE TRIGGER ticket_tags_touch_ins AFTER INSERT ON ticket_tags
    FOR EACH ROW EXECUTE FUNCTION tickets_touch_new();
CREATE TRIGGER ticket_tags_touch_del AFTER DELETE ON ticket_tags
    FOR EACH ROW EXECUTE FUNCTION tickets_touch_old();
CREATE TRIGGER ticket_events_touch_ins AFTER INSERT ON ticket_events
    FOR EACH ROW WHEN (NEW.event_type IN ('reopened', 'satisfaction_received'))
    EXECUTE FUNCTION tickets_touch_new();

-- Analytics no longer read reopens, ratings and replies by workspace and time (migration
-- 0013): the fact table reads them by ticket. Every write paid for these two.
DROP INDEX ticket_events_ws_type_idx;
DROP INDEX comments_ws_created_idx;
