//! The audit log of administrative actions: written in the transaction of the action, read
//! newest first in cursor pages.

use sea_query::{Expr, ExprTrait, Iden, Order, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{AuditId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    WorkspaceId,
    ActorId,
    ActorName,
    Address,
    Action,
    TargetType,
    TargetId,
    Changes,
    CreatedAt,
}

const COLUMNS: [AuditLog; 10] = [
    AuditLog::Id,
    AuditLog::WorkspaceId,
    AuditLog::ActorId,
    AuditLog::ActorName,
    AuditLog::Address,
    AuditLog::Action,
    AuditLog::TargetType,
    AuditLog::TargetId,
    AuditLog::Changes,
    AuditLog::CreatedAt,
];

/// One entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: AuditId,
    pub workspace_id: WorkspaceId,
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    pub address: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub changes: String,
    pub created_at: i64,
}

/// Writes an entry with the transaction's next statement.
pub fn insert(tx: &mut Tx, e: &AuditRow) {
    let q = Query::insert()
        .into_table(AuditLog::Table)
        .columns(COLUMNS)
        .values_panic([
            e.id.into(),
            e.workspace_id.into(),
            Expr::val(e.actor_id.map(|u| u.0)),
            e.actor_name.clone().into(),
            e.address.clone().into(),
            e.action.clone().into(),
            e.target_type.clone().into(),
            e.target_id.clone().into(),
            e.changes.clone().into(),
            e.created_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// Filters of the log's pages.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<UserId>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Entries made at or after (µs).
    pub since: Option<i64>,
    /// Entries made before (µs).
    pub until: Option<i64>,
    /// Entries older than this one (the cursor).
    pub before: Option<AuditId>,
}

/// Up to `limit` entries of the workspace, newest first.
pub async fn page(
    conn: &mut Conn,
    ws: WorkspaceId,
    f: &AuditFilter,
    limit: u64,
) -> Result<Vec<AuditRow>> {
    let mut q = Query::select();
    q.columns(COLUMNS)
        .from(AuditLog::Table)
        .and_where(Expr::col(AuditLog::WorkspaceId).eq(ws));
    if let Some(a) = &f.action {
        q.and_where(Expr::col(AuditLog::Action).eq(a.clone()));
    }
    if let Some(u) = f.actor {
        q.and_where(Expr::col(AuditLog::ActorId).eq(u));
    }
    if let Some(t) = &f.target_type {
        q.and_where(Expr::col(AuditLog::TargetType).eq(t.clone()));
    }
    if let Some(t) = &f.target_id {
        q.and_where(Expr::col(AuditLog::TargetId).eq(t.clone()));
    }
    if let Some(t) = f.since {
        q.and_where(Expr::col(AuditLog::CreatedAt).gte(t));
    }
    if let Some(t) = f.until {
        q.and_where(Expr::col(AuditLog::CreatedAt).lt(t));
    }
    if let Some(b) = f.before {
        q.and_where(Expr::col(AuditLog::Id).lt(b));
    }
    q.order_by(AuditLog::Id, Order::Desc).limit(limit);
    conn.fetch_all(&q).await
}
