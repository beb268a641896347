//! Notifications to customers and staff, queued in the transaction of the change that causes
//! them. They wait as `pending` rows until a channel (the email outbox, WeCom) delivers them.

use serde_json::{Value, json};

use crate::clock::now_micros;
use crate::error::Result;
use crate::ids::CommentId;
use crate::store::notifications::NotificationRow;
use crate::store::tickets::TicketRow;
use crate::store::users::UserRow;
use crate::store::{self, Tx};

fn row(
    t: &TicketRow,
    recipient_type: &str,
    recipient_id: uuid::Uuid,
    address: &str,
    channel: &str,
    template: &str,
    mut payload: Value,
) -> NotificationRow {
    let now = now_micros();
    if let Some(p) = payload.as_object_mut() {
        p.insert("ticket_id".into(), json!(t.id));
        p.insert("ticket_number".into(), json!(t.ticket_number));
        p.insert("subject".into(), json!(t.subject));
        p.insert("status".into(), json!(t.status));
    }
    NotificationRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: t.workspace_id,
        ticket_id: Some(t.id),
        recipient_type: recipient_type.into(),
        recipient_id: Some(recipient_id),
        address: address.into(),
        channel: channel.into(),
        template: template.into(),
        payload: payload.to_string(),
        status: "pending".into(),
        created_at: now,
        updated_at: now,
        comment_id: None,
        message_id: None,
        last_error: None,
        sent_at: None,
    }
}

/// Writes the notification and the job that delivers it.
async fn queue(tx: &mut Tx, n: &NotificationRow) -> Result<()> {
    store::notifications::insert(tx, n);
    crate::jobs::enqueue(
        tx,
        Some(n.workspace_id),
        &crate::email::outbound::DeliverNotification {
            notification_id: n.id,
        },
    )
    .await?;
    Ok(())
}

/// Queues an email to the ticket's requester; `comment` is the reply it carries.
pub async fn to_requester(
    tx: &mut Tx,
    t: &TicketRow,
    template: &str,
    comment: Option<CommentId>,
    payload: Value,
) -> Result<()> {
    let mut n = row(
        t,
        "customer",
        t.requester_id.0,
        &t.requester_email,
        "email",
        template,
        payload,
    );
    n.comment_id = comment;
    queue(tx, &n).await
}

/// Queues a notice to a staff user on `channel` (`email` or `wecom`).
pub async fn to_user(
    tx: &mut Tx,
    t: &TicketRow,
    u: &UserRow,
    channel: &str,
    template: &str,
    comment: Option<CommentId>,
    payload: Value,
) -> Result<()> {
    let mut n = row(t, "user", u.id.0, &u.email, channel, template, payload);
    n.comment_id = comment;
    queue(tx, &n).await
}

/// Tells the ticket's watchers (those who want email) about a new public message, except
/// its author.
pub async fn to_watchers(
    tx: &mut Tx,
    t: &TicketRow,
    comment: CommentId,
    author: Option<uuid::Uuid>,
) -> Result<()> {
    let watchers = store::watchers::list(tx, t.workspace_id, t.id).await?;
    let ids: Vec<crate::ids::UserId> = watchers
        .iter()
        .filter(|w| w.notify_email && Some(w.user_id.0) != author)
        .map(|w| w.user_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    for u in store::users::many(tx, t.workspace_id, &ids).await? {
        if u.active {
            to_user(
                tx,
                t,
                &u,
                "email",
                "watcher_update",
                Some(comment),
                json!({}),
            )
            .await?;
        }
    }
    Ok(())
}
