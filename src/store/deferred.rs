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
