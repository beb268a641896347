//! Escalation of a hardware case to the CSP (an RMA case) or the TMS (an on-site task),
//! seed 000. The request is stored with a durable job in one transaction; the handler then
//! tries the endpoint once at once, and the job retries with backoff when it is down. The
//! endpoint gets the ticket's context (customer, site, asset, order, a summary of the thread)
//! with `Idempotency-Key: <escalation id>`, so a retry after a lost answer opens nothing
//! twice. Its answer's id lands in the ticket's `links` (`rma_case_id` / `task_id`) with an
//! `escalated` event and the `ticket.escalated` webhook. One live escalation of each kind per
//! ticket: a second is refused (409) until the first is cancelled.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, OnConstraint, Result};
use crate::jobs::{Job, JobContext};
use crate::store::integrations::EscalationRow;
use crate::store::{self};
use crate::tickets::model::Links;
use crate::tickets::service::{self, Author};

/// `rma` or `task` (404 for anything else).
fn kind(k: &str) -> Result<&'static str> {
    match k {
        "rma" => Ok("rma"),
        "task" => Ok("task"),
        _ => Err(Error::NotFound),
    }
}

fn label(kind: &str) -> &'static str {
    if kind == "rma" {
        "RMA case (CSP)"
    } else {
        "on-site task (TMS)"
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateInput {
    /// What the engineer should know, added to the context sent.
    pub note: Option<String>,
}

/// An escalation as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EscalationView {
    pub id: uuid::Uuid,
    pub ticket_id: crate::ids::TicketId,
    /// `rma` or `task`.
    pub kind: String,
    /// `pending`, `sent`, `failed` or `cancelled`.
    pub status: String,
    /// The case or task id the other system gave.
    pub external_id: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An escalation as the API shows it.
#[must_use]
pub fn view(e: &EscalationRow) -> EscalationView {
    EscalationView {
        id: e.id,
        ticket_id: e.ticket_id,
        kind: e.kind.clone(),
        status: e.status.clone(),
        external_id: e.external_id.clone(),
        attempts: e.attempts,
        last_error: e.last_error.clone(),
        note: e.note.clone(),
        created_at: rfc3339(e.created_at),
        updated_at: rfc3339(e.updated_at),
    }
}

/// Requests an escalation and tries the endpoint once. Answers the escalation and whether it
/// went through (`sent`) or waits for a retry (`queued`).
// Long: the request and its job are written in one transaction, then one bounded try; the
// context sent to the endpoint is gathered here so it matches what the job sends.
pub async fn escalate(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    kind_word: &str,
    input: EscalateInput,
) -> Result<EscalationRow> {
    actor.require(Permission::Escalate)?;
    let kind = kind(kind_word)?;
    let note = match input.note.as_deref().map(str::trim) {
        Some(n) if n.len() > 4000 => {
            return Err(Error::field("note", "must be at most 4000 characters"));
        }
        Some("") | None => None,
        Some(n) => Some(n.to_owned()),
    };
    let ws = actor.workspace_id;
    let mut tx = ctx.store.begin().await?;
    let settings = super::settings::load(&mut tx, ws).await?;
    if settings.escalation_endpoint(kind).is_none() {
        return Err(Error::conflict(format!(
            "no {} endpoint is configured (PUT /api/settings/integrations)",
            label(kind)
        )));
    }
    let row = service::load(&mut tx, ws, key, true).await?;
    if let Some(live) = store::integrations::escalations_of(&mut tx, ws, row.id)
        .await?
        .into_iter()
        .find(|e| e.kind == kind && e.status != "cancelled")
    {
        return Err(Error::conflict(format!(
            "this ticket already has an {} ({}{}); cancel it before escalating again",
            label(kind),
            live.status,
            live.external_id
                .map(|x| format!(", {x}"))
                .unwrap_or_default()
        )));
    }
    let now = now_micros();
    let e = EscalationRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: ws,
        ticket_id: row.id,
        kind: kind.into(),
        status: "queued".into(),
        external_id: None,
        attempts: 0,
        last_error: None,
        requested_by: Some(actor.user_id.0),
        note,
        created_at: now,
        updated_at: now,
    };
    store::integrations::insert_escalation(&mut tx, &e)
        .await
        .on_constraint("escalations_live_key", || {
            Error::conflict("this ticket was escalated concurrently; cancel that one first")
        })?;
    service::record(
        &mut tx,
        &row,
        Author::user(actor),
        "escalation_requested",
        None,
        None,
        json!({"kind": kind, "escalation_id": e.id}),
    )
    .await?;
    // The handler tries at once; the job is the safety net, due one backoff step later.
    let first_retry = crate::jobs::backoff_micros(ctx.retry_base_seconds, 1, 0.0);
    crate::jobs::enqueue_at(
        &mut tx,
        Some(ws),
        &Escalate {
            escalation_id: e.id,
        },
        now + first_retry,
    )
    .await?;
    tx.commit().await?;
    // The first try happens now, for at most a few seconds so a slow endpoint never holds
    // the agent up; a failure or a timeout leaves it to the job (the endpoint's
    // Idempotency-Key makes a repeat harmless).
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        attempt(
            &ctx.store,
            ctx.allow_private_webhooks,
            &ctx.public_url,
            e.id,
            false,
        ),
    )
    .await;
    let mut conn = ctx.store.read().await?;
    store::integrations::find_escalation(&mut conn, ws, e.id)
        .await?
        .ok_or(Error::NotFound)
}

