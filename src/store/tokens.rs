//! Stored bearer tokens (hashes only).

use sea_query::{Expr, ExprTrait, Iden, Query};

use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{TokenId, UserId, WorkspaceId};
use crate::tickets::status::Role;

#[derive(Iden, Clone, Copy)]
pub enum ApiTokens {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Kind,
    Name,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    CreatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: TokenId,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub kind: String,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

pub async fn insert(tx: &mut Tx, t: &TokenRow) -> Result<()> {
    let q = Query::insert()
        .into_table(ApiTokens::Table)
        .columns([
            ApiTokens::Id,
            ApiTokens::WorkspaceId,
            ApiTokens::UserId,
            ApiTokens::Kind,
            ApiTokens::Name,
            ApiTokens::TokenHash,
            ApiTokens::ExpiresAt,
            ApiTokens::CreatedAt,
        ])
        .values_panic([
            t.id.into(),
            t.workspace_id.into(),
            t.user_id.into(),
            t.kind.clone().into(),
            t.name.clone().into(),
            t.token_hash.clone().into(),
            t.expires_at.into(),
            t.created_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// A live token joined with its user: what authenticating a request needs, in one query.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenUser {
    pub token_id: TokenId,
    pub token_hash: Vec<u8>,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub active: bool,
    pub is_owner: bool,
    pub expires_at: Option<i64>,
}

/// The live token with this hash and its user, if any.
pub async fn find_with_user(tx: &mut Conn, hash: &[u8], now: i64) -> Result<Option<TokenUser>> {
    use super::users::Users;
    let q = Query::select()
        .expr_as(Expr::col((ApiTokens::Table, ApiTokens::Id)), "token_id")
        .column((ApiTokens::Table, ApiTokens::TokenHash))
        .column((ApiTokens::Table, ApiTokens::WorkspaceId))
        .column((ApiTokens::Table, ApiTokens::UserId))
        .column((ApiTokens::Table, ApiTokens::ExpiresAt))
        .columns([
            (Users::Table, Users::Email),
            (Users::Table, Users::Name),
            (Users::Table, Users::Role),
            (Users::Table, Users::Active),
            (Users::Table, Users::IsOwner),
        ])
        .from(ApiTokens::Table)
        .inner_join(
            Users::Table,
            sea_query::Cond::all()
                .add(
                    Expr::col((Users::Table, Users::Id))
                        .equals((ApiTokens::Table, ApiTokens::UserId)),
                )
                .add(
                    Expr::col((Users::Table, Users::WorkspaceId))
                        .equals((ApiTokens::Table, ApiTokens::WorkspaceId)),
                ),
        )
        .and_where(Expr::col((ApiTokens::Table, ApiTokens::TokenHash)).eq(hash.to_vec()))
        .and_where(Expr::col((ApiTokens::Table, ApiTokens::RevokedAt)).is_null())
        .cond_where(
            sea_query::Cond::any()
                .add(Expr::col((ApiTokens::Table, ApiTokens::ExpiresAt)).is_null())
                .add(Expr::col((ApiTokens::Table, ApiTokens::ExpiresAt)).gt(now)),
        )
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Revokes one of the user's tokens; false when it does not exist.
pub async fn revoke(
    tx: &mut Tx,
    ws: WorkspaceId,
    user: UserId,
    id: TokenId,
    now: i64,
) -> Result<bool> {
    tx.changes_sign_in();
    let q = Query::update()
        .table(ApiTokens::Table)
        .value(ApiTokens::RevokedAt, now)
        .and_where(Expr::col(ApiTokens::Id).eq(id))
        .and_where(Expr::col(ApiTokens::WorkspaceId).eq(ws))
        .and_where(Expr::col(ApiTokens::UserId).eq(user))
        .and_where(Expr::col(ApiTokens::RevokedAt).is_null())
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Revokes every token of a user (deactivation, password change), but `keep` (the session
/// a user changed their own password in).
pub async fn revoke_all(
    tx: &mut Tx,
    ws: WorkspaceId,
    user: UserId,
    keep: Option<TokenId>,
    now: i64,
) -> Result<u64> {
    tx.changes_sign_in();
    let mut q = Query::update();
    q.table(ApiTokens::Table)
        .value(ApiTokens::RevokedAt, now)
        .and_where(Expr::col(ApiTokens::WorkspaceId).eq(ws))
        .and_where(Expr::col(ApiTokens::UserId).eq(user))
        .and_where(Expr::col(ApiTokens::RevokedAt).is_null());
    if let Some(k) = keep {
        q.and_where(Expr::col(ApiTokens::Id).ne(k));
    }
    tx.execute(&q).await
}

/// A user's session or API token as its owner and admins see it (never the secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: TokenId,
    pub kind: String,
    pub name: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// A user's tokens that still work at `now`, newest first.
pub async fn active_of(
    conn: &mut Conn,
    ws: WorkspaceId,
    user: UserId,
    now: i64,
) -> Result<Vec<TokenInfo>> {
    let q = Query::select()
        .columns([
            ApiTokens::Id,
            ApiTokens::Kind,
            ApiTokens::Name,
            ApiTokens::ExpiresAt,
            ApiTokens::CreatedAt,
        ])
        .from(ApiTokens::Table)
        .and_where(Expr::col(ApiTokens::WorkspaceId).eq(ws))
        .and_where(Expr::col(ApiTokens::UserId).eq(user))
        .and_where(Expr::col(ApiTokens::RevokedAt).is_null())
        .cond_where(
            sea_query::Cond::any()
                .add(Expr::col(ApiTokens::ExpiresAt).is_null())
                .add(Expr::col(ApiTokens::ExpiresAt).gt(now)),
        )
        .order_by(ApiTokens::CreatedAt, sea_query::Order::Desc)
        .order_by(ApiTokens::Id, sea_query::Order::Desc)
        .limit(500)
        .to_owned();
    conn.fetch_all(&q).await
}
