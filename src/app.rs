//! The running application: `App` holds every dependency, `launch` serves HTTP on a listener
//! until shutdown, and background jobs run beside it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::ctx::Ctx;
use crate::jobs::Registry;
use crate::jobs::runner::Runner;
use crate::store::Store;

/// The server: the services' context plus what only the HTTP edge needs. One per process;
/// shared as `AppState`. It dereferences to its [`Ctx`], so a handler passes `&app` (or
/// `&app.store`) straight to a service.
pub struct App {
    /// What services and jobs use: database, files, mail, links, outbound policy.
    pub ctx: Arc<Ctx>,
    /// Settings the process started with.
    pub config: Config,
    /// Job handlers by name, and the periodic scans.
    pub jobs: Registry,
    /// API request budgets per token or client address.
    pub api_limiter: crate::http::budget::Budget,
    /// Budgets of public writes (portal, chat, lookups) per client address.
    pub public_limiter: crate::http::budget::Budget,
    /// Turns true when the server starts shutting down: long-lived answers (live-update
    /// streams) end so in-flight requests can drain.
    pub closing: watch::Sender<bool>,
    /// This node's name (`FERRODESK_NODE_NAME`, or host name and process id).
    pub node: String,
    /// Live updates for this node's open consoles (`tickets::live`), fed while `launch` runs.
    pub live: crate::tickets::live::Hub,
}

impl std::ops::Deref for App {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

/// Shared handle passed to handlers.
pub type AppState = Arc<App>;

impl App {
    /// Connects, migrates and bootstraps the database, then builds the app.
    pub async fn new(config: Config, jobs: Registry) -> anyhow::Result<AppState> {
        install_tls();
        let store = Store::connect_pooled(&config.database_url(), config.database_pool).await?;
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
        let ctx = Arc::new(Ctx::new(&config, store)?);
        Ok(Arc::new(App {
            ctx,
            api_limiter: crate::http::budget::Budget::per_minute(config.api_rate_limit),
            public_limiter: crate::http::budget::Budget::per_minute(config.public_rate_limit),
            jobs,
            closing: watch::channel(false).0,
            live: crate::tickets::live::Hub::default(),
            node: config.node_name(),
            config,
        }))
    }

    /// The job runner of this process.
    #[must_use]
    pub fn runner(&self) -> Runner {
        Runner {
            ctx: self.ctx.clone(),
            registry: self.jobs.clone(),
            scan_every: Duration::from_secs(self.config.sla_tick_seconds),
            lease: Duration::from_secs(self.config.job_lease_seconds),
            node: self.node.clone(),
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

/// The job handlers and periodic scans Ferrodesk ships.
#[must_use]
pub fn default_jobs() -> Registry {
    Registry::default()
        .with::<crate::email::outbound::DeliverNotification>()
        .with::<crate::webhooks::DeliverWebhook>()
        .with::<crate::integrations::escalation::Escalate>()
        .with::<crate::integrations::crm::CrmSync>()
        .with::<crate::portal::SendAccess>()
        .with::<crate::ai::summaries::Summarize>()
        .with::<crate::ai::semantic::Embed>()
        .with::<crate::workspace::privacy::DeleteFiles>()
        .every("SLA scan", |store, now| {
            Box::pin(async move { crate::sla::scan::run(&store, now).await.map(drop) })
        })
        .every("daily report scan", |store, now| {
            Box::pin(async move { crate::analytics::report::scan(&store, now).await.map(drop) })
        })
        .every("time rules scan", |store, now| {
            Box::pin(async move {
                crate::workflow::rules::scan::run(&store, now)
                    .await
                    .map(drop)
            })
        })
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
                    _ = tick.tick() => crate::email::imap::poll_due(&app.ctx, &mut last).await,
                }
            }
        })
    });
    let pump = tokio::spawn(app.live.clone().run(app.store.clone(), stop_rx.clone()));
    // The console's view counts, ready before the first inbox asks for them.
    tokio::spawn({
        let store = app.store.clone();
        async move {
            if let Err(e) = crate::tickets::list::warm_view_counts(&store).await {
                tracing::warn!("Could not count the queues at start: {e}");
            }
        }
    });
    // Half-configured mail loses nothing (it is kept, marked undeliverable) but should be
    // fixed: say so at start, per workspace, as the admin's settings page does.
    warn_about_mail(&app.ctx).await;
    let router = crate::http::router(app.clone());
    println!("listening on http://{addr}");
    tracing::info!(%addr, backend = ?app.store.backend(), "Ferrodesk is ready");
    let header_timeout = Duration::from_secs(app.config.read_timeout_seconds);
    let trusted: Arc<[ipnet::IpNet]> = app.config.trusted_proxies.clone().into();
    crate::http::serve::serve(listener, router, header_timeout, trusted, {
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
    let _ = pump.await;
    app.store.close().await;
    Ok(())
}

async fn warn_about_mail(ctx: &Ctx) {
    let workspaces = match ctx.store.read().await {
        Ok(mut conn) => crate::store::workspaces::list(&mut conn)
            .await
            .unwrap_or_default(),
        Err(_) => return,
    };
    for w in workspaces {
        if let Ok(state) = crate::email::outbound::mail_state(ctx, w.id).await
            && let Some(warning) = state.warning()
        {
            tracing::warn!(workspace = %w.slug, "{warning}");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called, not when
/// the future is first polled: the server polls it from a task of its own that may start
/// after the first request is answered, and a SIGTERM before then ended the process at once
/// instead of shutting it down.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {},
                () = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
