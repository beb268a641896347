//! The only places where SQLite and PostgreSQL need different SQL: full-text search and the
//! job claim. Everything else is one sea-query definition.

use sea_query::{Expr, ExprTrait, SimpleExpr};

use super::{Backend, Conn, Link, Tx};
use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};

/// Splits a user's search into at most 8 safe terms: letters, digits and `@._-` only, so
/// nothing the user types is ever read as FTS5 or tsquery syntax.
#[must_use]
pub fn search_terms(q: &str) -> Vec<String> {
    q.split_whitespace()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '-'))
                .collect::<String>()
        })
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, '.' | '-' | '_'))
                .to_lowercase()
        })
        .filter(|t| !t.is_empty())
        .take(8)
        .collect()
}

/// The workspace token of a search document (one FTS5 token: a letter and 32 hex digits).
fn ws_token(ws: WorkspaceId) -> String {
    format!("w{}", ws.0.simple())
}

/// The FTS5 query for `terms` in workspace `ws`: every term a quoted prefix phrase of the
/// `body` column, and the workspace token in the `ws` column.
fn fts5_query(ws: WorkspaceId, terms: &[String]) -> String {
    let mut q = format!("ws:\"{}\"", ws_token(ws));
    for t in terms {
        q.push_str(&format!(" AND body:\"{}\"*", t.replace('"', "")));
    }
    q
}

/// The bits of a ticket search document's row id (SQLite) below the ticket's `seq`: a
/// ticket's documents are `seq << DOC_BITS` (its head, with the thread as it stood when the
/// ticket was last indexed whole) and up to [`MESSAGE_SLOTS`] after it for the messages added
/// since. Few bits keep the index small: FTS5 stores each document's row id as a varint of its
/// distance from the one before, and 24 bits made the index half as large again and a common
/// word's search 30 % slower at a million tickets. `3` and `7` are written out in the
/// SQL below and in migration 0023.
const DOC_BITS: u32 = 3;

/// The ticket (`seq`) of the search document of the enclosing FTS5 row.
const TICKET_OF_DOC: &str = "(\"rowid\" >> 3)";

/// The documents a ticket has for its newest messages. Message number `k` (of the ticket's
/// live messages, counting from its description) goes to document `k % 7`; when `k` is a
/// multiple of 7 the ticket is indexed whole instead (head and thread at `seq << 3`), which
/// takes in the messages of the documents that later ones will overwrite.
const MESSAGE_SLOTS: i64 = 7;

/// One term as an FTS5 query of the `body` column (a quoted prefix phrase; terms hold no
/// quotes, see [`search_terms`]).
fn fts5_term(t: &str) -> String {
    format!("body:\"{}\"*", t.replace('"', ""))
}

/// The FTS5 query of each term alone, for a statement that keeps to the workspace by the
/// tickets' own column: ANDing the workspace token, whose posting list holds every document
/// of the workspace, doubled the cost of a common term's page at a million tickets. With no
/// terms, one query that the workspace token alone answers.
fn fts5_each(ws: WorkspaceId, terms: &[String]) -> Vec<String> {
    if terms.is_empty() {
        return vec![fts5_query(ws, terms)];
    }
    terms.iter().map(|t| fts5_term(t)).collect()
}

