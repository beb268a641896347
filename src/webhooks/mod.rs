//! Outgoing webhooks (SPEC §5 Webhooks): subscriptions per workspace; every domain event is
//! fanned out to the matching subscriptions in the transaction that published it (outbox), and
//! a `deliver_webhook` job per delivery POSTs it, signed, with retries and an SSRF guard.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, FieldError, Result};
use crate::ids::WorkspaceId;
use crate::jobs::{Job, JobContext};
use crate::store::webhooks::{DeliveryRow, WebhookRow};
use crate::store::{self, Tx};
use crate::tickets::events::DomainEvent;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: uuid::Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub include_internal: bool,
    /// Only in the answer that created it (or rotated it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub version: i64,
    pub created_at: String,
}

fn view(w: &WebhookRow, show_secret: bool) -> WebhookView {
    WebhookView {
        id: w.id,
        url: w.url.clone(),
        events: serde_json::from_str(&w.events).unwrap_or_default(),
        active: w.active,
        include_internal: w.include_internal,
        secret: show_secret.then(|| w.secret.clone()),
        version: w.version,
        created_at: rfc3339(w.created_at),
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub url: String,
    pub events: Vec<String>,
    /// Generated when absent; shown once.
    pub secret: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub include_internal: bool,
}

fn yes() -> bool {
    true
}

fn check_input(input: &WebhookInput, allow_private: bool) -> Result<(String, String)> {
    let mut errors = Vec::new();
    if let Some(e) = crate::net::check_url("url", &input.url, allow_private) {
        errors.push(e);
    }
    if input.url.len() > 2000 {
        errors.push(FieldError::new("url", "must be at most 2000 characters"));
    }
    if input.events.is_empty() {
        errors.push(FieldError::new("events", "subscribe to at least one event"));
    }
    for e in &input.events {
        if !DomainEvent::parse(e).is_some_and(DomainEvent::subscribable) {
            errors.push(FieldError::new(
                "events",
                format!(
                    "unknown event `{}`; known: {}",
                    e.chars().take(60).collect::<String>(),
                    DomainEvent::catalog()
                        .map(DomainEvent::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let secret = match &input.secret {
        Some(s) if s.len() < 16 || s.len() > 200 => {
            errors.push(FieldError::new("secret", "must be 16 to 200 characters"));
            String::new()
        }
        Some(s) => s.clone(),
        None => format!("whsec_{}", crate::auth::tokens::random_b64(32)),
    };
    if errors.is_empty() {
        let mut events = input.events.clone();
        events.sort();
        events.dedup();
        Ok((
            serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()),
            secret,
        ))
    } else {
        Err(Error::Validation(errors))
    }
}

pub async fn create(ctx: &Ctx, actor: &Actor, input: WebhookInput) -> Result<WebhookView> {
    actor.require(Permission::ManageSettings)?;
    let (events, secret) = check_input(&input, ctx.allow_private_webhooks)?;
    let now = now_micros();
    let row = WebhookRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: actor.workspace_id,
        url: input.url,
        events,
        secret,
        active: input.active,
        include_internal: input.include_internal,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut tx = ctx.store.begin().await?;
    store::webhooks::insert(&mut tx, &row).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "webhook.created",
        "webhook",
        Some(row.id.to_string()),
        audit_of(&row),
    );
    tx.commit().await?;
    ctx.store.memo().forget::<ActiveHooks>(actor.workspace_id);
    Ok(view(&row, true))
}

/// What the audit log keeps of a subscription (never its secret).
fn audit_of(row: &WebhookRow) -> serde_json::Value {
    serde_json::json!({
        "url": row.url,
        "events": serde_json::from_str::<serde_json::Value>(&row.events).unwrap_or_default(),
        "active": row.active,
        "include_internal": row.include_internal,
    })
}

pub async fn list(ctx: &Ctx, actor: &Actor) -> Result<Vec<WebhookView>> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = ctx.store.read().await?;
    Ok(store::webhooks::list(&mut conn, actor.workspace_id, false)
        .await?
        .iter()
        .map(|w| view(w, false))
        .collect())
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: uuid::Uuid) -> Result<WebhookView> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = ctx.store.read().await?;
    store::webhooks::find(&mut conn, actor.workspace_id, id)
        .await?
        .map(|w| view(&w, false))
        .ok_or(Error::NotFound)
}

/// Replaces a subscription; a new `secret` is shown in the answer.
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: uuid::Uuid,
    input: WebhookInput,
) -> Result<WebhookView> {
    actor.require(Permission::ManageSettings)?;
    let (events, secret) = check_input(&input, ctx.allow_private_webhooks)?;
    let mut tx = ctx.store.begin().await?;
    let mut row = store::webhooks::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let rotated = input.secret.is_some();
    row.url = input.url;
    row.events = events;
    if rotated {
        row.secret = secret;
    }
    row.active = input.active;
    row.include_internal = input.include_internal;
    row.updated_at = now_micros();
    if !store::webhooks::update(&mut tx, &row).await? {
        return Err(Error::conflict("the webhook was changed by someone else"));
    }
    row.version += 1;
    let mut changes = audit_of(&row);
    changes["secret_rotated"] = serde_json::Value::Bool(rotated);
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "webhook.updated",
        "webhook",
        Some(id.to_string()),
        changes,
    );
    tx.commit().await?;
    ctx.store.memo().forget::<ActiveHooks>(actor.workspace_id);
    Ok(view(&row, rotated))
}

pub async fn delete(ctx: &Ctx, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = ctx.store.begin().await?;
    if !store::webhooks::delete(&mut tx, actor.workspace_id, id).await? {
        return Err(Error::NotFound);
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "webhook.deleted",
        "webhook",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    tx.commit().await?;
    ctx.store.memo().forget::<ActiveHooks>(actor.workspace_id);
    Ok(())
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryLogView {
    pub id: uuid::Uuid,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// A delivery as the log shows it.
#[must_use]
pub fn delivery_view(d: &DeliveryRow) -> DeliveryLogView {
    DeliveryLogView {
        id: d.id,
        event: d.event_type.clone(),
        status: d.status.clone(),
        attempts: d.attempts,
        response_code: d.response_code,
        last_error: d.last_error.clone(),
        created_at: rfc3339(d.created_at),
        delivered_at: d.delivered_at.map(rfc3339),
    }
}

pub async fn deliveries(ctx: &Ctx, actor: &Actor, id: uuid::Uuid) -> Result<Vec<DeliveryLogView>> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = ctx.store.read().await?;
    store::webhooks::find(&mut conn, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(
        store::webhooks::deliveries(&mut conn, actor.workspace_id, id, 100)
            .await?
            .iter()
            .map(delivery_view)
            .collect(),
    )
}

/// Sends a delivery again, with the same delivery id.
pub async fn redeliver(
    ctx: &Ctx,
    actor: &Actor,
    hook: uuid::Uuid,
    delivery: uuid::Uuid,
) -> Result<()> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = ctx.store.begin().await?;
    let d = store::webhooks::find_delivery(&mut tx, delivery)
        .await?
        .filter(|d| d.workspace_id == actor.workspace_id && d.webhook_id == Some(hook))
        .ok_or(Error::NotFound)?;
    store::webhooks::reset(&mut tx, actor.workspace_id, d.id, now_micros()).await?;
    crate::jobs::enqueue(
        &mut tx,
        Some(actor.workspace_id),
        &DeliverWebhook { delivery_id: d.id },
    )
    .await?;
    tx.commit().await
}

/// Active subscriptions per workspace, kept in the store's memory on SQLite: there the
/// database belongs to one process and every write of a subscription forgets them, while
/// reading them would cost every publishing transaction a trip to the single writer.
/// PostgreSQL nodes share the database with other nodes and always read.
#[derive(Clone)]
struct ActiveHooks(std::sync::Arc<Vec<WebhookRow>>);

async fn active(tx: &mut Tx, ws: WorkspaceId) -> Result<std::sync::Arc<Vec<WebhookRow>>> {
    if let Some(ActiveHooks(hit)) = tx.kept::<ActiveHooks>(ws) {
        return Ok(hit);
    }
    let hooks = std::sync::Arc::new(store::webhooks::list(tx, ws, true).await?);
    tx.keep(ws, ActiveHooks(hooks.clone()));
    Ok(hooks)
}

/// Where a delivery goes: a subscription, or a rule's own URL.
enum Target<'a> {
    Hook(uuid::Uuid),
    Url(&'a str),
}

/// Writes one pending delivery and its job in the caller's transaction.
async fn queue(
    tx: &mut Tx,
    ws: WorkspaceId,
    target: Target<'_>,
    event: DomainEvent,
    subject: uuid::Uuid,
    payload: &str,
) -> Result<()> {
    let now = now_micros();
    let (webhook_id, target_url) = match target {
        Target::Hook(id) => (Some(id), None),
        Target::Url(u) => (None, Some(u.to_owned())),
    };
    let d = DeliveryRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: ws,
        webhook_id,
        target_url,
        event_type: event.name().to_owned(),
        subject_id: subject,
        payload: payload.to_owned(),
        status: "pending".into(),
        attempts: 0,
        response_code: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        delivered_at: None,
    };
    store::webhooks::insert_delivery(tx, &d);
    crate::jobs::enqueue(tx, Some(ws), &DeliverWebhook { delivery_id: d.id }).await?;
    Ok(())
}

/// Writes a delivery (and its job) for every active subscription of the event, in the
/// publishing transaction.
pub async fn fan_out(
    tx: &mut Tx,
    ws: WorkspaceId,
    event: DomainEvent,
    subject: uuid::Uuid,
    payload: impl FnOnce() -> String,
    internal: bool,
) -> Result<()> {
    let hooks = active(tx, ws).await?;
    // The payload is written only when some subscription takes the event.
    let mut payload = Some(payload);
    let mut body = String::new();
    for h in hooks.iter() {
        let events: Vec<String> = serde_json::from_str(&h.events).unwrap_or_default();
        if !events.iter().any(|e| e == event.name()) || (internal && !h.include_internal) {
            continue;
        }
        if let Some(write) = payload.take() {
            body = write();
        }
        queue(tx, ws, Target::Hook(h.id), event, subject, &body).await?;
    }
    Ok(())
}

/// Queues a delivery to a rule's own URL (the `webhook` action), in the rule's transaction.
pub async fn queue_direct(
    tx: &mut Tx,
    ws: WorkspaceId,
    subject: uuid::Uuid,
    url: &str,
    payload: &str,
) -> Result<()> {
    let event = DomainEvent::AutomationWebhook;
    queue(tx, ws, Target::Url(url), event, subject, payload).await
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
#[must_use]
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!(
        "t={t},v1={}",
        hmac_hex(secret, format!("{t}.{body}").as_bytes())
    )
}

/// Lowercase hex HMAC-SHA256 of `data` under `secret`.
#[must_use]
pub fn hmac_hex(secret: &str, data: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Delivers one webhook delivery.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub delivery_id: uuid::Uuid,
}

impl Job for DeliverWebhook {
    const NAME: &'static str = "deliver_webhook";
    const MAX_ATTEMPTS: i64 = 8;

    // Long: a webhook delivery's outcomes (delivered, retry with backoff, failed for good),
    // each recorded on the delivery row; the signed request is built once.
    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let store = &ctx.store;
        let mut conn = store.read().await?;
        let Some(d) = store::webhooks::find_delivery(&mut conn, self.delivery_id).await? else {
            return Ok(());
        };
        if d.status != "pending" {
            return Ok(());
        }
        // A subscription's URL and secret, or a rule's own URL (unsigned).
        let (url, secret) = match (d.webhook_id, &d.target_url) {
            (Some(h), _) => match store::webhooks::find(&mut conn, d.workspace_id, h).await? {
                Some(hook) => (hook.url, Some(hook.secret)),
                None => return Ok(()),
            },
            (None, Some(u)) => (u.clone(), None),
            (None, None) => return Ok(()),
        };
        if store::webhooks::earlier_pending(&mut conn, &d).await? {
            // Deliveries about one ticket go out in order: check again shortly, without
            // spending an attempt.
            drop(conn);
            let mut tx = store.begin().await?;
            crate::jobs::enqueue_at(
                &mut tx,
                Some(d.workspace_id),
                &DeliverWebhook { delivery_id: d.id },
                now_micros() + 2_000_000,
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        drop(conn);
        let last = ctx.attempt >= Self::MAX_ATTEMPTS;
        let outcome = post(&url, secret.as_deref(), &d, ctx.allow_private_webhooks).await;
        let mut tx = store.begin().await?;
        let result = match outcome {
            Ok(code) if (200..300).contains(&code) => {
                store::webhooks::record_attempt(
                    &mut tx,
                    d.id,
                    "delivered",
                    Some(code),
                    None,
                    now_micros(),
                )
                .await?;
                Ok(())
            }
            Ok(code) => {
                let status = if last { "failed" } else { "pending" };
                store::webhooks::record_attempt(
                    &mut tx,
                    d.id,
                    status,
                    Some(code),
                    Some(&format!("the receiver answered {code}")),
                    now_micros(),
                )
                .await?;
                Err(anyhow::anyhow!("the receiver answered {code}"))
            }
            Err(Refused(why)) => {
                // Never retried: the address is not allowed.
                store::webhooks::record_attempt(
                    &mut tx,
                    d.id,
                    "failed",
                    None,
                    Some(&why),
                    now_micros(),
                )
                .await?;
                Ok(())
            }
            Err(Transient(why)) => {
                let status = if last { "failed" } else { "pending" };
                store::webhooks::record_attempt(
                    &mut tx,
                    d.id,
                    status,
                    None,
                    Some(&why),
                    now_micros(),
                )
                .await?;
                Err(anyhow::anyhow!(why))
            }
        };
        tx.commit().await?;
        result
    }
}

use crate::net::PostError::{Refused, Transient};

/// POSTs a delivery to an address checked after DNS resolution; no redirects; 10 s timeout.
async fn post(
    target: &str,
    secret: Option<&str>,
    d: &DeliveryRow,
    allow_private: bool,
) -> Result<i64, crate::net::PostError> {
    let (client, url) = crate::net::guarded_client(target, allow_private).await?;
    let t = now_micros() / 1_000_000;
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "Ferrodesk-Webhooks/1")
        .header("x-ferrodesk-event", &d.event_type)
        .header("x-ferrodesk-delivery", d.id.to_string());
    if let Some(secret) = secret {
        req = req.header("x-ferrodesk-signature", signature(secret, t, &d.payload));
    }
    let res = req
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| Transient(format!("request failed: {e}")))?;
    Ok(i64::from(res.status().as_u16()))
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn signature_is_stripe_style() {
        // HMAC-SHA256("secret", "1700000000.{}"), computed with Python's hmac module.
        assert_eq!(
            signature("secret", 1_700_000_000, "{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
