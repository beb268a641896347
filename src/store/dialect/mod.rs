//! The only places where SQLite and PostgreSQL need different SQL: full-text search and the
//! job claim. Everything else is one sea-query definition. Asking the ticket search index is
//! in [`search`]; writing its documents, the knowledge base's search and the rest are here.

use sea_query::{Expr, ExprTrait, SimpleExpr};

use super::{Backend, Link, Tx};
use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};

mod search;

use search::ws_token;
pub use search::{
    TermForm, count_matches, first_matches, search_terms, term_forms, ticket_matches,
    ticket_matches_among,
};

/// Deletes the FTS5 row of the record `id` of `owner` (whose `seq` is the FTS rowid).
fn fts_delete(fts: &str, owner: &str, id: uuid::Uuid) -> sea_query::DeleteStatement {
    use sea_query::{Alias, Query};
    Query::delete()
        .from_table(Alias::new(fts))
        .and_where(
            Expr::col(Alias::new("rowid")).in_subquery(
                Query::select()
                    .column(Alias::new("seq"))
                    .from(Alias::new(owner))
                    .and_where(Expr::col(Alias::new("id")).eq(id))
                    .to_owned(),
            ),
        )
        .to_owned()
}

/// The thread of the ticket of the enclosing statement, each comment after a line break, in
/// the order written (empty without comments).
///
/// On SQLite the comments are put in order by a subquery, which reads them in the order of
/// `comments_ticket_idx`, not by `group_concat(… ORDER BY …)`: an ordered aggregate sorts its
/// input in a temporary B-tree whatever index the rows come through, so every reply copied its
/// whole thread into one (opening, filling and freeing it on the writer's thread). SQLite keeps
/// a subquery's `ORDER BY` under an aggregate other than `count`, `min` and `max`.
const THREAD_SQLITE: &str = "COALESCE((SELECT char(10) || group_concat(\"body\", char(10)) FROM (SELECT \"c\".\"body\" FROM \"comments\" AS \"c\" WHERE \"c\".\"ticket_id\" = \"tickets\".\"id\" AND \"c\".\"deleted_at\" IS NULL ORDER BY \"c\".\"created_at\", \"c\".\"id\")), '')";
const THREAD_POSTGRES: &str = "COALESCE((SELECT chr(10) || string_agg(\"c\".\"body\", chr(10) ORDER BY \"c\".\"created_at\", \"c\".\"id\") FROM \"comments\" AS \"c\" WHERE \"c\".\"ticket_id\" = \"tickets\".\"id\" AND \"c\".\"deleted_at\" IS NULL), '')";

/// Writes the search document of a ticket from `head` (its number, subject, description and
/// requester) and its whole thread, which the database joins itself: the thread never travels
/// to the server and back (a reply to a long thread read every comment before). The document
/// stops at 512 KiB (PostgreSQL's `tsvector` holds at most 1 MB).
pub async fn index_ticket_thread(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TicketId,
    head: &str,
) -> Result<()> {
    write_ticket_document(tx, ws, id, head, true, false);
    Ok(())
}

/// Writes `document` as the whole search document of a ticket inside the caller's
/// transaction, so search never lags behind a change. `fresh` says the ticket has no document
/// yet. (A ticket being inserted gets its document from [`new_ticket_document`].)
pub async fn index_ticket(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TicketId,
    document: &str,
    fresh: bool,
) -> Result<()> {
    write_ticket_document(tx, ws, id, document, false, fresh);
    Ok(())
}

/// The search document of a ticket being inserted, `document` (its head: the thread is only
/// the description so far). On SQLite it is queued for the commit and `None` comes back; on
/// PostgreSQL it is the vector for the insert's `search` column (set by an update after the
/// insert, it cost a second version of the row, with an entry in every index).
pub(crate) fn new_ticket_document(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TicketId,
    document: &str,
) -> Option<SimpleExpr> {
    match tx.backend() {
        Backend::Sqlite => {
            write_ticket_document(tx, ws, id, document, false, true);
            None
        }
        Backend::Postgres => Some(postgres_vector(document, false)),
    }
}

/// PostgreSQL's search vector of a ticket: of `text`, or with `thread` of `text` (the head)
/// and the thread of the ticket of the enclosing statement.
fn postgres_vector(text: &str, thread: bool) -> SimpleExpr {
    if thread {
        Expr::cust_with_values(
            format!("to_tsvector('simple', substr($1 || {THREAD_POSTGRES}, 1, 524288))"),
            [text.to_owned()],
        )
    } else {
        Expr::cust_with_values("to_tsvector('simple', $1)", [text.to_owned()])
    }
}

