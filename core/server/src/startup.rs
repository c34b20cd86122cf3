//! Building and running the server: `Application::build` binds the listener (port 0 picks a
//! free one) so tests and `main` start it the same way.

use crate::api;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use steward_services::assembly::{self, AssemblyError};
use steward_services::config::Config;
use steward_services::delivery::DeliveryWorker;
use steward_services::mail::MailWorker;
use steward_services::Services;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Services(#[from] AssemblyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot set up the webhook HTTP client: {0}")]
    WebhookClient(#[from] reqwest::Error),
    #[error("cannot set up outbound mail: {0}")]
    Mail(#[from] steward_services::mail::MailSetupError),
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Invalid(steward_domain::FieldError),
    #[error("{0}")]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Service(#[from] steward_services::ServiceError),
}

/// `steward report review`: the monthly service review of `month` (`YYYY-MM`) rendered as
/// `format` (`json`, `md`, `html` or `csv`), straight from the database.
pub async fn review_report(config: &Config, month: &str, format: &str) -> Result<String, ReportError> {
    let month = steward_domain::kpi::Month::parse("--month", month).map_err(ReportError::Invalid)?;
    let format = api::report::ReviewFormat::parse("--format", format).map_err(ReportError::Invalid)?;
    let services = assembly::open_services(config).await.map_err(StartupError::from)?;
    let review = services.service_review(month).await;
    services.close().await;
    Ok(api::report::render(&review?, format))
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    services: Arc<Services>,
    config: Arc<Config>,
    /// Absent when `webhooks.worker` is off on this node.
    deliveries: Option<DeliveryWorker>,
    /// Absent when mail is not set up (`mail.address`) or `mail.outbound.worker` is off.
    mail: Option<MailWorker>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        // The port first: a port in use is reported before anything is written (migrations).
        let listener =
            TcpListener::bind(&config.listen).await.map_err(|source| StartupError::Bind { addr: config.listen.clone(), source })?;
        let services = assembly::build_services(&config).await?;
        let config = Arc::new(config);
        let router = api::router(services.clone(), services.metrics.clone(), config.clone());
        let deliveries = match config.webhooks.worker {
            true => Some(DeliveryWorker::new(services.clone(), &config.webhooks)?),
            false => None,
        };
        let mail = match config.mail.address.is_some() && config.mail.outbound.worker {
            true => Some(MailWorker::new(services.clone(), &config.mail)?),
            false => None,
        };
        Ok(Application { listener, router, services, config, deliveries, mail })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// Serves (and runs the background loops that `workers` and `webhooks.worker` switch on)
    /// until `shutdown` completes, then lets in-flight requests finish (up to the configured
    /// grace period), stops the delivery worker after its attempts in flight, and closes the
    /// database pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let grace = api::shutdown_grace(&self.config);
        let (services, config, on) = (&self.services, &self.config, &self.config.workers);
        let mut loops = Vec::new();
        if on.housekeeping {
            loops.push(tokio::spawn(housekeeping(services.clone())));
            loops.push(tokio::spawn(queue_counter_folder(services.clone())));
        }
        if on.sla_sweeper {
            loops.push(tokio::spawn(sla_sweeper(services.clone(), config.sla.clone())));
        }
        if on.metrics_refresher {
            loops.push(tokio::spawn(metrics_refresher(services.clone(), config.metrics.refresh_interval_ms)));
        }
        if on.certification_watcher {
            loops.push(tokio::spawn(certification_watcher(services.clone(), config.training.watch_interval_ms)));
        }
        if on.live_feed {
            loops.push(tokio::spawn(steward_services::live::run_change_notifier(services.clone())));
            loops.push(tokio::spawn(steward_services::live::run_change_listener(services.clone())));
        }
        if on.plugin_reactions && services.plugin_host().is_some() {
            loops.push(tokio::spawn(steward_services::plugins::plugin_worker(services.clone())));
        }
        if on.mail_inbound {
            loops.push(tokio::spawn(mail_importer(services.clone())));
            for mailbox in services.mailboxes().to_vec() {
                let services = services.clone();
                loops.push(tokio::spawn(async move { services.run_mailbox(mailbox).await }));
            }
        }
        let deliveries = self.deliveries.map(DeliveryWorker::start);
        let mail = self.mail.map(MailWorker::start);
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let limits = crate::serve::ConnectionLimits::from(&self.config.http);
        let live = self.services.clone();
        let server = crate::serve::serve(self.listener, self.router, limits, async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            live.end_live_streams();
            let _ = stopping_tx.send(true);
        });
        let deadline = async move {
            while !*stopping_rx.borrow() {
                if stopping_rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            result = server => result,
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish within the grace period");
                Ok(())
            }
        };
        for task in loops {
            task.abort();
        }
        for worker in deliveries.into_iter().chain(mail) {
            worker.stop().await;
        }
        self.services.close().await;
        result
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()?).await
    }
}

