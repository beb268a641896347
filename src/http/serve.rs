//! The HTTP/1 accept loop: hyper with a header-read timeout (a client that sends half its
//! headers, or an idle keep-alive connection, is cut off), the client's address on every
//! request, graceful shutdown, and problem+json on the few answers hyper writes by itself.
//! Slow bodies are cut off by the `body_limits` middleware (`http/mod.rs`).
//!
//! `axum::serve` has no header-read timeout, so connections are served here with hyper's own
//! builder (as `axum::serve` does inside).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;

use crate::error::Code;

/// The client's address as rate limits and the login throttle see it: the peer, or behind a
/// trusted proxy the client it names in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The client behind `peer`: when `peer` is a trusted proxy, the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy (the left-most when all are; entries
/// before it were written by the client and prove nothing); otherwise `peer`.
#[must_use]
pub fn client_ip(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        else {
            // A garbled entry: nothing before it can be trusted.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Accepts connections on `listener` until `shutdown` resolves, then stops accepting and
/// waits for the connections' requests in flight. Requests from `trusted` proxies carry the
/// client they forward for as their [`ClientIp`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    trusted: std::sync::Arc<[ipnet::IpNet]>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let trusted = trusted.clone();
        let service = ServiceBuilder::new()
            .map_request(move |mut req: Request<_>| {
                let ip = client_ip(addr.ip(), req.headers(), &trusted);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
                req.extensions_mut().insert(ClientIp(ip));
                req
            })
            .service(router.clone());
        let conn = builder.serve_connection(
            TokioIo::new(ProblemIo::new(stream)),
            TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection from {addr} ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A connection that turns the bodiless answers hyper writes by itself, when a request line
/// or header block cannot be parsed (400, 414, 431), into problem+json like every other error.
/// hyper closes the connection after them, so the rewritten answer is the last thing sent.
struct ProblemIo {
    inner: TcpStream,
    /// A rewritten answer still being written.
    pending: Vec<u8>,
}

impl ProblemIo {
    fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

/// The problem+json answer for one of hyper's own, when `head` is one.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    if !text.ends_with("\r\n\r\n") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    // Every answer of ours has a body and a type; hyper's own have neither.
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let (code, detail) = match lower.get(..13)? {
        "http/1.1 400 " | "http/1.0 400 " => (
            Code::BadRequest,
            "the request line or a header could not be parsed",
        ),
        "http/1.1 414 " | "http/1.0 414 " => (
            Code::UriTooLong,
            "the URL is longer than the server accepts (64 KiB)",
        ),
        "http/1.1 431 " | "http/1.0 431 " => (
            Code::HeadersTooLarge,
            "the request headers are larger than the server accepts",
        ),
        _ => return None,
    };
    let body = serde_json::json!({
        "type": format!("https://ferrodesk.dev/problems/{}", code.as_str()),
        "title": code.title(),
        "status": code.status(),
        "detail": detail,
        "code": code.as_str(),
    })
    .to_string();
    let status_line = text.split("\r\n").next()?;
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for ProblemIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProblemIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        // Error heads are small; anything longer is a normal answer passing through.
        if buf.len() < 512
            && let Some(answer) = rewrite(buf)
        {
            self.pending = answer;
            ready!(self.drain(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's own error answers are a head alone; everything else passes through whole.
        let head_only = bufs.iter().filter(|b| !b.is_empty()).count() == 1;
        if head_only && let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            return self.poll_write(cx, first);
        }
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::{client_ip, rewrite};

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec![
            "10.0.0.5/32".parse().expect("net"),
            "10.1.0.0/16".parse().expect("net"),
        ];
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7, 10.1.2.3".parse().expect("value"),
        );
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        // From a trusted proxy: the right-most hop that is not a proxy (the client's own
        // claim, 6.6.6.6, is ignored).
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
        // From anyone else the header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &[]), ip("10.0.0.5"));
        // No header, or a garbled last hop: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.5"), &axum::http::HeaderMap::new(), &trusted),
            ip("10.0.0.5")
        );
        h.insert(
            "x-forwarded-for",
            "203.0.113.7, garbage".parse().expect("value"),
        );
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
        // Two header lines are one list; a port is allowed.
        let mut h = axum::http::HeaderMap::new();
        h.append("x-forwarded-for", "192.0.2.9:4711".parse().expect("value"));
        h.append("x-forwarded-for", "10.1.9.9".parse().expect("value"));
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("192.0.2.9"));
    }

    #[test]
    fn only_hyper_s_bodiless_error_heads_are_rewritten() {
        let own = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite(own).expect("rewritten")).expect("utf-8");
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(out.contains("content-type: application/problem+json"));
        assert!(out.contains("\"code\":\"uri_too_long\""));
        // An answer of ours (with a type), a success, and a partial head pass unchanged.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(ours).is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(
            rewrite(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n")
                .is_none()
        );
    }
}
