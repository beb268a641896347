//! Finding one's requests: access emails, one-time sign-in links, customer sessions, the
//! signed-in list, and agents rotating a ticket's tokens.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;
use crate::auth::tokens::digest;
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::store::{self};
use crate::tickets::service::{self, Author};

/// The answer to every lookup and sign-in request, whether or not the address is known.
pub const ACCESS_MESSAGE: &str =
    "If this address has requests with us, we have emailed it links to them.";

/// Emails an address its requests' links and a sign-in link, when it has requests; says the
/// same either way. At most three such emails per address per hour.
///
/// The request only checks the address's form and queues [`SendAccess`]: a known and an
/// unknown address cost the same (one job written), so the answer's timing tells nothing.
pub async fn send_access(
    ctx: &Ctx,
    ws_id: Option<uuid::Uuid>,
    ws_slug: Option<&str>,
    email: &str,
) -> Result<()> {
    let email = crate::validate::email("email", email).map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = ctx.store.begin().await?;
    let ws = workspace(&mut tx, ws_id, ws_slug).await?;
    crate::jobs::enqueue(&mut tx, Some(ws), &SendAccess { email }).await?;
    tx.commit().await
}

/// The work of an access request, off the request path.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendAccess {
    pub email: String,
}

impl crate::jobs::Job for SendAccess {
    const NAME: &'static str = "portal_access";

    async fn run(self, ctx: crate::jobs::JobContext) -> anyhow::Result<()> {
        let Some(ws) = ctx.workspace_id else {
            return Ok(());
        };
        let mut tx = ctx.store.begin().await?;
        let Some(customer) = store::customers::find_by_email(&mut tx, ws, &self.email).await?
        else {
            return Ok(());
        };
        let tickets = store::tickets::of_customer(&mut tx, ws, customer.id, 1, 0).await?;
        if tickets.is_empty() {
            return Ok(());
        }
        let since = now_micros() - 3600 * 1_000_000;
        if store::notifications::count_recent(&mut tx, ws, customer.id.0, "portal_access", since)
            .await?
            >= ACCESS_MAILS_PER_HOUR
        {
            tracing::info!("portal access email skipped: too many for this address this hour");
            return Ok(());
        }
        crate::workflow::notify::to_customer(&mut tx, ws, &customer, "portal_access", json!({}))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The token of a sign-in link (`fdm_…`).
    pub token: String,
}

/// A signed-in customer, as their session and list show them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Requester {
    pub name: String,
    pub email: String,
}

/// A new customer session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub session_token: String,
    pub token_type: &'static str,
    pub expires_at: String,
    pub customer: Requester,
}

/// The signed-in customer's requests.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyTickets {
    pub customer: Requester,
    pub tickets: Vec<PublicTicket>,
}

/// A ticket's new access token after its old ones were revoked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rotated {
    pub access_token: String,
    /// How many tokens stopped working.
    pub revoked: u64,
    /// The portal page with the new token.
    pub url: String,
}

/// Exchanges a one-time sign-in link for a customer session (30 days).
pub async fn sign_in(ctx: &Ctx, input: SessionRequest) -> Result<SignedIn> {
    let token = input.token.trim();
    let invalid =
        || Error::unauthorized("this sign-in link is invalid, used or expired; ask for a new one");
    if !token.starts_with(MAGIC_PREFIX) || token.len() > 200 {
        return Err(invalid());
    }
    let hash = digest(token);
    let now = now_micros();
    let mut tx = ctx.store.begin().await?;
    let magic = store::integrations::find_token(&mut tx, &hash, "magic")
        .await?
        .filter(|t| {
            t.revoked_at.is_none() && t.used_at.is_none() && t.expires_at.is_none_or(|e| e > now)
        })
        .ok_or_else(invalid)?;
    if !store::integrations::use_token(&mut tx, &hash, now).await? {
        return Err(invalid());
    }
    let customer = store::customers::find(&mut tx, magic.workspace_id, magic.customer_id)
        .await?
        .ok_or_else(invalid)?;
    let session = mint(
        &mut tx,
        SESSION_PREFIX,
        "session",
        magic.workspace_id,
        customer.id,
        None,
        Some(SESSION_TTL_MICROS),
    );
    tx.commit().await?;
    Ok(SignedIn {
        session_token: session,
        token_type: "Bearer",
        expires_at: rfc3339(now + SESSION_TTL_MICROS),
        customer: Requester {
            name: customer.name,
            email: customer.email,
        },
    })
}

/// Ends a customer session.
pub async fn sign_out(ctx: &Ctx, creds: &Credentials) -> Result<()> {
    let token = creds.session.as_deref().ok_or_else(|| {
        Error::unauthorized("a customer session is required (Authorization: Bearer fdc_…)")
    })?;
    let mut tx = ctx.store.begin().await?;
    let s = session_customer(&mut tx, token)
        .await?
        .ok_or_else(|| Error::unauthorized("this session is not valid"))?;
    store::integrations::revoke_token(&mut tx, &s.token_hash, now_micros()).await?;
    tx.commit().await
}

/// The signed-in customer's requests, newest first.
pub async fn my_tickets(
    ctx: &Ctx,
    creds: &Credentials,
    page: u64,
    limit: u64,
) -> Result<MyTickets> {
    let token = creds.session.as_deref().ok_or_else(|| {
        Error::unauthorized("a customer session is required (Authorization: Bearer fdc_…)")
    })?;
    let mut conn = ctx.store.read().await?;
    let s = session_customer(&mut conn, token)
        .await?
        .ok_or_else(|| Error::unauthorized("this session is not valid"))?;
    let customer = store::customers::find(&mut conn, s.workspace_id, s.customer_id)
        .await?
        .ok_or_else(|| Error::unauthorized("this session is not valid"))?;
    let rows = store::tickets::of_customer(
        &mut conn,
        s.workspace_id,
        s.customer_id,
        limit,
        (page - 1) * limit,
    )
    .await?;
    Ok(MyTickets {
        customer: Requester {
            name: customer.name,
            email: customer.email,
        },
        tickets: rows.iter().map(public_ticket).collect(),
    })
}

/// Revokes every access token of a ticket and issues a new one (agents; the old links stop
/// working at once).
pub async fn rotate(ctx: &Ctx, actor: &crate::auth::Actor, key: &str) -> Result<Rotated> {
    actor.require(crate::auth::Permission::PublicReply)?;
    let mut tx = ctx.store.begin().await?;
    let row = service::load(&mut tx, actor.workspace_id, key, true).await?;
    let revoked =
        store::integrations::revoke_ticket_tokens(&mut tx, row.workspace_id, row.id, now_micros())
            .await?;
    let token = mint_ticket_token(&mut tx, &row);
    service::record(
        &mut tx,
        &row,
        Author::user(actor),
        "portal_token_rotated",
        None,
        None,
        json!({"revoked": revoked}),
    )
    .await?;
    let slug = store::workspaces::find(&mut tx, row.workspace_id)
        .await?
        .map(|w| w.slug)
        .unwrap_or_default();
    tx.commit().await?;
    Ok(Rotated {
        url: ticket_url(&ctx.public_url, &slug, row.id, &token),
        access_token: token,
        revoked,
    })
}
