//! The writes a transaction queues instead of running at once: plain writes that travel with
//! the next statement, fixed statements of our own, and search documents written at commit.

use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::SqlxBinder;

use super::{Backend, Tx, dialect};

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

    /// How many search documents wait for the commit; [`Tx::drop_documents_after`] forgets
    /// those queued after this mark (a write whose savepoint was rolled back).
    #[must_use]
    pub fn documents_mark(&self) -> usize {
        self.documents.len()
    }

    /// Forgets the search documents queued after `mark`.
    pub fn drop_documents_after(&mut self, mark: usize) {
        self.documents.truncate(mark);
    }

    /// Queues a fixed statement of our own making (`SAVEPOINT c3`); never user input.
    pub fn defer_raw(&mut self, sql: &'static str) {
        self.pending
            .push((sql.to_owned(), sea_query::Values(Vec::new())));
    }
}
