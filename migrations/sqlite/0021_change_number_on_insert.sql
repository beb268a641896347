-- A ticket created one at a time (the API, mail, the portal) takes its change number in its own
-- INSERT (issue 16): this trigger now numbers only rows inserted without one (bulk loads, which
-- leave the column at its default 0), instead of rewriting every new ticket's row a second
-- time. Updates take theirs in the UPDATE the same way (src/store/tickets/writes.rs), and
-- `tickets_change_upd` numbers only the updates that do not.
DROP TRIGGER tickets_change_ins;
CREATE TRIGGER tickets_change_ins AFTER INSERT ON tickets WHEN NEW.change_seq = 0 BEGIN
    UPDATE tickets SET change_seq = (SELECT MAX(change_seq) FROM tickets) + 1 WHERE seq = NEW.seq;
END;