/// A condition true for tickets whose search documents together contain every term (prefix
/// match): on SQLite a ticket's words may be spread over its messages' documents, so each
/// term is looked up on its own and the ticket must hold all of them.
/// `for_page` says the query reads one sorted page rather than counting every match.
#[must_use]
pub fn ticket_matches(
    backend: Backend,
    ws: WorkspaceId,
    terms: &[String],
    for_page: bool,
) -> SimpleExpr {
    match backend {
        Backend::Sqlite => {
            // Placeholders follow the builder: `?` for SQLite, `$1` for PostgreSQL.
            // The statement keeps to `ws` by `tickets.workspace_id` (every caller filters on
            // it), so the match need not.
            // For a page, the unary `+` keeps SQLite from driving the query by the (possibly
            // large) match list: it walks the sort index and probes the match set, so the first
            // page of a common word costs a few index entries, not a sort of every match. A count
            // needs every match anyway and is fastest driven by the match list.
            let plus = if for_page { "+" } else { "" };
            let queries = fts5_each(ws, terms);
            let sql = vec![
                format!(
                    "{plus}\"tickets\".\"seq\" IN (SELECT {TICKET_OF_DOC} FROM tickets_fts WHERE tickets_fts MATCH ?)"
                );
                queries.len()
            ]
            .join(" AND ");
            Expr::cust_with_values(sql, queries)
        }
        Backend::Postgres => {
            // Each term is quoted so PostgreSQL's parser splits it exactly as it split the
            // document (an email stays one lexeme); every lexeme is a prefix. Terms hold no quotes.
            let query = terms
                .iter()
                .map(|t| format!("'{t}':*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Expr::cust_with_values(
                "\"tickets\".\"search\" @@ to_tsquery('simple', $1)",
                [query],
            )
        }
    }
}

/// SQLite: a condition true for tickets that match `terms` among those whose row sequence is
/// at least what `since` selects (the oldest of a window of candidates): the index is read
/// from that ticket's documents on only, so a common term's matches are not all gathered (a
/// page).
#[must_use]
pub fn ticket_matches_since(
    ws: WorkspaceId,
    terms: &[String],
    since: sea_query::SelectStatement,
) -> SimpleExpr {
    use sea_query::SubQueryStatement;
    let queries = fts5_each(ws, terms);
    let sql = vec![
        format!(
            "+\"tickets\".\"seq\" IN (SELECT {TICKET_OF_DOC} FROM tickets_fts WHERE tickets_fts MATCH ? AND \"rowid\" >= (?) << {DOC_BITS})"
        );
        queries.len()
    ]
    .join(" AND ");
    // SQLite's builder takes `?` as the place of each expression, in order.
    let mut exprs = Vec::with_capacity(queries.len() * 2);
    for q in queries {
        exprs.push(Expr::val(q));
        exprs.push(Expr::SubQuery(
            None,
            Box::new(SubQueryStatement::SelectStatement(since.clone())),
        ));
    }
    Expr::cust_with_exprs(sql, exprs)
}

/// How many tickets of `ws` match `terms`, counting at most `cap`, answered by the search
/// index alone where the backend can (SQLite: deleted tickets are never in the index);
/// `None` where it cannot.
pub async fn count_matches(
    tx: &mut Conn,
    ws: WorkspaceId,
    terms: &[String],
    cap: i64,
) -> Result<Option<i64>> {
    use sea_query::{Alias, Query};
    if tx.backend() != Backend::Sqlite {
        return Ok(None);
    }
    let q = Query::select()
        .expr(Expr::cust("count(*)"))
        .from_subquery(
            match_rows(ws, terms, u64::try_from(cap).unwrap_or(u64::MAX)),
            Alias::new("m"),
        )
        .to_owned();
    Ok(Some(tx.fetch_i64(&q).await?))
}

/// SQLite: the `seq` of the first `n` tickets of `ws` matching `terms`, in index order: the
/// documents of the first term are read in order (each ticket once) and each of the other
/// terms' tickets is probed.
fn match_rows(ws: WorkspaceId, terms: &[String], n: u64) -> sea_query::SelectStatement {
    let (first, rest) = match terms.split_first() {
        Some((first, rest)) => (std::slice::from_ref(first), rest),
        None => (terms, terms),
    };
    let mut q = sea_query::Query::select();
    q.distinct()
        .expr(Expr::cust(TICKET_OF_DOC))
        .from(sea_query::Alias::new("tickets_fts"))
        .and_where(Expr::cust_with_values(
            "tickets_fts MATCH ?",
            [fts5_query(ws, first)],
        ));
    for t in rest {
        q.and_where(Expr::cust_with_values(
            format!("{TICKET_OF_DOC} IN (SELECT {TICKET_OF_DOC} FROM tickets_fts WHERE tickets_fts MATCH ?)"),
            [fts5_query(ws, std::slice::from_ref(t))],
        ));
    }
    q.limit(n).to_owned()
}

/// The `seq` of the first `n` tickets of `ws` that match `terms`, in index order; SQLite
/// only (PostgreSQL keeps its vector on the ticket row).
pub async fn first_matches(
    tx: &mut Conn,
    ws: WorkspaceId,
    terms: &[String],
    n: u64,
) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = tx.fetch_all(&match_rows(ws, terms, n)).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

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
const THREAD_SQLITE: &str = "COALESCE((SELECT char(10) || group_concat(\"c\".\"body\", char(10) ORDER BY \"c\".\"created_at\", \"c\".\"id\") FROM \"comments\" AS \"c\" WHERE \"c\".\"ticket_id\" = \"tickets\".\"id\" AND \"c\".\"deleted_at\" IS NULL), '')";
const THREAD_POSTGRES: &str = "COALESCE((SELECT chr(10) || string_agg(\"c\".\"body\", chr(10) ORDER BY \"c\".\"created_at\", \"c\".\"id\") FROM \"comments\" AS \"c\" WHERE \"c\".\"ticket_id\" = \"tickets\".\"id\" AND \"c\".\"deleted_at\" IS NULL), '')";

/// Writes the search document of a ticket from `head` (its number, subject, description and
/// requester) and its whole thread, which the database joins itself: the thread never travels
/// to the server and back (a reply to a long thread read every comment before). The document
/// stops at 512 KiB (PostgreSQL's `tsvector` holds at most 1 MB). On SQLite it replaces every
/// document of the ticket, its messages' too.
pub async fn index_ticket_thread(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TicketId,
    head: &str,
) -> Result<()> {
    write_ticket_document(tx, ws, id, head, true, false);
    Ok(())
}

/// Indexes a message just added to a ticket's thread. SQLite: a document of its own after
/// the ticket's others, so a reply costs the index its own words, not the whole thread again.
/// PostgreSQL: the ticket's vector is written again from `head` and the whole thread (a
/// vector that only grew would outgrow `tsvector`'s 1 MB).
pub async fn index_message(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: TicketId,
    head: &str,
    message: &str,
) -> Result<()> {
    match tx.backend() {
        Backend::Sqlite => tx.defer_document(SearchDoc {
            ws,
            id,
            whole: None,
            thread: false,
            fresh: false,
            head: head.to_owned(),
            messages: message.to_owned(),
            count: 1,
        }),
        Backend::Postgres => write_ticket_document(tx, ws, id, head, true, false),
    }
    Ok(())
}

/// Writes the search document of a ticket (subject, description, requester, number and
/// thread) inside the caller's transaction, so search never lags behind a change. `fresh`
/// says the ticket was just inserted and has no document yet.
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

/// What a transaction writes to a ticket's search documents at commit (SQLite).
pub(crate) struct SearchDoc {
    ws: WorkspaceId,
    pub(crate) id: TicketId,
    /// The document that replaces all of the ticket's (its head, joined with the thread at
    /// commit when `thread`); `None` when messages are only added.
    whole: Option<String>,
    thread: bool,
    /// The ticket was just inserted and has no document to replace.
    fresh: bool,
    /// With messages only: the ticket's head, for when they make it due to be indexed whole.
    head: String,
    /// Messages added to the thread and not in `whole`: one new document, or empty.
    messages: String,
    /// How many messages `messages` holds.
    count: i64,
}

impl SearchDoc {
    /// Takes in what a later write of the same transaction queued for the same ticket: a whole
    /// document replaces everything before it; a message joins the document that will be
    /// written (a thread joined at commit holds it already).
    fn absorb(&mut self, later: SearchDoc) {
        match later.whole {
            Some(text) => {
                self.whole = Some(text);
                self.thread = later.thread;
                self.messages.clear();
                self.count = 0;
            }
            None if self.thread => {}
            None => match self.whole.as_mut() {
                Some(whole) => {
                    whole.push('\n');
                    whole.push_str(&later.messages);
                }
                None => {
                    self.head = later.head;
                    self.messages.push('\n');
                    self.messages.push_str(&later.messages);
                    self.count += later.count;
                }
            },
        }
    }
}

/// Queues the writes of a ticket's search document: on SQLite its FTS5 rows, written at
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
            whole: Some(text.to_owned()),
            thread,
            fresh,
            head: String::new(),
            messages: String::new(),
            count: 0,
        }),
        Backend::Postgres => {
            let document = if thread {
                Expr::cust_with_values(
                    format!("to_tsvector('simple', substr($1 || {THREAD_POSTGRES}, 1, 524288))"),
                    [text.to_owned()],
                )
            } else {
                Expr::cust_with_values("to_tsvector('simple', $1)", [text.to_owned()])
            };
            let up = Query::update()
                .table(Alias::new("tickets"))
                .value(Alias::new("search"), document)
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned();
            tx.defer(&up);
        }
    }
}

