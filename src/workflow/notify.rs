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
    if let Some(p) = payload.as_object_mut() {
        p.insert("ticket_id".into(), json!(t.id));
        p.insert("ticket_number".into(), json!(t.ticket_number));
        p.insert("subject".into(), json!(t.subject));
        p.insert("status".into(), json!(t.status));
    }
    let mut n = blank(
        t.workspace_id,
        recipient_type,
        recipient_id,
        address,
        channel,
        template,
        &payload,
    );
    n.ticket_id = Some(t.id);
    n
}

/// A pending notification about no ticket in particular.
fn blank(
    ws: crate::ids::WorkspaceId,
    recipient_type: &str,
    recipient_id: uuid::Uuid,
    address: &str,
    channel: &str,
    template: &str,
    payload: &Value,
) -> NotificationRow {
    let now = now_micros();
    NotificationRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: ws,
        ticket_id: None,
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

/// Tells the ticket's watchers about a new public message, except its author: by email to
/// those who want email, through the WeCom robot to those who want WeCom.
pub async fn to_watchers(
    tx: &mut Tx,
    t: &TicketRow,
    comment: CommentId,
    author: Option<uuid::Uuid>,
) -> Result<()> {
    let told = watchers_to_tell(tx, t, author).await?;
    tell_watchers(tx, t, &told, comment).await
}

/// The watchers of `t` that a public message by `author` goes to, each with the channels
/// they chose (email, WeCom): active users other than the author who want either. Only reads,
/// so a reply prepared ahead asks it before it queues its first write.
pub async fn watchers_to_tell(
    tx: &mut Tx,
    t: &TicketRow,
    author: Option<uuid::Uuid>,
) -> Result<Vec<(UserRow, [bool; 2])>> {
    let watchers = store::watchers::list(tx, t.workspace_id, t.id).await?;
    let wanted: Vec<_> = watchers
        .iter()
        .filter(|w| (w.notify_email || w.notify_wecom) && Some(w.user_id.0) != author)
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<crate::ids::UserId> = wanted.iter().map(|w| w.user_id).collect();
    let mut told = Vec::with_capacity(ids.len());
    for u in store::users::many(tx, t.workspace_id, &ids).await? {
        if !u.active {
            continue;
        }
        if let Some(w) = wanted.iter().find(|w| w.user_id == u.id) {
            let channels = [w.notify_email, w.notify_wecom];
            told.push((u, channels));
        }
    }
    Ok(told)
}

/// Queues the notices of [`watchers_to_tell`] about `comment`.
pub async fn tell_watchers(
    tx: &mut Tx,
    t: &TicketRow,
    told: &[(UserRow, [bool; 2])],
    comment: CommentId,
) -> Result<()> {
    for (u, channels) in told {
        for (on, channel) in channels.iter().zip(["email", "wecom"]) {
            if *on {
                to_user(
                    tx,
                    t,
                    u,
                    channel,
                    "watcher_update",
                    Some(comment),
                    json!({}),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Queues an email to a customer that is about no single ticket (portal access links).
pub async fn to_customer(
    tx: &mut Tx,
    ws: crate::ids::WorkspaceId,
    c: &crate::store::customers::CustomerRow,
    template: &str,
    payload: Value,
) -> Result<()> {
    let n = blank(
        ws, "customer", c.id.0, &c.email, "email", template, &payload,
    );
    queue(tx, &n).await
}

/// Queues a mail to a staff user that is about no single ticket (the daily queue report).
pub async fn to_staff(
    tx: &mut Tx,
    ws: crate::ids::WorkspaceId,
    u: &UserRow,
    template: &str,
    payload: &Value,
) -> Result<()> {
    let n = blank(ws, "user", u.id.0, &u.email, "email", template, payload);
    queue(tx, &n).await
}
