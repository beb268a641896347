//! The writes a transaction queues instead of running at once: plain writes that travel with
//! the next statement, fixed statements of our own, and search documents written at commit.

use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::SqlxBinder;

use super::{Backend, Tx, dialect};

/// How much a transaction had queued at some point ([`Tx::mark`]).
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    documents: usize,
    ahead: usize,
}

impl Tx {
    /// Queues a write whose result nobody reads (timeline entries, outbox rows, inserts that
    /// cannot conflict). Queued writes run, in order, before the next read or write on this
    /// connection or at commit; on SQLite they travel in the same command as that next
    /// statement. An error surfaces at that point and fails the transaction.
    pub fn defer(&mut self, q: &impl SqlxBinder) {
        let (sql, values) = match self.backend() {
            Backend::Sqlite => q.build_sqlx(SqliteQueryBuilder),
            Backend::Postgres => q.build_sqlx(PostgresQueryBuilder),
        };
        self.pending.push((sql, values.0));
    }

    /// Queues a ticket's search document for the commit, after every other write: FTS5
    /// flushes its pending terms to disk at every savepoint and statement journal, so the
    /// documents of a whole group commit are inserted by one statement (see
    /// [`dialect::document_writes`]): one new index segment a batch instead of one a write.
    /// Nothing may read what it writes before the commit.
    pub(crate) fn defer_document(&mut self, doc: dialect::SearchDoc) {
        self.documents.push(doc);
    }

    /// Forgets the queued search documents of ticket `id` (it is being dropped from the
    /// index).
    pub(crate) fn forget_documents(&mut self, id: crate::ids::TicketId) {
        self.documents.retain(|d| d.id != id);
    }

    /// Notes that this write changed the memo's entry of type `T` for `ws` ahead of its
    /// commit (SQLite, where write transactions run one at a time and the process owns the
    /// database): the entry is forgotten, and so read again from the database, if the write
    /// is undone — its savepoint rolled back ([`Tx::undo_after`]), or the transaction dropped
    /// or failing to commit.
    pub(crate) fn changed_ahead<T: 'static>(&mut self, ws: crate::ids::WorkspaceId) {
        if self.0.prepared.is_some() {
            // Changed ahead of a commit that may come much later, or never.
            let _ = self.0.give_up();
            return;
        }
        if self.backend() == Backend::Sqlite {
            self.ahead.push(super::memo::Entry::of::<T>(ws));
        }
    }

    /// What this transaction has queued so far, for [`Tx::undo_after`].
    #[must_use]
    pub fn mark(&self) -> Mark {
        Mark {
            documents: self.documents.len(),
            ahead: self.ahead.len(),
        }
    }

    /// Undoes in memory what was queued after `mark` (a write whose savepoint was rolled
    /// back): its search documents are dropped and the memo entries it changed ahead are
    /// forgotten.
    pub fn undo_after(&mut self, mark: Mark) {
        self.documents.truncate(mark.documents);
        let at = mark.ahead.min(self.ahead.len());
        let undone = self.ahead.split_off(at);
        for e in undone {
            self.memo.forget_entry(e);
        }
    }

    /// Queues a fixed statement of our own making (`SAVEPOINT c3`); never user input.
    pub fn defer_raw(&mut self, sql: &'static str) {
        self.pending
            .push((sql.to_owned(), sea_query::Values(Vec::new())));
    }
}

/// Most bound values in one joined statement (PostgreSQL takes at most 65,535).
const JOINED_VALUES_AT_MOST: usize = 30_000;

/// PostgreSQL: the queued writes as the statements to send, each run of plain inserts joined
/// into one (`WITH w0 AS (INSERT …), w1 AS (INSERT …) INSERT …`), so that a create's row, tags,
/// opening message and timeline entry travel to the server in one trip instead of four. A
/// ticket's number is locked from its reservation to the commit (gap-free numbers), so every
/// trip in between is a wait for every other create of the workspace.
///
/// Only inserts of values are joined: the parts of one statement all read the database as it
/// was before it, so a part that reads (a sub-select, `ON CONFLICT`) or changes rows another
/// part wrote (an update) would not see that part's rows. Inserts do not read what they write:
/// foreign keys and `AFTER` triggers are checked and run at the end of the whole statement,
/// when every part's rows are there, and a unique index sees every part's entries. Any other
/// statement goes alone, in its place.
pub(super) fn postgres_statements(
    pending: Vec<(String, sea_query::Values)>,
) -> Vec<(String, sea_query::Values)> {
    let mut out: Vec<(String, sea_query::Values)> = Vec::with_capacity(pending.len());
    // The run of plain inserts being joined: its parts' texts, and their values.
    let mut run: Vec<String> = Vec::new();
    let mut values: Vec<sea_query::Value> = Vec::new();
    for (sql, v) in pending {
        if !plain_insert(&sql) {
            flush_run(&mut out, &mut run, &mut values);
            out.push((sql, v));
            continue;
        }
        if !run.is_empty() && values.len() + v.0.len() > JOINED_VALUES_AT_MOST {
            flush_run(&mut out, &mut run, &mut values);
        }
        run.push(shift_placeholders(&sql, values.len()));
        values.extend(v.0);
    }
    flush_run(&mut out, &mut run, &mut values);
    out
}

