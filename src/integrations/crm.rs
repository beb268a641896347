//! CRM note sync (seed 001, optional per workspace): a note with the ticket number and status
//! on the requester's CRM contact when a ticket is created, updated when it is resolved or
//! closed. The CRM speaks HubSpot's CRM v3 objects API (`base` is e.g.
//! `https://api.hubapi.com`, `api_key` a private-app token):
//!
//! - `POST {base}/crm/v3/objects/contacts/search` finds the contact by email (created with
//!   `POST {base}/crm/v3/objects/contacts` when there is none);
//! - `POST {base}/crm/v3/objects/notes` creates the note, associated with the contact
//!   (association type 202, note → contact);
//! - `PATCH {base}/crm/v3/objects/notes/{id}` updates its body.
//!
//! The note's id is remembered per ticket, so a retried job updates instead of adding a note.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{now_micros, rfc3339};
use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};
use crate::jobs::{Job, JobContext};
use crate::store::tickets::TicketRow;
use crate::store::{self, Tx};
use crate::tickets::events::DomainEvent;

/// Queues a sync when the workspace syncs notes and the event is one that changes them.
pub async fn on_event(tx: &mut Tx, t: &TicketRow, event: DomainEvent) -> Result<()> {
    if !matches!(
        event,
        DomainEvent::TicketCreated | DomainEvent::TicketResolved | DomainEvent::TicketClosed
    ) {
        return Ok(());
    }
    if !enabled(tx, t.workspace_id).await? {
        return Ok(());
    }
    crate::jobs::enqueue(
        tx,
        Some(t.workspace_id),
        &CrmSync {
            workspace_id: t.workspace_id,
            ticket_id: t.id,
            create: event == DomainEvent::TicketCreated,
        },
    )
    .await?;
    Ok(())
}

/// Whether note sync is on, remembered per workspace in the store's memory on SQLite (one
/// process owns that database; settings writes call [`forget`]); PostgreSQL nodes read it
/// each time.
#[derive(Clone, Copy)]
struct SyncOn(bool);

async fn enabled(tx: &mut Tx, ws: WorkspaceId) -> Result<bool> {
    if let Some(SyncOn(hit)) = tx.kept::<SyncOn>(ws) {
        return Ok(hit);
    }
    let on = super::settings::load(tx, ws)
        .await?
        .crm_endpoint()
        .is_some();
    tx.keep(ws, SyncOn(on));
    Ok(on)
}

/// Drops the remembered switch after the settings change.
pub fn forget(store: &store::Store, ws: WorkspaceId) {
    store.memo().forget::<SyncOn>(ws);
}

/// Creates or updates the CRM note of a ticket.
#[derive(Debug, Serialize, Deserialize)]
pub struct CrmSync {
    pub workspace_id: WorkspaceId,
    pub ticket_id: TicketId,
    /// From `ticket.created`: the only sync that may create the note. Updates that find no
    /// note yet wait for it (retry).
    pub create: bool,
}

fn note_body(t: &TicketRow, url: &str) -> String {
    let esc = crate::html::text_to_html;
    format!(
        "<p><strong>Support ticket {}</strong>: {}</p><p>Status: {}</p><p><a href=\"{}\">{}</a></p>",
        esc(&t.ticket_number),
        esc(&t.subject),
        esc(t.status.as_str()),
        esc(url),
        esc(url)
    )
}

impl Job for CrmSync {
    const NAME: &'static str = "crm_sync";
    const MAX_ATTEMPTS: i64 = 8;

    // Long: the HubSpot calls in order (contact search or create, note create with association,
    // or note update), each needing the previous answer.
    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let ws = self.workspace_id;
        let mut conn = ctx.store.read().await?;
        let settings = super::settings::load(&mut conn, ws).await?;
        let Some(endpoint) = settings.crm_endpoint().cloned() else {
            return Ok(());
        };
        let Some(t) = store::tickets::find(&mut conn, ws, self.ticket_id, false).await? else {
            return Ok(());
        };
        let note = store::integrations::refs_of_ticket(&mut conn, ws, t.id, "crm_note")
            .await?
            .into_iter()
            .next();
        drop(conn);
        if note.is_none() && !self.create {
            anyhow::bail!("the ticket's CRM note does not exist yet; waiting for its creation");
        }
        let base = endpoint.url.clone().unwrap_or_default();
        let base = base.trim_end_matches('/');
        let url = format!("{}/tickets/{}", ctx.public_url.trim_end_matches('/'), t.id);
        let call = |method: reqwest::Method, path: String, body: Value| {
            let endpoint = endpoint.clone();
            let allow = ctx.allow_private_webhooks;
            async move {
                let (client, target) = crate::net::guarded_client(&path, allow)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut req = client.request(method, target).json(&body);
                if let Some(k) = &endpoint.api_key {
                    req = req.bearer_auth(k);
                }
                let res = req.send().await?;
                let status = res.status();
                let answer: Value = res.json().await.unwrap_or_default();
                if !status.is_success() {
                    anyhow::bail!("the CRM answered {status}: {answer}");
                }
                anyhow::Ok(answer)
            }
        };
        let properties = json!({
            "hs_timestamp": rfc3339(now_micros()),
            "hs_note_body": note_body(&t, &url),
        });
        if let Some(id) = note {
            call(
                reqwest::Method::PATCH,
                format!("{base}/crm/v3/objects/notes/{id}"),
                json!({"properties": properties}),
            )
            .await?;
            return Ok(());
        }
        let found = call(
            reqwest::Method::POST,
            format!("{base}/crm/v3/objects/contacts/search"),
            json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": t.requester_email}]}], "limit": 1}),
        )
        .await?;
        let contact = match found["results"][0]["id"].as_str() {
            Some(id) => id.to_owned(),
            None => call(
                reqwest::Method::POST,
                format!("{base}/crm/v3/objects/contacts"),
                json!({"properties": {"email": t.requester_email, "firstname": t.requester_name}}),
            )
            .await?["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("the CRM created a contact without an id"))?,
        };
        let created = call(
            reqwest::Method::POST,
            format!("{base}/crm/v3/objects/notes"),
            json!({
                "properties": properties,
                "associations": [{"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}],
            }),
        )
        .await?;
        let id = created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("the CRM created a note without an id"))?;
        let mut tx = ctx.store.begin().await?;
        store::integrations::remember(&mut tx, ws, "crm_note", &id, Some(t.id), None, now_micros())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
