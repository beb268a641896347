//! The running application: `App` holds every dependency, `launch` serves HTTP on a listener
//! until shutdown, and background jobs run beside it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::throttle::LoginThrottle;
use crate::config::Config;
use crate::jobs::Registry;
use crate::jobs::runner::Runner;
use crate::store::Store;

/// Per-key request budget (GCRA) for `/api` routes.
pub type KeyedLimiter =
    governor::DefaultKeyedRateLimiter<String, governor::middleware::StateInformationMiddleware>;

/// Everything a request or job may need. One per process; shared as `AppState`.
pub struct App {
    /// Settings the process started with.
    pub config: Config,
    /// The database (SQLite or PostgreSQL).
    pub store: Store,
    /// Job handlers by name.
    pub jobs: Registry,
    /// Failed-login counters per account and address.
    pub login_throttle: LoginThrottle,
    /// API request budgets per token or client address.
    pub api_limiter: KeyedLimiter,
    /// Budgets of public writes (portal, chat, lookups) per client address.
    pub public_limiter: KeyedLimiter,
    /// Group commit of ticket creates (SQLite only).
    pub create_batcher: Option<crate::tickets::batch::Batcher>,
    /// Attachment storage.
    pub files: crate::files::Files,
    /// The SMTP client (none without `FERRODESK_SMTP_URL`: mail is kept, marked undeliverable).
    pub mailer: Option<Arc<crate::email::outbound::Mailer>>,
    /// Turns true when the server starts shutting down: long-lived answers (live-update
    /// streams) end so in-flight requests can drain.
    pub closing: watch::Sender<bool>,
}

/// Shared handle passed to handlers.
pub type AppState = Arc<App>;

impl App {
    /// Connects, migrates and bootstraps the database, then builds the app.
    pub async fn new(config: Config, jobs: Registry) -> anyhow::Result<AppState> {
        install_tls();
        let store = Store::connect(&config.database_url()).await?;
        store.migrate().await.context("database migration failed")?;
        if let Some(b) = crate::workspace::workspaces::bootstrap(
            &store,
            config.admin_email.as_deref(),
            config.admin_password.as_ref().map(|s| s.0.as_str()),
        )
        .await?
        {
            match b.generated_password {
                Some(p) => println!(
                    "created first admin {} with password {p} (shown once; change it after login)",
                    b.admin_email
                ),
                None => println!("created first admin {}", b.admin_email),
            }
        }
        let per_minute = std::num::NonZeroU32::new(config.api_rate_limit.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        let api_limiter = governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute))
            .with_middleware::<governor::middleware::StateInformationMiddleware>();
        let public_per_minute = std::num::NonZeroU32::new(config.public_rate_limit.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        let public_limiter =
            governor::RateLimiter::keyed(governor::Quota::per_minute(public_per_minute))
                .with_middleware::<governor::middleware::StateInformationMiddleware>();
        let create_batcher = (store.backend() == crate::store::Backend::Sqlite)
            .then(|| crate::tickets::batch::Batcher::spawn(store.clone()));
        let files = match &config.attachment_store {
            Some(url) => crate::files::Files::s3(&url.0)
                .context("FERRODESK_ATTACHMENT_STORE is not a usable s3:// URL")?,
            None => crate::files::Files::local(&config.data_dir.join("attachments"))
                .context("could not open the attachments folder")?,
        };
        let mailer = match &config.smtp_url {
            Some(u) => Some(Arc::new(
                crate::email::outbound::Mailer::new(&u.0)
                    .context("FERRODESK_SMTP_URL is not a valid smtp:// or smtps:// URL")?,
            )),
            None => None,
        };
        Ok(Arc::new(App {
            config,
            store,
            jobs,
            login_throttle: LoginThrottle::new(Duration::from_secs(900), 5, 50),
            api_limiter,
            public_limiter,
            create_batcher,
            files,
            mailer,
            closing: watch::channel(false).0,
        }))
    }

    /// The job runner of this process.
    #[must_use]
    pub fn runner(&self) -> Runner {
        Runner {
            store: self.store.clone(),
            registry: self.jobs.clone(),
            retry_base_seconds: self.config.retry_base_seconds,
            sla_tick: Duration::from_secs(self.config.sla_tick_seconds),
            mailer: self.mailer.clone(),
            public_url: self.config.public_url(),
            allow_private_webhooks: self.config.webhook_allow_private,
        }
    }

    /// Runs every due job now (tests drain with this instead of sleeping).
    pub async fn run_pending_jobs(&self) -> crate::error::Result<usize> {
        self.runner().drain().await
    }
}

/// Installs the process's TLS crypto provider (ring) for every TLS client (S3, IMAP, SMTP);
/// harmless when already installed.
pub fn install_tls() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// The job handlers Ferrodesk ships. Later capabilities (mail, webhooks, SLA) add theirs here.
#[must_use]
pub fn default_jobs() -> Registry {
    Registry::default()
        .with::<crate::email::outbound::DeliverNotification>()
        .with::<crate::webhooks::DeliverWebhook>()
        .with::<crate::integrations::escalation::Escalate>()
        .with::<crate::integrations::crm::CrmSync>()
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests and
/// lets the job runner finish its current job.
pub async fn launch(
    app: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let runner = app
        .config
        .run_jobs
        .then(|| tokio::spawn(app.runner().run_forever(stop_rx.clone())));
    let poller = app.config.run_jobs.then(|| {
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut last = std::collections::HashMap::new();
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tick.tick() => crate::email::imap::poll_due(&app, &mut last).await,
                }
            }
        })
    });
    // The console's view counts, ready before the first inbox asks for them.
    tokio::spawn({
        let store = app.store.clone();
        async move {
            if let Err(e) = crate::tickets::list::warm_view_counts(&store).await {
                tracing::warn!("Could not count the queues at start: {e}");
            }
        }
    });
    let router = crate::http::router(app.clone());
    println!("listening on http://{addr}");
    tracing::info!(%addr, backend = ?app.store.backend(), "Ferrodesk is ready");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown({
        let app = app.clone();
        async move {
            shutdown.await;
            tracing::info!("Shutting down: draining requests");
            app.closing.send_replace(true);
        }
    })
    .await?;
    let _ = stop_tx.send(true);
    if let Some(r) = runner {
        let _ = r.await;
    }
    if let Some(p) = poller {
        let _ = p.await;
    }
    app.store.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
