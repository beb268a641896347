//! Erasing a customer (GDPR article 17) in one transaction: who they are and what was written
//! on their tickets or by them is replaced or deleted, the tickets' skeleton (status, times,
//! priority, category, assignee, SLA, tags, rating) stays for statistics. The domain side,
//! the order and what each step means are in `crate::workspace::privacy`.

use sea_query::{Alias, Cond, Expr, ExprTrait, Order, Query, SelectStatement};

use super::comments::{self, CommentRow, Comments};
use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{CommentId, CustomerId, TicketId, WorkspaceId};

fn a(name: &'static str) -> Alias {
    Alias::new(name)
}

/// What replaces the customer and their text.
pub struct Erasure<'a> {
    pub workspace_id: WorkspaceId,
    pub customer_id: CustomerId,
    /// The address the customer had (stored API answers naming it go).
    pub old_email: &'a str,
    /// The address the customer row keeps (unique, undeliverable: `….invalid`).
    pub email: &'a str,
    /// The name the customer row and their messages keep.
    pub name: &'a str,
    /// What every erased text becomes.
    pub text: &'a str,
    /// Their messages on tickets someone else requested ([`comments_elsewhere`]).
    pub elsewhere: Vec<CommentId>,
    /// The payload of a queued sign-in-link mail to the customer's old address.
    pub access_job_payload: &'a str,
    pub now: i64,
}

/// How much was erased, and the stored files to delete once the transaction has committed.
#[derive(Debug, Default, Clone)]
pub struct Erased {
    pub tickets: u64,
    pub comments: u64,
    pub attachments: u64,
    pub notifications: u64,
    pub webhook_deliveries: u64,
    pub portal_tokens: u64,
    pub storage_keys: Vec<String>,
}

/// The customer's tickets (deleted and merged ones too).
fn tickets_of_customer(ws: WorkspaceId, customer: CustomerId) -> SelectStatement {
    Query::select()
        .column(a("id"))
        .from(a("tickets"))
        .and_where(Expr::col(a("workspace_id")).eq(ws))
        .and_where(Expr::col(a("requester_id")).eq(customer))
        .to_owned()
}

/// The messages the customer wrote, on any ticket.
fn comments_by_customer(ws: WorkspaceId, customer: CustomerId) -> SelectStatement {
    Query::select()
        .column(a("id"))
        .from(a("comments"))
        .and_where(Expr::col(a("workspace_id")).eq(ws))
        .and_where(Expr::col(a("author_type")).eq("customer"))
        .and_where(Expr::col(a("author_id")).eq(customer))
        .to_owned()
}

fn tickets_of(e: &Erasure) -> SelectStatement {
    tickets_of_customer(e.workspace_id, e.customer_id)
}

fn comments_by(e: &Erasure) -> SelectStatement {
    comments_by_customer(e.workspace_id, e.customer_id)
}

/// The customer's messages on tickets someone else requested (live ones, in the order
/// written).
pub async fn messages_elsewhere(
    conn: &mut Conn,
    ws: WorkspaceId,
    customer: CustomerId,
) -> Result<Vec<CommentRow>> {
    let q = Query::select()
        .columns(comments::COLUMNS)
        .from(Comments::Table)
        .and_where(Expr::col(Comments::Id).in_subquery(comments_by_customer(ws, customer)))
        .and_where(Expr::col(Comments::TicketId).not_in_subquery(tickets_of_customer(ws, customer)))
        .and_where(Expr::col(Comments::DeletedAt).is_null())
        .order_by(Comments::CreatedAt, Order::Asc)
        .order_by(Comments::Id, Order::Asc)
        .to_owned();
    conn.fetch_all(&q).await
}

