//! Subscriptions (seed 000 roles ASSIGNEE / WATCHER / CC, each with `notify_email` and
//! `notify_wecom`). The assignee is always listed with role `assignee`; watchers and CCs are
//! stored.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::store::watchers::WatcherRow;
use crate::store::{self, Conn, Store};
use crate::tickets::service::{Author, load, record};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WatcherView {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    /// `assignee`, `watcher` or `cc`.
    pub role: String,
    pub notify_email: bool,
    pub notify_wecom: bool,
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchRole {
    Watcher,
    Cc,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWatcher {
    /// The user to subscribe; the caller when absent (or `me`).
    pub user_id: Option<String>,
    pub role: Option<WatchRole>,
    pub notify_email: Option<bool>,
    pub notify_wecom: Option<bool>,
}

/// The subscriptions of a ticket, the assignee first.
pub async fn views(
    tx: &mut Conn,
    t: &crate::store::tickets::TicketRow,
) -> Result<Vec<WatcherView>> {
    let ws = t.workspace_id;
    let rows = store::watchers::list(tx, ws, t.id).await?;
    let mut ids: Vec<UserId> = rows.iter().map(|w| w.user_id).collect();
    ids.extend(t.assignee_id);
    ids.sort();
    ids.dedup();
    let users = store::users::many(tx, ws, &ids).await?;
    let user = |id: UserId| users.iter().find(|u| u.id == id);
    let mut out = Vec::new();
    if let Some(a) = t.assignee_id.and_then(user) {
        let stored = rows.iter().find(|w| w.user_id == a.id);
        out.push(WatcherView {
            user_id: a.id,
            name: a.name.clone(),
            email: a.email.clone(),
            role: "assignee".into(),
            notify_email: stored.is_none_or(|w| w.notify_email),
            notify_wecom: stored.is_some_and(|w| w.notify_wecom),
            created_at: stored.map(|w| rfc3339(w.created_at)),
        });
    }
    for w in rows.iter().filter(|w| Some(w.user_id) != t.assignee_id) {
        if let Some(u) = user(w.user_id) {
            out.push(WatcherView {
                user_id: u.id,
                name: u.name.clone(),
                email: u.email.clone(),
                role: w.role.clone(),
                notify_email: w.notify_email,
                notify_wecom: w.notify_wecom,
                created_at: Some(rfc3339(w.created_at)),
            });
        }
    }
    Ok(out)
}

pub async fn list(store: &Store, actor: &Actor, key: &str) -> Result<Vec<WatcherView>> {
    actor.require(Permission::ViewTickets)?;
    let mut tx = store.read().await?;
    let t = load(&mut tx, actor.workspace_id, key, false).await?;
    views(&mut tx, &t).await
}

/// Anyone on the team may follow a ticket; subscribing or removing someone else takes the
/// right to work tickets (admins, supervisors, agents).
fn authorize(actor: &Actor, user: UserId) -> Result<()> {
    actor.require(Permission::ViewTickets)?;
    if user != actor.user_id {
        actor.require(Permission::ChangeStatus).map_err(|_| {
            Error::forbidden("engineers may only subscribe or unsubscribe themselves")
        })?;
    }
    Ok(())
}

pub async fn add(
    store: &Store,
    actor: &Actor,
    key: &str,
    input: NewWatcher,
) -> Result<WatcherView> {
    let user = match input.user_id.as_deref() {
        None | Some("me") => actor.user_id,
        Some(s) => s
            .parse::<UserId>()
            .map_err(|_| Error::field("user_id", "must be a user id or `me`"))?,
    };
    authorize(actor, user)?;
    let ws = actor.workspace_id;
    let mut tx = store.begin().await?;
    let t = load(&mut tx, ws, key, true).await?;
    let u = store::users::find(&mut tx, ws, user)
        .await?
        .ok_or_else(|| Error::field("user_id", "no such user in this workspace"))?;
    if !u.active {
        return Err(Error::field("user_id", "the user is deactivated"));
    }
    let role = match input.role.unwrap_or(WatchRole::Watcher) {
        WatchRole::Watcher => "watcher",
        WatchRole::Cc => "cc",
    };
    let row = WatcherRow {
        ticket_id: t.id,
        user_id: u.id,
        workspace_id: ws,
        role: role.into(),
        notify_email: input.notify_email.unwrap_or(true),
        notify_wecom: input.notify_wecom.unwrap_or(false),
        created_at: now_micros(),
    };
    store::watchers::upsert(&mut tx, &row, true).await?;
    record(
        &mut tx,
        &t,
        Author::user(actor),
        "watcher_added",
        None,
        None,
        json!({"user_id": u.id, "role": role, "notify_email": row.notify_email, "notify_wecom": row.notify_wecom}),
    )
    .await?;
    let all = views(&mut tx, &t).await?;
    tx.commit().await?;
    all.into_iter()
        .find(|w| w.user_id == u.id)
        .ok_or(Error::NotFound)
}

pub async fn remove(store: &Store, actor: &Actor, key: &str, user: UserId) -> Result<()> {
    authorize(actor, user)?;
    let ws = actor.workspace_id;
    let mut tx = store.begin().await?;
    let t = load(&mut tx, ws, key, true).await?;
    if !store::watchers::delete(&mut tx, ws, t.id, user).await? {
        return Err(Error::NotFound);
    }
    record(
        &mut tx,
        &t,
        Author::user(actor),
        "watcher_removed",
        None,
        None,
        json!({"user_id": user}),
    )
    .await?;
    tx.commit().await
}
