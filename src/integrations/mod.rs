//! Where Ferrodesk meets other systems (SPEC §5 Integrations, seed 000): the Thulium bridge,
//! WeCom, chat bots, escalation to the CSP (RMA cases) and the TMS (on-site tasks), and CRM
//! note sync. Inbound requests are authenticated by the integration's own scheme (a shared
//! secret, WeCom's signature); outbound calls go through the SSRF guard of [`crate::net`] and
//! durable jobs, so a down endpoint delays but never loses work.

pub mod chat;
pub mod crm;
pub mod escalation;
pub mod settings;
pub mod thulium;
pub mod thulium_api;
pub mod wecom;

use crate::clock::now_micros;
use crate::error::{Error, Result};
use crate::ids::{TicketId, WorkspaceId};
use crate::store::{self, Store, Tx};
use crate::tickets::model::NewTicket;
use crate::tickets::service;
use crate::tickets::status::Channel;

/// The workspace an inbound integration request names with `?workspace=<slug>` (default:
/// the first workspace, `default`). Unknown → 404.
pub async fn workspace_by_slug(store: &Store, slug: Option<&str>) -> Result<WorkspaceId> {
    let slug = slug.unwrap_or("default");
    if slug.len() > 100 || slug.contains('\0') {
        return Err(Error::NotFound);
    }
    let mut conn = store.read().await?;
    store::workspaces::find_by_slug(&mut conn, slug)
        .await?
        .map(|w| w.id)
        .ok_or(Error::NotFound)
}

/// Opens a ticket that arrived from another system (as the customer, with no staff-only
/// fields) and remembers the other system's id for it, so a replay finds it.
async fn open_ticket(
    tx: &mut Tx,
    ws: WorkspaceId,
    input: NewTicket,
    (system, external_id): (&str, &str),
    now: i64,
) -> Result<crate::store::tickets::TicketRow> {
    let prepared = service::prepare_with(tx, ws, None, input).await?;
    let (row, _) = service::create_as(tx, ws, None, prepared).await?;
    store::integrations::remember(tx, ws, system, external_id, Some(row.id), None, now).await?;
    Ok(row)
}

/// A message from a customer in a chat app.
pub struct CustomerMessage<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub body: &'a str,
    pub channel: Channel,
    /// Where its id is remembered (`wecom_msg`), so a replay finds it.
    pub system: &'a str,
    pub external_id: &'a str,
}

/// The first line of a message, shortened, as a subject.
#[must_use]
pub fn subject_of(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Message");
    let mut s: String = line.chars().take(80).collect();
    if line.chars().count() > 80 {
        s.push('…');
    }
    s
}

/// Appends the message to the sender's open ticket from the same channel, or opens a new
/// one; records the external id with it; commits. Answers the ticket and `appended` or
/// `created`.
pub async fn deliver_customer_message(
    mut tx: Tx,
    ws: WorkspaceId,
    m: CustomerMessage<'_>,
) -> Result<(TicketId, &'static str)> {
    let now = now_micros();
    let customer =
        service::find_or_create_customer(&mut tx, ws, None, Some(m.email), Some(m.name)).await?;
    let open = store::tickets::latest_open_of(&mut tx, ws, customer.id, m.channel.as_str()).await?;
    if let Some(open) = open {
        let mut row = store::tickets::find(&mut tx, ws, open.id, true)
            .await?
            .ok_or(Error::NotFound)?;
        let comment = crate::tickets::comments::add_from_customer(
            &mut tx,
            &mut row,
            &customer,
            m.body.to_owned(),
            None,
            m.channel.as_str(),
            now,
        )
        .await?;
        store::integrations::remember(
            &mut tx,
            ws,
            m.system,
            m.external_id,
            Some(row.id),
            Some(comment.id),
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok((row.id, "appended"));
    }
    let input = NewTicket {
        subject: subject_of(m.body),
        description: m.body.to_owned(),
        requester_id: Some(customer.id),
        channel: Some(m.channel),
        ..NewTicket::default()
    };
    let row = open_ticket(&mut tx, ws, input, (m.system, m.external_id), now).await?;
    tx.commit().await?;
    Ok((row.id, "created"))
}
