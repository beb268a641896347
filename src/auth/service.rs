//! Login, token issue and revocation, and resolving a bearer token to an `Actor`.

use super::{Actor, password, tokens};
use crate::clock::now_micros;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::{TokenId, UserId, WorkspaceId};
use crate::store::tokens::TokenRow;
use crate::store::users::UserRow;
use crate::store::{self, Tx};

/// A token that was just issued (the only time its secret is visible).
pub struct IssuedToken {
    pub id: TokenId,
    pub token: String,
    pub expires_at: Option<i64>,
}

async fn issue(
    tx: &mut Tx,
    ws: WorkspaceId,
    user: UserId,
    kind: &str,
    name: &str,
    ttl_hours: Option<i64>,
) -> Result<IssuedToken> {
    let token = tokens::generate();
    let now = now_micros();
    let expires_at = ttl_hours.map(|h| now + h * 3_600_000_000);
    let row = TokenRow {
        id: TokenId::new(),
        workspace_id: ws,
        user_id: user,
        kind: kind.into(),
        name: name.into(),
        token_hash: tokens::digest(&token),
        expires_at,
        revoked_at: None,
        created_at: now,
    };
    store::tokens::insert(tx, &row).await?;
    Ok(IssuedToken {
        id: row.id,
        token,
        expires_at,
    })
}

/// Checks email and password; throttles failures per account and address.
pub async fn login(
    ctx: &Ctx,
    email: &str,
    password: &str,
    addr: &str,
) -> Result<(UserRow, IssuedToken)> {
    let now = now_micros();
    let email_key = email.trim().to_lowercase();
    if email_key.contains('\0') || email_key.len() > 254 {
        // Never stored (PostgreSQL refuses NUL bytes): a wrong answer, not a failure to count.
        return Err(Error::unauthorized("the email or password is wrong"));
    }
    if let Some(wait) = ctx
        .login_throttle
        .check(&ctx.store, email, addr, now)
        .await?
    {
        return Err(Error::RateLimited { retry_after: wait });
    }
    let user = {
        let mut tx = ctx.store.read().await?;
        store::users::find_by_email(&mut tx, &email_key).await?
    };
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
    let ok = password::verify(password.to_owned(), hash).await;
    match user {
        Some(u) if ok && u.active => {
            let mut tx = ctx.store.begin().await?;
            ctx.login_throttle.succeed(&mut tx, email).await?;
            let issued = issue(
                &mut tx,
                u.workspace_id,
                u.id,
                "login",
                "login",
                Some(tokens::LOGIN_TTL_HOURS),
            )
            .await?;
            tx.commit().await?;
            tracing::info!(user.id = %u.id, workspace.id = %u.workspace_id, "User logged in");
            Ok((u, issued))
        }
        _ => {
            ctx.login_throttle
                .fail(&ctx.store, email, addr, now)
                .await?;
            tracing::info!("Failed login attempt");
            Err(Error::unauthorized("the email or password is wrong"))
        }
    }
}

/// Issues a personal API token for the actor.
pub async fn create_personal_token(ctx: &Ctx, actor: &Actor, name: &str) -> Result<IssuedToken> {
    let name = crate::validate::required_text("name", name, 100)
        .map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = ctx.store.begin().await?;
    let issued = issue(
        &mut tx,
        actor.workspace_id,
        actor.user_id,
        "personal",
        &name,
        None,
    )
    .await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "token.created",
        "token",
        Some(issued.id.to_string()),
        serde_json::json!({"name": name, "kind": "personal"}),
    );
    tx.commit().await?;
    Ok(issued)
}

/// Revokes one of the actor's own tokens.
pub async fn revoke_token(ctx: &Ctx, actor: &Actor, id: TokenId) -> Result<()> {
    revoke_token_of(ctx, actor, actor.user_id, id).await
}

/// A session or API token as its owner and admins see it (never the secret).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: TokenId,
    /// `login` (a sign-in: the console's session or `POST /api/auth/login`) or `personal`.
    pub kind: String,
    pub name: String,
    pub created_at: String,
    /// `null`: until revoked.
    pub expires_at: Option<String>,
    /// The token this request was made with.
    pub current: bool,
}

