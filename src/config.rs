//! Settings from flags and `FERRODESK_*` environment variables (SPEC §2), in one clap struct.
//! Secrets are wrapped so `Debug` never prints them.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A secret string whose `Debug` is redacted.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// A URL that may carry credentials (database, SMTP, S3): its `Debug` shows
/// `scheme://***@host/…`, and the full text is reached only through [`SecretUrl::expose`].
#[derive(Clone)]
pub struct SecretUrl(String);

impl SecretUrl {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The URL with its credentials, for the one client that connects with it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretUrl(s.to_owned()))
    }
}

/// `scheme://user:pass@host/..` → `scheme://***@host/..`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Everything the server needs to start.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "FERRODESK_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// Data folder: SQLite file, attachments, keys. Created if missing.
    #[arg(
        long,
        env = "FERRODESK_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data-dir>/ferrodesk.db`.
    #[arg(long, env = "FERRODESK_DATABASE_URL", global = true)]
    pub database_url: Option<SecretUrl>,
    /// Email of the first admin, created on an empty database.
    #[arg(
        id = "first_admin_email",
        long = "first-admin-email",
        env = "FERRODESK_ADMIN_EMAIL",
        global = true,
        hide = true
    )]
    pub admin_email: Option<String>,
    /// Password of the first admin; random and printed once when absent.
    #[arg(
        id = "first_admin_password",
        long = "first-admin-password",
        env = "FERRODESK_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true,
        hide = true
    )]
    pub admin_password: Option<Secret>,
    /// Folder of the sentence model (`config.json`, `tokenizer.json`, `model.safetensors`;
    /// `scripts/fetch-model` fills it); defaults to `<data-dir>/models/all-MiniLM-L6-v2`.
    /// Without it, retrieval ranks by full text only.
    #[arg(long, env = "FERRODESK_MODEL_DIR", global = true)]
    pub model_dir: Option<PathBuf>,
    /// Public base URL used in links; defaults to `http://<bind>`.
    #[arg(long, env = "FERRODESK_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Outbound SMTP server (`smtp://host:port`, `smtps://user:pass@host`).
    #[arg(long, env = "FERRODESK_SMTP_URL", global = true)]
    pub smtp_url: Option<SecretUrl>,
    /// SLA scan interval in seconds.
    #[arg(
        long,
        env = "FERRODESK_SLA_TICK_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub sla_tick_seconds: u64,
    /// Allow webhook targets on private or loopback addresses.
    #[arg(
        long,
        env = "FERRODESK_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        global = true
    )]
    pub webhook_allow_private: bool,
    /// Retry backoff base for jobs: attempt n waits base·2ⁿ⁻¹ (with jitter), capped at one hour.
    #[arg(
        long,
        env = "FERRODESK_RETRY_BASE_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub retry_base_seconds: u64,
    /// Log format.
    #[arg(long, env = "FERRODESK_LOG", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log: LogFormat,
    /// API requests per minute allowed per token (and per address for public routes).
    #[arg(
        long,
        env = "FERRODESK_API_RATE_LIMIT",
        default_value_t = 1200,
        global = true
    )]
    pub api_rate_limit: u32,
    /// Public writes (portal submissions, replies, lookups, chat) per minute per address.
    #[arg(
        long,
        env = "FERRODESK_PUBLIC_RATE_LIMIT",
        default_value_t = 20,
        global = true
    )]
    pub public_rate_limit: u32,
    /// Largest accepted JSON body in bytes.
    #[arg(long, env = "FERRODESK_MAX_JSON_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_json_bytes: usize,
    /// Where attachments are kept: the data folder by default, or an S3-compatible bucket
    /// (`s3://bucket/prefix?endpoint=…&region=…`; credentials from `AWS_*` variables).
    #[arg(long, env = "FERRODESK_ATTACHMENT_STORE", global = true)]
    pub attachment_store: Option<SecretUrl>,
    /// Largest accepted attachment in bytes.
    #[arg(long, env = "FERRODESK_MAX_ATTACHMENT_BYTES", default_value_t = 25 * 1024 * 1024, global = true)]
    pub max_attachment_bytes: usize,
    /// Seconds a client has to send its request headers (also how long an idle keep-alive
    /// connection stays open) and the longest pause allowed while it sends a body.
    #[arg(long, env = "FERRODESK_READ_TIMEOUT_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub read_timeout_seconds: u64,
    /// Seconds a client has to send a whole request body (uploads included).
    #[arg(long, env = "FERRODESK_BODY_DEADLINE_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub body_deadline_seconds: u64,
    /// Days that delivered domain events, sent notifications and finished jobs are kept
    /// before housekeeping deletes them (webhook deliveries and the change feed do not read
    /// them after delivery).
    #[arg(long, env = "FERRODESK_EVENT_RETENTION_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=3650), global = true)]
    pub event_retention_days: u64,
    /// Run background jobs in this process (turn off on API-only nodes).
    #[arg(long, env = "FERRODESK_RUN_JOBS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub run_jobs: bool,
    /// Seconds a node holds a claimed job before another node may take it over (the node
    /// renews the hold while it works, so this bounds how long a dead node's jobs wait).
    #[arg(long, env = "FERRODESK_JOB_LEASE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub job_lease_seconds: u64,
    /// This node's name in the jobs it holds and in its logs (default: host name and process
    /// id).
    #[arg(long, env = "FERRODESK_NODE_NAME", global = true)]
    pub node_name: Option<String>,
    /// A bearer token `GET /metrics` asks for (open without one, like other exporters: it
    /// carries no personal data).
    #[arg(
        long,
        env = "FERRODESK_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<Secret>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or networks,
    /// comma-separated); from any other peer the header is ignored.
    #[arg(long, env = "FERRODESK_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy, global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Most PostgreSQL connections this node opens (N nodes open up to N times this; keep the
    /// sum, plus one listening connection a node, below the server's `max_connections`).
    #[arg(long, env = "FERRODESK_DATABASE_POOL", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..=1000), global = true)]
    pub database_pool: u32,
}

