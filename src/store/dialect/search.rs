//! Asking the ticket search index: a user's search as safe terms, each term in the form the
//! backend answers fastest ([`TermForm`], SQLite), and the conditions, counts and first
//! matches that the ticket lists build on.

use sea_query::{Expr, SimpleExpr};

use super::super::{Backend, Conn};
use crate::error::Result;
use crate::ids::WorkspaceId;

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
pub(super) fn ws_token(ws: WorkspaceId) -> String {
    format!("w{}", ws.0.simple())
}

/// How one search term is asked of SQLite's FTS5 index.
///
/// A term matches every word that starts with it. Asked as a prefix (`"printer"*`), FTS5
/// gathers the postings of every such word into one list before it answers anything, on every
/// statement: at a million tickets 10–13 ms for `printer` and 83 ms for `firmware`, even for a
/// count that stops at 10,001 or a page that only needs the newest matches. Asked as the words
/// themselves (`("printer" OR "printers")`), FTS5 reads each word's postings lazily and can
/// seek in them: the same capped count takes 2 ms. [`term_forms`] finds the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermForm {
    /// Every word that starts with the term, asked as a prefix.
    Prefix,
    /// The index's words longer than the term that start with it (the term itself is always
    /// asked too), all of them.
    Words(Vec<String>),
}

/// A term that stands for more longer words than this is asked as a prefix.
const WORDS_MAX: usize = 32;

/// One term of an FTS5 query on the `body` column, in its form (`Prefix` where `forms` has
/// none for it).
fn fts5_term(t: &str, form: Option<&TermForm>) -> String {
    let t = t.replace('"', "");
    match form {
        Some(TermForm::Words(words)) => {
            let mut q = format!("body:(\"{t}\"");
            for w in words {
                q.push_str(&format!(" OR \"{}\"", w.replace('"', "")));
            }
            q.push(')');
            q
        }
        _ => format!("body:\"{t}\"*"),
    }
}

/// The FTS5 query for `terms` in workspace `ws`: every term of the `body` column in its form
/// (see [`TermForm`]), and the workspace token in the `ws` column.
fn fts5_query(ws: WorkspaceId, terms: &[String], forms: &[TermForm]) -> String {
    let mut q = format!("ws:\"{}\"", ws_token(ws));
    for (i, t) in terms.iter().enumerate() {
        q.push_str(" AND ");
        q.push_str(&fts5_term(t, forms.get(i)));
    }
    q
}