/// Whether `sql` (as sea-query writes it for PostgreSQL: names quoted, every value a
/// placeholder) inserts values and reads nothing. Any spelling of a keyword that could read,
/// even inside a name, keeps the statement apart: a write joined wrongly would see less than
/// it should, one kept apart only costs its trip.
fn plain_insert(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    upper.starts_with("INSERT INTO ")
        && !["SELECT", "ON CONFLICT", "RETURNING", "WITH "]
            .iter()
            .any(|k| upper.contains(k))
}

/// Ends a run of inserts: one part goes as it is, several as one statement.
fn flush_run(
    out: &mut Vec<(String, sea_query::Values)>,
    run: &mut Vec<String>,
    values: &mut Vec<sea_query::Value>,
) {
    let values = sea_query::Values(std::mem::take(values));
    let mut parts = std::mem::take(run);
    let Some(last) = parts.pop() else { return };
    if parts.is_empty() {
        out.push((last, values));
        return;
    }
    let mut sql = String::from("WITH ");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("\"w{i}\" AS ({part})"));
    }
    sql.push(' ');
    sql.push_str(&last);
    out.push((sql, values));
}

/// `sql` with each placeholder `$n` outside quotes renumbered `$(n + by)`.
fn shift_placeholders(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                // A doubled quote inside a quoted text or name is the quote itself, and
                // reading it as an end and a new start comes to the same.
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    n.push(d);
                }
                match n.parse::<usize>() {
                    Ok(n) => out.push_str(&format!("${}", n + by)),
                    Err(_) => {
                        out.push('$');
                        out.push_str(&n);
                    }
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: i32) -> sea_query::Values {
        sea_query::Values((0..n).map(sea_query::Value::from).collect())
    }

    #[test]
    fn consecutive_plain_inserts_go_as_one_statement() {
        let pending = vec![
            (
                "INSERT INTO \"a\" (\"x\", \"y\") VALUES ($1, $2)".to_owned(),
                values(2),
            ),
            (
                "INSERT INTO \"b\" (\"x\") VALUES ($1), ($2)".to_owned(),
                values(2),
            ),
            (
                "INSERT INTO \"c\" (\"x\") VALUES (to_tsvector('simple $1', $1))".to_owned(),
                values(1),
            ),
            (
                "UPDATE \"a\" SET \"x\" = $1 WHERE \"y\" = $2".to_owned(),
                values(2),
            ),
            (
                "INSERT INTO \"d\" (\"x\") VALUES ($1)".to_owned(),
                values(1),
            ),
            ("INSERT INTO \"e\" (\"x\") SELECT $1".to_owned(), values(1)),
            (
                "INSERT INTO \"e\" (\"x\") VALUES ((select max(\"x\") from \"a\"))".to_owned(),
                values(0),
            ),
            (
                "INSERT INTO \"f\" (\"x\") VALUES ($1) ON CONFLICT DO NOTHING".to_owned(),
                values(1),
            ),
            (
                "INSERT INTO \"g\" (\"x\") VALUES ($1) RETURNING \"x\"".to_owned(),
                values(1),
            ),
        ];
        let out = postgres_statements(pending);
        let texts: Vec<&str> = out.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            texts,
            [
                "WITH \"w0\" AS (INSERT INTO \"a\" (\"x\", \"y\") VALUES ($1, $2)), \"w1\" AS (INSERT INTO \"b\" (\"x\") VALUES ($3), ($4)) INSERT INTO \"c\" (\"x\") VALUES (to_tsvector('simple $1', $5))",
                "UPDATE \"a\" SET \"x\" = $1 WHERE \"y\" = $2",
                "INSERT INTO \"d\" (\"x\") VALUES ($1)",
                "INSERT INTO \"e\" (\"x\") SELECT $1",
                "INSERT INTO \"e\" (\"x\") VALUES ((select max(\"x\") from \"a\"))",
                "INSERT INTO \"f\" (\"x\") VALUES ($1) ON CONFLICT DO NOTHING",
                "INSERT INTO \"g\" (\"x\") VALUES ($1) RETURNING \"x\"",
            ]
        );
        let counts: Vec<usize> = out.iter().map(|(_, v)| v.0.len()).collect();
        assert_eq!(counts, [5, 2, 1, 1, 0, 1, 1]);
        // The joined statement's values are its parts' values in order.
        assert_eq!(
            out[0].1.0,
            values(2)
                .0
                .into_iter()
                .chain(values(2).0)
                .chain(values(1).0)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_run_of_inserts_splits_before_too_many_values() {
        let big = JOINED_VALUES_AT_MOST as i32 / 2 + 1;
        let insert = || {
            (
                "INSERT INTO \"a\" (\"x\") VALUES ($1)".to_owned(),
                values(big),
            )
        };
        let out = postgres_statements(vec![insert(), insert(), insert()]);
        assert_eq!(out.len(), 3);
        assert!(
            out.iter()
                .all(|(s, v)| !s.starts_with("WITH") && v.0.len() == big as usize)
        );
        let small = || {
            (
                "INSERT INTO \"a\" (\"x\") VALUES ($1)".to_owned(),
                values(1),
            )
        };
        assert_eq!(
            postgres_statements(vec![small(), small(), small()]).len(),
            1
        );
    }

    #[test]
    fn placeholders_in_quotes_stay() {
        assert_eq!(
            shift_placeholders("SELECT '$1', \"$2\", $3, $10::uuid[], 'it''s $4', $", 7),
            "SELECT '$1', \"$2\", $10, $17::uuid[], 'it''s $4', $"
        );
    }
}
