//! Command line: `ferrodesk [serve]`, `migrate`, `seed`, `user create`, `workspace create`,
//! `backup`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "ferrodesk",
    version,
    about = "Self-hosted customer-support helpdesk"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The settings each command reads besides its own options. The settings are global flags
/// (`ferrodesk --data-dir x seed` and `ferrodesk seed --data-dir x` both work), but a command's
/// help shows only those that change what it does; `serve` shows them all.
const SETTINGS_OF: &[(&str, &[&str])] = &[
    ("migrate", &["data_dir", "database_url", "log"]),
    ("seed", &["data_dir", "database_url", "log"]),
    ("embed", &["data_dir", "database_url", "log", "model_dir"]),
    ("user", &["data_dir", "database_url", "log"]),
    ("workspace", &["data_dir", "database_url", "log"]),
    ("backup", &["data_dir", "database_url", "log"]),
    ("restore", &["data_dir", "database_url", "log"]),
    ("import", &["data_dir", "database_url", "log"]),
];

/// The command line's definition, with each command's help limited to the settings it reads.
#[must_use]
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    let settings: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    for (name, keep) in SETTINGS_OF {
        cmd = cmd.mut_subcommand(*name, |sub| hide_settings(sub, &settings, keep));
    }
    cmd
}

/// Gives `sub` (and its own subcommands) a hidden copy of each setting it does not read;
/// clap then does not propagate the shown one there, and the value still reaches the
/// settings when given.
fn hide_settings(mut sub: clap::Command, settings: &[clap::Arg], keep: &[&str]) -> clap::Command {
    for a in settings {
        if !keep.contains(&a.get_id().as_str()) {
            sub = sub.arg(a.clone().hide(true));
        }
    }
    let children: Vec<String> = sub
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for child in children {
        sub = sub.mut_subcommand(child, |c| hide_settings(c, settings, keep));
    }
    sub
}

