//! `GET /api/tickets/analytics/export`: one row per ticket created in range, with its fields
//! and computed times, as CSV (RFC 4180) or a JSON array. Streamed: the tickets are read in
//! pages of [`PAGE`] in creation order (keyset on `(created_at, id)`) and each page is written
//! out before the next is read, so memory stays flat however many rows there are.

use std::collections::HashMap;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Value, json};

use super::Request;
use super::figures::{Outcome, unsolved};
use crate::error::Result;
use crate::ids::TicketId;
use crate::store::analytics::{self as reads, Fact};
use crate::store::tickets::TicketRow;
use crate::store::{self, Store};

/// Tickets read at a time.
pub const PAGE: u64 = 1_000;

/// CSV or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// The columns, in order.
pub const COLUMNS: [&str; 28] = [
    "id",
    "ticket_number",
    "subject",
    "status",
    "priority",
    "kind",
    "channel",
    "category_id",
    "category",
    "group_id",
    "group",
    "assignee_id",
    "assignee",
    "requester_email",
    "requester_name",
    "tags",
    "created_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "first_response_seconds",
    "resolution_seconds",
    "first_response_due_at",
    "resolution_due_at",
    "first_response_sla",
    "resolution_sla",
    "satisfaction_rating",
    "satisfaction_feedback",
];

fn outcome(o: Outcome) -> Value {
    match o {
        Outcome::Met => json!("met"),
        Outcome::Breached => json!("breached"),
        Outcome::AtRisk => json!("at_risk"),
        Outcome::Open => Value::Null,
    }
}

fn fact_of(t: &TicketRow) -> Fact {
    Fact {
        id: t.id,
        ticket_number: t.ticket_number.clone(),
        status: t.status,
        priority: t.priority,
        group_id: t.group_id,
        assignee_id: t.assignee_id,
        created_at: t.created_at,
        first_response_at: t.first_response_at,
        first_response_due_at: t.first_response_due_at,
        first_response_risk_at: t.first_response_risk_at,
        solved_at: t.resolved_at.or(t.closed_at),
        resolution_due_at: t.resolution_due_at,
        resolution_risk_at: t.resolution_risk_at,
        satisfaction_rating: t.satisfaction_rating,
    }
}

/// One ticket as an export row (the values of [`COLUMNS`], in order).
fn row(
    t: &TicketRow,
    tags: &[String],
    names: &HashMap<uuid::Uuid, String>,
    now: i64,
) -> Vec<Value> {
    let f = fact_of(t);
    let at = |v: Option<i64>| v.map_or(Value::Null, |us| json!(crate::clock::rfc3339(us)));
    let secs = |v: Option<i64>| v.map_or(Value::Null, |us| json!(us / 1_000_000));
    let name = |id: Option<uuid::Uuid>| {
        id.and_then(|id| names.get(&id))
            .map_or(Value::Null, |n| json!(n))
    };
    vec![
        json!(t.id),
        json!(t.ticket_number),
        json!(t.subject),
        json!(t.status),
        json!(t.priority),
        json!(t.kind),
        json!(t.channel),
        json!(t.category_id),
        name(t.category_id.map(|c| c.0)),
        json!(t.group_id),
        name(t.group_id.map(|g| g.0)),
        json!(t.assignee_id),
        name(t.assignee_id.map(|u| u.0)),
        json!(t.requester_email),
        json!(t.requester_name),
        json!(tags),
        at(Some(t.created_at)),
        at(t.first_response_at),
        at(if unsolved(t.status) {
            None
        } else {
            t.resolved_at
        }),
        at(t.closed_at),
        secs(f.first_response()),
        secs(f.resolution()),
        at(t.first_response_due_at),
        at(t.resolution_due_at),
        outcome(f.first_response_outcome(now)),
        outcome(f.resolution_outcome(now)),
        json!(t.satisfaction_rating),
        json!(t.satisfaction_feedback),
    ]
}

/// A spreadsheet reads a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return as a formula; such text cells get a leading `'` so they stay text (OWASP's advice
/// for CSV injection). Numbers and times are never text cells here.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => defuse(s),
        Value::Array(items) => defuse(
            &items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        other => other.to_string(),
    }
}

fn csv_record(cells: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(cells.into_iter().collect::<Vec<_>>());
    w.into_inner().unwrap_or_default()
}

/// The header line of the CSV export.
#[must_use]
pub fn csv_header() -> Vec<u8> {
    csv_record(COLUMNS.iter().map(|c| (*c).to_owned()))
}

/// Where the stream is.
struct State {
    store: Store,
    req: Request,
    format: Format,
    after: Option<(i64, TicketId)>,
    names: Option<HashMap<uuid::Uuid, String>>,
    started: bool,
    rows: u64,
    done: bool,
}

/// The next chunk: the opening, one page of rows, or the closing.
async fn next_chunk(s: &mut State) -> Result<Option<Bytes>> {
    if s.done {
        return Ok(None);
    }
    let mut conn = s.store.read().await?;
    let mut out = Vec::new();
    if !s.started {
        s.started = true;
        s.names = Some(super::figures::names(&mut conn, s.req.scope.ws).await?);
        out.extend(match s.format {
            Format::Csv => csv_header(),
            Format::Json => b"[".to_vec(),
        });
    }
    let page = reads::export_page(&mut conn, &s.req.scope, s.after, PAGE).await?;
    let ids: Vec<TicketId> = page.iter().map(|t| t.id).collect();
    let mut tags: HashMap<TicketId, Vec<String>> = HashMap::new();
    for (id, tag) in store::tickets::tags_of(&mut conn, s.req.scope.ws, &ids).await? {
        tags.entry(id).or_default().push(tag);
    }
    drop(conn);
    let names = s.names.take().unwrap_or_default();
    for t in &page {
        let values = row(
            t,
            tags.get(&t.id).map_or(&[][..], Vec::as_slice),
            &names,
            s.req.now,
        );
        match s.format {
            Format::Csv => out.extend(csv_record(values.iter().map(csv_cell))),
            Format::Json => {
                if s.rows > 0 {
                    out.push(b',');
                }
                let obj: serde_json::Map<String, Value> = COLUMNS
                    .iter()
                    .map(|c| (*c).to_owned())
                    .zip(values)
                    .collect();
                out.extend(serde_json::to_vec(&obj).unwrap_or_default());
            }
        }
        s.rows += 1;
    }
    s.names = Some(names);
    s.after = page.last().map(|t| (t.created_at, t.id));
    if (page.len() as u64) < PAGE {
        s.done = true;
        if s.format == Format::Json {
            out.push(b']');
        }
    }
    Ok(Some(Bytes::from(out)))
}

/// The export as a stream of chunks. An error after the first chunk ends the stream early
/// (the client sees a truncated body, never a mix of rows and an error document).
pub fn stream(store: Store, req: Request, format: Format) -> impl Stream<Item = Result<Bytes>> {
    let state = State {
        store,
        req,
        format,
        after: None,
        names: None,
        started: false,
        rows: 0,
        done: false,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        match next_chunk(&mut s).await {
            Ok(Some(b)) => Some((Ok(b), s)),
            Ok(None) => None,
            Err(e) => {
                s.done = true;
                Some((Err(e), s))
            }
        }
    })
}
