//! What the planner is told and what it chose: `IndexedBy` names the index of a SQLite read
//! whose plan the planner gets wrong, and `plan_of` gives a query's plan as text (SQLite's
//! `EXPLAIN QUERY PLAN` or PostgreSQL's `EXPLAIN`, one line per step) for the tests that hold
//! a read to the index it was written for.

use sea_query_sqlx::SqlxBinder;

use super::{Backend, Conn};
use crate::error::Result;

/// A query prefixed with `EXPLAIN`.
struct Explain<'a, Q>(&'static str, &'a Q);

impl<Q: SqlxBinder> SqlxBinder for Explain<'_, Q> {
    fn build_sqlx<T: sea_query::QueryBuilder>(&self, b: T) -> (String, sea_query_sqlx::SqlxValues) {
        let (sql, values) = self.1.build_sqlx(b);
        (format!("{}{sql}", self.0), values)
    }
}

/// The plan of `q` on the connection's backend, one step per line.
pub(super) async fn plan_of(conn: &mut Conn, q: &impl SqlxBinder) -> Result<String> {
    let lines = match conn.backend() {
        Backend::Sqlite => {
            let rows: Vec<(i64, i64, i64, String)> =
                conn.fetch_all(&Explain("EXPLAIN QUERY PLAN ", q)).await?;
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>()
        }
        Backend::Postgres => {
            let rows: Vec<(String,)> = conn.fetch_all(&Explain("EXPLAIN ", q)).await?;
            rows.into_iter().map(|r| r.0).collect::<Vec<_>>()
        }
    };
    Ok(lines.join("\n"))
}

/// A query whose first read of `tickets` goes through the named index on SQLite (`INDEXED
/// BY`), for the reads whose bound workspace hides from the planner how few rows an index
/// holds (see `tickets::counts`). Without an index (and on PostgreSQL, where the caller gives
/// none) the query is built as it is.
pub(super) struct IndexedBy<Q>(pub(super) Q, pub(super) Option<&'static str>);

impl<Q: SqlxBinder> SqlxBinder for IndexedBy<Q> {
    fn build_sqlx<T: sea_query::QueryBuilder>(&self, b: T) -> (String, sea_query_sqlx::SqlxValues) {
        let (sql, values) = self.0.build_sqlx(b);
        let Some(index) = self.1 else {
            return (sql, values);
        };
        let hinted = sql.replacen(
            "FROM \"tickets\" WHERE",
            &format!("FROM \"tickets\" INDEXED BY \"{index}\" WHERE"),
            1,
        );
        (hinted, values)
    }
}
