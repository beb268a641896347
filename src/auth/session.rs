//! Browser sessions: the web UI keeps a login token in an `HttpOnly`, `SameSite=Lax` cookie
//! and proves every state-changing request with a CSRF token derived from it (a keyed digest
//! of the session, so nothing extra is stored and a leaked page cannot forge another
//! session's token).

use sha2::{Digest, Sha256};

/// The staff session cookie (a login token).
pub const STAFF_COOKIE: &str = "fd_session";
/// The customer session cookie of the portal (an `fdc_` token).
pub const CUSTOMER_COOKIE: &str = "fd_customer";

/// The CSRF token of a session: 32 hex characters of SHA-256 over a label and the session.
#[must_use]
pub fn csrf_token(session: &str) -> String {
    let d = Sha256::digest(format!("ferrodesk-csrf-v1:{session}").as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether `presented` is the CSRF token of `session` (constant-time).
#[must_use]
pub fn csrf_ok(session: &str, presented: &str) -> bool {
    super::tokens::digests_match(csrf_token(session).as_bytes(), presented.trim().as_bytes())
}

/// A cookie's value from a `Cookie` header.
#[must_use]
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name && !v.is_empty()).then_some(v)
    })
}

/// `Set-Cookie` for a session (`Secure` when the public URL is HTTPS).
#[must_use]
pub fn set_cookie(name: &str, value: &str, max_age_seconds: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let a = csrf_token("fd_one");
        assert_eq!(a.len(), 32);
        assert!(csrf_ok("fd_one", &a));
        assert!(!csrf_ok("fd_two", &a));
        assert!(!csrf_ok("fd_one", ""));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let h = "theme=dark; fd_session=fd_abc; other=1";
        assert_eq!(cookie(h, "fd_session"), Some("fd_abc"));
        assert_eq!(cookie(h, "fd_sess"), None);
        assert_eq!(cookie("fd_session=", "fd_session"), None);
        assert!(set_cookie("a", "b", 60, true).ends_with("; Secure"));
    }
}
