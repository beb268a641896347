-- One search document per message. A ticket's documents have the row ids `seq << 3` (its
-- head: number, subject, description, requester, and the thread as it stood when the
-- ticket was last indexed whole) and `(seq << 3) + 1` to `+ 6` for its newest messages: a
-- reply then indexes its own text only instead of the whole thread again, and every seventh
-- message has the ticket indexed whole (see `store::dialect::MESSAGE_SLOTS`). A search still
-- finds a ticket whose words are spread over its messages (each word is looked up over all of
-- a ticket's documents); the documents of one ticket stay together and in ticket order, so
-- `rowid >> 3` is the ticket's `seq`, and row ids stay close enough for the index to store
-- them in a byte or two.
--
-- The old documents cannot be read back (the table is contentless), so they are built
-- again from the tickets, as the server writes a whole document (see
-- `tickets::service::timeline::document_head`).
DROP TABLE tickets_fts;
CREATE VIRTUAL TABLE tickets_fts USING fts5(
    ws, body, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO tickets_fts (rowid, ws, body)
SELECT t.seq << 3,
       'w' || lower(hex(t.workspace_id)),
       substr(
           t.ticket_number || ' ' || t.number || ' ' || t.subject || ' ' || t.description || ' '
           || c.email || ' ' || replace(replace(c.email, '@', ' '), '.', ' ') || ' ' || c.name
           || COALESCE((SELECT char(10) || group_concat(m.body, char(10) ORDER BY m.created_at, m.id)
                        FROM comments AS m
                        WHERE m.ticket_id = t.id AND m.deleted_at IS NULL), ''),
           1, 524288)
FROM tickets AS t
JOIN customers AS c ON c.id = t.requester_id
WHERE t.deleted_at IS NULL
ORDER BY t.seq;