/// A ticket's search document waiting for the commit (SQLite).
pub(crate) struct SearchDoc {
    ws: WorkspaceId,
    pub(crate) id: TicketId,
    /// The whole document, or with `thread` its head (the thread is joined at commit).
    text: String,
    thread: bool,
    /// The ticket was just inserted and has no document to replace.
    fresh: bool,
}

/// Queues the writes of a ticket's search document: on SQLite its FTS5 row, written at
/// commit after every other write (see `Conn::defer_document`); on PostgreSQL its `search`
/// column. `text` is the document, or with `thread` its head.
fn write_ticket_document(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TicketId,
    text: &str,
    thread: bool,
    fresh: bool,
) {
    use sea_query::{Alias, Query};
    match tx.backend() {
        Backend::Sqlite => tx.defer_document(SearchDoc {
            ws,
            id,
            text: text.to_owned(),
            thread,
            fresh,
        }),
        Backend::Postgres => {
            let up = Query::update()
                .table(Alias::new("tickets"))
                .value(Alias::new("search"), postgres_vector(text, thread))
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned();
            tx.defer(&up);
        }
    }
}

/// Most documents in one statement (SQLite allows 500 terms in a compound `SELECT`).
const DOCUMENTS_A_STATEMENT: usize = 100;

/// The statements that write the queued search documents of a transaction: one
/// `INSERT OR REPLACE` of every document (up to [`DOCUMENTS_A_STATEMENT`] a statement),
/// whatever the number of writes in the batch; a ticket written twice gets its last document.
///
/// FTS5 keeps the terms of a transaction in memory and writes them out as a new index segment
/// (which later costs a merge) whenever a write goes to a row id lower than the one before,
/// and at every statement's savepoint. So the rows go in the order of their row ids, and each
/// replaced row's delete and insert come together inside one statement (on a
/// `contentless_delete` table `REPLACE` deletes the old row first; a fresh ticket has none and
/// costs one lookup): the whole batch becomes one segment at commit. Deleting the old rows
/// first, a statement each, made a segment at nearly every write of a batch of replies.
pub(crate) fn document_writes(docs: Vec<SearchDoc>) -> Vec<(String, sea_query::Values)> {
    use sea_query::Value;
    let mut unique: Vec<SearchDoc> = Vec::with_capacity(docs.len());
    for doc in docs {
        match unique.iter_mut().find(|d| d.id == doc.id) {
            Some(kept) => {
                kept.text = doc.text;
                kept.thread = doc.thread;
            }
            None => unique.push(doc),
        }
    }
    let mut out = Vec::new();
    for chunk in unique.chunks(DOCUMENTS_A_STATEMENT) {
        let mut sql = String::from(if chunk.iter().all(|d| d.fresh) {
            "INSERT INTO \"tickets_fts\" (\"rowid\", \"ws\", \"body\") "
        } else {
            "INSERT OR REPLACE INTO \"tickets_fts\" (\"rowid\", \"ws\", \"body\") "
        });
        let mut values = Vec::with_capacity(chunk.len() * 3);
        for (i, d) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(" UNION ALL ");
            }
            if d.thread {
                sql.push_str("SELECT \"seq\", ?, substr(? || ");
                sql.push_str(THREAD_SQLITE);
                sql.push_str(", 1, 524288)");
            } else {
                sql.push_str("SELECT \"seq\", ?, ?");
            }
            sql.push_str(" FROM \"tickets\" WHERE \"id\" = ?");
            values.push(Value::from(ws_token(d.ws)));
            values.push(Value::from(d.text.clone()));
            values.push(d.id.into());
        }
        if chunk.len() > 1 {
            sql.push_str(" ORDER BY 1");
        }
        out.push((sql, sea_query::Values(values)));
    }
    out
}

/// Writes the search documents of many freshly inserted tickets (bulk loads).
pub async fn index_many(tx: &mut Tx, ws: WorkspaceId, docs: &[(TicketId, String)]) -> Result<()> {
    match tx.link().await? {
        Link::SqliteTx(c) => {
            // One statement for many documents: the index row ids are the tickets' `seq`,
            // found by joining the ids (per-document statements cost four times the indexing).
            for chunk in docs.chunks(1000) {
                let values = vec!["(?, ?)"; chunk.len()].join(", ");
                let sql = format!(
                    "INSERT INTO tickets_fts (rowid, ws, body) SELECT t.seq, ?, d.column2 \
                     FROM (VALUES {values}) AS d JOIN tickets t ON t.id = d.column1"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws_token(ws));
                for (id, doc) in chunk {
                    q = q.bind(*id).bind(doc.as_str());
                }
                q.execute(&mut **c).await?;
            }
        }
        Link::PgTx(t) => {
            let ids: Vec<uuid::Uuid> = docs.iter().map(|d| d.0.0).collect();
            let texts: Vec<&str> = docs.iter().map(|d| d.1.as_str()).collect();
            sqlx::query("UPDATE tickets SET search = to_tsvector('simple', d.doc) FROM UNNEST($1::uuid[], $2::text[]) AS d(id, doc) WHERE tickets.id = d.id")
                .bind(ids)
                .bind(texts)
                .execute(&mut **t)
                .await?;
        }
        _ => return Err(anyhow::anyhow!("index outside a transaction").into()),
    }
    Ok(())
}

