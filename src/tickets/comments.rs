//! The thread: public replies and internal notes, with the lifecycle effects of SPEC §5.

use serde_json::json;

use super::service::{Author, load, publish, record, reindex, save, save_locked, tags};
use super::status::Status;
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, Result};
use crate::ids::CommentId;
use crate::store::comments::CommentRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Keep, Store};
use crate::validate;

/// Announces a new comment: the timeline entry (`event`, with `meta` and the comment id), the
/// `ticket.comment.added` domain event and the refreshed search document. Every path that adds
/// to a thread (staff, customers, rules) ends here. Returns the comment as the event showed
/// it, for a caller that answers with it (its HTML is rendered once).
pub async fn announce(
    tx: &mut store::Tx,
    row: &crate::store::tickets::TicketRow,
    tags: &[String],
    by: Author,
    comment: &CommentRow,
    event: &str,
    meta: serde_json::Value,
) -> Result<super::model::CommentView> {
    let shown = super::model::CommentView::from(comment);
    announce_view(tx, row, tags, by, shown, event, meta).await
}

/// [`announce`] of a comment whose view the caller made (its body rendered beforehand).
async fn announce_view(
    tx: &mut store::Tx,
    row: &crate::store::tickets::TicketRow,
    tags: &[String],
    by: Author,
    shown: super::model::CommentView,
    event: &str,
    mut meta: serde_json::Value,
) -> Result<super::model::CommentView> {
    meta["comment_id"] = json!(shown.id);
    record(tx, row, by, event, None, None, meta).await?;
    publish(
        tx,
        row,
        tags,
        crate::tickets::events::DomainEvent::TicketCommentAdded,
        json!({ "comment": &shown }),
    )
    .await?;
    reindex(tx, row).await?;
    Ok(shown)
}

/// Adds a staff comment. A public reply stamps the first response, opens a `new` ticket
/// and bumps the customer's unread counter; an internal note changes neither.
pub async fn add(
    store: &Store,
    actor: &Actor,
    key: &str,
    body: &str,
    is_internal: bool,
    attachment_ids: &[uuid::Uuid],
) -> Result<super::model::CommentView> {
    actor.require(if is_internal {
        Permission::InternalNote
    } else {
        Permission::PublicReply
    })?;
    if attachment_ids.len() > 20 {
        return Err(Error::field("attachment_ids", "at most 20 attachments"));
    }
    let body =
        validate::required_text("body", body, 64 * 1024).map_err(|e| Error::Validation(vec![e]))?;
    let mut ids = attachment_ids.to_vec();
    ids.sort();
    ids.dedup();
    let (actor, key) = (actor.clone(), key.to_owned());
    // Rendered here, on the request's own thread, not inside the shared write below.
    let html = crate::html::SanitizedHtml::from_markdown(&body);
    // On SQLite the reply is worked out here, on a read connection, and the group writer
    // only applies its statements, unless its ticket changed meanwhile (see
    // `store/prepared.rs`); any failure here leaves the answer to the write below.
    let mut prepared = None;
    if ids.is_empty()
        && let Ok(Some(mut tx)) = store.prepare().await
    {
        // Its ticket read on this thread where it can be (SQLite, by id).
        let loaded = match super::service::key_id(&key) {
            Ok(Some(id)) => {
                let since = crate::ai::assist::drafts_since(now_micros());
                store::tickets::get_for_reply(store, actor.workspace_id, id, actor.user_id, since)
                    .await
                    .ok()
                    .flatten()
            }
            Ok(None) | Err(_) => None,
        };
        let reply = (body.clone(), html.clone());
        let written = write_reply(&mut tx, &actor, &key, reply, is_internal, &ids, loaded).await;
        match written {
            Ok(view) => prepared = Some((tx, view)),
            Err(_) => store.count_given_up(&tx),
        }
    }
    // Replies that arrive together share one SQLite transaction (each in its own savepoint).
    let redo: store::Work<_> = Box::new(move |tx| {
        Box::pin(async move {
            write_reply(tx, &actor, &key, (body, html), is_internal, &ids, None)
                .await
                .map(Keep::Commit)
        })
    });
    match prepared {
        Some((tx, view)) => store.write_prepared(tx, view, redo).await,
        None => store.write_grouped(redo).await,
    }
}

