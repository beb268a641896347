//! The savepoint of a grouped write on SQLite, sent only when it is needed.
//!
//! Writes that share a group commit each run inside a savepoint of their own, so that one
//! that fails is undone alone (`store/group.rs`). Most writes never need it: a reply reads its
//! ticket, then queues its writes ([`super::Tx::defer`]), which travel with the next write's
//! first read or with the commit, after the write has ended. A write that fails before any of
//! its own statements reached SQLite is undone by dropping them from the queue. So the
//! savepoint goes out in front of the write's own statements only when they are sent while the
//! write is still running (a read after a queued write, an `execute`, the raw link). Sent
//! for every write, SQLite copied each page a write changed into the savepoint's journal
//! first: 6 % of SQLite's writer thread under a stream of replies, and two more statements
//! a write.
//!
//! A command that carries earlier writes' statements ahead of this write's read, with no
//! savepoint between them, can fail in one of them; those writes have already ended, and
//! nothing tells how many of their statements ran. Such a failure fails the whole batch (see
//! [`Savepoint::in_doubt`]), as a failing `ROLLBACK TO` of a savepoint that never started
//! does when the savepoint was sent.

use sea_query_sqlx::SqlxValues;

use super::Conn;

/// A grouped write's savepoint and what it knows of the queue.
#[derive(Debug)]
pub(super) struct Savepoint {
    /// `SAVEPOINT cN`.
    open: &'static str,
    /// How many of the queued statements, from the front, belong to earlier writes.
    after: usize,
    /// Whether it went out in front of this write's statements.
    sent: bool,
    /// Whether the command in flight carries earlier writes' statements with no savepoint of
    /// this write behind them.
    carrying: bool,
    /// Whether such a command failed where its statements may have run in part.
    in_doubt: bool,
}

/// What became of a grouped write's savepoint ([`super::Tx::end_savepoint`]).
pub(super) struct Ended {
    /// It was sent: undo the write with `ROLLBACK TO`, or end it with `RELEASE`.
    pub(super) sent: bool,
    /// A command carrying earlier writes' statements failed: the batch cannot commit.
    pub(super) in_doubt: bool,
}

/// Errors after which every statement of the command has run (the row it answered could not
/// be read, or there was none).
fn ran_through(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::RowNotFound
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::Decode(_)
    )
}

/// Whether a statement only reads (sea-query writes a read as `SELECT …`). Anything else
/// counts as a write.
fn reads(sql: &str) -> bool {
    sql.trim_start().starts_with("SELECT ")
}

impl super::Tx {
    /// Opens a grouped write's savepoint `open` (`SAVEPOINT cN`), to be sent only if the
    /// write's own statements go to SQLite before [`super::Tx::end_savepoint`].
    pub(super) fn savepoint_lazily(&mut self, open: &'static str) {
        self.0.savepoint = Some(Savepoint {
            open,
            after: self.0.pending.len(),
            sent: false,
            carrying: false,
            in_doubt: false,
        });
    }

    /// Ends the write's savepoint. When it was not sent, the write's own statements are all
    /// still queued; `undo` drops them (the write failed or was discarded).
    pub(super) fn end_savepoint(&mut self, undo: bool) -> Ended {
        let Some(sp) = self.0.savepoint.take() else {
            return Ended {
                sent: false,
                in_doubt: false,
            };
        };
        if undo && !sp.sent {
            self.0.pending.truncate(sp.after);
        }
        Ended {
            sent: sp.sent,
            in_doubt: sp.in_doubt,
        }
    }
}

impl Conn {
    /// Puts the savepoint of the grouped write under way in front of its own queued
    /// statements, when they are about to be sent or the command writes (`writes`); call it
    /// for every command, which takes the whole queue.
    pub(super) fn place_savepoint(&mut self, writes: bool) {
        let Some(sp) = &mut self.savepoint else {
            return;
        };
        let send = !sp.sent && (writes || self.pending.len() > sp.after);
        if send {
            self.pending.insert(
                sp.after,
                (sp.open.to_owned(), sea_query::Values(Vec::new())),
            );
            sp.sent = true;
        }
        sp.carrying = sp.after > 0 && !send;
        sp.after = 0;
    }

    /// Notes how a command went (see [`Savepoint::in_doubt`]).
    pub(super) fn ran<T>(&mut self, outcome: &Result<T, sqlx::Error>) {
        if let Some(sp) = &mut self.savepoint {
            if sp.carrying && outcome.as_ref().err().is_some_and(|e| !ran_through(e)) {
                sp.in_doubt = true;
            }
            sp.carrying = false;
        }
    }

    /// SQLite: the pending `BEGIN`, the queued writes and then `last`, as one query string
    /// (with a grouped write's savepoint placed in it). SQLite binds unnamed `?` parameters
    /// in order across the statements of one string, so the values are simply chained. Only
    /// the last statement may return rows.
    pub(super) fn sqlite_command(
        &mut self,
        last: Option<(String, SqlxValues)>,
    ) -> (String, SqlxValues) {
        self.place_savepoint(last.as_ref().is_some_and(|(s, _)| !reads(s)));
        let mut sql = String::new();
        let mut values = sea_query::Values(Vec::new());
        if self.begin_pending {
            sql.push_str("BEGIN IMMEDIATE;\n");
            self.begin_pending = false;
            self.open = true;
        }
        for (s, v) in std::mem::take(&mut self.pending) {
            sql.push_str(&s);
            sql.push_str(";\n");
            values.0.extend(v.0);
        }
        if let Some((s, v)) = last {
            sql.push_str(&s);
            values.0.extend(v.0.0);
        }
        (sql, SqlxValues(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_select_counts_as_a_read() {
        assert!(reads("SELECT \"id\" FROM \"tickets\""));
        assert!(reads("  SELECT 1"));
        assert!(!reads("INSERT INTO \"t\" VALUES (1) RETURNING \"id\""));
        assert!(!reads("WITH \"w\" AS (DELETE FROM \"t\") SELECT 1"));
        assert!(!reads("UPDATE \"t\" SET \"a\" = 1"));
    }

    #[test]
    fn a_row_that_cannot_be_read_means_every_statement_ran() {
        assert!(ran_through(&sqlx::Error::RowNotFound));
        assert!(ran_through(&sqlx::Error::ColumnNotFound("x".into())));
        assert!(!ran_through(&sqlx::Error::WorkerCrashed));
        assert!(!ran_through(&sqlx::Error::Protocol("broken".into())));
    }
}
