//! What domain services and jobs may use besides their arguments: the database, attachment
//! storage, the mail client, the public base URL for links, the policy for outbound requests
//! and the login throttle. It sits below the domain, so a service never reaches for the
//! application container (`app`), which adds the HTTP concerns (request budgets, shutdown)
//! and holds one `Ctx`. Most services need only the database and take `&Store`; those that
//! need more take `&Ctx`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::auth::throttle::LoginThrottle;
use crate::config::Config;
use crate::email::outbound::Mailer;
use crate::files::Files;
use crate::store::Store;

/// The services' context. One per server; cheap to share behind an `Arc`.
pub struct Ctx {
    /// The database (SQLite or PostgreSQL), with its in-process memory.
    pub store: Store,
    /// Attachment storage (the data folder or an S3-compatible bucket).
    pub files: Files,
    /// The SMTP client (none without `FERRODESK_SMTP_URL`: mail is kept, marked undeliverable).
    pub mailer: Option<Arc<Mailer>>,
    /// `FERRODESK_PUBLIC_URL` without a trailing slash, for links in messages.
    pub public_url: String,
    /// `FERRODESK_WEBHOOK_ALLOW_PRIVATE`: whether outbound requests (webhooks, integrations)
    /// may reach private addresses.
    pub allow_private_webhooks: bool,
    /// `FERRODESK_RETRY_BASE_SECONDS`: the first step of the job retry backoff.
    pub retry_base_seconds: u64,
    /// `FERRODESK_EVENT_RETENTION_DAYS`: how long housekeeping keeps delivered events,
    /// sent notifications and finished jobs.
    pub event_retention_days: u64,
    /// Failed-login counters per account and address.
    pub login_throttle: LoginThrottle,
    /// The sentence model for semantic retrieval, or why it is not in use.
    pub semantic: crate::ai::semantic::Availability,
    /// Signed-in callers by token, for the current epoch of sign-in facts.
    pub tokens: crate::auth::cache::TokenCache,
    /// This server's measurements (`GET /metrics`).
    pub metrics: crate::metrics::Metrics,
}

impl Ctx {
    /// The context of `config` around a connected `store`: opens attachment storage and the
    /// mail client.
    pub fn new(config: &Config, store: Store) -> anyhow::Result<Self> {
        let files = match &config.attachment_store {
            Some(url) => Files::s3(url.expose())
                .context("FERRODESK_ATTACHMENT_STORE is not a usable s3:// URL")?,
            None => Files::local(&config.data_dir.join("attachments"))
                .context("could not open the attachments folder")?,
        };
        let mailer = match &config.smtp_url {
            Some(u) => Some(Arc::new(
                Mailer::new(u.expose())
                    .context("FERRODESK_SMTP_URL is not a valid smtp:// or smtps:// URL")?,
            )),
            None => None,
        };
        Ok(Ctx {
            store,
            files,
            mailer,
            public_url: config.public_url(),
            allow_private_webhooks: config.webhook_allow_private,
            retry_base_seconds: config.retry_base_seconds,
            event_retention_days: config.event_retention_days,
            login_throttle: LoginThrottle::new(Duration::from_secs(900), 5, 50),
            semantic: {
                let dir = config
                    .model_dir
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join("models").join("all-MiniLM-L6-v2"));
                let s = crate::ai::semantic::Availability::load(&dir);
                match &s {
                    crate::ai::semantic::Availability::Loaded(_) => {
                        tracing::info!("sentence model loaded from {}", dir.display());
                    }
                    crate::ai::semantic::Availability::Missing(why) => tracing::info!("{why}"),
                }
                s
            },
            tokens: crate::auth::cache::TokenCache::default(),
            metrics: crate::metrics::Metrics::default(),
        })
    }
}
