//! Customer data rights (GDPR articles 15 and 17), for admins: everything held about a
//! customer as one JSON document, and erasure.
//!
//! Erasure keeps each ticket's skeleton (number, status, priority, kind, channel, category,
//! group, assignee, tags, times, SLA clocks, rating) so reports stay right, and in one
//! transaction replaces or deletes everything personal: the customer's name, email, phone,
//! company and notes; the subject, description and every message of their tickets (staff
//! replies quote and name them) and their messages on other tickets; the search index of
//! those tickets; files (their mail's stored original among them: rows at once, bytes by a
//! job right after); the values the timeline recorded; the outbox's copies; the payloads of
//! webhooks and notifications (unsent ones are not sent); stored Message-IDs; portal
//! sign-ins; AI summaries, drafts and vectors; escalation notes; stored API answers naming
//! them. The audit log records who erased whom and how much, never what was erased.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::customers::CustomerView;
use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::CustomerId;
use crate::jobs::{self, Job, JobContext};
use crate::store::erasure::{self, Erasure};
use crate::store::{self, Store};
use crate::tickets::model::{CommentView, TicketView};

/// What an erased text reads.
pub const ERASED_TEXT: &str = "(erased)";
/// The name an erased customer keeps.
pub const ERASED_NAME: &str = "Erased customer";

/// One of the customer's tickets with its thread.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportedTicket {
    #[serde(flatten)]
    pub ticket: TicketView,
    /// Oldest first; internal notes only when asked for.
    pub messages: Vec<CommentView>,
}

/// A message sent (or queued) to the customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportedNotification {
    pub ticket_id: Option<crate::ids::TicketId>,
    /// `email` or `wecom`.
    pub channel: String,
    /// What it was about (`ticket_created`, `public_reply`, …).
    pub template: String,
    pub address: String,
    /// `pending`, `sent` or `undeliverable`.
    pub status: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// Everything held about a customer (`GET /api/customers/:id/export`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerExport {
    pub exported_at: String,
    pub customer: CustomerView,
    /// Tickets they requested, newest first (ratings are in each ticket's `satisfaction`).
    pub tickets: Vec<ExportedTicket>,
    /// Their messages on tickets someone else requested.
    pub other_messages: Vec<CommentView>,
    /// Messages sent to them.
    pub notifications: Vec<ExportedNotification>,
    /// Whether internal notes are included.
    pub includes_internal_notes: bool,
}

/// Gathers everything held about customer `id`. Internal notes are staff's working notes
/// and are left out unless `internal` is set (the admin decides per request). Audited.
pub async fn export(
    store: &Store,
    actor: &Actor,
    id: CustomerId,
    internal: bool,
) -> Result<CustomerExport> {
    actor.require(Permission::CustomerDataRights)?;
    let ws = actor.workspace_id;
    let mut conn = store.read().await?;
    let customer = store::customers::find(&mut conn, ws, id)
        .await?
        .ok_or(Error::NotFound)?;
    let now = now_micros();
    let mut tickets = Vec::new();
    let mut offset = 0;
    loop {
        let page = store::tickets::of_customer(&mut conn, ws, id, 200, offset).await?;
        let ids: Vec<_> = page.iter().map(|t| t.id).collect();
        let tags = store::tickets::tags_of(&mut conn, ws, &ids).await?;
        for t in &page {
            let mut messages = crate::tickets::comments::thread(&mut conn, t).await?;
            messages.retain(|m| internal || !m.is_internal);
            let own_tags = tags
                .iter()
                .filter(|(x, _)| *x == t.id)
                .map(|(_, g)| g.clone())
                .collect();
            tickets.push(ExportedTicket {
                ticket: TicketView::from_row(t, own_tags, now),
                messages,
            });
        }
        if page.len() < 200 {
            break;
        }
        offset += 200;
    }
    let elsewhere = erasure::messages_elsewhere(&mut conn, ws, id).await?;
    let other_messages = crate::tickets::comments::views(&mut conn, ws, &elsewhere).await?;
    let notifications = store::notifications::to_customer(&mut conn, ws, id)
        .await?
        .into_iter()
        .map(|n| ExportedNotification {
            ticket_id: n.ticket_id,
            channel: n.channel,
            template: n.template,
            address: n.address,
            status: n.status,
            created_at: rfc3339(n.created_at),
            sent_at: n.sent_at.map(rfc3339),
        })
        .collect();
    drop(conn);
    let mut tx = store.begin().await?;
    super::audit::record(
        &mut tx,
        actor,
        "customer.exported",
        "customer",
        Some(id.0.to_string()),
        json!({"tickets": tickets.len(), "internal_notes": internal}),
    );
    tx.commit().await?;
    Ok(CustomerExport {
        exported_at: rfc3339(now),
        customer: CustomerView::from(&customer),
        tickets,
        other_messages,
        notifications,
        includes_internal_notes: internal,
    })
}

