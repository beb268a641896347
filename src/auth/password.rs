//! Password hashing with argon2id (PHC strings). Verification runs on the blocking pool so a
//! burst of logins cannot stall the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

/// Checks the rules for a new password (length only: NIST SP 800-63B).
pub fn validate(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(Error::field("password", "must be 8 to 256 characters"));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("argon2: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

/// True when `password` matches the stored PHC `hash`.
pub async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so timing does not reveal it.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0bZtPT6Ud4Oyf3kLWnS9q7cYVxG2DpHKgVKl6pPZn7E";
