//! What assignment strategies read and write: the round-robin cursor of a group (its row is
//! the lock that serialises choices within the group), eligible agents and their loads.

use sea_query::{Alias, Expr, ExprTrait, Iden, OnConflict, Order, Query};

use super::Tx;
use super::groups::GroupMembers;
use super::tickets::AssigneeCounts;
use super::users::Users;
use crate::error::Result;
use crate::ids::{GroupId, UserId, WorkspaceId};

#[derive(Iden)]
enum AssignmentCursors {
    Table,
    WorkspaceId,
    GroupId,
    LastUserId,
    UpdatedAt,
}

/// Takes the group's cursor row for the rest of the transaction (a row lock on PostgreSQL; the
/// write lock is already held on SQLite) and answers the agent chosen last.
pub async fn lock_cursor(
    tx: &mut Tx,
    ws: WorkspaceId,
    group: GroupId,
    now: i64,
) -> Result<Option<UserId>> {
    let q = Query::insert()
        .into_table(AssignmentCursors::Table)
        .columns([
            AssignmentCursors::WorkspaceId,
            AssignmentCursors::GroupId,
            AssignmentCursors::LastUserId,
            AssignmentCursors::UpdatedAt,
        ])
        .values_panic([
            ws.into(),
            group.into(),
            Expr::val(None::<uuid::Uuid>),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([AssignmentCursors::WorkspaceId, AssignmentCursors::GroupId])
                .update_column(AssignmentCursors::UpdatedAt)
                .to_owned(),
        )
        .returning_col(AssignmentCursors::LastUserId)
        .to_owned();
    let row: (Option<UserId>,) = tx.fetch_one(&q).await?;
    Ok(row.0)
}

/// Moves the cursor to the agent just chosen.
pub fn set_cursor(tx: &mut Tx, ws: WorkspaceId, group: GroupId, user: UserId) {
    let q = Query::update()
        .table(AssignmentCursors::Table)
        .value(AssignmentCursors::LastUserId, user)
        .and_where(Expr::col(AssignmentCursors::WorkspaceId).eq(ws))
        .and_where(Expr::col(AssignmentCursors::GroupId).eq(group))
        .to_owned();
    tx.defer(&q);
}

/// An agent who may receive tickets, with when they last got one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub id: UserId,
    pub last_assigned_at: Option<i64>,
}

/// Active, available members of the group who may be assignees (not engineers), by id.
pub async fn candidates(tx: &mut Tx, ws: WorkspaceId, group: GroupId) -> Result<Vec<Candidate>> {
    let q = Query::select()
        .column((Users::Table, Users::Id))
        .column((Users::Table, Alias::new("last_assigned_at")))
        .from(GroupMembers::Table)
        .inner_join(
            Users::Table,
            Expr::col((Users::Table, Users::Id))
                .equals((GroupMembers::Table, GroupMembers::UserId)),
        )
        .and_where(Expr::col((GroupMembers::Table, GroupMembers::GroupId)).eq(group))
        .and_where(Expr::col((GroupMembers::Table, GroupMembers::WorkspaceId)).eq(ws))
        .and_where(Expr::col((Users::Table, Users::Active)).eq(true))
        .and_where(Expr::col((Users::Table, Users::Available)).eq(true))
        .and_where(Expr::col((Users::Table, Users::Role)).is_in(["admin", "supervisor", "agent"]))
        .order_by((Users::Table, Users::Id), Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Open (`new`, `open`, `pending`) tickets per agent, for the given agents, from the counters
/// the triggers keep (migration 0026): an agent holding a hundred thousand tickets is one row
/// to read, not a hundred thousand.
pub async fn open_counts(
    tx: &mut Tx,
    ws: WorkspaceId,
    users: &[UserId],
) -> Result<Vec<(UserId, i64)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::select()
        .column(AssigneeCounts::AssigneeId)
        .column(AssigneeCounts::N)
        .from(AssigneeCounts::Table)
        .and_where(Expr::col(AssigneeCounts::WorkspaceId).eq(ws))
        .and_where(Expr::col(AssigneeCounts::AssigneeId).is_in(users.iter().map(|u| u.0)))
        .to_owned();
    tx.fetch_all(&q).await
}

/// Records that a user was just given a ticket (least-busy ties go to the one waiting longest).
pub fn touch_assigned(tx: &mut Tx, ws: WorkspaceId, user: UserId, now: i64) {
    let q = Query::update()
        .table(Users::Table)
        .value(Alias::new("last_assigned_at"), now)
        .and_where(Expr::col(Users::Id).eq(user))
        .and_where(Expr::col(Users::WorkspaceId).eq(ws))
        .to_owned();
    tx.defer(&q);
}
