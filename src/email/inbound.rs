//! Inbound mail → tickets: loop and duplicate protection, threading, customers, attachments.
//!
//! Order of decisions (as Zammad and FreeScout do it):
//! 1. automated mail (auto-replies, bounces, read receipts, bulk) and mail from the
//!    workspace's own address → ignored, so no ticket and no reply can loop;
//! 2. a Message-ID seen before → ignored as a duplicate (the same mail twice is one comment);
//! 3. `In-Reply-To` / `References` against Message-IDs received or sent → that ticket;
//! 4. a ticket token in the subject (`[#1001]`, `[TK-2026-00042]`) → that ticket;
//! 5. otherwise a new ticket. A reply to a closed ticket opens a follow-up ticket.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::parse::{Inbound, Part, parse};
use crate::clock::now_micros;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::{CommentId, TicketId, WorkspaceId};
use crate::store::attachments::AttachmentRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Tx};
use crate::tickets::model::NewTicket;
use crate::tickets::service::{self as tickets, Author, record};
use crate::tickets::status::Channel;

/// The answer to an inbound message (SPEC §5 Email).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outcome {
    /// `created`, `appended` or `ignored`.
    pub action: &'static str,
    pub ticket_id: Option<TicketId>,
    pub comment_id: Option<CommentId>,
    pub reason: Option<String>,
}

impl Outcome {
    fn ignored(reason: impl Into<String>) -> Self {
        Outcome {
            action: "ignored",
            ticket_id: None,
            comment_id: None,
            reason: Some(reason.into()),
        }
    }
}

/// Ticket numbers written in brackets in a subject (`Re: [#1001] Printer`).
fn subject_tokens(subject: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        let Some(len) = rest[open + 1..].find(']') else {
            break;
        };
        let token = rest[open + 1..open + 1 + len].trim();
        if !token.is_empty() && token.len() <= 40 && !token.contains(char::is_whitespace) {
            out.push(token.to_owned());
        }
        rest = &rest[open + 1 + len + 1..];
    }
    out
}

/// The workspace's own addresses: mail from them never opens tickets.
async fn own_addresses(tx: &mut Conn, ws: WorkspaceId) -> Result<Vec<String>> {
    let workspace = store::workspaces::find(tx, ws).await?;
    let (settings, _) = super::settings::stored(tx, ws).await?;
    Ok(workspace
        .and_then(|w| w.support_email)
        .into_iter()
        .chain(settings.support_address)
        .map(|a| a.to_lowercase())
        .collect())
}

/// Finds the ticket a message continues, by its parents' Message-IDs, then by the subject.
async fn thread(tx: &mut Tx, ws: WorkspaceId, mail: &Inbound) -> Result<Option<TicketId>> {
    if let Some((_, t, _)) = store::email::find_message(tx, ws, &mail.parents).await? {
        return Ok(Some(t));
    }
    for token in subject_tokens(&mail.subject) {
        if let Some(t) = store::tickets::find_by_number(tx, ws, &token).await?
            && t.ticket_number.eq_ignore_ascii_case(&token)
        {
            return Ok(Some(t.id));
        }
    }
    Ok(None)
}

/// A file to link once the comment exists.
struct Stored {
    id: uuid::Uuid,
    part: Part,
    key: String,
}

