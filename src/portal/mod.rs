//! The customer portal's API (`/api/public/*`, SPEC §5 Customer portal): customers submit
//! requests, follow them with an access token, reply, rate the help they got, and find their
//! requests by email.
//!
//! Credentials are 32 random bytes (URL-safe base64), stored only as SHA-256 digests:
//! per-ticket access tokens (`fdp_…`, revocable by agents), one-time sign-in links
//! (`fdm_…`, 30 minutes) and customer sessions (`fdc_…`, 30 days) that list the customer's
//! own requests. A request with a wrong, foreign or revoked token gets the same 404 as a
//! ticket that does not exist, so nothing leaks. Customers never see internal notes, agents'
//! email addresses or internal fields (tags, assignee, group, SLA, links, custom fields).

mod access;
mod submit;
mod thread;

use crate::auth::tokens::{digest, digests_match, random_b64};
use crate::clock::now_micros;
use crate::error::{Error, Result};
use crate::ids::{CustomerId, TicketId, WorkspaceId};
use crate::store::integrations::PortalTokenRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Tx};
pub use access::*;
pub use submit::*;
pub use thread::*;

const TICKET_PREFIX: &str = "fdp_";

const MAGIC_PREFIX: &str = "fdm_";

const SESSION_PREFIX: &str = "fdc_";

const MAGIC_TTL_MICROS: i64 = 30 * 60 * 1_000_000;

const SESSION_TTL_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

/// Access emails (lookups, sign-in links) per address per hour: a mail-bomb guard.
const ACCESS_MAILS_PER_HOUR: i64 = 3;

fn mint(
    tx: &mut Tx,
    prefix: &str,
    kind: &str,
    ws: WorkspaceId,
    customer: CustomerId,
    ticket: Option<TicketId>,
    ttl: Option<i64>,
) -> String {
    let token = format!("{prefix}{}", random_b64(32));
    let now = now_micros();
    store::integrations::insert_token(
        tx,
        &PortalTokenRow {
            token_hash: digest(&token),
            workspace_id: ws,
            customer_id: customer,
            ticket_id: ticket,
            kind: kind.into(),
            created_at: now,
            expires_at: ttl.map(|t| now + t),
            used_at: None,
            revoked_at: None,
        },
    );
    token
}

/// A new access token for a ticket (its digest is written with the transaction).
pub fn mint_ticket_token(tx: &mut Tx, t: &TicketRow) -> String {
    mint(
        tx,
        TICKET_PREFIX,
        "ticket",
        t.workspace_id,
        t.requester_id,
        Some(t.id),
        None,
    )
}

/// A one-time sign-in link's token for a customer.
pub fn mint_magic_token(tx: &mut Tx, ws: WorkspaceId, customer: CustomerId) -> String {
    mint(
        tx,
        MAGIC_PREFIX,
        "magic",
        ws,
        customer,
        None,
        Some(MAGIC_TTL_MICROS),
    )
}

/// What a public request presented.
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    /// `?token=`, `X-Access-Token` or the body's `access_token`.
    pub access_token: Option<String>,
    /// `Authorization: Bearer fdc_…`.
    pub session: Option<String>,
}

impl Credentials {
    fn is_empty(&self) -> bool {
        self.access_token.is_none() && self.session.is_none()
    }
}

/// The customer behind a session token, when it is live.
async fn session_customer(tx: &mut Conn, token: &str) -> Result<Option<PortalTokenRow>> {
    if !token.starts_with(SESSION_PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let now = now_micros();
    Ok(
        store::integrations::find_token(tx, &digest(token), "session")
            .await?
            .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now)),
    )
}

/// The ticket a request may see: 401 without any credential, 404 for a wrong, foreign or
/// revoked one (the same answer as for a ticket that does not exist).
async fn authorize(tx: &mut Conn, id: &str, creds: &Credentials, lock: bool) -> Result<TicketRow> {
    if creds.is_empty() {
        return Err(Error::unauthorized(
            "an access token is required (?token=, X-Access-Token or access_token)",
        ));
    }
    let id: TicketId = id
        .parse::<uuid::Uuid>()
        .map(TicketId)
        .map_err(|_| Error::NotFound)?;
    let row = store::tickets::find_any_workspace(tx, id, lock)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(token) = &creds.access_token {
        let presented = digest(token.trim());
        let tokens = store::integrations::ticket_tokens(tx, row.workspace_id, row.id).await?;
        // Every live token of the ticket is compared, each in constant time.
        let mut ok = false;
        for t in &tokens {
            ok |= digests_match(&t.token_hash, &presented);
        }
        if ok {
            return Ok(row);
        }
    }
    if let Some(s) = &creds.session
        && let Some(session) = session_customer(tx, s).await?
        && session.workspace_id == row.workspace_id
        && session.customer_id == row.requester_id
    {
        return Ok(row);
    }
    Err(Error::NotFound)
}

/// The portal page of a ticket with its token.
#[must_use]
pub fn ticket_url(public_url: &str, slug: &str, ticket: TicketId, token: &str) -> String {
    format!(
        "{}/portal/{slug}/tickets/{ticket}?token={token}",
        public_url.trim_end_matches('/')
    )
}

/// The portal's sign-in page with a one-time link token.
#[must_use]
pub fn sign_in_url(public_url: &str, slug: &str, token: &str) -> String {
    format!(
        "{}/portal/{slug}/login?token={token}",
        public_url.trim_end_matches('/')
    )
}
