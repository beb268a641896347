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

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::auth::tokens::{digest, digests_match, random_b64};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::ids::{CustomerId, TicketId, WorkspaceId};
use crate::store::comments::CommentRow;
use crate::store::integrations::PortalTokenRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Tx};
use crate::tickets::model::NewTicket;
use crate::tickets::service::{self, Author};
use crate::tickets::status::{Channel, Status};

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
async fn session_customer(tx: &mut Tx, token: &str) -> Result<Option<PortalTokenRow>> {
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
async fn authorize(tx: &mut Tx, id: &str, creds: &Credentials, lock: bool) -> Result<TicketRow> {
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

/// A public comment as customers see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicComment {
    pub id: crate::ids::CommentId,
    pub body: String,
    pub body_html: String,
    /// `customer`, `agent`, `ai` or `system`.
    pub author_type: String,
    /// The author's display name (never an agent's email).
    pub author_name: String,
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<Value>,
    pub created_at: String,
}

fn public_comment(
    ticket: TicketId,
    c: &CommentRow,
    files: &[store::attachments::AttachmentRow],
) -> PublicComment {
    PublicComment {
        id: c.id,
        body: c.body.clone(),
        body_html: c
            .html_body
            .clone()
            .unwrap_or_else(|| crate::tickets::model::text_to_html(&c.body)),
        author_type: c.author_type.clone(),
        author_name: c.author_name.clone(),
        attachments: files
            .iter()
            .filter(|f| f.comment_id == Some(c.id) && !f.is_inline)
            .map(|f| {
                json!({
                    "id": f.id,
                    "file_name": f.file_name,
                    "mime_type": f.mime_type,
                    "file_size": f.file_size,
                    "url": format!("/api/public/tickets/{ticket}/attachments/{}", f.id),
                })
            })
            .collect(),
        created_at: rfc3339(c.created_at),
    }
}

/// A ticket's public fields.
#[must_use]
pub fn public_ticket(t: &TicketRow) -> Value {
    json!({
        "id": t.id,
        "workspace_id": t.workspace_id,
        "ticket_number": t.ticket_number,
        "subject": t.subject,
        "description": t.description,
        "status": t.status,
        "channel": t.channel,
        "requester_name": t.requester_name,
        "satisfaction": {"rating": t.satisfaction_rating, "feedback": t.satisfaction_feedback},
        "can_rate": matches!(t.status.as_str(), "resolved" | "closed"),
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "resolved_at": t.resolved_at.map(rfc3339),
        "closed_at": t.closed_at.map(rfc3339),
    })
}

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
    tx: &mut Tx,
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
    app: &App,
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
    let mut conn = app.store.read().await?;
    let ws = workspace(&mut conn, input.workspace_id, input.workspace.as_deref()).await?;
    if let Some((key, fingerprint)) = &idempotency {
        let since = now_micros() - 24 * 3600 * 1_000_000;
        if let Some(saved) =
            store::idempotency::find(&mut conn, ws, "public_tickets", key, since).await?
        {
            return replay(app, ws, &saved, fingerprint).await;
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
    let mut tx = app.store.begin().await?;
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
            let mut conn = app.store.read().await?;
            let since = now_micros() - 24 * 3600 * 1_000_000;
            let saved = store::idempotency::find(&mut conn, ws, "public_tickets", key, since)
                .await?
                .ok_or_else(|| {
                    Error::conflict("a request with this Idempotency-Key is in progress; retry")
                })?;
            return replay(app, ws, &saved, fingerprint).await;
        }
    }
    tx.commit().await?;
    Ok(Submitted::Created(Box::new(row), token))
}

async fn replay(
    app: &App,
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
    let mut tx = app.store.begin().await?;
    let row = store::tickets::find(&mut tx, ws, TicketId(id), false)
        .await?
        .ok_or(Error::NotFound)?;
    let token = mint_ticket_token(&mut tx, &row);
    tx.commit().await?;
    Ok(Submitted::Replayed(Box::new(row), token))
}