/// Processes one raw message for workspace `ws`.
// Long: the inbound pipeline in its documented order (loop and duplicate checks, threading,
// follow-up, sender, attachments, ticket or comment) in one transaction.
pub async fn receive(ctx: &Ctx, ws: WorkspaceId, raw: &[u8]) -> Result<Outcome> {
    let Some(mail) = parse(raw) else {
        return Err(Error::field(
            "body",
            "is not an RFC 5322 message (no header fields)",
        ));
    };
    if let Some(why) = mail.automated {
        return Ok(Outcome::ignored(format!("automated message ({why})")));
    }
    let Some(from) = mail.from_email.clone().filter(|f| f.contains('@')) else {
        return Ok(Outcome::ignored("no sender address"));
    };
    let message_id = mail
        .message_id
        .clone()
        .unwrap_or_else(|| format!("sha256-{:x}@ferrodesk.invalid", Sha256::digest(raw)));
    {
        let mut conn = ctx.store.read().await?;
        if own_addresses(&mut conn, ws).await?.contains(&from) {
            return Ok(Outcome::ignored(
                "sent from this workspace's own address (loop protection)",
            ));
        }
        if let Some((_, t, c)) =
            store::email::find_message(&mut conn, ws, std::slice::from_ref(&message_id)).await?
        {
            return Ok(Outcome {
                action: "ignored",
                ticket_id: Some(t),
                comment_id: c,
                reason: Some("duplicate Message-ID: already received".into()),
            });
        }
    }
    // Files go to storage before the transaction; a rolled-back message leaves orphans that
    // no row points to, never a row without its file.
    let mut files = Vec::new();
    let original = Part {
        file_name: "original.eml".into(),
        mime_type: "message/rfc822".into(),
        bytes: raw.to_vec(),
        content_id: None,
        inline: false,
    };
    for part in std::iter::once(original).chain(mail.parts.iter().cloned()) {
        let id = uuid::Uuid::now_v7();
        let key = crate::files::Files::key(ws, id);
        ctx.files
            .put(&key, part.bytes.clone())
            .await
            .map_err(|e| Error::Internal(e.context("storing an email attachment")))?;
        files.push(Stored { id, part, key });
    }
    let now = now_micros();
    let mut tx = ctx.store.begin().await?;
    let customer =
        tickets::find_or_create_customer(&mut tx, ws, None, Some(&from), mail.from_name.as_deref())
            .await?;
    let existing = match thread(&mut tx, ws, &mail).await? {
        Some(id) => store::tickets::find(&mut tx, ws, id, true).await?,
        None => None,
    };
    let body = if mail.visible.trim().is_empty() {
        "(no text)".to_owned()
    } else {
        mail.visible.clone()
    };
    let (action, ticket, comment) = match existing {
        Some(mut t) if t.status != crate::tickets::status::Status::Closed => {
            let c = crate::tickets::comments::add_from_customer(
                &mut tx,
                &mut t,
                &customer,
                body,
                mail.html.clone(),
                Channel::Email.as_str(),
                now,
            )
            .await?;
            ("appended", t, c.id)
        }
        closed => {
            let (t, c) = open_ticket(&mut tx, ws, &mail, &from, body).await?;
            let mut t = t;
            if let Some(old) = closed {
                t.follow_up_of_id = Some(old.id);
                tickets::save(&mut tx, &mut t).await?;
                record(
                    &mut tx,
                    &t,
                    Author::SYSTEM,
                    "follow_up_created",
                    None,
                    None,
                    json!({"follow_up_of_id": old.id, "follow_up_of_number": old.ticket_number}),
                )
                .await?;
            }
            ("created", t, c)
        }
    };
    if !store::email::remember_message(
        &mut tx,
        ws,
        &message_id,
        ticket.id,
        Some(comment),
        "in",
        now,
    )
    .await?
    {
        // The same message arrived twice at once and the other delivery won.
        return Ok(Outcome::ignored("duplicate Message-ID: already received"));
    }
    for f in files {
        store::attachments::insert_attachment(
            &mut tx,
            &AttachmentRow {
                id: f.id,
                workspace_id: ws,
                ticket_id: Some(ticket.id),
                comment_id: Some(comment),
                file_name: f.part.file_name,
                mime_type: f.part.mime_type,
                file_size: i64::try_from(f.part.bytes.len()).unwrap_or(i64::MAX),
                storage_key: f.key,
                content_id: f.part.content_id,
                is_inline: f.part.inline,
                uploaded_by: Some(customer.id.0),
                created_at: now,
            },
        );
    }
    tx.commit().await?;
    tracing::info!(ticket.id = %ticket.id, workspace.id = %ws, "Email {action} on {}", ticket.ticket_number);
    Ok(Outcome {
        action,
        ticket_id: Some(ticket.id),
        comment_id: Some(comment),
        reason: None,
    })
}

/// Opens a ticket from a message; answers it and the id of its first comment.
async fn open_ticket(
    tx: &mut Tx,
    ws: WorkspaceId,
    mail: &Inbound,
    from: &str,
    body: String,
) -> Result<(TicketRow, CommentId)> {
    let subject = if mail.subject.trim().is_empty() {
        "(no subject)".to_owned()
    } else {
        mail.subject.clone()
    };
    let input = NewTicket {
        subject,
        description: body,
        requester_email: Some(from.to_owned()),
        requester_name: mail
            .from_name
            .clone()
            .filter(|n| !n.is_empty() && n.chars().count() <= 255),
        channel: Some(Channel::Email),
        ..NewTicket::default()
    };
    let prepared = tickets::prepare_with(tx, ws, None, input).await?;
    let (row, _) = tickets::create_as(tx, ws, None, prepared).await?;
    let first = store::comments::list(tx, ws, row.id, true)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("a new ticket without its first comment"))?;
    if mail.html.is_some() {
        store::comments::set_html(tx, ws, first.id, mail.html.as_deref()).await?;
    }
    Ok((row, first.id))
}

#[cfg(test)]
mod tests {
    use super::subject_tokens;

    #[test]
    fn finds_ticket_tokens_in_subjects() {
        assert_eq!(subject_tokens("Re: [#1001] Printer"), ["#1001"]);
        assert_eq!(
            subject_tokens("AW: [TK-2026-00042] x [ not a token ] [#7]"),
            ["TK-2026-00042", "#7"]
        );
        assert!(subject_tokens("no brackets [here").is_empty());
    }
}
