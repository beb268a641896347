//! Bearer tokens: 32 random bytes, shown once, stored as a SHA-256 hash and compared in
//! constant time. Login tokens expire; personal API tokens live until revoked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every Ferrodesk token so secret scanners can find leaked ones.
pub const PREFIX: &str = "fd_";

/// How long a login token lasts.
pub const LOGIN_TTL_HOURS: i64 = 12;

/// `n` random bytes as URL-safe base64 without padding.
#[must_use]
pub fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new token string (`fd_` + 43 characters).
#[must_use]
pub fn generate() -> String {
    format!("{PREFIX}{}", random_b64(32))
}

/// The stored form of a token.
#[must_use]
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Constant-time equality of two digests.
#[must_use]
pub fn digests_match(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 43);
        assert!(digests_match(&digest(&a), &digest(&a)));
        assert!(!digests_match(&digest(&a), &digest(&b)));
    }
}
