//! The `steward` binary: parses the command line and config, then hands over to the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use steward_domain::auth::Role;
use steward_domain::ids::StaffId;
use steward_server::{startup, telemetry, Application, Config};

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
    /// People's logins to the console: the first admin, and fresh set-password links.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write, check and try out plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Fill the configured database with a year of deterministic sample data: staff with
    /// training records, partners, and tickets whose whole lives (events, SLA clocks and
    /// alerts, reviews, delegations, surveys) follow the same domain rules as the API,
    /// written in batches.
    Seed {
        /// How many tickets to create.
        #[arg(long)]
        tickets: u64,
        /// At most this many comments per ticket, on top of its stage moves.
        #[arg(long, default_value_t = 4)]
        events_per_ticket: u64,
        /// The same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Tickets written per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Seed the configured database (empty, or holding an earlier run's seed with --reuse) and
    /// measure the benchmark rows P1–P16 against the real server, started from this binary;
    /// prints a markdown table (see BENCHMARKS.md).
    Bench {
        /// A small run that only proves the tool works.
        #[arg(long)]
        quick: bool,
        /// How many tickets to seed (default 1000000; 300 with --quick).
        #[arg(long)]
        tickets: Option<u64>,
        /// Also write the report as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Measure only these rows (e.g. `P9,P10`); the database is seeded all the same.
        #[arg(long, value_delimiter = ',', value_name = "ROWS")]
        rows: Option<Vec<String>>,
        /// Keep the tickets an earlier run seeded (same --tickets sequence) and seed only the
        /// ones missing, instead of requiring an empty database.
        #[arg(long)]
        reuse: bool,
        /// P16: a plain SMTP server on this host (no TLS, no auth; aiosmtpd, a local relay)
        /// that the mail worker sends to, as HOST:PORT. Without it P16 is not measured.
        #[arg(long, value_name = "HOST:PORT")]
        smtp: Option<String>,
        /// P15: a plain IMAP server on this host (dovecot), as imap://HOST:PORT; the bench
        /// appends its messages to --imap-folder and fetches them. Without it P15 is not measured.
        #[arg(long, value_name = "URL")]
        imap: Option<String>,
        /// The IMAP user (with --imap).
        #[arg(long, value_name = "USER", default_value = "support")]
        imap_user: String,
        /// The environment variable holding the IMAP user's password (with --imap).
        #[arg(long, value_name = "VAR", default_value = "STEWARD_IMAP_PASSWORD")]
        imap_password_env: String,
        /// The IMAP folder the bench's messages go to (with --imap).
        #[arg(long, value_name = "FOLDER", default_value = "INBOX")]
        imap_folder: String,
    },
    /// Hand one message on stdin to the server, for an MTA's pipe (like rt-mailgate). Exit
    /// codes: 0 taken, 75 try again later (unreachable, 5xx), 65 refused for good (too large,
    /// not a message), 77 the token is refused, 64 a usage error. Needs no config file.
    Mailgate {
        /// The server's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// A file holding a token with role `mailgate` (or admin).
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// Give up on the server after this many seconds (then exit 75).
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
    /// Service reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Write a working plugin template into DIR/NAME.
    New {
        name: String,
        /// wasm (a Rust crate built for wasm32-wasip2) or rhai (a script).
        #[arg(long, visible_alias = "kind", default_value = "rhai")]
        runtime: String,
        /// Where to create the plugin directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The steward-sdk crate a WASM template depends on (default: `sdk/` in the working
        /// directory, else `sdk/` beside the installed binary's `bin/`).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Build a WASM plugin (`cargo build --release --target wasm32-wasip2` in DIR) and put the
    /// component beside its manifest, where `entry` points; copy DIR without `target/`.
    Build {
        dir: PathBuf,
        /// Cargo's target directory (default: DIR/target, or CARGO_TARGET_DIR when set).
        #[arg(long, value_name = "DIR", env = "CARGO_TARGET_DIR")]
        target_dir: Option<PathBuf>,
    },
    /// Validate a plugin's manifest and check its entry against the contract.
    Check { dir: PathBuf },
    /// Run a plugin's hooks under production limits on samples fitted to it (or a JSON fixture):
    /// a ticket in its own process, every move of that process, one event of every kind, each
    /// declared scorecard and KPI.
    Test {
        dir: PathBuf,
        /// The API's own JSON: a ticket as `GET /api/v1/tickets/{id}` returns it, or an object
        /// with any of these keys.
        ///
        /// ticket: a ticket as GET /api/v1/tickets/{id} returns it (fields left out keep the
        /// sample's values); event: one event as GET /api/v1/tickets/{id}/events lists it
        /// (kind and data; seq, at, actor optional), instead of one sample of every kind; from,
        /// to: the one stage move for guard-transition; scorecard, partner: the scorecard and
        /// the statistics score-partner gets; kpi, kpi_input: the KPI and the aggregates
        /// compute-kpi gets (partner and kpi_input in the hooks' own field names). Times are
        /// RFC 3339 text. Every field error is reported at once, naming the field.
        #[arg(long, value_name = "FILE")]
        fixture: Option<PathBuf>,
    },
    /// Build the bundled WASM plugins (needs `rustup target add wasm32-wasip2`) and put each
    /// component next to its manifest, ready to load.
    BuildBundled {
        /// The guest workspace: the checkout's plugins/ directory, from the working directory.
        #[arg(long, value_name = "DIR", default_value = "plugins")]
        dir: PathBuf,
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
        /// admin, supervisor, agent, qa, viewer or mailgate (partner tokens are made through
        /// the API, POST /api/v1/tokens with `partner_id`).
        #[arg(long)]
        role: String,
        /// The staff member the token acts for (optional).
        #[arg(long, value_name = "ID")]
        staff_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin login (and the staff member, when no staff member has the email) and
    /// print a one-time set-password URL alone on the last line of stdout.
    Create {
        /// The person's name (used when the staff member is created).
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
    },
    /// Print a fresh one-time set-password URL for an existing login (earlier links stop working).
    Link {
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Plugin tooling runs without a server configuration.
    let command = match cli.command {
        Command::Plugin { command } => {
            return match run_plugin(command) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {}", one_line(&e));
                    ExitCode::FAILURE
                }
            };
        }
        Command::Mailgate { url, token_file, timeout_secs } => return mailgate(&url, &token_file, timeout_secs),
        other => other,
    };
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
    match runtime.block_on(run(command, config, cli.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `steward mailgate`: stdin to the server; the exit code tells the MTA what to do.
fn mailgate(url: &str, token_file: &std::path::Path, timeout_secs: u64) -> ExitCode {
    use std::io::Read;
    use steward_tools::mailgate;
    let mut message = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut message) {
        eprintln!("mailgate: cannot read the message on stdin: {e}");
        return ExitCode::from(mailgate::EX_TEMPFAIL);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailgate: cannot start the async runtime: {e}");
            return ExitCode::from(mailgate::EX_TEMPFAIL);
        }
    };
    let outcome = runtime.block_on(mailgate::deliver(url, token_file, message, std::time::Duration::from_secs(timeout_secs.max(1))));
    if outcome.code == mailgate::EX_OK {
        println!("mailgate: {}", outcome.message);
    } else {
        eprintln!("mailgate: {}", outcome.message);
    }
    ExitCode::from(outcome.code)
}

/// The error and its causes on one line, each cause once: our errors often already include
/// their source's text, which `{:#}` would print a second time ("X: X").
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

async fn run(command: Command, config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let mut stop = Box::pin(steward_server::startup::shutdown_signal().context("cannot install the signal handlers")?);
            // A signal during start-up (migrations, plugin loading) stops it cleanly: each
            // migration is its own transaction, so nothing half-written stays.
            let app = tokio::select! {
                app = Application::build(config) => app?,
                () = &mut stop => {
                    tracing::info!("stopped while starting");
                    return Ok(());
                }
            };
            tracing::info!(address = %app.local_addr(), "Steward is listening");
            app.run_until(stop).await.context("server failed")?;
        }
        Command::Migrate => {
            steward_services::assembly::migrate(&config).await?;
            println!("migrations applied");
        }
        Command::Plugin { .. } | Command::Mailgate { .. } => unreachable!("handled before the config is read"),
        Command::Token { command: TokenCommand::Create { name, role, staff_id } } => {
            let role = Role::parse("--role", &role).map_err(|e| anyhow::anyhow!("{e}"))?;
            if matches!(role, Role::Partner) {
                anyhow::bail!(
                    "--role partner: a partner token is bound to one partner; create it through the API (POST /api/v1/tokens with \"role\": \"partner\" and \"partner_id\")"
                );
            }
            let staff_id = staff_id.map(|s| StaffId::parse("--staff-id", &s)).transpose().map_err(|e| anyhow::anyhow!("{e}"))?;
            let services = steward_services::assembly::open_services(&config).await?;
            let created = services.create_token(&name, role, staff_id).await;
            services.close().await;
            let (token, secret) = created?;
            println!("created token {} ({}, role {})", token.id, token.name, token.role);
            println!("{}", secret.expose());
        }
        Command::Admin { command } => {
            let services = steward_services::assembly::open_services(&config).await?;
            let link = match command {
                AdminCommand::Create { name, email } => services.bootstrap_admin(&name, &email).await,
                AdminCommand::Link { email } => services.operator_link(&email).await,
            };
            services.close().await;
            let link = link?;
            println!("login {} ({}); this link sets its password once, until {}:", link.login.id, link.login.email, link.expires_at);
            println!("{}", config.public_link(&link.path()));
        }
        Command::Seed { tickets, events_per_ticket, seed, batch } => {
            let services = steward_services::assembly::build_services(&config).await?;
            let options =
                steward_tools::seed::SeedOptions { tickets, first: 0, events_per_ticket, seed, batch, until: None, progress: true };
            let started = std::time::Instant::now();
            let report = steward_tools::seed::seed(&services, options).await;
            services.close().await;
            let report = report?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "seeded {} tickets in {seconds:.1} s ({:.0}/s): {} events, {} stage moves, {} comments, {} reviews, {} status changes, \
                 {} delegations, {} surveys answered, {} SLA alerts, {} moves vetoed by plugins; {} staff, {} training records, {} courses, {} partners",
                report.tickets,
                report.tickets as f64 / seconds.max(1e-9),
                report.events,
                report.transitions,
                report.comments,
                report.reviews,
                report.status_changes,
                report.delegations,
                report.surveys_answered,
                report.sla_alerts,
                report.vetoed_moves,
                report.staff,
                report.training_records,
                report.courses,
                report.partners,
            );
            let processes: Vec<String> = report.by_process.iter().map(|(p, n)| format!("{p}: {n}")).collect();
            println!("tickets by process: {}", processes.join(", "));
        }
        Command::Bench { quick, tickets, json, rows, reuse, smtp, imap, imap_user, imap_password_env, imap_folder } => {
            use steward_tools::bench::mail;
            if let Some(unknown) = rows.iter().flatten().find(|r| !steward_tools::bench::ROWS.iter().any(|k| k.eq_ignore_ascii_case(r))) {
                anyhow::bail!("--rows: no row `{unknown}` (the rows are {})", steward_tools::bench::ROWS.join(", "));
            }
            let smtp = smtp.map(|s| mail::parse_host_port("--smtp", &s)).transpose().map_err(|e| anyhow::anyhow!(e))?;
            let imap = imap.map(|s| mail::parse_host_port("--imap", &s)).transpose().map_err(|e| anyhow::anyhow!(e))?;
            let imap = imap.map(|(host, port)| mail::ImapAccount {
                host,
                port,
                user: imap_user,
                password_env: imap_password_env,
                folder: imap_folder,
            });
            let mut mail_options = match quick {
                true => mail::MailOptions::quick(),
                false => mail::MailOptions::full(),
            };
            mail_options.smtp = smtp.map(|(host, port)| mail::SmtpServer { host, port });
            mail_options.imap = imap;
            mail_options.batch = config.mail.outbound.batch;
            let mut config = config;
            mail::bench_mailboxes(&mut config, &mail_options);
            let services = steward_services::assembly::build_services(&config).await?;
            // The server under test is this binary, with the same config and environment.
            let program = std::env::current_exe().context("cannot find the steward binary")?;
            let args = config_path.map(|p| vec!["--config".into(), p.into_os_string()]).unwrap_or_default();
            let server = steward_tools::bench::ServerCommand { program, args };
            let mut options = match quick {
                true => steward_tools::bench::BenchOptions::quick(server, config.sla.sweep_batch),
                false => steward_tools::bench::BenchOptions::full(server, config.sla.sweep_batch),
            };
            options.tickets = tickets.unwrap_or(options.tickets);
            options.rows = rows;
            options.reuse = reuse;
            options.mail = mail_options;
            if !quick {
                options.header_read_timeout_ms = config.http.header_read_timeout_ms;
            }
            let report = steward_tools::bench::run(&services, options).await;
            services.close().await;
            let report = report?;
            print!("{}", steward_tools::bench::markdown(&report));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report)?;
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
            }
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

fn run_plugin(command: PluginCommand) -> anyhow::Result<()> {
    use steward_plugin_host::{cli, PluginsConfig, Runtime};
    let config = PluginsConfig::default();
    match command {
        PluginCommand::New { name, runtime, dir, sdk } => {
            let runtime = match runtime.as_str() {
                "wasm" => Runtime::Wasm,
                "rhai" => Runtime::Rhai,
                other => anyhow::bail!("--runtime: `{other}` is not one of: wasm, rhai"),
            };
            // Only a WASM template depends on the SDK.
            let sdk = match (sdk, runtime) {
                (Some(sdk), _) => sdk,
                (None, Runtime::Rhai) => PathBuf::new(),
                (None, Runtime::Wasm) => cli::sdk_dir_from(&std::env::current_dir()?, std::env::current_exe().ok().as_deref())?,
            };
            let created = cli::new_plugin(&dir, &name, runtime, &sdk)?;
            println!("created {}", created.display());
            if runtime == Runtime::Wasm {
                println!("build it with: steward plugin build {}", created.display());
            }
        }
        PluginCommand::Build { dir, target_dir } => {
            let entry = cli::build(&dir, target_dir.as_deref())?;
            println!("built {}", entry.display());
        }
        PluginCommand::Check { dir } => {
            let report = cli::check(&dir, &config)?;
            for line in report.lines {
                println!("{line}");
            }
            println!("ok");
        }
        PluginCommand::Test { dir, fixture } => {
            let fixture = fixture.map(|f| steward_server::plugin_fixture::load(&f)).transpose()?.unwrap_or_default();
            let runs = cli::test(&dir, &fixture, &config)?;
            print!("{}", cli::render_runs(&runs));
            if runs.iter().any(|r| r.outcome.is_err()) {
                anyhow::bail!("some hooks failed");
            }
        }
        PluginCommand::BuildBundled { dir } => {
            let dir = steward_plugin_host::guest_build::build_and_install_bundled_in(&std::env::current_dir()?.join(dir))?;
            println!("bundled WASM plugins built into {}", dir.display());
        }
    }
    Ok(())
}