/// Tickets that hold a message of the customer without being theirs (their search
/// documents are rebuilt too).
pub async fn other_tickets_with_messages(tx: &mut Tx, e: &Erasure<'_>) -> Result<Vec<TicketId>> {
    let q = Query::select()
        .distinct()
        .column(a("ticket_id"))
        .from(a("comments"))
        .and_where(Expr::col(a("id")).in_subquery(comments_by(e)))
        .and_where(Expr::col(a("ticket_id")).not_in_subquery(tickets_of(e)))
        .to_owned();
    let rows: Vec<(TicketId,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The customer's messages on tickets someone else requested (deleted ones too).
pub async fn comments_elsewhere(tx: &mut Tx, e: &Erasure<'_>) -> Result<Vec<CommentId>> {
    let q = Query::select()
        .column(a("id"))
        .from(a("comments"))
        .and_where(Expr::col(a("id")).in_subquery(comments_by(e)))
        .and_where(Expr::col(a("ticket_id")).not_in_subquery(tickets_of(e)))
        .to_owned();
    let rows: Vec<(CommentId,)> = tx.fetch_all(&q).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The customer's ticket ids.
pub async fn ticket_ids(tx: &mut Tx, e: &Erasure<'_>) -> Result<Vec<TicketId>> {
    let rows: Vec<(TicketId,)> = tx.fetch_all(&tickets_of(e)).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Runs every step of the erasure in the caller's transaction.
// Long: one statement per table that may hold the customer's data, in one place so that a
// table added later is added here.
pub async fn erase(tx: &mut Tx, e: &Erasure<'_>) -> Result<Erased> {
    let mut out = Erased::default();
    let ws = || Expr::col(a("workspace_id")).eq(e.workspace_id);
    let on_tickets = || Expr::col(a("ticket_id")).in_subquery(tickets_of(e));

    // Files: on the customer's tickets (their mail's `original.eml` among them) or on their
    // messages elsewhere. The rows go now, the bytes after the commit.
    let files = Cond::all().add(ws()).add(
        Cond::any()
            .add(on_tickets())
            .add(Expr::col(a("comment_id")).in_subquery(comments_by(e))),
    );
    let keys: Vec<(String,)> = tx
        .fetch_all(
            &Query::select()
                .column(a("storage_key"))
                .from(a("attachments"))
                .cond_where(files.clone())
                .to_owned(),
        )
        .await?;
    out.storage_keys = keys.into_iter().map(|k| k.0).collect();
    out.attachments = tx
        .execute(
            &Query::delete()
                .from_table(a("attachments"))
                .cond_where(files)
                .to_owned(),
        )
        .await?;

    // Messages: every one on their tickets (replies quote and name them) and theirs elsewhere.
    out.comments = tx
        .execute(
            &Query::update()
                .table(a("comments"))
                .value(a("body"), e.text)
                .value(a("html_body"), Expr::null())
                .value(a("updated_at"), e.now)
                .value(a("version"), Expr::col(a("version")).add(1))
                .cond_where(
                    Cond::all().add(ws()).add(
                        Cond::any()
                            .add(on_tickets())
                            .add(Expr::col(a("id")).in_subquery(comments_by(e))),
                    ),
                )
                .to_owned(),
        )
        .await?;
    tx.execute(
        &Query::update()
            .table(a("comments"))
            .value(a("author_name"), e.name)
            .and_where(Expr::col(a("id")).in_subquery(comments_by(e)))
            .to_owned(),
    )
    .await?;

    // The tickets' text; their skeleton stays. `updated_at` moves so the change feed offers
    // the erased ticket to whoever keeps a copy.
    out.tickets = tx
        .execute(
            &Query::update()
                .table(a("tickets"))
                .value(a("subject"), e.text)
                .value(a("description"), e.text)
                .value(a("custom_fields"), "{}")
                .value(a("satisfaction_feedback"), Expr::null())
                .value(a("ai_summary"), Expr::null())
                .value(a("updated_at"), e.now)
                .value(a("version"), Expr::col(a("version")).add(1))
                .and_where(ws())
                .and_where(Expr::col(a("requester_id")).eq(e.customer_id))
                .to_owned(),
        )
        .await?;
    // The timeline keeps what happened and when, not the values it recorded (old subjects,
    // names, addresses).
    tx.execute(
        &Query::update()
            .table(a("ticket_events"))
            .value(a("metadata"), "{}")
            .and_where(ws())
            .and_where(on_tickets())
            .to_owned(),
    )
    .await?;
    // The outbox's copies (the live pages have heard them; webhooks carry their own).
    tx.execute(
        &Query::delete()
            .from_table(a("domain_events"))
            .and_where(ws())
            .and_where(Expr::col(a("subject_id")).in_subquery(tickets_of(e)))
            .to_owned(),
    )
    .await?;
    // Webhook payloads: not sent any more, and what was sent is not kept.
    out.webhook_deliveries = silence_webhooks(
        tx,
        Cond::all()
            .add(ws())
            .add(Expr::col(a("subject_id")).in_subquery(tickets_of(e))),
        e.now,
    )
    .await?;
    // Mail and chat messages about their tickets or to them: the same.
    out.notifications = silence_notifications(
        tx,
        Cond::all().add(ws()).add(
            Cond::any().add(on_tickets()).add(
                Cond::all()
                    .add(Expr::col(a("recipient_type")).eq("customer"))
                    .add(Expr::col(a("recipient_id")).eq(e.customer_id)),
            ),
        ),
        e.now,
    )
    .await?;

    // Copies of their messages on other tickets: outbox events, webhook payloads and
    // notifications that name the message.
    for c in &e.elsewhere {
        let mentions = || {
            Expr::col(a("payload"))
                .like(sea_query::LikeExpr::new(format!("%{}%", c.0.hyphenated())))
        };
        tx.execute(
            &Query::delete()
                .from_table(a("domain_events"))
                .and_where(ws())
                .and_where(mentions())
                .to_owned(),
        )
        .await?;
        out.webhook_deliveries +=
            silence_webhooks(tx, Cond::all().add(ws()).add(mentions()), e.now).await?;
        out.notifications += silence_notifications(
            tx,
            Cond::all().add(ws()).add(
                Cond::any()
                    .add(Expr::col(a("comment_id")).eq(*c))
                    .add(mentions()),
            ),
            e.now,
        )
        .await?;
    }
    // The customer's address leaves the messages addressed to them.
    tx.execute(
        &Query::update()
            .table(a("notifications"))
            .value(a("address"), e.email)
            .and_where(ws())
            .and_where(Expr::col(a("recipient_type")).eq("customer"))
            .and_where(Expr::col(a("recipient_id")).eq(e.customer_id))
            .to_owned(),
    )
    .await?;
    // A sign-in link still queued for their old address.
    tx.execute(
        &Query::delete()
            .from_table(a("jobs"))
            .and_where(ws())
            .and_where(Expr::col(a("kind")).eq("portal_access"))
            .and_where(Expr::col(a("payload")).eq(e.access_job_payload))
            .to_owned(),
    )
    .await?;

    // Message-IDs of their mail (a new message from them starts a new ticket), portal
    // credentials, AI output and vectors made from their text, escalation notes.
    for (table, cond) in [
        (
            "email_messages",
            Cond::all().add(ws()).add(
                Cond::any()
                    .add(on_tickets())
                    .add(Expr::col(a("comment_id")).in_subquery(comments_by(e))),
            ),
        ),
        ("ai_summaries", Cond::all().add(ws()).add(on_tickets())),
        ("ai_drafts", Cond::all().add(ws()).add(on_tickets())),
        (
            "ai_embeddings",
            Cond::all()
                .add(ws())
                .add(Expr::col(a("owner_kind")).eq("ticket"))
                .add(Expr::col(a("owner_id")).in_subquery(tickets_of(e))),
        ),
    ] {
        tx.execute(
            &Query::delete()
                .from_table(a(table))
                .cond_where(cond)
                .to_owned(),
        )
        .await?;
    }
    out.portal_tokens = tx
        .execute(
            &Query::delete()
                .from_table(a("portal_tokens"))
                .and_where(ws())
                .and_where(Expr::col(a("customer_id")).eq(e.customer_id))
                .to_owned(),
        )
        .await?;
    tx.execute(
        &Query::update()
            .table(a("escalations"))
            .value(a("note"), Expr::null())
            .value(a("last_error"), Expr::null())
            .and_where(ws())
            .and_where(on_tickets())
            .to_owned(),
    )
    .await?;

    // Stored API answers that may hold their name or address (kept a day for retries).
    let email_pattern = format!(
        "%{}%",
        e.old_email
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    tx.execute(
        &Query::delete()
            .from_table(a("idempotency_keys"))
            .and_where(ws())
            .and_where(
                Expr::col(a("response_body"))
                    .like(sea_query::LikeExpr::new(email_pattern).escape('\\')),
            )
            .to_owned(),
    )
    .await?;

    // Last, the customer.
    tx.execute(
        &Query::update()
            .table(a("customers"))
            .value(a("email"), e.email)
            .value(a("name"), e.name)
            .value(a("phone"), Expr::null())
            .value(a("company"), Expr::null())
            .value(a("notes"), "")
            .value(a("erased_at"), e.now)
            .value(a("updated_at"), e.now)
            .value(a("version"), Expr::col(a("version")).add(1))
            .and_where(ws())
            .and_where(Expr::col(a("id")).eq(e.customer_id))
            .to_owned(),
    )
    .await?;
    Ok(out)
}

const NOT_SENT: &str = "not sent: the customer's personal data was erased";

/// Webhook deliveries matching `which`: pending ones are not sent, and none keeps its
/// payload; answers how many.
async fn silence_webhooks(tx: &mut Tx, which: Cond, now: i64) -> Result<u64> {
    tx.execute(
        &Query::update()
            .table(a("webhook_deliveries"))
            .value(a("status"), "failed")
            .value(a("last_error"), NOT_SENT)
            .value(a("updated_at"), now)
            .cond_where(which.clone())
            .and_where(Expr::col(a("status")).eq("pending"))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::update()
            .table(a("webhook_deliveries"))
            .value(a("payload"), r#"{"erased":true}"#)
            .cond_where(which)
            .to_owned(),
    )
    .await
}

/// Notifications matching `which`: unsent ones are not sent, and none keeps its payload;
/// answers how many.
async fn silence_notifications(tx: &mut Tx, which: Cond, now: i64) -> Result<u64> {
    tx.execute(
        &Query::update()
            .table(a("notifications"))
            .value(a("status"), "undeliverable")
            .value(a("last_error"), NOT_SENT)
            .cond_where(which.clone())
            .and_where(Expr::col(a("status")).is_not_in(["sent", "undeliverable"]))
            .to_owned(),
    )
    .await?;
    tx.execute(
        &Query::update()
            .table(a("notifications"))
            .value(a("payload"), "{}")
            .value(a("updated_at"), now)
            .cond_where(which)
            .to_owned(),
    )
    .await
}
