//! Who a token belongs to, remembered for a short while so that a request does not ask the
//! database who is calling (at thousands of requests a second that question cost more than
//! the work). An entry is used only in the epoch of sign-in facts it was read in
//! (`store::memo::Epoch`): revoking a token, signing out, changing a role or deactivating a
//! user moves the epoch on when the write starts and again when it commits, on this node at
//! once and on the others through PostgreSQL notifications. Only successful sign-ins are
//! remembered; a token's own expiry is checked on every use.

use std::time::Duration;

use super::Actor;
use crate::ids::TokenId;

/// How long an entry lives at most: the bound on a change made where no notification reaches
/// (another process writing the same SQLite file, a notification connection down).
pub const TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Entry {
    epoch: u64,
    actor: Actor,
    token: TokenId,
    expires_at: Option<i64>,
}

/// Signed-in callers by token digest.
pub struct TokenCache(moka::sync::Cache<Vec<u8>, Entry>);

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TTL)
                .build(),
        )
    }
}

impl TokenCache {
    /// The caller behind `digest`, if read in `epoch` and not expired at `now`.
    #[must_use]
    pub fn get(&self, digest: &[u8], epoch: u64, now: i64) -> Option<(Actor, TokenId)> {
        let e = self.0.get(digest)?;
        (e.epoch == epoch && e.expires_at.is_none_or(|t| t > now)).then_some((e.actor, e.token))
    }

    /// Remembers a caller read from the database in `epoch`.
    pub fn put(
        &self,
        digest: Vec<u8>,
        epoch: u64,
        actor: &Actor,
        token: TokenId,
        expires_at: Option<i64>,
    ) {
        self.0.insert(
            digest,
            Entry {
                epoch,
                actor: actor.clone(),
                token,
                expires_at,
            },
        );
    }
}