/// What an erasure did (`POST /api/customers/:id/erase`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasureReport {
    pub customer: CustomerView,
    /// Tickets whose text was erased (their skeleton stays).
    pub tickets: u64,
    /// Messages whose text was erased.
    pub comments: u64,
    /// Files deleted.
    pub attachments: u64,
    pub notifications: u64,
    pub webhook_deliveries: u64,
    /// Portal sign-ins and links ended.
    pub portal_tokens: u64,
}

/// Deletes stored files whose rows are gone (after an erasure).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DeleteFiles {
    pub keys: Vec<String>,
}

impl Job for DeleteFiles {
    const NAME: &'static str = "delete_files";

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        for key in &self.keys {
            ctx.files.delete(key).await?;
        }
        Ok(())
    }
}

/// Erases customer `id` (admin only, irreversible): see the module's comment for what goes.
/// A second erasure of the same customer is refused (409).
pub async fn erase(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<ErasureReport> {
    actor.require(Permission::CustomerDataRights)?;
    let ws = actor.workspace_id;
    let mut tx = ctx.store.begin().await?;
    let customer = store::customers::find(&mut tx, ws, id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(at) = customer.erased_at {
        return Err(Error::conflict(format!(
            "the customer was already erased at {}",
            rfc3339(at)
        )));
    }
    let email = format!("erased-{}@erased.invalid", id.0.simple());
    let access = serde_json::to_string(&crate::portal::SendAccess {
        email: customer.email.clone(),
    })
    .map_err(anyhow::Error::from)?;
    let mut plan = Erasure {
        workspace_id: ws,
        customer_id: id,
        old_email: &customer.email,
        email: &email,
        name: ERASED_NAME,
        text: ERASED_TEXT,
        elsewhere: Vec::new(),
        access_job_payload: &access,
        now: now_micros(),
    };
    plan.elsewhere = erasure::comments_elsewhere(&mut tx, &plan).await?;
    let mut reindex = erasure::ticket_ids(&mut tx, &plan).await?;
    reindex.extend(erasure::other_tickets_with_messages(&mut tx, &plan).await?);
    let done = erasure::erase(&mut tx, &plan).await?;
    // Search documents rebuilt from what is left (deleted tickets have none).
    for t in reindex {
        if let Some(row) = store::tickets::find(&mut tx, ws, t, false).await? {
            crate::tickets::service::reindex(&mut tx, &row).await?;
        }
    }
    if !done.storage_keys.is_empty() {
        jobs::enqueue(
            &mut tx,
            Some(ws),
            &DeleteFiles {
                keys: done.storage_keys.clone(),
            },
        )
        .await?;
    }
    super::audit::record(
        &mut tx,
        actor,
        "customer.erased",
        "customer",
        Some(id.0.to_string()),
        json!({
            "tickets": done.tickets,
            "comments": done.comments,
            "attachments": done.attachments,
        }),
    );
    tx.commit().await?;
    let mut conn = ctx.store.read().await?;
    let customer = store::customers::find(&mut conn, ws, id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(ErasureReport {
        customer: CustomerView::from(&customer),
        tickets: done.tickets,
        comments: done.comments,
        attachments: done.attachments,
        notifications: done.notifications,
        webhook_deliveries: done.webhook_deliveries,
        portal_tokens: done.portal_tokens,
    })
}