/// A ticket's escalations.
pub async fn list(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Vec<EscalationRow>> {
    actor.require(Permission::ViewTickets)?;
    let mut conn = ctx.store.read().await?;
    let row = service::load(&mut conn, actor.workspace_id, key, false).await?;
    store::integrations::escalations_of(&mut conn, actor.workspace_id, row.id).await
}

/// Cancels an escalation (the case was closed elsewhere or opened by mistake): its id leaves
/// the ticket's links and the kind may be escalated again.
pub async fn cancel(ctx: &Ctx, actor: &Actor, key: &str, id: uuid::Uuid) -> Result<EscalationRow> {
    actor.require(Permission::Escalate)?;
    let ws = actor.workspace_id;
    let mut tx = ctx.store.begin().await?;
    let mut row = service::load(&mut tx, ws, key, true).await?;
    let e = store::integrations::find_escalation(&mut tx, ws, id)
        .await?
        .filter(|e| e.ticket_id == row.id)
        .ok_or(Error::NotFound)?;
    if e.status == "cancelled" {
        return Err(Error::conflict("this escalation is already cancelled"));
    }
    let now = now_micros();
    store::integrations::update_escalation(
        &mut tx,
        e.id,
        "cancelled",
        None,
        e.last_error.as_deref(),
        false,
        now,
    )
    .await?;
    if let Some(x) = &e.external_id {
        let mut links: Links = serde_json::from_str(&row.links).unwrap_or_default();
        let field = if e.kind == "rma" {
            &mut links.rma_case_id
        } else {
            &mut links.task_id
        };
        if field.as_deref() == Some(x.as_str()) {
            *field = None;
            row.links = serde_json::to_string(&links).map_err(anyhow::Error::from)?;
            service::save(&mut tx, &mut row).await?;
        }
    }
    service::record(
        &mut tx,
        &row,
        Author::user(actor),
        "escalation_cancelled",
        None,
        None,
        json!({"kind": e.kind, "escalation_id": e.id, "external_id": e.external_id}),
    )
    .await?;
    let e = store::integrations::find_escalation(&mut tx, ws, id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(e)
}

/// A summary of the thread for the engineer: the opening message, the counts, and the latest
/// words of each side (internal notes included: the CSP and TMS are our own people).
fn summary(comments: &[crate::store::comments::CommentRow]) -> String {
    let cut = |s: &str, n: usize| {
        let mut t: String = s.chars().take(n).collect();
        if s.chars().count() > n {
            t.push('…');
        }
        t
    };
    let mut out = String::new();
    if let Some(first) = comments.first() {
        out.push_str(&format!(
            "Reported by {}: {}\n",
            first.author_name,
            cut(first.body.trim(), 600)
        ));
    }
    let customer = comments
        .iter()
        .filter(|c| c.author_type == "customer")
        .count();
    let staff = comments
        .iter()
        .filter(|c| c.author_type != "customer" && !c.is_internal)
        .count();
    let notes = comments.iter().filter(|c| c.is_internal).count();
    out.push_str(&format!(
        "{} messages: {customer} from the customer, {staff} replies, {notes} internal notes.\n",
        comments.len()
    ));
    if comments.len() > 1 {
        if let Some(c) = comments
            .iter()
            .skip(1)
            .rev()
            .find(|c| c.author_type == "customer")
        {
            out.push_str(&format!(
                "Latest from the customer: {}\n",
                cut(c.body.trim(), 400)
            ));
        }
        if let Some(c) = comments
            .iter()
            .rev()
            .find(|c| c.author_type != "customer" && !c.is_internal)
        {
            out.push_str(&format!(
                "Latest reply ({}): {}\n",
                c.author_name,
                cut(c.body.trim(), 400)
            ));
        }
        if let Some(c) = comments.iter().rev().find(|c| c.is_internal) {
            out.push_str(&format!(
                "Latest note ({}): {}\n",
                c.author_name,
                cut(c.body.trim(), 400)
            ));
        }
    }
    out
}

enum Outcome {
    Sent(String),
    /// Worth another try later.
    Retry(String),
    /// Never worth retrying (refused address, a 4xx).
    Fail(String),
}

/// Tries an escalation once; `last` marks the job's final attempt (a retryable failure then
/// becomes `failed`). Errors when another try is wanted.
// Long: one delivery attempt's outcomes (sent, retryable, refused, gone) each recorded with its
// own status, event and note; reads top to bottom as the protocol does.
async fn attempt(
    store: &store::Store,
    allow_private: bool,
    public_url: &str,
    id: uuid::Uuid,
    last: bool,
) -> anyhow::Result<()> {
    let mut conn = store.read().await?;
    let Some(e) = store::integrations::find_escalation_any(&mut conn, id).await? else {
        return Ok(());
    };
    if e.status != "queued" {
        return Ok(());
    }
    let ws = e.workspace_id;
    let settings = super::settings::load(&mut conn, ws).await?;
    let Some(row) = store::tickets::find(&mut conn, ws, e.ticket_id, false).await? else {
        return Ok(());
    };
    let customer = store::customers::find(&mut conn, ws, row.requester_id).await?;
    let comments = store::comments::list(&mut conn, ws, row.id, true).await?;
    let requester = match e.requested_by {
        Some(u) => store::users::find(&mut conn, ws, crate::ids::UserId(u)).await?,
        None => None,
    };
    drop(conn);
    let outcome = match settings.escalation_endpoint(&e.kind) {
        None => Outcome::Fail("the endpoint is no longer configured".into()),
        Some(endpoint) => {
            let links: Links = serde_json::from_str(&row.links).unwrap_or_default();
            let body = json!({
                "escalation_id": e.id,
                "kind": e.kind,
                "ticket": {
                    "id": row.id,
                    "number": row.ticket_number,
                    "subject": row.subject,
                    "status": row.status,
                    "priority": row.priority.as_str(),
                    "kind": row.kind,
                    "channel": row.channel,
                    "created_at": rfc3339(row.created_at),
                    "url": format!("{}/tickets/{}", public_url.trim_end_matches('/'), row.id),
                },
                "customer": customer.as_ref().map(|c| json!({
                    "id": c.id, "name": c.name, "email": c.email, "phone": c.phone, "company": c.company,
                })),
                "site_id": links.site_id,
                "asset_id": links.asset_id,
                "order_id": links.order_id,
                "summary": summary(&comments),
                "note": e.note,
                "requested_by": requester.as_ref().map(|u| json!({"name": u.name, "email": u.email})),
            });
            post(endpoint, &e, &body, allow_private).await
        }
    };
    let now = now_micros();
    let mut tx = store.begin().await?;
    // Re-read under the ticket's lock: a cancel or another node may have finished it.
    let Some(mut row) = store::tickets::find(&mut tx, ws, e.ticket_id, true).await? else {
        return Ok(());
    };
    let Some(e) = store::integrations::find_escalation_any(&mut tx, id).await? else {
        return Ok(());
    };
    if e.status != "queued" {
        return Ok(());
    }
    let result = match outcome {
        Outcome::Sent(external) => {
            store::integrations::update_escalation(
                &mut tx,
                e.id,
                "sent",
                Some(&external),
                None,
                true,
                now,
            )
            .await?;
            let mut links: Links = serde_json::from_str(&row.links).unwrap_or_default();
            if e.kind == "rma" {
                links.rma_case_id = Some(external.clone());
            } else {
                links.task_id = Some(external.clone());
            }
            row.links = serde_json::to_string(&links)?;
            service::save(&mut tx, &mut row).await?;
            let by = Author {
                kind: "agent",
                id: e.requested_by,
            };
            let meta = json!({"kind": e.kind, "external_id": external, "escalation_id": e.id});
            service::record(&mut tx, &row, by, "escalated", None, None, meta.clone()).await?;
            let tags = service::tags(&mut tx, &row).await?;
            service::publish(
                &mut tx,
                &row,
                &tags,
                crate::tickets::events::DomainEvent::TicketEscalated,
                json!({"escalation": meta}),
            )
            .await?;
            Ok(())
        }
        Outcome::Retry(why) if !last => {
            store::integrations::update_escalation(
                &mut tx,
                e.id,
                "queued",
                None,
                Some(&why),
                true,
                now,
            )
            .await?;
            Err(anyhow::anyhow!(why))
        }
        Outcome::Retry(why) | Outcome::Fail(why) => {
            store::integrations::update_escalation(
                &mut tx,
                e.id,
                "failed",
                None,
                Some(&why),
                true,
                now,
            )
            .await?;
            service::record(
                &mut tx,
                &row,
                Author::SYSTEM,
                "escalation_failed",
                None,
                None,
                json!({"kind": e.kind, "escalation_id": e.id, "error": why}),
            )
            .await?;
            Ok(())
        }
    };
    tx.commit().await?;
    result
}

/// POSTs the context; the answer's `id` (or `case_id`, `rma_case_id`, `task_id`) is the
/// external id.
async fn post(
    endpoint: &super::settings::Endpoint,
    e: &EscalationRow,
    body: &Value,
    allow_private: bool,
) -> Outcome {
    let url = endpoint.url.clone().unwrap_or_default();
    let (client, url) = match crate::net::guarded_client(&url, allow_private).await {
        Ok(c) => c,
        Err(crate::net::PostError::Refused(why)) => return Outcome::Fail(why),
        Err(crate::net::PostError::Transient(why)) => return Outcome::Retry(why),
    };
    let mut req = client
        .post(url)
        .header("user-agent", "Ferrodesk-Escalations/1")
        .header("idempotency-key", e.id.to_string())
        .json(body);
    if let Some(k) = &endpoint.api_key {
        req = req.bearer_auth(k);
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(err) => return Outcome::Retry(format!("request failed: {err}")),
    };
    let status = res.status();
    let answer: Value = res.json().await.unwrap_or_default();
    if status.is_success() {
        let id = ["id", "case_id", "rma_case_id", "task_id"]
            .iter()
            .find_map(|k| match &answer[*k] {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        return match id {
            Some(id) if id.len() <= 200 => Outcome::Sent(id),
            _ => Outcome::Retry(format!("the endpoint answered {status} without an id")),
        };
    }
    let why = format!("the endpoint answered {status}");
    if status.is_client_error() && !matches!(status.as_u16(), 408 | 409 | 425 | 429) {
        Outcome::Fail(why)
    } else {
        Outcome::Retry(why)
    }
}

/// Sends a queued escalation (retried with backoff until it goes through or fails for good).
#[derive(Debug, Serialize, Deserialize)]
pub struct Escalate {
    pub escalation_id: uuid::Uuid,
}

impl Job for Escalate {
    const NAME: &'static str = "escalate_ticket";
    const MAX_ATTEMPTS: i64 = 10;

    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        attempt(
            &ctx.store,
            ctx.allow_private_webhooks,
            &ctx.public_url,
            self.escalation_id,
            ctx.attempt >= Self::MAX_ATTEMPTS,
        )
        .await
    }
}
