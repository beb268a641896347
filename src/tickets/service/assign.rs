//! Who works a ticket: assignee and group checks, manual assignment and assignment by
//! strategy, with the role rule of SPEC §4.

use serde_json::json;

use super::{Author, check_version, load, publish, record, save, tags};
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, Result};
use crate::ids::{UserId, WorkspaceId};
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Store, Tx};
use crate::workflow::rules::model::Trigger;

/// Checks that `user` may be an assignee: an active admin, supervisor or agent of `ws`.
pub async fn check_assignee(tx: &mut Conn, ws: WorkspaceId, user: UserId) -> Result<()> {
    let u = store::users::find(tx, ws, user)
        .await?
        .ok_or_else(|| Error::field("assignee_id", "no such user in this workspace"))?;
    if !u.active {
        return Err(Error::field("assignee_id", "the user is deactivated"));
    }
    if !u.role.can_be_assignee() {
        return Err(Error::field("assignee_id", "engineers cannot be assignees"));
    }
    Ok(())
}

pub async fn check_group(tx: &mut Conn, ws: WorkspaceId, g: crate::ids::GroupId) -> Result<()> {
    store::groups::find(tx, ws, g)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::field("group_id", "no such group in this workspace"))
}

/// Applies an assignment change (authorization already checked).
pub async fn apply_assignee(
    tx: &mut Tx,
    row: &mut TicketRow,
    tags: &[String],
    to: Option<UserId>,
    by: Author,
) -> Result<()> {
    if row.assignee_id == to {
        return Ok(());
    }
    if let Some(u) = to {
        check_assignee(tx, row.workspace_id, u).await?;
    }
    let from = row.assignee_id;
    row.assignee_id = to;
    save(tx, row).await?;
    if let Some(u) = to {
        store::assignment::touch_assigned(tx, row.workspace_id, u, row.updated_at);
        // The new assignee hears about it unless they took the ticket themselves.
        if by.id != Some(u.0)
            && let Some(user) = store::users::find(tx, row.workspace_id, u).await?
        {
            crate::workflow::notify::to_user(tx, row, &user, "email", "assigned", None, json!({}))
                .await?;
        }
    }
    if let Some(u) = to {
        record(
            tx,
            row,
            by,
            "assigned",
            None,
            None,
            json!({"from": from, "assignee_id": u}),
        )
        .await?;
        publish(
            tx,
            row,
            tags,
            crate::tickets::events::DomainEvent::TicketAssigned,
            json!({"assignee_id": u, "previous_assignee_id": from}),
        )
        .await?;
    } else {
        record(tx, row, by, "unassigned", None, None, json!({"from": from})).await?;
        publish(
            tx,
            row,
            tags,
            crate::tickets::events::DomainEvent::TicketUpdated,
            json!({"changes": {"assignee_id": {"from": from, "to": null}}}),
        )
        .await?;
    }
    Ok(())
}

/// Checks the assignment rule of SPEC §4 for a change from the ticket's current assignee to `to`.
pub(crate) fn authorize_assignment(
    actor: &Actor,
    current: Option<UserId>,
    to: Option<UserId>,
) -> Result<()> {
    if actor.can(Permission::AssignAny) {
        return Ok(());
    }
    actor.require(Permission::AssignSelf)?;
    match (current, to) {
        (None, Some(u)) if u == actor.user_id => Ok(()),
        (Some(c), None) if c == actor.user_id => Ok(()),
        _ => Err(Error::forbidden(
            "agents may only take unassigned tickets for themselves or release their own",
        )),
    }
}

/// Who a ticket goes to: a user (or nobody), or whoever a strategy picks in a group.
#[derive(Debug, Clone, Copy)]
pub enum AssignTo {
    User(Option<UserId>),
    Strategy(
        crate::workflow::assignment::Strategy,
        Option<crate::ids::GroupId>,
    ),
}

/// `POST /assign` (manual or by strategy) and `POST /unassign`.
pub async fn assign(
    store: &Store,
    actor: &Actor,
    key: &str,
    target: AssignTo,
    if_match: Option<i64>,
) -> Result<(TicketRow, Vec<String>)> {
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    check_version(if_match, row.version)?;
    let to = match target {
        AssignTo::User(to) => {
            authorize_assignment(actor, row.assignee_id, to)?;
            to
        }
        AssignTo::Strategy(strategy, group) => {
            actor.require(Permission::AssignAny).map_err(|_| {
                Error::forbidden("only admins and supervisors may assign by strategy")
            })?;
            let group = group.or(row.group_id).ok_or_else(|| {
                Error::field(
                    "group_id",
                    "the ticket has no group; give the group to choose an agent from",
                )
            })?;
            check_group(&mut tx, actor.workspace_id, group).await?;
            let chosen = crate::workflow::assignment::choose(
                &mut tx,
                actor.workspace_id,
                group,
                strategy,
                now_micros(),
            )
            .await?
            .ok_or_else(|| Error::conflict("no active, available agent in the group"))?;
            Some(chosen)
        }
    };
    let mut tags = tags(&mut tx, &row).await?;
    let before = row.version;
    apply_assignee(&mut tx, &mut row, &tags, to, Author::user(actor)).await?;
    if row.version != before {
        crate::workflow::rules::engine::run(&mut tx, Trigger::TicketUpdated, &mut row, &mut tags)
            .await?;
    }
    tx.commit().await?;
    Ok((row, tags))
}
