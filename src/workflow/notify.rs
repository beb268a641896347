//! Notifications to customers and staff, queued in the transaction of the change that causes
//! them. They wait as `pending` rows until a channel (the email outbox, WeCom) delivers them.

use serde_json::{Value, json};

use crate::clock::now_micros;
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
    }
}

/// Queues an email to the ticket's requester.
pub fn to_requester(tx: &mut Tx, t: &TicketRow, template: &str, payload: Value) {
    let n = row(
        t,
        "customer",
        t.requester_id.0,
        &t.requester_email,
        "email",
        template,
        payload,
    );
    store::notifications::insert(tx, &n);
}

/// Queues a notice to a staff user on `channel` (`email` or `wecom`).
pub fn to_user(
    tx: &mut Tx,
    t: &TicketRow,
    u: &UserRow,
    channel: &str,
    template: &str,
    payload: Value,
) {
    let n = row(t, "user", u.id.0, &u.email, channel, template, payload);
    store::notifications::insert(tx, &n);
}