/// Most documents in one statement (SQLite allows 500 terms in a compound `SELECT`).
const DOCUMENTS_A_STATEMENT: usize = 100;

/// The first search document row id of the ticket of the enclosing statement, and the first
/// of the next ticket.
const FIRST_DOC: &str = "(\"tickets\".\"seq\" << 3)";
const NEXT_TICKETS_DOC: &str = "((\"tickets\".\"seq\" + 1) << 3)";

/// How many live messages the ticket of the enclosing statement has (its description
/// included), as `"n"."k"`.
const MESSAGES_OF_TICKET: &str = "(SELECT count(*) AS \"k\" FROM \"comments\" AS \"m\" WHERE \"m\".\"ticket_id\" = ? AND \"m\".\"deleted_at\" IS NULL) AS \"n\"";

/// The statements that write the queued search documents of a transaction: a `DELETE` of the
/// message documents of each ticket indexed whole again (rare: an edited subject or comment),
/// then one `INSERT` of every document (up to [`DOCUMENTS_A_STATEMENT`] a statement), whatever
/// the number of writes in the batch. A ticket indexed whole gets its last document; the
/// messages added to a ticket go to the document [`MESSAGE_SLOTS`] assigns them, or have the
/// ticket indexed whole when their numbers pass a multiple of seven (the slots' older
/// messages are then in the head document, so whatever a slot held before is harmless).
///
/// FTS5 keeps the terms of a transaction in memory and writes them out as a new index segment
/// (which later costs a merge) whenever a write goes to a row id lower than the one before,
/// and at every statement's savepoint. So the rows go in the order of their row ids, and a
/// replaced document's delete and insert come together inside one statement (on a
/// `contentless_delete` table `REPLACE` deletes the old row first; a fresh ticket has none and
/// costs one lookup): a batch of replies becomes one segment at commit.
pub(crate) fn document_writes(docs: Vec<SearchDoc>) -> Vec<(String, sea_query::Values)> {
    use sea_query::Value;
    let mut unique: Vec<SearchDoc> = Vec::with_capacity(docs.len());
    for doc in docs {
        match unique.iter_mut().find(|d| d.id == doc.id) {
            Some(kept) => kept.absorb(doc),
            None => unique.push(doc),
        }
    }
    let mut out = Vec::new();
    for d in &unique {
        if d.whole.is_some() && !d.fresh {
            out.push((
                format!(
                    "DELETE FROM \"tickets_fts\" WHERE \"rowid\" > (SELECT {FIRST_DOC} FROM \"tickets\" WHERE \"id\" = ?) \
                     AND \"rowid\" < (SELECT {NEXT_TICKETS_DOC} FROM \"tickets\" WHERE \"id\" = ?)"
                ),
                sea_query::Values(vec![d.id.into(), d.id.into()]),
            ));
        }
    }
    for chunk in unique.chunks(DOCUMENTS_A_STATEMENT) {
        // Messages reuse their slots; a fresh ticket has no document yet.
        let replaces = chunk.iter().any(|d| !d.fresh);
        let mut sql = String::from(if replaces {
            "INSERT OR REPLACE INTO \"tickets_fts\" (\"rowid\", \"ws\", \"body\") "
        } else {
            "INSERT INTO \"tickets_fts\" (\"rowid\", \"ws\", \"body\") "
        });
        let mut values = Vec::with_capacity(chunk.len() * 3);
        for (i, d) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(" UNION ALL ");
            }
            match (&d.whole, d.thread) {
                (Some(text), true) => {
                    sql.push_str(&format!(
                        "SELECT {FIRST_DOC}, ?, substr(? || {THREAD_SQLITE}, 1, 524288) FROM \"tickets\" WHERE \"id\" = ?"
                    ));
                    values.extend([ws_token(d.ws).into(), text.clone().into(), d.id.into()]);
                }
                (Some(text), false) => {
                    sql.push_str(&format!(
                        "SELECT {FIRST_DOC}, ?, ? FROM \"tickets\" WHERE \"id\" = ?"
                    ));
                    values.extend([ws_token(d.ws).into(), text.clone().into(), d.id.into()]);
                }
                (None, _) => {
                    // Messages k - count + 1 ..= k; whole when they pass a multiple of 7.
                    let whole = format!(
                        "\"n\".\"k\" / {MESSAGE_SLOTS} <> (\"n\".\"k\" - ?) / {MESSAGE_SLOTS}"
                    );
                    sql.push_str(&format!(
                        "SELECT CASE WHEN {whole} THEN {FIRST_DOC} ELSE {FIRST_DOC} + \"n\".\"k\" % {MESSAGE_SLOTS} END, ?, \
                         CASE WHEN {whole} THEN substr(? || {THREAD_SQLITE}, 1, 524288) ELSE ? END \
                         FROM \"tickets\", {MESSAGES_OF_TICKET} WHERE \"tickets\".\"id\" = ?"
                    ));
                    values.extend([
                        Value::from(d.count),
                        ws_token(d.ws).into(),
                        Value::from(d.count),
                        d.head.clone().into(),
                        d.messages.clone().into(),
                        d.id.into(),
                        d.id.into(),
                    ]);
                }
            }
        }
        if chunk.len() > 1 {
            sql.push_str(" ORDER BY 1");
        }
        out.push((sql, sea_query::Values(values)));
    }
    out
}