/// The FTS5 query for `terms` alone, for a statement that keeps to the workspace by the
/// tickets' own column: ANDing the workspace token, whose posting list holds every ticket of
/// the workspace, doubled the cost of a common term's page at a million tickets.
fn fts5_terms(ws: WorkspaceId, terms: &[String], forms: &[TermForm]) -> String {
    if terms.is_empty() {
        return fts5_query(ws, terms, forms);
    }
    terms
        .iter()
        .enumerate()
        .map(|(i, t)| fts5_term(t, forms.get(i)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// SQLite: how each of `terms` is best asked of the ticket search index ([`TermForm`]). A term
/// of ASCII letters and digits is one FTS5 word as typed (terms are lowercase already); the
/// index's longer words that start with it are read from its vocabulary
/// (`tickets_fts_words`, migration 0024) one at a time, each a seek that reads no postings,
/// until more than [`WORDS_MAX`] are found. Any other term stays a prefix. PostgreSQL: every
/// term a prefix (its forms are not used).
pub async fn term_forms(tx: &mut Conn, terms: &[String]) -> Result<Vec<TermForm>> {
    if tx.backend() != Backend::Sqlite {
        return Ok(vec![TermForm::Prefix; terms.len()]);
    }
    let mut forms = Vec::with_capacity(terms.len());
    for t in terms {
        let Some(last) = t.bytes().last() else {
            forms.push(TermForm::Prefix);
            continue;
        };
        if !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            forms.push(TermForm::Prefix);
            continue;
        }
        // The words after `t` and before `t` with its last letter moved on one; each step
        // starts just after the word before (`|| char(1)`: `>` would make the vocabulary
        // walk every posting of that word, `>=` seeks).
        let mut upper = t[..t.len() - 1].to_owned();
        upper.push(char::from(last + 1));
        let q = sea_query::Query::select()
            .expr(Expr::cust_with_values(
                "(WITH RECURSIVE w(t, n) AS (\
                 SELECT (SELECT term FROM tickets_fts_words WHERE term >= ? || char(1) AND term < ? LIMIT 1), 0 \
                 UNION ALL \
                 SELECT (SELECT term FROM tickets_fts_words WHERE term >= w.t || char(1) AND term < ? LIMIT 1), n + 1 \
                 FROM w WHERE w.t IS NOT NULL AND n < ?) \
                 SELECT coalesce(group_concat(t, ' '), '') FROM w WHERE t IS NOT NULL)",
                [
                    sea_query::Value::from(t.clone()),
                    upper.clone().into(),
                    upper.into(),
                    i64::try_from(WORDS_MAX).unwrap_or(i64::MAX).into(),
                ],
            ))
            .to_owned();
        let (words,): (String,) = tx.fetch_one(&q).await?;
        let words: Vec<String> = words
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        forms.push(if words.len() > WORDS_MAX {
            TermForm::Prefix
        } else {
            TermForm::Words(words)
        });
    }
    Ok(forms)
}

/// A condition true for tickets whose search document contains every term (prefix match).
/// `for_page` says the query reads one sorted page rather than counting every match.
#[must_use]
pub fn ticket_matches(
    backend: Backend,
    ws: WorkspaceId,
    terms: &[String],
    forms: &[TermForm],
    for_page: bool,
) -> SimpleExpr {
    match backend {
        Backend::Sqlite => {
            // Placeholders follow the builder: `?` for SQLite, `$1` for PostgreSQL.
            // The statement keeps to `ws` by `tickets.workspace_id` (every caller filters on
            // it), so the match need not.
            let query = fts5_terms(ws, terms, forms);
            // For a page, the unary `+` keeps SQLite from driving the query by the (possibly
            // large) match list: it walks the sort index and probes the match set, so the first
            // page of a common word costs a few index entries, not a sort of every match. A count
            // needs every match anyway and is fastest driven by the match list.
            let sql = if for_page {
                "+\"tickets\".\"seq\" IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)"
            } else {
                "\"tickets\".\"seq\" IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)"
            };
            Expr::cust_with_values(sql, [query])
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

/// SQLite: a condition true for the tickets among `window` (a statement selecting the `seq`
/// of at most a few thousand candidates) that match `terms`, for a page of a common term.
///
/// The search index is the outer loop: its matches are read from the window's oldest row on
/// (FTS5 seeks to a row id) and each is looked up in the window, which SQLite keeps in memory
/// with an index of its own. The other way round (every match gathered into a temporary
/// index that each candidate probes) cost as much as the matches read: when an old ticket
/// gets a reply and joins the window, its oldest row is near the start of the index and a
/// common word's 100,000 matches at a million tickets went into that temporary index
/// (52 ms, against 26 ms this way; docs/performance.md).
#[must_use]
pub fn ticket_matches_among(
    ws: WorkspaceId,
    terms: &[String],
    forms: &[TermForm],
    window: sea_query::SelectStatement,
) -> SimpleExpr {
    use sea_query::SubQueryStatement;
    let sub = |s: sea_query::SelectStatement| {
        Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(s)))
    };
    // SQLite's builder takes `?` as the place of each expression, in order. `CROSS JOIN`
    // keeps the index as the outer loop (SQLite never reorders it).
    Expr::cust_with_exprs(
        "\"tickets\".\"seq\" IN (SELECT \"w\".\"seq\" FROM tickets_fts CROSS JOIN ? AS \"w\" \
         ON \"w\".\"seq\" = tickets_fts.rowid \
         WHERE tickets_fts MATCH ? AND tickets_fts.rowid >= (SELECT min(\"seq\") FROM ? AS \"m\"))",
        [
            sub(window.clone()),
            Expr::val(fts5_terms(ws, terms, forms)),
            sub(window),
        ],
    )
}

/// How many tickets of `ws` match `terms`, counting at most `cap`, answered by the search
/// index alone where the backend can (SQLite: deleted tickets are never in the index);
/// `None` where it cannot.
pub async fn count_matches(
    tx: &mut Conn,
    ws: WorkspaceId,
    terms: &[String],
    forms: &[TermForm],
    cap: i64,
) -> Result<Option<i64>> {
    use sea_query::{Alias, Query};
    if tx.backend() != Backend::Sqlite {
        return Ok(None);
    }
    let q = Query::select()
        .expr(Expr::cust("count(*)"))
        .from_subquery(
            match_rows(ws, terms, forms, u64::try_from(cap).unwrap_or(u64::MAX)),
            Alias::new("m"),
        )
        .to_owned();
    Ok(Some(tx.fetch_i64(&q).await?))
}

/// SQLite: the search-index row ids of the first `n` tickets of `ws` matching `terms`.
fn match_rows(
    ws: WorkspaceId,
    terms: &[String],
    forms: &[TermForm],
    n: u64,
) -> sea_query::SelectStatement {
    sea_query::Query::select()
        .expr(Expr::cust("rowid"))
        .from(sea_query::Alias::new("tickets_fts"))
        .and_where(Expr::cust_with_values(
            "tickets_fts MATCH ?",
            [fts5_query(ws, terms, forms)],
        ))
        .limit(n)
        .to_owned()
}

/// The search-index row ids (`tickets.seq`) of the first `n` tickets of `ws` that match
/// `terms`, in index order; SQLite only (PostgreSQL keeps its vector on the ticket row).
pub async fn first_matches(
    tx: &mut Conn,
    ws: WorkspaceId,
    terms: &[String],
    forms: &[TermForm],
    n: u64,
) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = tx.fetch_all(&match_rows(ws, terms, forms, n)).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
