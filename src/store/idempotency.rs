//! Stored first answers of idempotent creates (`Idempotency-Key`), kept 24 hours.

use sea_query::{Expr, ExprTrait, Iden, Query};

use super::{Conn, Tx};
use crate::error::{Error, OnConstraint, Result};
use crate::ids::WorkspaceId;

#[derive(Iden)]
enum IdempotencyKeys {
    Table,
    WorkspaceId,
    Scope,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    Location,
    CreatedAt,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedResponse {
    pub request_hash: Vec<u8>,
    pub response_status: i64,
    pub response_body: String,
    pub location: Option<String>,
}

/// The stored answer for this key, if it is younger than `since`.
pub async fn find(
    tx: &mut Conn,
    ws: WorkspaceId,
    scope: &str,
    key: &str,
    since: i64,
) -> Result<Option<SavedResponse>> {
    let q = Query::select()
        .columns([
            IdempotencyKeys::RequestHash,
            IdempotencyKeys::ResponseStatus,
            IdempotencyKeys::ResponseBody,
            IdempotencyKeys::Location,
        ])
        .from(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::WorkspaceId).eq(ws))
        .and_where(Expr::col(IdempotencyKeys::Scope).eq(scope))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .and_where(Expr::col(IdempotencyKeys::CreatedAt).gte(since))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Saves the first answer in the same transaction as the create it belongs to; an expired row
/// with the same key is replaced. Returns false when a live row for the key exists (a
/// concurrent request with the same key committed first): the caller rolls back and replays.
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn save(
    tx: &mut Tx,
    ws: WorkspaceId,
    scope: &str,
    key: &str,
    hash: &[u8],
    status: i64,
    body: &str,
    location: Option<&str>,
    now: i64,
) -> Result<bool> {
    let del = Query::delete()
        .from_table(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::WorkspaceId).eq(ws))
        .and_where(Expr::col(IdempotencyKeys::Scope).eq(scope))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .and_where(Expr::col(IdempotencyKeys::CreatedAt).lt(now - 24 * 3_600_000_000))
        .to_owned();
    tx.execute(&del).await?;
    let q = Query::insert()
        .into_table(IdempotencyKeys::Table)
        .columns([
            IdempotencyKeys::WorkspaceId,
            IdempotencyKeys::Scope,
            IdempotencyKeys::Key,
            IdempotencyKeys::RequestHash,
            IdempotencyKeys::ResponseStatus,
            IdempotencyKeys::ResponseBody,
            IdempotencyKeys::Location,
            IdempotencyKeys::CreatedAt,
        ])
        .values_panic([
            ws.into(),
            scope.into(),
            key.into(),
            hash.to_vec().into(),
            status.into(),
            body.into(),
            location.map(str::to_owned).into(),
            now.into(),
        ])
        .to_owned();
    const TAKEN: &str = "idempotency key taken";
    match tx
        .execute(&q)
        .await
        .on_constraint("idempotency_keys_pkey", || Error::conflict(TAKEN))
    {
        Ok(_) => Ok(true),
        Err(Error::Client(_, m)) if m == TAKEN => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes keys older than `before`.
pub async fn purge(tx: &mut Tx, before: i64) -> Result<u64> {
    let q = Query::delete()
        .from_table(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::CreatedAt).lt(before))
        .to_owned();
    tx.execute(&q).await
}