/// Only the user themselves or an admin manages a user's tokens; the user must be of the
/// workspace.
async fn may_manage_tokens(ctx: &Ctx, actor: &Actor, user: UserId) -> Result<()> {
    if user == actor.user_id {
        return Ok(());
    }
    actor.require(super::Permission::ManageUsers)?;
    let mut conn = ctx.store.read().await?;
    store::users::find(&mut conn, actor.workspace_id, user)
        .await?
        .map(drop)
        .ok_or(Error::NotFound)
}

/// The sessions and API tokens of `user` that still work, newest first; `current` is the
/// caller's own.
pub async fn tokens_of(
    ctx: &Ctx,
    actor: &Actor,
    user: UserId,
    current: Option<TokenId>,
) -> Result<Vec<TokenView>> {
    may_manage_tokens(ctx, actor, user).await?;
    let mut conn = ctx.store.read().await?;
    let rows = store::tokens::active_of(&mut conn, actor.workspace_id, user, now_micros()).await?;
    Ok(rows
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            current: Some(t.id) == current,
            kind: t.kind,
            name: t.name,
            created_at: crate::clock::rfc3339(t.created_at),
            expires_at: t.expires_at.map(crate::clock::rfc3339),
        })
        .collect())
}

/// Revokes one session or API token of `user` (the user themselves or an admin).
pub async fn revoke_token_of(ctx: &Ctx, actor: &Actor, user: UserId, id: TokenId) -> Result<()> {
    may_manage_tokens(ctx, actor, user).await?;
    let mut tx = ctx.store.begin().await?;
    if !store::tokens::revoke(&mut tx, actor.workspace_id, user, id, now_micros()).await? {
        return Err(Error::NotFound);
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "token.revoked",
        "token",
        Some(id.to_string()),
        serde_json::json!({"user_id": user}),
    );
    tx.commit().await
}

/// The answer to a token that is not (or no longer) good.
fn unauthorized() -> Error {
    Error::unauthorized("the bearer token is missing, expired or revoked")
}

/// Resolves a bearer token to the active user behind it.
pub async fn authenticate(ctx: &Ctx, token: &str) -> Result<(Actor, TokenId)> {
    if !token.starts_with(tokens::PREFIX) || token.len() > 128 {
        return Err(unauthorized());
    }
    let digest = tokens::digest(token);
    let now = now_micros();
    // The epoch is read before the database: a change committed after this read moves it on,
    // so what is read below is never remembered as current.
    let epoch = ctx.store.memo().epoch().current();
    if let Some(e) = epoch
        && let Some(hit) = ctx.tokens.get(&digest, e, now)
    {
        return Ok(hit);
    }
    // Boxed: the read's future is kilobytes, and every authenticated request's future would
    // carry (and move) it although a remembered token never gets there.
    Box::pin(authenticate_from_store(ctx, digest, epoch, now)).await
}

/// [`authenticate`] for a token not remembered: read, checked, and remembered for next time.
async fn authenticate_from_store(
    ctx: &Ctx,
    digest: Vec<u8>,
    epoch: Option<u64>,
    now: i64,
) -> Result<(Actor, TokenId)> {
    let mut tx = ctx.store.read().await?;
    let row = store::tokens::find_with_user(&mut tx, &digest, now)
        .await?
        .ok_or_else(unauthorized)?;
    // The lookup is by hash; compare again in constant time so no code path compares secrets
    // byte by byte with an early exit.
    if !tokens::digests_match(&row.token_hash, &digest) || !row.active {
        return Err(unauthorized());
    }
    let actor = Actor {
        user_id: row.user_id,
        workspace_id: row.workspace_id,
        role: row.role,
        is_owner: row.is_owner,
        name: row.name,
        email: row.email,
        address: None,
    };
    if let Some(e) = epoch {
        ctx.tokens
            .put(digest, e, &actor, row.token_id, row.expires_at);
    }
    Ok((actor, row.token_id))
}