/// Writes the search documents of many freshly inserted tickets (bulk loads): on SQLite each
/// ticket's whole document at its first row id.
pub async fn index_many(tx: &mut Tx, ws: WorkspaceId, docs: &[(TicketId, String)]) -> Result<()> {
    match tx.link().await? {
        Link::SqliteTx(c) => {
            // One statement for many documents: the index row ids come from the tickets'
            // `seq`, found by joining the ids (per-document statements cost four times the
            // indexing).
            for chunk in docs.chunks(1000) {
                let values = vec!["(?, ?)"; chunk.len()].join(", ");
                let sql = format!(
                    "INSERT INTO tickets_fts (rowid, ws, body) SELECT t.seq << {DOC_BITS}, ?, d.column2 \
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

/// Drops a deleted ticket's documents from the SQLite index (PostgreSQL keeps the vector on
/// the row).
pub async fn unindex_ticket(tx: &mut Tx, id: TicketId) -> Result<()> {
    tx.forget_documents(id);
    if let Link::SqliteTx(t) = tx.link().await? {
        sqlx::query(
            "DELETE FROM tickets_fts WHERE rowid >= (SELECT seq << 3 FROM tickets WHERE id = $1) \
             AND rowid < (SELECT (seq + 1) << 3 FROM tickets WHERE id = $1)",
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

/// Adds a ranked any-term match to a select: on SQLite a join of the FTS5 `table` on
/// `rowid = <owner>.seq` and `-bm25(table, weights)`, on PostgreSQL the owner's `search`
/// vector against a tsquery in `config`, ranked by `ts_rank_cd`; either as column `score`.
fn ranked_any(
    backend: Backend,
    ws: WorkspaceId,
    terms: &[String],
    q: &mut sea_query::SelectStatement,
    (owner, table, columns, weights, config): (&str, &str, &str, &str, &str),
) {
    use sea_query::{Alias, JoinType};
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

/// Adds to a select of `kb_articles` the match on `terms` (any of them, stemmed, prefix)
/// and a `score` column, higher is better: BM25 on SQLite (title weighted 5:1 over body),
/// `ts_rank_cd` on PostgreSQL (title in weight A, body in B).
pub fn kb_search(
    backend: Backend,
    ws: WorkspaceId,
    terms: &[String],
    q: &mut sea_query::SelectStatement,
) {
    ranked_any(
        backend,
        ws,
        terms,
        q,
        (
            "kb_articles",
            "kb_fts",
            "{title body}",
            ", 0.0, 5.0, 1.0",
            "english",
        ),
    );
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

/// Adds to a ticket select (`tickets` joined as in `base_select`) the match on any of
/// `terms` (prefix) and a `score` column, higher is better: BM25 on SQLite, `ts_rank_cd` on
/// PostgreSQL. Similar tickets are found this way.
pub fn ticket_search_any(
    backend: Backend,
    ws: WorkspaceId,
    terms: &[String],
    q: &mut sea_query::SelectStatement,
) {
    use sea_query::{Alias, JoinType, Query};
    match backend {
        Backend::Sqlite => {
            // A ticket scores as its best document (its head or one of its messages). FTS5
            // computes `bm25` only in the statement that matches, not inside an aggregate: the
            // limit keeps SQLite from folding the scored rows into the grouping.
            let (fts5, _) = any_prefix(terms);
            let scored = Query::select()
                .expr_as(Expr::cust(TICKET_OF_DOC), Alias::new("doc_of"))
                .expr_as(Expr::cust("-bm25(\"tickets_fts\")"), Alias::new("score"))
                .from(Alias::new("tickets_fts"))
                .and_where(Expr::cust_with_values(
                    "\"tickets_fts\" MATCH ?",
                    [format!("ws:\"{}\" AND body: ({fts5})", ws_token(ws))],
                ))
                .limit(i64::MAX.unsigned_abs())
                .to_owned();
            let best = Query::select()
                .column(Alias::new("doc_of"))
                .expr_as(Expr::cust("max(\"score\")"), Alias::new("best"))
                .from_subquery(scored, Alias::new("d"))
                .group_by_col(Alias::new("doc_of"))
                .to_owned();
            q.join_subquery(
                JoinType::InnerJoin,
                best,
                Alias::new("m"),
                Expr::cust("\"m\".\"doc_of\" = \"tickets\".\"seq\""),
            )
            .expr_as(Expr::cust("\"m\".\"best\""), Alias::new("score"));
        }
        Backend::Postgres => ranked_any(
            backend,
            ws,
            terms,
            q,
            ("tickets", "tickets_fts", "body", "", "simple"),
        ),
    }
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

/// The tags of the selected ticket as one text, sorted, joined by the unit separator (U+001F,
/// which no tag contains): a ticket and its tags in one statement.
#[must_use]
pub fn tags_joined(backend: Backend) -> Expr {
    Expr::cust(match backend {
        Backend::Sqlite => {
            "(SELECT group_concat(\"tag\", char(31) ORDER BY \"tag\") FROM \"ticket_tags\" WHERE \"ticket_tags\".\"ticket_id\" = \"tickets\".\"id\")"
        }
        Backend::Postgres => {
            "(SELECT string_agg(\"tag\", chr(31) ORDER BY \"tag\") FROM \"ticket_tags\" WHERE \"ticket_tags\".\"ticket_id\" = \"tickets\".\"id\")"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::search_terms;

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

    fn doc(
        id: u128,
        whole: Option<&str>,
        thread: bool,
        fresh: bool,
        msg: &str,
    ) -> super::SearchDoc {
        super::SearchDoc {
            ws: crate::ids::WorkspaceId(uuid::Uuid::nil()),
            id: crate::ids::TicketId(uuid::Uuid::from_u128(id)),
            whole: whole.map(str::to_owned),
            thread,
            fresh,
            head: if msg.is_empty() {
                String::new()
            } else {
                format!("head {id}")
            },
            messages: msg.to_owned(),
            count: i64::from(!msg.is_empty()),
        }
    }

    /// The texts and counts a write binds, in order (the workspace tokens and ids left out).
    fn bound(values: &sea_query::Values) -> Vec<String> {
        values
            .0
            .iter()
            .filter_map(|v| match v {
                sea_query::Value::String(Some(s)) if !s.starts_with('w') => Some(s.clone()),
                sea_query::Value::BigInt(Some(n)) => Some(n.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_transactions_documents_are_one_insert_with_deletes_only_for_whole_reindexes() {
        let writes = super::document_writes(vec![
            // Created, then replied to: the reply joins its head.
            doc(1, Some("head one"), false, true, ""),
            doc(1, None, false, false, "reply a"),
            // Two replies: one document with both, numbered by the second.
            doc(2, None, false, false, "reply b"),
            doc(2, None, false, false, "reply c"),
            // A reply, then the ticket indexed whole with its thread: the thread holds it.
            doc(3, None, false, false, "reply d"),
            doc(3, Some("head three"), true, false, ""),
            doc(3, None, false, false, "reply e"),
        ]);
        assert_eq!(writes.len(), 2, "{writes:?}");
        assert!(writes[0].0.starts_with("DELETE"), "{}", writes[0].0);
        assert_eq!(
            writes[0].1.0,
            vec![
                crate::ids::TicketId(uuid::Uuid::from_u128(3)).into(),
                crate::ids::TicketId(uuid::Uuid::from_u128(3)).into()
            ]
        );
        let (sql, values) = &writes[1];
        assert!(sql.starts_with("INSERT OR REPLACE"), "{sql}");
        assert_eq!(sql.matches("UNION ALL").count(), 2, "{sql}");
        // The thread is joined for ticket 3, and for ticket 2 should its replies pass a
        // seventh message.
        assert_eq!(sql.matches("group_concat").count(), 2, "{sql}");
        assert!(sql.ends_with("ORDER BY 1"), "{sql}");
        assert_eq!(
            bound(values),
            [
                "head one\nreply a",
                "2",
                "2",
                "head 2",
                "reply b\nreply c",
                "head three"
            ]
        );
        // Only fresh tickets: a plain insert, nothing deleted.
        let writes = super::document_writes(vec![doc(4, Some("new"), false, true, "")]);
        assert_eq!(writes.len(), 1);
        assert!(writes[0].0.starts_with("INSERT INTO"), "{}", writes[0].0);
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
