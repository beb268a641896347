//! The only places where SQLite and PostgreSQL need different SQL: full-text search and the
//! job claim. Everything else is one sea-query definition.

use sea_query::{Expr, SimpleExpr};

use super::{Backend, Tx};
use crate::error::Result;
use crate::ids::TicketId;

/// Splits a user's search into at most 8 safe terms: letters, digits and `@._-` only, so
/// nothing the user types is ever read as FTS5 or tsquery syntax.
#[must_use]
pub fn search_terms(q: &str) -> Vec<String> {
    q.split_whitespace()
        .map(|t| t.chars().filter(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '-')).collect::<String>())
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | '-' | '_')).to_lowercase())
        .filter(|t| !t.is_empty())
        .take(8)
        .collect()
}

/// A condition true for tickets whose search document contains every term (prefix match).
#[must_use]
pub fn ticket_matches(backend: Backend, terms: &[String]) -> SimpleExpr {
    match backend {
        Backend::Sqlite => {
            // Placeholders follow the builder: `?` for SQLite, `$1` for PostgreSQL.
            // Each term becomes a quoted FTS5 phrase with a prefix star: `"foo"* "bar"*`.
            let query = terms.iter().map(|t| format!("\"{}\"*", t.replace('"', ""))).collect::<Vec<_>>().join(" ");
            // The unary `+` keeps SQLite from driving the query by the (possibly large) match
            // list: it walks the sort index and probes the match set instead, so the first page
            // of a common word costs a few index entries, not a sort of every match.
            Expr::cust_with_values("+\"tickets\".\"seq\" IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)", [query])
        }
        Backend::Postgres => {
            // Each term is quoted so PostgreSQL's parser splits it exactly as it split the
            // document (an email stays one lexeme); every lexeme is a prefix. Terms hold no quotes.
            let query = terms.iter().map(|t| format!("'{t}':*")).collect::<Vec<_>>().join(" & ");
            Expr::cust_with_values("\"tickets\".\"search\" @@ to_tsquery('simple', $1)", [query])
        }
    }
}

/// Writes the search document of a ticket (subject, description, requester, number and
/// thread) inside the caller's transaction, so search never lags behind a change. `fresh`
/// says the ticket was just inserted and has no document yet.
pub async fn index_ticket(tx: &mut Tx, id: TicketId, document: &str, fresh: bool) -> Result<()> {
    match tx {
        Tx::SqliteTx(t) => {
            if !fresh {
                sqlx::query("DELETE FROM tickets_fts WHERE rowid = (SELECT seq FROM tickets WHERE id = $1)").bind(id).execute(&mut **t).await?;
            }
            sqlx::query("INSERT INTO tickets_fts (rowid, body) SELECT seq, $2 FROM tickets WHERE id = $1").bind(id).bind(document).execute(&mut **t).await?;
        }
        Tx::PgTx(t) => {
            sqlx::query("UPDATE tickets SET search = to_tsvector('simple', $2) WHERE id = $1").bind(id).bind(document).execute(&mut **t).await?;
        }
        Tx::SqliteConn(_) | Tx::PgConn(_) => return Err(anyhow::anyhow!("reindex outside a transaction").into()),
    }
    Ok(())
}

/// Writes the search documents of many freshly inserted tickets (bulk loads).
pub async fn index_many(tx: &mut Tx, docs: &[(TicketId, String)]) -> Result<()> {
    match tx {
        Tx::SqliteTx(_) => {
            for (id, doc) in docs {
                index_ticket(tx, *id, doc, true).await?;
            }
        }
        Tx::PgTx(t) => {
            let ids: Vec<uuid::Uuid> = docs.iter().map(|d| d.0.0).collect();
            let texts: Vec<&str> = docs.iter().map(|d| d.1.as_str()).collect();
            sqlx::query("UPDATE tickets SET search = to_tsvector('simple', d.doc) FROM UNNEST($1::uuid[], $2::text[]) AS d(id, doc) WHERE tickets.id = d.id")
                .bind(ids)
                .bind(texts)
                .execute(&mut **t)
                .await?;
        }
        Tx::SqliteConn(_) | Tx::PgConn(_) => return Err(anyhow::anyhow!("index outside a transaction").into()),
    }
    Ok(())
}

/// Drops a deleted ticket from the SQLite index (PostgreSQL keeps the vector on the row).
pub async fn unindex_ticket(tx: &mut Tx, id: TicketId) -> Result<()> {
    if let Tx::SqliteTx(t) = tx {
        sqlx::query("DELETE FROM tickets_fts WHERE rowid = (SELECT seq FROM tickets WHERE id = $1)").bind(id).execute(&mut **t).await?;
    }
    Ok(())
}

/// SQL that claims up to `$3` due jobs: marks them running until `$2` and returns them.
/// PostgreSQL skips rows another node holds (`FOR UPDATE SKIP LOCKED`); SQLite has one
/// writer, so the claim is already exclusive.
#[must_use]
pub fn claim_jobs_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "UPDATE jobs SET status = 'running', locked_until = $2, attempts = attempts + 1, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) \
             ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, workspace_id, kind, payload, attempts, max_attempts"
        }
        Backend::Sqlite => {
            "UPDATE jobs SET status = 'running', locked_until = $2, attempts = attempts + 1, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) \
             ORDER BY run_at LIMIT $3) \
             RETURNING id, workspace_id, kind, payload, attempts, max_attempts"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::search_terms;

    #[test]
    fn search_terms_strip_query_syntax() {
        assert_eq!(search_terms("  Printer \"jam\" OR* NEAR(x) "), ["printer", "jam", "or", "nearx"]);
        assert_eq!(search_terms("jane@example.com #1001"), ["jane@example.com", "1001"]);
        assert!(search_terms("*** ()").is_empty());
    }

    #[test]
    fn search_condition_binds_the_query_on_both_backends() {
        use sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
        use sea_query_sqlx::SqlxBinder;
        for (backend, needle) in [(super::Backend::Sqlite, "MATCH ?"), (super::Backend::Postgres, "to_tsquery('simple', $1)")] {
            let q = Query::select().expr(sea_query::Expr::cust("1")).and_where(super::ticket_matches(backend, &["printer".into()])).to_owned();
            let (sql, values) = match backend {
                super::Backend::Sqlite => q.build_sqlx(SqliteQueryBuilder),
                super::Backend::Postgres => q.build_sqlx(PostgresQueryBuilder),
            };
            assert!(sql.contains(needle), "{sql}");
            assert!(format!("{values:?}").contains("printer"), "{values:?}");
        }
    }
}
