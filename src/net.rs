//! Outbound HTTP to addresses that users configure (webhooks, integration endpoints): the
//! SSRF guard. Private, loopback and link-local targets are refused unless
//! `FERRODESK_WEBHOOK_ALLOW_PRIVATE=true`, checked at save and again after DNS resolution;
//! the client connects to the checked address, follows no redirects and gives up after 10 s.

use std::net::{IpAddr, SocketAddr};

use crate::error::FieldError;

/// Addresses a webhook may never reach unless `FERRODESK_WEBHOOK_ALLOW_PRIVATE=true`: private,
/// loopback, link-local (cloud metadata), shared, multicast and unspecified ranges.
#[must_use]
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Why an outbound request did not get an answer.
#[derive(Debug)]
pub enum PostError {
    /// Never worth retrying: the target is not allowed or not a URL.
    Refused(String),
    /// Worth retrying: DNS, connection, timeout.
    Transient(String),
}

impl std::fmt::Display for PostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostError::Refused(s) | PostError::Transient(s) => f.write_str(s),
        }
    }
}

/// Checks a configured URL at save time: http(s), a host, not a literal private address
/// (unless allowed), at most 2000 characters.
#[must_use]
pub fn check_url(field: &str, raw: &str, allow_private: bool) -> Option<FieldError> {
    if raw.len() > 2000 {
        return Some(FieldError::new(field, "must be at most 2000 characters"));
    }
    match url::Url::parse(raw) {
        // A host name of letters, digits, dots and dashes (after IDNA), or an IP address.
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && match u.host() {
                    Some(url::Host::Domain(d)) => d
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')),
                    Some(_) => true,
                    None => false,
                } =>
        {
            if !allow_private
                && let Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) = u.host()
                && let Ok(ip) = u
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                && is_private(ip)
            {
                return Some(FieldError::new(
                    field,
                    "private, loopback and link-local addresses are refused (FERRODESK_WEBHOOK_ALLOW_PRIVATE)",
                ));
            }
            None
        }
        _ => Some(FieldError::new(field, "must be an http:// or https:// URL")),
    }
}

/// A client bound to `target`'s checked address, and the parsed URL.
pub async fn guarded_client(
    target: &str,
    allow_private: bool,
) -> Result<(reqwest::Client, url::Url), PostError> {
    let url = url::Url::parse(target).map_err(|e| PostError::Refused(format!("bad URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PostError::Refused("only http and https are allowed".into()));
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| PostError::Transient(format!("could not resolve {host}: {e}")))?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        return Err(PostError::Transient(format!("{host} has no address")));
    };
    if !allow_private && addrs.iter().any(|a| is_private(a.ip())) {
        return Err(PostError::Refused(format!(
            "{host} resolves to a private or loopback address; refused (FERRODESK_WEBHOOK_ALLOW_PRIVATE)"
        )));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .resolve(&host, addr)
        .build()
        .map_err(|e| PostError::Transient(e.to_string()))?;
    Ok((client, url))
}

#[cfg(test)]
mod tests {
    use super::{check_url, is_private};

    #[test]
    fn private_ranges_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn configured_urls_are_checked() {
        assert!(check_url("url", "https://example.com/x", false).is_none());
        assert!(check_url("url", "ftp://example.com/x", false).is_some());
        assert!(check_url("url", "http://127.0.0.1:9/x", false).is_some());
        assert!(check_url("url", "http://127.0.0.1:9/x", true).is_none());
        assert!(check_url("url", "http://[::1]/x", false).is_some());
        // Host names are letters, digits, dots and dashes; IDNA names are fine as punycode.
        assert!(check_url("url", "http://a.b*", false).is_some());
        assert!(check_url("url", "http://bücher.example/x", false).is_none());
    }
}