/// The ticket and its public thread.
pub async fn view(app: &App, id: &str, creds: &Credentials) -> Result<Value> {
    let mut conn = app.store.read().await?;
    let row = authorize(&mut conn, id, creds, false).await?;
    let comments = store::comments::list(&mut conn, row.workspace_id, row.id, false).await?;
    let ids: Vec<_> = comments.iter().map(|c| c.id).collect();
    let files = store::attachments::attachments_of(&mut conn, row.workspace_id, &ids).await?;
    let mut v = public_ticket(&row);
    v["comments"] = json!(
        comments
            .iter()
            .map(|c| public_comment(row.id, c, &files))
            .collect::<Vec<_>>()
    );
    Ok(v)
}

/// An attachment of a public comment of the ticket (storage key, name, type, size).
pub async fn attachment(
    app: &App,
    id: &str,
    attachment: uuid::Uuid,
    creds: &Credentials,
) -> Result<store::attachments::AttachmentRow> {
    let mut conn = app.store.read().await?;
    let row = authorize(&mut conn, id, creds, false).await?;
    let a = store::attachments::find_attachment(&mut conn, row.workspace_id, attachment)
        .await?
        .filter(|a| a.ticket_id == Some(row.id))
        .ok_or(Error::NotFound)?;
    let comment = match a.comment_id {
        Some(c) => store::comments::find(&mut conn, row.workspace_id, row.id, c).await?,
        None => None,
    };
    // Files of internal notes stay internal.
    if comment.is_none_or(|c| c.is_internal) {
        return Err(Error::NotFound);
    }
    Ok(a)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub access_token: Option<String>,
    pub body: String,
}

/// A customer's reply: reopens a `pending` or `resolved` request (SPEC §5 Lifecycle); a
/// closed one takes no replies (409: submit a new request).
pub async fn reply(app: &App, id: &str, creds: Credentials, input: Reply) -> Result<PublicComment> {
    reply_with_files(app, id, creds, input, &[]).await
}

/// A reply with files the portal form uploaded (customer uploads only; never ids from the
/// JSON API).
pub async fn reply_with_files(
    app: &App,
    id: &str,
    mut creds: Credentials,
    input: Reply,
    files: &[uuid::Uuid],
) -> Result<PublicComment> {
    if input.access_token.is_some() {
        creds.access_token = input.access_token;
    }
    let body = crate::validate::required_text("body", &input.body, 64 * 1024)
        .map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = app.store.begin().await?;
    let mut row = authorize(&mut tx, id, &creds, true).await?;
    if row.status == Status::Closed.as_str() {
        return Err(Error::conflict(
            "this request is closed; submit a new one and mention its number",
        ));
    }
    if row.merged_into_id.is_some() {
        return Err(Error::conflict(
            "this request was merged into another one; reply there",
        ));
    }
    let customer = store::customers::find(&mut tx, row.workspace_id, row.requester_id)
        .await?
        .ok_or(Error::NotFound)?;
    let c = crate::tickets::comments::add_from_customer(
        &mut tx,
        &mut row,
        &customer,
        body,
        None,
        Channel::Portal.as_str(),
        now_micros(),
    )
    .await?;
    store::attachments::link_attachments(&mut tx, row.workspace_id, files, row.id, c.id).await?;
    let linked = store::attachments::attachments_of(&mut tx, row.workspace_id, &[c.id]).await?;
    tx.commit().await?;
    Ok(public_comment(row.id, &c, &linked))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub access_token: Option<String>,
    pub rating: i64,
    pub feedback: Option<String>,
}