impl Cli {
    /// Parses the process's arguments (exits with the usage on a mistake, as clap does).
    #[must_use]
    pub fn from_env() -> Self {
        let matches = command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Fill a workspace with realistic synthetic tickets (demos, benchmarks).
    Seed {
        /// How many tickets.
        #[arg(long, default_value_t = 1000)]
        tickets: usize,
        /// Workspace slug.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Compute the sentence vectors that are missing (tickets and articles saved before the
    /// model was installed, or seeded and imported in bulk).
    Embed,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Write a consistent copy of the SQLite database to FILE.
    Backup { file: PathBuf },
    /// Bring a team's history in from another helpdesk (server running or stopped). A second
    /// run skips what the first wrote; bad records are reported and skipped.
    Import {
        #[command(subcommand)]
        source: ImportCommand,
    },
    /// Replace the SQLite database of the data folder with a backup FILE (stop the server
    /// first). Refuses to replace a database holding users or tickets without --force.
    Restore {
        file: PathBuf,
        /// Replace a database that holds data.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// An RFC 4180 CSV file with a header row, one ticket a row: subject, description,
    /// requester_email, requester_name, status, priority, category, tags (separated by `;`),
    /// created_at, assignee_email, external_ref.
    Csv {
        file: PathBuf,
        /// Read a column under another name as a field (`--map "E-mail=requester_email"`).
        #[arg(long = "map", value_name = "COLUMN=FIELD")]
        map: Vec<String>,
        /// Workspace slug.
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Where to write the report (JSON); default: FILE.report.json.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Zendesk's full JSON export (one object a line): tickets with their `comments`, the
    /// users, and optionally the organizations.
    Zendesk {
        #[arg(long)]
        tickets: PathBuf,
        #[arg(long)]
        users: PathBuf,
        #[arg(long)]
        organizations: Option<PathBuf>,
        /// Download the comments' attachments (each up to FERRODESK_MAX_ATTACHMENT_BYTES)
        /// and store them with their messages; without it they are listed in the report.
        #[arg(long)]
        fetch_attachments: bool,
        /// Workspace slug.
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Where to write the report (JSON); default: TICKETS.report.json.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Backfill from Thulium's ticket API through the Thulium bridge's mapping (channel
    /// `thulium`, `external_ref` = the Thulium id): tickets the bridge already holds are
    /// skipped, and the bridge never adds a backfilled message twice.
    Thulium {
        /// The Thulium system's address (`https://acme.thulium.com`).
        #[arg(long)]
        url: String,
        /// An API user's login (Thulium: Administration → Users → API users).
        #[arg(long)]
        login: String,
        /// The API user's password.
        #[arg(long, env = "FERRODESK_THULIUM_PASSWORD", hide_env_values = true)]
        password: String,
        /// Only tickets changed on or after this date (`2026-01-31`), as Thulium's `date_from`.
        #[arg(long)]
        since: Option<String>,
        /// The Thulium system's time zone (its times carry none).
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Read a Thulium status id as a Ferrodesk status (`--status-map 4=pending`); ids not
        /// given are read from the status's name.
        #[arg(long = "status-map", value_name = "ID=STATUS")]
        status_map: Vec<String>,
        /// An agent's address for a Thulium login (`--agent akowalski=anna@acme.example`).
        #[arg(long = "agent", value_name = "LOGIN=EMAIL")]
        agents: Vec<String>,
        /// Address other logins as LOGIN@DOMAIN (unknown ones become inactive agents).
        #[arg(long)]
        agent_domain: Option<String>,
        /// Workspace slug.
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Where to write the report (JSON); default: thulium-import.report.json.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a staff user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "agent")]
        role: String,
        /// Password (or set FERRODESK_NEW_USER_PASSWORD); random and printed when absent.
        #[arg(long, env = "FERRODESK_NEW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, default_value = "default")]
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace with its first admin.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, env = "FERRODESK_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs the parsed command; returns the process exit code.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(cli.config.log);
    for var in Config::unknown_env_vars() {
        tracing::warn!("Unknown setting {var} in the environment is ignored");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run_async(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// Long: one arm per command of the CLI.
async fn run_async(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "could not create data folder {}: {e}",
            config.data_dir.display()
        )
    })?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .map_err(|e| anyhow::anyhow!("could not listen on {}: {e}", config.bind))?;
            let app = crate::app::App::new(config, crate::app::default_jobs()).await?;
            crate::app::launch(app, listener, crate::app::shutdown_signal()).await
        }
        Command::Migrate => {
            let store = crate::store::Store::connect(&config.database_url()).await?;
            store.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed { tickets, workspace } => {
            let app = crate::app::App::new(config, crate::app::default_jobs()).await?;
            let started = std::time::Instant::now();
            let mut progress = Progress::new(tickets, "tickets");
            crate::seed::seed(&app, &workspace, tickets, 42, &mut |done| {
                progress.at(done);
            })
            .await?;
            progress.finish();
            println!(
                "seeded {tickets} tickets in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Embed => {
            let app = crate::app::App::new(config, crate::app::default_jobs()).await?;
            let started = std::time::Instant::now();
            let n = crate::ai::semantic::backfill(&app, |kind, done| {
                if done % 1024 < 32 {
                    println!("{}s: {done} embedded", kind.as_str());
                }
            })
            .await?;
            println!(
                "embedded {n} articles and tickets in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    role,
                    password,
                    workspace,
                },
        } => {
            let app = crate::app::App::new(config, crate::app::default_jobs()).await?;
            let role = crate::tickets::status::Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!(
                    "role must be one of {}",
                    crate::tickets::status::Role::expected()
                )
            })?;
            let (password, shown) = match password {
                Some(p) => (p, None),
                None => {
                    let p = crate::auth::tokens::random_b64(18);
                    (p.clone(), Some(p))
                }
            };
            let actor = crate::seed::workspace_admin(&app, &workspace).await?;
            let u = crate::workspace::users::create(
                &app.store,
                &actor,
                crate::workspace::users::NewUser {
                    email,
                    name,
                    role,
                    password,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
            println!("created user {} ({}) id {}", u.email, u.role, u.id);
            if let Some(p) = shown {
                println!("password: {p}");
            }
            Ok(())
        }
        Command::Workspace {
            command:
                WorkspaceCommand::Create {
                    name,
                    admin_email,
                    admin_password,
                },
        } => {
            let app = crate::app::App::new(config, crate::app::default_jobs()).await?;
            let (password, shown) = match admin_password {
                Some(p) => (p, None),
                None => {
                    let p = crate::auth::tokens::random_b64(18);
                    (p.clone(), Some(p))
                }
            };
            let owner = crate::seed::owner(&app).await?;
            let (ws, admin) = crate::workspace::workspaces::create(
                &app.store,
                &owner,
                crate::workspace::workspaces::NewWorkspace {
                    name,
                    admin_email,
                    admin_password: password,
                    admin_name: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
            println!(
                "created workspace {} (slug {}) with admin {}",
                ws.name, ws.slug, admin.email
            );
            if let Some(p) = shown {
                println!("admin password: {p}");
            }
            Ok(())
        }
        Command::Import { source } => import(config, source).await,
        Command::Backup { file } => {
            let store = crate::store::Store::connect(&config.database_url()).await?;
            store.backup_sqlite(&file).await?;
            println!("backup written to {}", file.display());
            Ok(())
        }
        Command::Restore { file, force } => {
            let url = config.database_url();
            let r = crate::store::Store::restore_sqlite(&file, &url, force).await?;
            // Brings a backup of an older version up to this one (and proves it opens).
            let store = crate::store::Store::connect(&url).await?;
            store.migrate().await?;
            store.close().await;
            println!(
                "restored {} (migration {}, {} tickets, {} users); copy the attachments folder \
                 of the same backup beside it",
                file.display(),
                r.migration,
                r.tickets,
                r.users
            );
            Ok(())
        }
    }
}

/// `ferrodesk import …`: runs the importer, prints the summary and writes the report.
async fn import(config: crate::config::Config, source: ImportCommand) -> anyhow::Result<()> {
    use std::io::BufReader;
    let open = |p: &PathBuf| {
        std::fs::File::open(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let app = crate::app::App::new(config, crate::app::default_jobs()).await?;
    let (result, main, report) = match source {
        ImportCommand::Csv {
            file,
            map,
            workspace,
            report,
        } => {
            let maps = crate::import::csv::parse_maps(&map)?;
            let input = open(&file)?;
            let mut importer = crate::import::Importer::new(&app, &workspace, "csv").await?;
            // The bar counts rows against an estimate from the file's size.
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let mut progress =
                Progress::new(usize::try_from(size / 200).unwrap_or(1).max(1), "rows");
            crate::import::csv::import(&mut importer, BufReader::new(input), &maps, &mut |rows| {
                progress.at(rows)
            })
            .await?;
            progress.finish();
            (importer.finish(), file, report)
        }
        ImportCommand::Zendesk {
            tickets,
            users,
            organizations,
            fetch_attachments,
            workspace,
            report,
        } => {
            let mut importer = crate::import::Importer::new(&app, &workspace, "zendesk").await?;
            if fetch_attachments {
                importer.fetch_files(app.config.max_attachment_bytes)?;
            }
            let orgs = organizations
                .as_ref()
                .map(open)
                .transpose()?
                .map(BufReader::new);
            let people =
                crate::import::zendesk::people(&mut importer, BufReader::new(open(&users)?), orgs)?;
            let input = open(&tickets)?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let mut progress =
                Progress::new(usize::try_from(size / 2000).unwrap_or(1).max(1), "tickets");
            crate::import::zendesk::import(
                &mut importer,
                &people,
                BufReader::new(input),
                &mut |n| progress.at(n),
            )
            .await?;
            progress.finish();
            (importer.finish(), tickets, report)
        }
        ImportCommand::Thulium {
            url,
            login,
            password,
            since,
            timezone,
            status_map,
            agents,
            agent_domain,
            workspace,
            report,
        } => {
            let mapping = thulium_mapping(&timezone, &status_map, &agents, agent_domain)?;
            let api = crate::integrations::thulium_api::Api::new(&url, &login, &password)?;
            let mut importer = crate::import::Importer::new(&app, &workspace, "thulium").await?;
            // Thulium does not say how many tickets there are; the bar grows as pages come.
            let mut progress = Progress::new(1, "tickets");
            crate::import::thulium::import(
                &mut importer,
                &api,
                &mapping,
                since.as_deref(),
                &mut |n| progress.at_growing(n),
            )
            .await?;
            progress.finish();
            (importer.finish(), PathBuf::from("thulium-import"), report)
        }
    };
    let path = report.unwrap_or_else(|| {
        let mut p = main.into_os_string();
        p.push(".report.json");
        PathBuf::from(p)
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&result)?)
        .map_err(|e| anyhow::anyhow!("cannot write the report {}: {e}", path.display()))?;
    for f in result.failed.iter().take(20) {
        eprintln!("skipped {}: {}", f.origin, f.reason);
    }
    if result.failed.len() > 20 {
        eprintln!("… and {} more (see the report)", result.failed.len() - 20);
    }
    println!("{}", result.summary());
    println!("report: {}", path.display());
    Ok(())
}

/// The Thulium backfill's reading of the command line.
fn thulium_mapping(
    timezone: &str,
    status_map: &[String],
    agents: &[String],
    agent_domain: Option<String>,
) -> anyhow::Result<crate::integrations::thulium_api::Mapping> {
    let pair = |s: &String, what: &str| {
        s.split_once('=')
            .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
            .ok_or_else(|| anyhow::anyhow!("`{s}` is not {what}"))
    };
    let mut statuses = std::collections::HashMap::new();
    for s in status_map {
        let (id, word) = pair(s, "ID=STATUS")?;
        let status =
            crate::tickets::status::Status::parse(&word.to_ascii_lowercase()).ok_or_else(|| {
                anyhow::anyhow!("`{word}` is not a status (new, open, pending, resolved, closed)")
            })?;
        statuses.insert(id, status);
    }
    let mut by_login = std::collections::HashMap::new();
    for a in agents {
        let (login, email) = pair(a, "LOGIN=EMAIL")?;
        let email = crate::validate::email("agent", &email)
            .map_err(|e| anyhow::anyhow!("--agent {login}: {}", e.message))?;
        by_login.insert(login, email);
    }
    Ok(crate::integrations::thulium_api::Mapping {
        tz: jiff::tz::TimeZone::get(timezone)
            .map_err(|e| anyhow::anyhow!("--timezone {timezone}: {e}"))?,
        statuses,
        agents: by_login,
        agent_domain: agent_domain.map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase()),
    })
}

/// Progress of a long command: a bar on a terminal, a line every tenth otherwise (logs, CI).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    what: &'static str,
    tenths: usize,
    started: std::time::Instant,
}

impl Progress {
    fn new(total: usize, what: &'static str) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} {msg} ({elapsed}, {eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(what);
            bar
        });
        Progress {
            bar,
            total,
            what,
            tenths: 0,
            started: std::time::Instant::now(),
        }
    }

    fn at(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            return;
        }
        let tenths = done * 10 / self.total.max(1);
        if tenths > self.tenths {
            self.tenths = tenths;
            let secs = self.started.elapsed().as_secs_f64();
            #[expect(clippy::cast_precision_loss, reason = "a rate to print")]
            let rate = done as f64 / secs.max(1e-3);
            eprintln!(
                "{done}/{} {} ({rate:.0}/s, {secs:.0} s)",
                self.total, self.what
            );
        }
    }

    /// Progress with no known total: the bar's length follows the count; without a terminal,
    /// a line every 1,000.
    fn at_growing(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(done as u64);
            bar.set_position(done as u64);
            return;
        }
        if done / 1000 > self.tenths {
            self.tenths = done / 1000;
            let secs = self.started.elapsed().as_secs_f64();
            #[expect(clippy::cast_precision_loss, reason = "a rate to print")]
            let rate = done as f64 / secs.max(1e-3);
            eprintln!("{done} {} ({rate:.0}/s, {secs:.0} s)", self.what);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_says_which_settings_it_reads() {
        let cmd = super::command();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            if name != "serve" && name != "help" {
                assert!(
                    super::SETTINGS_OF.iter().any(|(n, _)| *n == name),
                    "{name} is missing from SETTINGS_OF"
                );
            }
        }
        for (_, keep) in super::SETTINGS_OF {
            for id in *keep {
                assert!(
                    cmd.get_arguments().any(|a| a.get_id() == *id),
                    "{id} is not a setting"
                );
            }
        }
    }
}
