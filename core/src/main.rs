//! The `steward` binary: parses the command line and config, then hands over to the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use steward::domain::auth::Role;
use steward::domain::ids::StaffId;
use steward::{startup, telemetry, Application, Config};

/// Steward: service operations — tickets, service processes, SLAs, partners and staff.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Config file (default: config/steward.toml when present). Env: STEWARD_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Service reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The monthly service review: KPIs against targets and the previous month, breaches,
    /// weakest stages, complaint tags and improvement points.
    Review {
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        month: String,
        /// json, md, html or csv.
        #[arg(long, default_value = "md")]
        format: String,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token and print its secret alone on the last line of stdout.
    Create {
        /// A name that says who or what uses the token.
        #[arg(long)]
        name: String,
        /// admin, supervisor, agent, qa or viewer.
        #[arg(long)]
        role: String,
        /// The staff member the token acts for (optional).
        #[arg(long, value_name = "ID")]
        staff_id: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(config).await?;
            tracing::info!(address = %app.local_addr(), "Steward is listening");
            app.run_until_signalled().await.context("server failed")?;
        }
        Command::Migrate => {
            let store = startup::open_store(&config).await?;
            store.close().await;
            println!("migrations applied");
        }
        Command::Token { command: TokenCommand::Create { name, role, staff_id } } => {
            let role = Role::parse("--role", &role).map_err(|e| anyhow::anyhow!("{e}"))?;
            let staff_id = staff_id.map(|s| StaffId::parse("--staff-id", &s)).transpose().map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = startup::open_store(&config).await?;
            let processes = Arc::new(startup::load_processes(&config)?);
            let services = steward::services::Services::new(store.clone(), processes, &config);
            let (token, secret) = services.create_token(&name, role, staff_id).await?;
            store.close().await;
            println!("created token {} ({}, role {})", token.id, token.name, token.role);
            println!("{}", secret.expose());
        }
        Command::Report { command: ReportCommand::Review { month, format, out } } => {
            let text = startup::review_report(&config, &month, &format).await?;
            match out {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}