/// Rates a resolved or closed request (409 before); a second rating replaces the first.
pub async fn rate(app: &App, id: &str, mut creds: Credentials, input: Rating) -> Result<Value> {
    if input.access_token.is_some() {
        creds.access_token = input.access_token;
    }
    let mut errors = Vec::new();
    if !(1..=5).contains(&input.rating) {
        errors.push(FieldError::new(
            "rating",
            "must be a whole number from 1 to 5",
        ));
    }
    let feedback = match input.feedback.as_deref().map(str::trim) {
        Some(f) if f.len() > 2000 => {
            errors.push(FieldError::new(
                "feedback",
                "must be at most 2000 characters",
            ));
            None
        }
        Some("") | None => None,
        Some(f) => Some(f.to_owned()),
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut tx = app.store.begin().await?;
    let mut row = authorize(&mut tx, id, &creds, true).await?;
    if !matches!(row.status.as_str(), "resolved" | "closed") {
        return Err(Error::conflict(
            "a request can be rated once it is resolved",
        ));
    }
    let previous = row.satisfaction_rating;
    row.satisfaction_rating = Some(input.rating);
    row.satisfaction_feedback = feedback;
    service::save(&mut tx, &mut row).await?;
    let by = Author {
        kind: "customer",
        id: Some(row.requester_id.0),
    };
    let meta = json!({"rating": input.rating, "previous_rating": previous, "feedback": row.satisfaction_feedback});
    service::record(
        &mut tx,
        &row,
        by,
        "satisfaction_received",
        None,
        None,
        meta.clone(),
    )
    .await?;
    let tags = service::tags(&mut tx, &row).await?;
    service::publish(
        &mut tx,
        &row,
        &tags,
        "ticket.satisfaction.received",
        json!({"satisfaction": meta}),
    )
    .await?;
    tx.commit().await?;
    Ok(
        json!({"ticket_id": row.id, "satisfaction": {"rating": row.satisfaction_rating, "feedback": row.satisfaction_feedback}}),
    )
}

/// The answer to every lookup and sign-in request, whether or not the address is known.
pub const ACCESS_MESSAGE: &str =
    "If this address has requests with us, we have emailed it links to them.";

/// Emails an address its requests' links and a sign-in link, when it has requests; says the
/// same either way. At most three such emails per address per hour.
pub async fn send_access(
    app: &App,
    ws_id: Option<uuid::Uuid>,
    ws_slug: Option<&str>,
    email: &str,
) -> Result<()> {
    let email = crate::validate::email("email", email).map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = app.store.begin().await?;
    let ws = workspace(&mut tx, ws_id, ws_slug).await?;
    let Some(customer) = store::customers::find_by_email(&mut tx, ws, &email).await? else {
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
    tx.commit().await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The token of a sign-in link (`fdm_…`).
    pub token: String,
}

/// Exchanges a one-time sign-in link for a customer session (30 days).
pub async fn sign_in(app: &App, input: SessionRequest) -> Result<Value> {
    let token = input.token.trim();
    let invalid =
        || Error::unauthorized("this sign-in link is invalid, used or expired; ask for a new one");
    if !token.starts_with(MAGIC_PREFIX) || token.len() > 200 {
        return Err(invalid());
    }
    let hash = digest(token);
    let now = now_micros();
    let mut tx = app.store.begin().await?;
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
    Ok(json!({
        "session_token": session,
        "token_type": "Bearer",
        "expires_at": rfc3339(now + SESSION_TTL_MICROS),
        "customer": {"name": customer.name, "email": customer.email},
    }))
}

/// Ends a customer session.
pub async fn sign_out(app: &App, creds: &Credentials) -> Result<()> {
    let token = creds.session.as_deref().ok_or_else(|| {
        Error::unauthorized("a customer session is required (Authorization: Bearer fdc_…)")
    })?;
    let mut tx = app.store.begin().await?;
    let s = session_customer(&mut tx, token)
        .await?
        .ok_or_else(|| Error::unauthorized("this session is not valid"))?;
    store::integrations::revoke_token(&mut tx, &s.token_hash, now_micros()).await?;
    tx.commit().await
}

/// The signed-in customer's requests, newest first.
pub async fn my_tickets(app: &App, creds: &Credentials, page: u64, limit: u64) -> Result<Value> {
    let token = creds.session.as_deref().ok_or_else(|| {
        Error::unauthorized("a customer session is required (Authorization: Bearer fdc_…)")
    })?;
    let mut conn = app.store.read().await?;
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
    Ok(json!({
        "customer": {"name": customer.name, "email": customer.email},
        "tickets": rows.iter().map(public_ticket).collect::<Vec<_>>(),
    }))
}

/// Revokes every access token of a ticket and issues a new one (agents; the old links stop
/// working at once).
pub async fn rotate(app: &App, actor: &crate::auth::Actor, key: &str) -> Result<Value> {
    actor.require(crate::auth::Permission::PublicReply)?;
    let mut tx = app.store.begin().await?;
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
    Ok(json!({
        "access_token": token,
        "revoked": revoked,
        "url": ticket_url(&app.config.public_url(), &slug, row.id, &token),
    }))
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
