//! Submitting a request from the portal: the workspace it names, the honeypot, the
//! `Idempotency-Key` replay, and the first access token.

use serde::Deserialize;

use super::*;
use crate::clock::now_micros;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::{TicketId, WorkspaceId};
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn};
use crate::tickets::model::NewTicket;
use crate::tickets::service::{self};
use crate::tickets::status::Channel;

/// `POST /api/public/tickets` body (seed 003). `website` is a honeypot: people leave it empty.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The workspace's id; or `workspace` (its slug). Neither: the first workspace.
    pub workspace_id: Option<uuid::Uuid>,
    pub workspace: Option<String>,
    pub subject: String,
    pub description: String,
    pub requester_email: String,
    pub requester_name: Option<String>,
    pub category_id: Option<crate::ids::CategoryId>,
    pub kind: Option<crate::tickets::status::Kind>,
    /// Honeypot: must stay empty.
    pub website: Option<String>,
}

/// Resolves the workspace a public request names (404 when unknown).
pub async fn workspace(
    tx: &mut Conn,
    id: Option<uuid::Uuid>,
    slug: Option<&str>,
) -> Result<WorkspaceId> {
    let w = match (id, slug) {
        (Some(id), _) => store::workspaces::find(tx, WorkspaceId(id)).await?,
        (None, Some(s)) if s.len() <= 100 && !s.contains('\0') => {
            store::workspaces::find_by_slug(tx, s).await?
        }
        (None, Some(_)) => None,
        (None, None) => store::workspaces::find_by_slug(tx, "default").await?,
    };
    w.map(|w| w.id).ok_or(Error::NotFound)
}

/// What a submission came to.
pub enum Submitted {
    /// A ticket and its first access token.
    Created(Box<TicketRow>, String),
    /// The honeypot was filled: nothing was created.
    Ignored,
    /// An `Idempotency-Key` replay of an earlier submission: its ticket and a new token.
    Replayed(Box<TicketRow>, String),
}

/// Submits a request from the portal (channel `portal`).
pub async fn submit(
    ctx: &Ctx,
    input: Submission,
    idempotency: Option<(String, Vec<u8>)>,
    attachments: &[uuid::Uuid],
) -> Result<Submitted> {
    if input
        .website
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        tracing::info!("portal submission dropped: the honeypot field was filled");
        return Ok(Submitted::Ignored);
    }
    let mut conn = ctx.store.read().await?;
    let ws = workspace(&mut conn, input.workspace_id, input.workspace.as_deref()).await?;
    if let Some((key, fingerprint)) = &idempotency {
        let since = now_micros() - 24 * 3600 * 1_000_000;
        if let Some(saved) =
            store::idempotency::find(&mut conn, ws, "public_tickets", key, since).await?
        {
            return replay(ctx, ws, &saved, fingerprint).await;
        }
    }
    let prepared = service::prepare_with(
        &mut conn,
        ws,
        None,
        NewTicket {
            subject: input.subject,
            description: input.description,
            requester_email: Some(input.requester_email),
            requester_name: input.requester_name,
            category_id: input.category_id,
            kind: input.kind,
            channel: Some(Channel::Portal),
            ..NewTicket::default()
        },
    )
    .await?;
    drop(conn);
    let mut tx = ctx.store.begin().await?;
    let (row, _) = service::create_as(&mut tx, ws, None, prepared).await?;
    if !attachments.is_empty() {
        // The files go with the opening message.
        let first = store::comments::list(&mut tx, ws, row.id, false).await?;
        if let Some(c) = first.first() {
            store::attachments::link_attachments(&mut tx, ws, attachments, row.id, c.id).await?;
        }
    }
    let token = mint_ticket_token(&mut tx, &row);
    if let Some((key, fingerprint)) = &idempotency {
        // Only the ticket id is kept with the key: tokens are never stored in the clear.
        let saved = store::idempotency::save(
            &mut tx,
            ws,
            "public_tickets",
            key,
            fingerprint,
            201,
            &row.id.to_string(),
            None,
            now_micros(),
        )
        .await?;
        if !saved {
            drop(tx);
            let mut conn = ctx.store.read().await?;
            let since = now_micros() - 24 * 3600 * 1_000_000;
            let saved = store::idempotency::find(&mut conn, ws, "public_tickets", key, since)
                .await?
                .ok_or_else(|| {
                    Error::conflict("a request with this Idempotency-Key is in progress; retry")
                })?;
            return replay(ctx, ws, &saved, fingerprint).await;
        }
    }
    tx.commit().await?;
    Ok(Submitted::Created(Box::new(row), token))
}

pub(super) async fn replay(
    ctx: &Ctx,
    ws: WorkspaceId,
    saved: &store::idempotency::SavedResponse,
    fingerprint: &[u8],
) -> Result<Submitted> {
    if saved.request_hash != fingerprint {
        return Err(Error::Client(
            crate::error::Code::IdempotencyMismatch,
            "this Idempotency-Key was used with a different request".into(),
        ));
    }
    let id: uuid::Uuid = saved
        .response_body
        .parse()
        .map_err(|_| Error::conflict("this Idempotency-Key belongs to another kind of request"))?;
    let mut tx = ctx.store.begin().await?;
    let row = store::tickets::find(&mut tx, ws, TicketId(id), false)
        .await?
        .ok_or(Error::NotFound)?;
    let token = mint_ticket_token(&mut tx, &row);
    tx.commit().await?;
    Ok(Submitted::Replayed(Box::new(row), token))
}