/// A trusted proxy: a network (`10.1.0.0/16`) or one address (`10.0.0.5`).
fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{s}` is not an address or a network like 10.0.0.0/8"))
}

impl Config {
    /// The effective database URL.
    #[must_use]
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("ferrodesk.db").display()),
        }
    }

    /// The public base URL without a trailing slash.
    #[must_use]
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// Defaults suitable for tests and embedding: everything as if no flag or variable were set.
    #[must_use]
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url: None,
            admin_email: None,
            admin_password: None,
            model_dir: None,
            public_url: None,
            smtp_url: None,
            sla_tick_seconds: 30,
            webhook_allow_private: false,
            retry_base_seconds: 10,
            log: LogFormat::Text,
            api_rate_limit: 1200,
            public_rate_limit: 20,
            max_json_bytes: 1024 * 1024,
            max_attachment_bytes: 25 * 1024 * 1024,
            attachment_store: None,
            read_timeout_seconds: 20,
            body_deadline_seconds: 300,
            event_retention_days: 7,
            run_jobs: true,
            job_lease_seconds: 60,
            node_name: None,
            database_pool: 16,
            trusted_proxies: Vec::new(),
            metrics_token: None,
        }
    }

    /// This node's name: `FERRODESK_NODE_NAME`, or the host name and process id.
    #[must_use]
    pub fn node_name(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "node".into());
            format!("{host}:{}", std::process::id())
        })
    }

    /// Names of `FERRODESK_*` variables in the environment that no setting reads (typos).
    #[must_use]
    pub fn unknown_env_vars() -> Vec<String> {
        Self::unknown_of(std::env::vars().map(|(k, _)| k))
    }

    /// The `FERRODESK_*` names among `names` that no flag or command reads.
    fn unknown_of(names: impl Iterator<Item = String>) -> Vec<String> {
        const KNOWN: &[&str] = &[
            "FERRODESK_BIND",
            "FERRODESK_DATA_DIR",
            "FERRODESK_DATABASE_URL",
            "FERRODESK_ADMIN_EMAIL",
            "FERRODESK_ADMIN_PASSWORD",
            "FERRODESK_PUBLIC_URL",
            "FERRODESK_MODEL_DIR",
            "FERRODESK_SMTP_URL",
            "FERRODESK_MAX_ATTACHMENT_BYTES",
            "FERRODESK_ATTACHMENT_STORE",
            "FERRODESK_SLA_TICK_SECONDS",
            "FERRODESK_WEBHOOK_ALLOW_PRIVATE",
            "FERRODESK_RETRY_BASE_SECONDS",
            "FERRODESK_LOG",
            "FERRODESK_EVENT_RETENTION_DAYS",
            "FERRODESK_API_RATE_LIMIT",
            "FERRODESK_PUBLIC_RATE_LIMIT",
            "FERRODESK_MAX_JSON_BYTES",
            "FERRODESK_RUN_JOBS",
            "FERRODESK_JOB_LEASE_SECONDS",
            "FERRODESK_NODE_NAME",
            "FERRODESK_DATABASE_POOL",
            "FERRODESK_TRUSTED_PROXIES",
            "FERRODESK_METRICS_TOKEN",
            "FERRODESK_READ_TIMEOUT_SECONDS",
            "FERRODESK_BODY_DEADLINE_SECONDS",
            // Read by `ferrodesk user create` and `ferrodesk workspace create`.
            "FERRODESK_NEW_USER_PASSWORD",
            "FERRODESK_NEW_ADMIN_PASSWORD",
            "FERRODESK_TEST_POSTGRES_URL",
            "FERRODESK_BENCH_TICKETS",
        ];
        names
            .filter(|k| k.starts_with("FERRODESK_") && !KNOWN.contains(&k.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_hide_their_credentials() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://data/f.db"), "sqlite://data/f.db");
        assert!(!format!("{:?}", Secret("hunter2".into())).contains("hunter2"));
    }

    #[test]
    fn only_names_nothing_reads_are_reported() {
        let names = [
            "FERRODESK_NEW_USER_PASSWORD",
            "FERRODESK_NEW_ADMIN_PASSWORD",
            "FERRODESK_SMTP_URL",
            "FERRODESK_SMPT_URL",
            "PATH",
        ]
        .map(str::to_owned);
        assert_eq!(
            Config::unknown_of(names.into_iter()),
            vec!["FERRODESK_SMPT_URL".to_owned()]
        );
    }
}
