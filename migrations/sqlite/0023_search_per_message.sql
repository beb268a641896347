-- One search document per message. A ticket's documents have the row ids
-- `seq << 24` (its head: number, subject, description, requester, and the thread as it
-- stood when the ticket was last indexed whole) and `(seq << 24) + n` for each message
-- added since (n = 1, 2, ...). A reply then indexes its own text only, instead of the
-- whole thread again; a search still finds a ticket whose words are spread over its
-- messages (each word is looked up over all of a ticket's documents), and the documents of
-- one ticket stay together and in ticket order, so `rowid >> 24` is the ticket's `seq`.
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
SELECT t.seq << 24,
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
