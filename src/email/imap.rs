//! The IMAP poller: for each workspace with an `imap_url`, every `poll_seconds` it logs in,
//! takes the unseen messages of `imap_folder`, passes each through the inbound path and flags
//! it `\Seen`. A message handled but not yet flagged when the server stopped comes back on the
//! next poll and is recognized by its Message-ID, so a restart never duplicates a comment.

use std::collections::HashMap;
use std::sync::Arc;

use async_imap::Client;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::ctx::Ctx;
use crate::error::Error;
use crate::ids::WorkspaceId;
use crate::store;

/// Messages taken per poll (the rest wait for the next one).
const BATCH: usize = 50;

/// Where and how to connect.
struct Target {
    tls: bool,
    host: String,
    port: u16,
    user: String,
    password: String,
}

fn target(raw: &str) -> anyhow::Result<Target> {
    let u = url::Url::parse(raw)?;
    let tls = match u.scheme() {
        "imaps" => true,
        "imap" => false,
        other => anyhow::bail!("unsupported IMAP scheme {other}"),
    };
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Target {
        tls,
        host: u.host_str().unwrap_or("localhost").to_owned(),
        port: u.port().unwrap_or(if tls { 993 } else { 143 }),
        user: decode(u.username()),
        password: decode(u.password().unwrap_or_default()),
    })
}

/// What a workspace's poll did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct PollReport {
    pub fetched: usize,
    pub created: usize,
    pub appended: usize,
    pub ignored: usize,
}

async fn run<T>(
    ctx: &Ctx,
    ws: WorkspaceId,
    stream: T,
    t: &Target,
    folder: &str,
) -> anyhow::Result<PollReport>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = Client::new(stream);
    client
        .read_response()
        .await?
        .ok_or_else(|| anyhow::anyhow!("the IMAP server closed the connection"))?;
    let mut session = client
        .login(&t.user, &t.password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("IMAP login failed: {e}"))?;
    session.select(folder).await?;
    let mut uids: Vec<u32> = session.uid_search("UNSEEN").await?.into_iter().collect();
    uids.sort_unstable();
    uids.truncate(BATCH);
    let mut report = PollReport::default();
    for uid in uids {
        let raw = {
            let fetches: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await?
                .try_collect()
                .await?;
            fetches
                .iter()
                .find_map(|f| f.body().map(<[u8]>::to_vec))
                .unwrap_or_default()
        };
        report.fetched += 1;
        match crate::email::inbound::receive(ctx, ws, &raw).await {
            Ok(o) => match o.action {
                "created" => report.created += 1,
                "appended" => report.appended += 1,
                _ => report.ignored += 1,
            },
            // A message we can never read is set aside like any other; a database or storage
            // failure stops here, unflagged, so the next poll tries again.
            Err(Error::Validation(_) | Error::Client(..) | Error::NotFound) => {
                report.ignored += 1;
            }
            Err(e) => return Err(anyhow::anyhow!("inbound mail could not be stored: {e}")),
        }
        let _: Vec<_> = session
            .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
            .await?
            .try_collect()
            .await?;
    }
    session.logout().await?;
    Ok(report)
}

/// Polls one workspace's mailbox now.
/// The workspace has no IMAP mailbox set: a state of its settings, not a failure.
#[derive(Debug, thiserror::Error)]
#[error("no imap_url is configured")]
pub struct NotConfigured;

pub async fn poll(ctx: &Ctx, ws: WorkspaceId) -> anyhow::Result<PollReport> {
    let settings = {
        let mut conn = ctx.store.read().await?;
        super::settings::stored(&mut conn, ws).await?.0
    };
    let Some(url) = settings.imap_url.as_deref() else {
        return Err(NotConfigured.into());
    };
    let folder = settings.folder().to_owned();
    let t = target(url)?;
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tokio::net::TcpStream::connect((t.host.as_str(), t.port)),
    )
    .await??;
    let work = async {
        if t.tls {
            let roots = rustls_roots();
            let config = tokio_rustls::rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(t.host.clone())?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?;
            run(ctx, ws, tls, &t, &folder).await
        } else {
            run(ctx, ws, tcp, &t, &folder).await
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(300), work).await?
}

fn rustls_roots() -> tokio_rustls::rustls::RootCertStore {
    tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Polls every workspace whose poll is due; `last` remembers when each was polled.
pub async fn poll_due(ctx: &Ctx, last: &mut HashMap<WorkspaceId, std::time::Instant>) {
    let configured = {
        let Ok(mut conn) = ctx.store.read().await else {
            return;
        };
        match store::email::imap_workspaces(&mut conn).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("Could not read IMAP settings: {e}");
                return;
            }
        }
    };
    for (ws, doc) in configured {
        let every = super::settings::Stored::parse(Some(&doc)).poll_seconds();
        if last.get(&ws).is_some_and(|t| t.elapsed().as_secs() < every) {
            continue;
        }
        last.insert(ws, std::time::Instant::now());
        match poll(ctx, ws).await {
            Ok(r) if r.fetched > 0 => {
                tracing::info!(workspace.id = %ws, "IMAP poll: {} fetched, {} created, {} appended, {} ignored", r.fetched, r.created, r.appended, r.ignored);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(workspace.id = %ws, "IMAP poll failed, will retry: {e:#}"),
        }
    }
}