/// Completes at the first SIGTERM or SIGINT after this call. The handlers are installed now,
/// not when first polled, so a signal that comes while the server is still starting (the port is
/// bound before migrations run) is not the default "terminate at once".
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

// Each loop below times one pass of background work, and the pass is one `Services` method
// (`sweep_sla`, `refresh_metrics`, `watch_certifications`, `purge_expired_idempotency_keys`;
// `plugins::plugin_worker`, the delivery worker and the mail worker likewise call
// `run_pending_plugin_jobs`, `DeliveryWorker::deliver_due` and `MailWorker::send_due`). Tests turn the loops off (`workers`) and call the passes.

/// Raises SLA alerts as clocks cross their thresholds, and picks up policy changes made on
/// other nodes. Every node runs one; the database keeps each alert to one event.
async fn sla_sweeper(services: Arc<Services>, config: steward_services::config::SlaConfig) {
    let mut tick = tokio::time::interval(Duration::from_millis(config.sweep_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let refresh = Duration::from_secs(config.catalog_refresh_secs.max(1));
    let mut refreshed = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if refreshed.elapsed() >= refresh {
            refreshed = tokio::time::Instant::now();
            if let Err(e) = services.reload_sla_catalog().await {
                tracing::warn!(error = %e, "reloading SLA policies failed");
            }
        }
        if let Err(e) = services.sweep_sla(steward_domain::time::Timestamp::now(), config.sweep_batch).await {
            tracing::warn!(error = %e, "SLA sweep failed");
        }
    }
}

/// Refreshes the metrics gauges that come from the database, so a scrape never queries it.
async fn metrics_refresher(services: Arc<Services>, interval_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = services.refresh_metrics().await {
            tracing::warn!(error = %e, "refreshing metrics gauges failed");
        }
    }
}

/// Records certification expiry warnings and expiries as staff events. Every node runs one;
/// the database keeps each event to one occurrence.
async fn certification_watcher(services: Arc<Services>, interval_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match services.watch_certifications(steward_domain::time::Timestamp::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(recorded = n, "certification expiry events recorded"),
            Err(e) => tracing::warn!(error = %e, "certification watch failed"),
        }
    }
}

/// Imports stored messages whose import was interrupted (a crash between storing and
/// importing) and attaches the files imported messages still owe, every half minute.
async fn mail_importer(services: Arc<Services>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match services.import_pending_mail().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "interrupted mail imports finished"),
            Err(e) => tracing::warn!(error = %e, "importing pending mail failed"),
        }
    }
}

/// Periodic clean-up that no request should pay for.
async fn housekeeping(services: Arc<Services>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match services.purge_expired_idempotency_keys().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired idempotency keys removed"),
            Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
        }
    }
}

/// Folds the queue counters' pending deltas (`fold_queue_counts`) every few seconds, so a
/// view's count reads few rows. Counts are right without it; it keeps them cheap.
async fn queue_counter_folder(services: Arc<Services>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match services.fold_queue_counts(10_000).await {
                Ok(n) if n >= 10_000 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "folding queue counters failed");
                    break;
                }
            }
        }
    }
}