/// The writes of [`add`] in the caller's transaction, from the ticket as `loaded` (read
/// ahead for a reply prepared ahead) or as read here.
// Long: a staff comment's effects in order (attachments, first response, status, unread
// counters, mail, events, rules).
async fn write_reply(
    tx: &mut store::Tx,
    actor: &Actor,
    key: &str,
    (body, html): (String, crate::html::SanitizedHtml),
    is_internal: bool,
    ids: &[uuid::Uuid],
    loaded: Option<(TicketRow, Vec<String>, store::tickets::ReplyHints)>,
) -> Result<super::model::CommentView> {
    let now = now_micros();
    let since = crate::ai::assist::drafts_since(now);
    let (mut row, tags, hints) = match loaded {
        Some(l) => l,
        None => {
            super::service::load_for_reply(tx, actor.workspace_id, key, actor.user_id, since)
                .await?
        }
    };
    // Who hears of a public reply besides the requester, and the AI draft it may be sent
    // from, read before the first write: a reply prepared ahead may read only until it queues
    // one (`store/prepared.rs`).
    let watchers = if hints.watched && !is_internal {
        crate::workflow::notify::watchers_to_tell(tx, &row, Some(actor.user_id.0)).await?
    } else {
        Vec::new()
    };
    let draft = if hints.draft_pending && !is_internal {
        crate::ai::assist::draft_to_send(tx, &row, actor.user_id).await?
    } else {
        None
    };
    // A public reply opens a new ticket: what that status change reads, read now too.
    let opening = if !is_internal && row.status == Status::New {
        Some(super::service::status_inputs(tx, &row).await?)
    } else {
        None
    };
    store::tickets::guard_unchanged(tx, &row);
    let comment = CommentRow {
        id: CommentId::new(),
        workspace_id: row.workspace_id,
        ticket_id: row.id,
        body,
        author_type: "agent".into(),
        author_id: Some(actor.user_id.0),
        author_name: actor.name.clone(),
        is_internal,
        channel: "web".into(),
        merged_from_ticket_id: None,
        html_body: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::comments::insert(tx, &comment).await?;
    let linked =
        store::attachments::link_attachments(tx, row.workspace_id, ids, row.id, comment.id).await?;
    if linked != ids.len() as u64 {
        return Err(Error::field(
            "attachment_ids",
            "each id must be an upload of this workspace that is not attached yet",
        ));
    }
    let by = Author::user(actor);
    if !is_internal {
        if let Some(d) = &draft {
            crate::ai::assist::on_reply_sent(
                tx,
                &row,
                actor.user_id,
                d,
                comment.id,
                &comment.body,
                row.first_response_at.is_none(),
            );
        }
        if row.first_response_at.is_none() {
            row.first_response_at = Some(now);
            crate::sla::engine::refresh_due(&mut row);
        }
        row.unread_by_customer += 1;
        row.last_message_at = now;
        row.last_agent_reply_at = Some(now);
        row.customer_replies_since_agent = 0;
        save_locked(tx, &mut row);
        if let Some(inputs) = &opening {
            super::service::apply_status_held(tx, &mut row, &tags, Status::Open, by, inputs)
                .await?;
        }
    }
    let event = if is_internal {
        "internal_note_added"
    } else {
        "comment_added"
    };
    let shown = super::model::CommentView::rendered(&comment, html);
    let shown = announce_view(tx, &row, &tags, by, shown, event, json!({})).await?;
    if !is_internal {
        crate::workflow::notify::to_requester(
            tx,
            &row,
            "agent_reply",
            Some(comment.id),
            json!({"comment_id": comment.id}),
        )
        .await?;
        crate::workflow::notify::tell_watchers(tx, &row, &watchers, comment.id).await?;
    }
    let mut tags = tags;
    crate::workflow::rules::engine::run(
        tx,
        crate::workflow::rules::model::Trigger::CommentAdded,
        &mut row,
        &mut tags,
    )
    .await?;
    let files = if ids.is_empty() {
        Vec::new()
    } else {
        store::attachments::attachments_of(tx, row.workspace_id, &[comment.id]).await?
    };
    Ok(dress(shown, &comment, &files, &[]))
}

/// The thread, oldest first (staff see internal notes), each comment with its attachments.
pub async fn list(
    store: &Store,
    actor: &Actor,
    key: &str,
) -> Result<Vec<super::model::CommentView>> {
    actor.require(Permission::ViewTickets)?;
    let mut tx = store.read().await?;
    let row = load(&mut tx, actor.workspace_id, key, false).await?;
    thread(&mut tx, &row).await
}

/// The whole thread of a loaded ticket (staff view), on the caller's connection.
pub async fn thread(
    tx: &mut store::Conn,
    row: &crate::store::tickets::TicketRow,
) -> Result<Vec<super::model::CommentView>> {
    let rows = store::comments::list(tx, row.workspace_id, row.id, true).await?;
    views(tx, row.workspace_id, &rows).await
}

/// Comments of workspace `ws` as staff see them, with their attachments and delivery.
pub async fn views(
    tx: &mut store::Conn,
    ws: crate::ids::WorkspaceId,
    rows: &[CommentRow],
) -> Result<Vec<super::model::CommentView>> {
    let ids: Vec<CommentId> = rows.iter().map(|c| c.id).collect();
    let files = store::attachments::attachments_of(tx, ws, &ids).await?;
    let mail = store::notifications::of_comments(tx, ws, &ids).await?;
    Ok(rows.iter().map(|c| view(c, &files, &mail)).collect())
}

/// A comment as the API shows it, with its attachments and its email delivery state.
fn view(
    c: &CommentRow,
    files: &[crate::store::attachments::AttachmentRow],
    mail: &[crate::store::notifications::NotificationRow],
) -> super::model::CommentView {
    dress(super::model::CommentView::from(c), c, files, mail)
}

/// `v` (the view of `c`) with its attachments and mail delivery.
fn dress(
    mut v: super::model::CommentView,
    c: &CommentRow,
    files: &[crate::store::attachments::AttachmentRow],
    mail: &[crate::store::notifications::NotificationRow],
) -> super::model::CommentView {
    v.attachments = files
        .iter()
        .filter(|f| f.comment_id == Some(c.id))
        .map(|f| super::model::StaffAttachmentView {
            file: super::model::AttachmentView::staff(f),
            content_id: f.content_id.clone(),
            inline: f.is_inline,
        })
        .collect();
    v.delivery =
        mail.iter()
            .find(|n| n.comment_id == Some(c.id))
            .map(|n| super::model::DeliveryView {
                status: n.status.clone(),
                to: n.address.clone(),
                error: n.last_error.clone(),
                message_id: n.message_id.clone(),
                sent_at: n.sent_at.map(crate::clock::rfc3339),
            });
    v
}

async fn load_own(
    tx: &mut store::Tx,
    actor: &Actor,
    key: &str,
    id: CommentId,
) -> Result<(crate::store::tickets::TicketRow, CommentRow)> {
    let row = load(tx, actor.workspace_id, key, true).await?;
    let c = store::comments::find(tx, actor.workspace_id, row.id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let own = c.author_type == "agent" && c.author_id == Some(actor.user_id.0);
    if !own && !actor.can(Permission::ModerateComments) {
        return Err(Error::forbidden(
            "only the author or an admin may change a comment",
        ));
    }
    Ok((row, c))
}

/// Edits a comment; the old body is kept in the timeline.
pub async fn edit(
    store: &Store,
    actor: &Actor,
    key: &str,
    id: CommentId,
    body: &str,
) -> Result<CommentRow> {
    let body =
        validate::required_text("body", body, 64 * 1024).map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = store.begin().await?;
    let (row, mut c) = load_own(&mut tx, actor, key, id).await?;
    if c.body != body {
        let old = std::mem::replace(&mut c.body, body);
        c.updated_at = now_micros();
        if !store::comments::update_body(&mut tx, &c).await? {
            return Err(Error::conflict("the comment was changed by someone else"));
        }
        c.version += 1;
        record(
            &mut tx,
            &row,
            Author::user(actor),
            "comment_edited",
            None,
            None,
            json!({"comment_id": c.id, "old_body": old}),
        )
        .await?;
        reindex(&mut tx, &row).await?;
    }
    tx.commit().await?;
    Ok(c)
}

/// Deletes a comment; its body is kept in the timeline.
pub async fn delete(store: &Store, actor: &Actor, key: &str, id: CommentId) -> Result<()> {
    let mut tx = store.begin().await?;
    let (row, c) = load_own(&mut tx, actor, key, id).await?;
    store::comments::soft_delete(&mut tx, actor.workspace_id, c.id, now_micros()).await?;
    record(
        &mut tx,
        &row,
        Author::user(actor),
        "comment_deleted",
        None,
        None,
        json!({"comment_id": c.id, "old_body": c.body}),
    )
    .await?;
    reindex(&mut tx, &row).await?;
    tx.commit().await
}

/// Adds a customer's message (email, portal) to a locked ticket: a `pending` or `resolved`
/// ticket opens again (resolved → `reopened`), the team's unread counter goes up, and the
/// `comment.added` rules run. A `closed` ticket is the caller's to handle (a follow-up).
pub async fn add_from_customer(
    tx: &mut crate::store::Tx,
    row: &mut crate::store::tickets::TicketRow,
    customer: &crate::store::customers::CustomerRow,
    body: String,
    html: Option<String>,
    channel: &str,
    at: i64,
) -> Result<CommentRow> {
    let mut tags = tags(tx, row).await?;
    let comment = CommentRow {
        id: CommentId::new(),
        workspace_id: row.workspace_id,
        ticket_id: row.id,
        body,
        author_type: "customer".into(),
        author_id: Some(customer.id.0),
        author_name: customer.name.clone(),
        is_internal: false,
        channel: channel.into(),
        merged_from_ticket_id: None,
        html_body: html,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    store::comments::insert(tx, &comment).await?;
    let by = Author {
        kind: "customer",
        id: Some(customer.id.0),
    };
    row.unread_by_agent += 1;
    row.customer_replies_since_agent += 1;
    row.last_message_at = row.last_message_at.max(at);
    save(tx, row).await?;
    if matches!(row.status.as_str(), "pending" | "resolved") {
        super::service::apply_status(tx, row, &tags, Status::Open, by).await?;
    }
    announce(
        tx,
        row,
        &tags,
        by,
        &comment,
        "comment_added",
        json!({"channel": channel}),
    )
    .await?;
    crate::workflow::notify::to_watchers(tx, row, comment.id, None).await?;
    crate::workflow::rules::engine::run(
        tx,
        crate::workflow::rules::model::Trigger::CommentAdded,
        row,
        &mut tags,
    )
    .await?;
    Ok(comment)
}

/// A message from another system, as [`add_external`] records it.
pub struct External<'a> {
    /// `agent`, `ai`, `customer` (a transcript) or `system`.
    pub author_type: &'a str,
    pub author_id: Option<uuid::Uuid>,
    pub author_name: &'a str,
    pub body: String,
    pub is_internal: bool,
    pub channel: &'a str,
    pub at: i64,
}

/// A message written in another system (a Thulium agent's reply, a chat bot's answer, a
/// Thulium note), added to a locked ticket as it happened there. `author_type` is `agent`,
/// `ai`, `customer` (a transcript) or `system`. Nobody is emailed: the other system already delivered it. An agent's
/// public message counts as the first response.
pub async fn add_external(
    tx: &mut crate::store::Tx,
    row: &mut crate::store::tickets::TicketRow,
    m: External<'_>,
) -> Result<CommentRow> {
    let External {
        author_type,
        author_id,
        author_name,
        body,
        is_internal,
        channel,
        at,
    } = m;
    let tags = tags(tx, row).await?;
    let comment = CommentRow {
        id: CommentId::new(),
        workspace_id: row.workspace_id,
        ticket_id: row.id,
        body,
        author_type: author_type.into(),
        author_id,
        author_name: author_name.chars().take(255).collect(),
        is_internal,
        channel: channel.into(),
        merged_from_ticket_id: None,
        html_body: None,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    store::comments::insert(tx, &comment).await?;
    if !is_internal {
        if author_type == "agent" {
            if row.first_response_at.is_none() {
                row.first_response_at = Some(at);
                crate::sla::engine::refresh_due(row);
            }
            row.last_agent_reply_at = Some(at);
            row.customer_replies_since_agent = 0;
        }
        row.last_message_at = row.last_message_at.max(at);
        save(tx, row).await?;
    }
    let by = Author {
        kind: match author_type {
            "ai" => "ai",
            "customer" => "customer",
            _ => "system",
        },
        id: author_id,
    };
    let event = if is_internal {
        "internal_note_added"
    } else {
        "comment_added"
    };
    announce(
        tx,
        row,
        &tags,
        by,
        &comment,
        event,
        json!({"channel": channel}),
    )
    .await?;
    Ok(comment)
}