/// Drops a deleted ticket from the SQLite index (PostgreSQL keeps the vector on the row).
pub async fn unindex_ticket(tx: &mut Tx, id: TicketId) -> Result<()> {
    tx.forget_documents(id);
    if let Link::SqliteTx(t) = tx.link().await? {
        sqlx::query(
            "DELETE FROM tickets_fts WHERE rowid = (SELECT seq FROM tickets WHERE id = $1)",
        )
        .bind(id)
        .execute(&mut **t)
        .await?;
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
            "UPDATE jobs SET status = 'running', locked_until = $2, locked_by = $4, attempts = attempts + 1, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) \
             ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, workspace_id, kind, payload, attempts, max_attempts"
        }
        Backend::Sqlite => {
            "UPDATE jobs SET status = 'running', locked_until = $2, locked_by = $4, attempts = attempts + 1, updated_at = $1 \
             WHERE id IN (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) \
             ORDER BY run_at LIMIT $3) \
             RETURNING id, workspace_id, kind, payload, attempts, max_attempts"
        }
    }
}

/// Any of `terms` as prefixes: an FTS5 expression (`"a"* OR "b"*`) and a tsquery
/// (`'a':* | 'b':*`). Terms hold no quotes (see [`search_terms`]).
fn any_prefix(terms: &[String]) -> (String, String) {
    let fts5 = terms
        .iter()
        .map(|t| format!("\"{}\"*", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ");
    let tsquery = terms
        .iter()
        .map(|t| format!("'{t}':*"))
        .collect::<Vec<_>>()
        .join(" | ");
    (fts5, tsquery)
}

/// A search index that ranks matches on any of several terms ([`ranked_any`]).
pub struct Ranked {
    /// The table whose rows are found (its `seq` is the FTS5 row id; on PostgreSQL its
    /// `search` column is the vector).
    owner: &'static str,
    /// SQLite's FTS5 table.
    table: &'static str,
    /// The FTS5 columns a term is looked for in.
    columns: &'static str,
    /// The column weights after the table in `bm25(…)`.
    weights: &'static str,
    /// PostgreSQL's text search configuration.
    config: &'static str,
}

/// Published articles of the knowledge base: title and body, stemmed, the title weighted 5:1
/// over the body (BM25 on SQLite; weights A and B on PostgreSQL).
pub const KB_ARTICLES: Ranked = Ranked {
    owner: "kb_articles",
    table: "kb_fts",
    columns: "{title body}",
    weights: ", 0.0, 5.0, 1.0",
    config: "english",
};

/// Tickets (`tickets` joined as in `base_select`), their whole document: similar tickets are
/// found this way.
pub const TICKETS: Ranked = Ranked {
    owner: "tickets",
    table: "tickets_fts",
    columns: "body",
    weights: "",
    config: "simple",
};

/// Adds to a select of `index`'s owner the match on any of `terms` (prefix) and a `score`
/// column, higher is better: on SQLite a join of the FTS5 table on `rowid = <owner>.seq`
/// and `-bm25(table, weights)`, on PostgreSQL the owner's `search` vector against a tsquery,
/// ranked by `ts_rank_cd`.
pub fn ranked_any(
    backend: Backend,
    ws: WorkspaceId,
    terms: &[String],
    q: &mut sea_query::SelectStatement,
    index: &Ranked,
) {
    use sea_query::{Alias, JoinType};
    let Ranked {
        owner,
        table,
        columns,
        weights,
        config,
    } = *index;
    let (fts5, tsquery) = any_prefix(terms);
    match backend {
        Backend::Sqlite => {
            q.join(
                JoinType::InnerJoin,
                Alias::new(table),
                Expr::cust(format!("\"{table}\".\"rowid\" = \"{owner}\".\"seq\"")),
            )
            .expr_as(
                Expr::cust(format!("-bm25({table}{weights})")),
                Alias::new("score"),
            )
            .and_where(Expr::cust_with_values(
                format!("{table} MATCH ?"),
                [format!("ws:\"{}\" AND {columns}: ({fts5})", ws_token(ws))],
            ));
        }
        Backend::Postgres => {
            q.expr_as(
                Expr::cust_with_values(
                    format!("CAST(ts_rank_cd(\"{owner}\".\"search\", to_tsquery('{config}', $1)) AS DOUBLE PRECISION)"),
                    [tsquery.clone()],
                ),
                Alias::new("score"),
            )
            .and_where(Expr::cust_with_values(
                format!("\"{owner}\".\"search\" @@ to_tsquery('{config}', $1)"),
                [tsquery],
            ));
        }
    }
}

/// Writes an article's search document (title and plain-text body) in the caller's
/// transaction. `fresh` says the article was just inserted.
pub async fn index_article(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: crate::ids::ArticleId,
    title: &str,
    body: &str,
    fresh: bool,
) -> Result<()> {
    use sea_query::{Alias, Query};
    match tx.backend() {
        Backend::Sqlite => {
            if !fresh {
                unindex_article(tx, id).await?;
            }
            let ins = Query::insert()
                .into_table(Alias::new("kb_fts"))
                .columns([
                    Alias::new("rowid"),
                    Alias::new("ws"),
                    Alias::new("title"),
                    Alias::new("body"),
                ])
                .select_from(
                    Query::select()
                        .column(Alias::new("seq"))
                        .expr(Expr::val(ws_token(ws)))
                        .expr(Expr::val(title.to_owned()))
                        .expr(Expr::val(body.to_owned()))
                        .from(Alias::new("kb_articles"))
                        .and_where(Expr::col(Alias::new("id")).eq(id))
                        .to_owned(),
                )
                .map_err(|e| anyhow::anyhow!("fts insert: {e}"))?
                .to_owned();
            tx.defer(&ins);
        }
        Backend::Postgres => {
            let up = Query::update()
                .table(Alias::new("kb_articles"))
                .value(
                    Alias::new("search"),
                    Expr::cust_with_values(
                        "setweight(to_tsvector('english', $1), 'A') || setweight(to_tsvector('english', $2), 'B')",
                        [title.to_owned(), body.to_owned()],
                    ),
                )
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned();
            tx.defer(&up);
        }
    }
    Ok(())
}

/// Drops an article's SQLite search document (PostgreSQL keeps the vector on the row).
pub async fn unindex_article(tx: &mut Tx, id: crate::ids::ArticleId) -> Result<()> {
    if tx.backend() == Backend::Sqlite {
        tx.defer(&fts_delete("kb_fts", "kb_articles", id.0));
    }
    Ok(())
}

/// Adds to a ticket select the change-feed order after a cursor `(xid, seq)`, and the
/// `change_xid` and `change_seq` columns. SQLite: change numbers follow commit order (one
/// writer), so `seq` alone orders. PostgreSQL: only changes of transactions older than every
/// running one (`pg_snapshot_xmin`), in (transaction id, number) order, so a change committed
/// late by a slow transaction is read after the faster ones, never passed over: the changes
/// of [`changes_since`] that are settled.
pub fn changes_after(backend: Backend, q: &mut sea_query::SelectStatement, xid: &str, seq: i64) {
    changes_since(backend, q, xid, seq);
    if backend == Backend::Postgres {
        q.and_where(Expr::cust(
            "\"tickets\".\"change_xid\" < pg_snapshot_xmin(pg_current_snapshot())",
        ));
    }
}

/// Adds to a ticket select every change after the feed position `(xid, seq)` in feed order,
/// with the `change_xid`, `change_seq` and `settled` columns. Unlike [`changes_after`], rows of
/// transactions newer than a still running one are read too, with `settled` false: a reader
/// applies them at once but keeps its position before them. One statement, one snapshot.
pub fn changes_since(backend: Backend, q: &mut sea_query::SelectStatement, xid: &str, seq: i64) {
    use sea_query::{Alias, Order};
    match backend {
        Backend::Sqlite => {
            q.expr_as(Expr::cust("''"), Alias::new("change_xid"))
                .expr_as(
                    Expr::cust("\"tickets\".\"change_seq\""),
                    Alias::new("change_seq"),
                )
                .expr_as(Expr::cust("TRUE"), Alias::new("settled"))
                .and_where(Expr::cust_with_values(
                    "\"tickets\".\"change_seq\" > ?",
                    [seq],
                ))
                .order_by_expr(Expr::cust("\"tickets\".\"change_seq\""), Order::Asc);
        }
        Backend::Postgres => {
            q.expr_as(
                Expr::cust("\"tickets\".\"change_xid\"::text"),
                Alias::new("change_xid"),
            )
            .expr_as(
                Expr::cust("\"tickets\".\"change_seq\""),
                Alias::new("change_seq"),
            )
            .expr_as(
                Expr::cust("\"tickets\".\"change_xid\" < pg_snapshot_xmin(pg_current_snapshot())"),
                Alias::new("settled"),
            )
            .and_where(Expr::cust_with_values(
                "(\"tickets\".\"change_xid\", \"tickets\".\"change_seq\") > (CAST($1 AS xid8), $2)",
                [
                    sea_query::Value::from(xid.to_owned()),
                    sea_query::Value::from(seq),
                ],
            ))
            .order_by_expr(Expr::cust("\"tickets\".\"change_xid\""), Order::Asc)
            .order_by_expr(Expr::cust("\"tickets\".\"change_seq\""), Order::Asc);
        }
    }
}

/// A ticket's tags in order, one string: read in the order of the table's primary key
/// (ticket, tag) through an ordered subquery, for the reason given at [`THREAD_SQLITE`] (the
/// ordered aggregate opened a temporary B-tree for every ticket read: about a tenth of the
/// instructions of a get by id).
const TAGS_SQLITE: &str = "(SELECT group_concat(\"tag\", char(31)) FROM (SELECT \"tag\" FROM \"ticket_tags\" WHERE \"ticket_tags\".\"ticket_id\" = \"tickets\".\"id\" ORDER BY \"tag\"))";

/// The tags of the selected ticket as one text, sorted, joined by the unit separator (U+001F,
/// which no tag contains): a ticket and its tags in one statement.
#[must_use]
pub fn tags_joined(backend: Backend) -> Expr {
    Expr::cust(match backend {
        Backend::Sqlite => TAGS_SQLITE,
        Backend::Postgres => {
            "(SELECT string_agg(\"tag\", chr(31) ORDER BY \"tag\") FROM \"ticket_tags\" WHERE \"ticket_tags\".\"ticket_id\" = \"tickets\".\"id\")"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::search_terms;

    /// A ticket's tags and its thread are read in the order of their indexes, with no
    /// temporary B-tree to sort them (`TAGS_SQLITE`, `THREAD_SQLITE`): planned against the
    /// schema the migrations build, with the library the server links.
    #[test]
    fn tags_and_threads_are_aggregated_in_index_order_on_sqlite() {
        let c = rusqlite::Connection::open_in_memory().expect("open");
        for m in crate::store::migrations::all(super::Backend::Sqlite) {
            c.execute_batch(m.sql.as_str()).expect("migration");
        }
        for (expr, index) in [
            (super::TAGS_SQLITE, "sqlite_autoindex_ticket_tags_1"),
            (super::THREAD_SQLITE, "comments_ticket_idx"),
        ] {
            let sql = format!("EXPLAIN QUERY PLAN SELECT {expr} FROM \"tickets\" WHERE \"id\" = ?");
            let mut stmt = c.prepare(&sql).expect("prepare");
            let plan: Vec<String> = stmt
                .query_map([0_i64], |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("rows");
            let plan = plan.join("\n");
            assert!(plan.contains(index), "{index}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{index}: {plan}");
        }
    }

    #[test]
    fn search_terms_strip_query_syntax() {
        assert_eq!(
            search_terms("  Printer \"jam\" OR* NEAR(x) "),
            ["printer", "jam", "or", "nearx"]
        );
        assert_eq!(
            search_terms("jane@example.com #1001"),
            ["jane@example.com", "1001"]
        );
        assert!(search_terms("*** ()").is_empty());
    }

    #[test]
    fn search_condition_binds_the_query_on_both_backends() {
        use sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
        use sea_query_sqlx::SqlxBinder;
        for (backend, needle) in [
            (super::Backend::Sqlite, "MATCH ?"),
            (super::Backend::Postgres, "to_tsquery('simple', $1)"),
        ] {
            let q = Query::select()
                .expr(sea_query::Expr::cust("1"))
                .and_where(super::ticket_matches(
                    backend,
                    crate::ids::WorkspaceId(uuid::Uuid::nil()),
                    &["printer".into()],
                    &[],
                    true,
                ))
                .to_owned();
            let (sql, values) = match backend {
                super::Backend::Sqlite => q.build_sqlx(SqliteQueryBuilder),
                super::Backend::Postgres => q.build_sqlx(PostgresQueryBuilder),
            };
            assert!(sql.contains(needle), "{sql}");
            assert!(format!("{values:?}").contains("printer"), "{values:?}");
        }
    }
}
