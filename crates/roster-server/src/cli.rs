//! The `roster` command line: `serve`, `worker`, `migrate` and `admin`.

use crate::app::accounts::{self, SignupInput};
use crate::app::audit::Actor;
use crate::config::{Config, LogFormat, Overrides};
use crate::startup::{self, Application};
use crate::state::AppState;
use clap::{Args, Parser, Subcommand};
use roster_core::email::EmailAddress;
use roster_core::names::{DisplayName, PersonName};
use roster_core::password::Password;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Accounts, teams and notification channels for monitoring and alerting platforms",
    long_about = "Roster serves the account, team and notification-channel API of a monitoring platform and \
        delivers its messages. Configuration comes from built-in defaults, then the TOML file given with \
        --config, then ROSTER_* environment variables (ROSTER_DATABASE_URL, ROSTER_SMTP_URL, \
        ROSTER_WORKER__CONCURRENCY, …), then flags."
)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "ROSTER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and, unless --no-worker, the delivery worker in the same process.
    ///
    /// With no configuration it listens on 127.0.0.1:8080 and keeps an SQLite database in ./data.
    Serve(ServeArgs),
    /// Run only the delivery worker, for deployments that separate the API from delivery.
    Worker(CommonArgs),
    /// Apply pending database migrations and exit (`serve` also applies them at start).
    Migrate(CommonArgs),
    /// Operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Args, Default)]
pub struct CommonArgs {
    /// Database URL: sqlite://path/to/file.db or postgres://user@host/db [env: ROSTER_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Directory for the embedded database and generated secret key [env: ROSTER_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log as human-readable text or as JSON lines [env: ROSTER_LOG_FORMAT]
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address to listen on [env: ROSTER_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// URL people reach the service at, for links in messages [env: ROSTER_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Run the API without the delivery worker (run `roster worker` separately).
    #[arg(long)]
    pub no_worker: bool,
    /// Print the effective configuration, secrets redacted, and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organization with its first team and owner, with the owner's address taken as verified.
    ///
    /// For operators who bootstrap accounts while public sign-up is disabled.
    CreateOrg(CreateOrgArgs),
}

#[derive(Debug, Args)]
pub struct CreateOrgArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The owner's login email.
    #[arg(long)]
    pub email: String,
    /// The owner's password (8–256 characters) [env: ROSTER_ADMIN_PASSWORD]
    #[arg(long, env = "ROSTER_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// The organization's name.
    #[arg(long)]
    pub organization: String,
    /// The owner's first name.
    #[arg(long, default_value = "Admin")]
    pub name: String,
    /// The owner's surname.
    #[arg(long, default_value = "User")]
    pub surname: String,
}

impl CommonArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            log_format: self.log_format.map(|f| match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
            ..Overrides::default()
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "roster failed");
            eprintln!("roster: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => {
            let overrides =
                Overrides { listen: args.listen, public_url: args.public_url.clone(), ..args.common.overrides() };
            let config = Config::load(file, &overrides)?;
            if args.print_config {
                print!("{}", config.to_redacted_toml()?);
                return Ok(());
            }
            crate::telemetry::init(&config);
            let app = Application::build(config, !args.no_worker).await?;
            app.run_until(shutdown_signal()).await
        }
        Command::Worker(common) => {
            let config = Config::load(file, &common.overrides())?;
            crate::telemetry::init(&config);
            startup::run_worker(config, shutdown_signal()).await
        }
        Command::Migrate(common) => {
            let config = Config::load(file, &common.overrides())?;
            crate::telemetry::init(&config);
            let store = startup::open_store(&config).await?;
            store.close().await;
            println!("migrations applied to {}", roster_store::redact_url(&config.database_url()));
            Ok(())
        }
        Command::Admin(AdminCommand::CreateOrg(args)) => create_org(file, args).await,
    }
}

async fn create_org(file: Option<&std::path::Path>, args: CreateOrgArgs) -> anyhow::Result<()> {
    let config = Config::load(file, &args.common.overrides())?;
    crate::telemetry::init(&config);
    let field = |name: &str, p: roster_core::validation::FieldProblem| anyhow::anyhow!("--{name}: {}", p.message);
    let input = SignupInput {
        email: EmailAddress::parse(&args.email).map_err(|p| field("email", p))?,
        password: Password::parse(&args.password).map_err(|p| field("password", p))?,
        name: PersonName::parse(&args.name).map_err(|p| field("name", p))?,
        surname: PersonName::parse(&args.surname).map_err(|p| field("surname", p))?,
        organization: DisplayName::parse(&args.organization).map_err(|p| field("organization", p))?,
    };
    let store = startup::open_store(&config).await?;
    let key = startup::load_secret_key(&config)?;
    let state = AppState::new(store.clone(), config, key, Default::default());
    let outcome = accounts::signup(&state, input, &Actor::default()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    println!(
        "{}",
        serde_json::json!({
            "organization_id": outcome.organization_id,
            "organization_slug": outcome.slug,
            "team_id": outcome.team_id,
            "customer_id": outcome.customer_id,
        })
    );
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
