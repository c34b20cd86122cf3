//! Assembling the services from the configuration: the process files, the database (migrated),
//! KPI targets, the plugin host and the SLA catalog. The server and the offline commands start
//! from here alike.

use crate::config::Config;
use crate::kpis::{load_kpi_targets, KpiFileError};
use crate::sla::SlaFileError;
use crate::Services;
use std::path::Path;
use std::sync::Arc;
use steward_domain::process::{Process, ProcessLoadError, ProcessRegistry};
use steward_storage::{redact, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AssemblyError {
    #[error("service process definition: {0}")]
    Processes(#[from] ProcessLoadError),
    #[error("{0}")]
    Store(String),
    #[error("tickets.default_process `{0}` is not a loaded process")]
    DefaultProcess(String),
    #[error("plugins: {0}")]
    Plugins(String),
    #[error("SLA configuration: {0}")]
    Sla(Box<SlaFileError>),
    #[error("KPI targets: {0}")]
    Kpis(#[from] KpiFileError),
    #[error("loading the SLA catalog from the database: {0}")]
    SlaCatalog(crate::ServiceError),
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::MailSetupError),
    #[error("queue-state backfill: {0}")]
    Backfill(crate::ServiceError),
    #[error("attachments: {0}")]
    Attachments(#[from] crate::blobs::BlobError),
}

/// The attachment store `[attachments]` names, its S3 credentials read from the environment.
fn open_blobs(config: &Config) -> Result<Arc<dyn crate::blobs::BlobStore>, AssemblyError> {
    Ok(crate::blobs::from_config(&config.attachments, |name| std::env::var(name).ok())?)
}

impl From<SlaFileError> for AssemblyError {
    fn from(e: SlaFileError) -> Self {
        AssemblyError::Sla(Box::new(e))
    }
}

impl From<StoreError> for AssemblyError {
    fn from(e: StoreError) -> Self {
        AssemblyError::Store(e.to_string())
    }
}

/// Loads every `*.toml` file in `dir`, in name order, as service processes.
pub fn load_process_dir(dir: &Path) -> Result<ProcessRegistry, ProcessLoadError> {
    let io_err = |message: String| ProcessLoadError { file: dir.display().to_string(), line: None, field: "(directory)".into(), message };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_err(e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut registry = ProcessRegistry::new();
    for file in files {
        let source = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| ProcessLoadError {
            file: source.clone(),
            line: None,
            field: "(file)".into(),
            message: e.to_string(),
        })?;
        registry.insert(Process::from_toml(&source, &text)?)?;
    }
    Ok(registry)
}

/// Loads the process definitions the config points at; the built-in general process when the
/// directory does not exist.
pub fn load_processes(config: &Config) -> Result<ProcessRegistry, AssemblyError> {
    let dir = &config.processes.dir;
    let registry = if dir.is_dir() {
        load_process_dir(dir)?
    } else {
        tracing::warn!(dir = %dir.display(), "process directory not found; using the built-in general process");
        ProcessRegistry::builtin()
    };
    if registry.get(&config.tickets.default_process).is_none() {
        return Err(AssemblyError::DefaultProcess(config.tickets.default_process.clone()));
    }
    Ok(registry)
}

/// Connects to the configured database, applies pending migrations and finishes the data
/// migrations they leave owed (`steward migrate`; the server does the same at start-up).
pub async fn migrate(config: &Config) -> Result<(), AssemblyError> {
    let services = open_services(config).await?;
    let finished = match services.reload_sla_catalog().await {
        Ok(()) => finish_data_migrations(&services).await,
        Err(e) => Err(AssemblyError::SlaCatalog(e)),
    };
    services.close().await;
    finished
}

/// What migrations leave to the services, because it needs the domain's rules: the queue
/// state of tickets from before migration 0009 (their clocks' due times need the stored
/// calendars: the SLA catalog must be loaded). One row read once done.
async fn finish_data_migrations(services: &Services) -> Result<(), AssemblyError> {
    services.backfill_queue_state(crate::queues::QUEUE_BACKFILL_BATCH).await.map_err(AssemblyError::Backfill)?;
    Ok(())
}

/// The store, migrated, queueing mail as `[mail]` says (none when `mail.address` is unset).
async fn open_store(config: &Config) -> Result<Store, AssemblyError> {
    let mail = crate::mail::mail_settings(config)?;
    let store = Store::connect(&config.database).await?;
    store.migrate().await?;
    Ok(match mail {
        Some(settings) => store.with_mail(settings),
        None => store,
    })
}

/// The services without plugins or the SLA seed, for commands that only read or add records
/// (`steward token create`, `steward report review`).
pub async fn open_services(config: &Config) -> Result<Services, AssemblyError> {
    let processes = Arc::new(load_processes(config)?);
    let targets = load_kpi_targets(&config.kpis.file)?;
    let blobs = open_blobs(config)?;
    let store = open_store(config).await?;
    Ok(Services::new(store, processes, blobs, config).with_kpi_targets(targets))
}

/// The services as the server runs them: processes, database (migrated), KPI targets, the
/// plugin host with its processes (when plugin directories are configured), and the SLA
/// catalog seeded from the configured file. Plugin reactions queue up in the services until
/// `plugins::plugin_worker` (or a test) runs them.
pub async fn build_services(config: &Config) -> Result<Arc<Services>, AssemblyError> {
    let processes = Arc::new(load_processes(config)?);
    let store = open_store(config).await?;
    tracing::info!(database = %redact(&config.database.url), backend = store.backend().name(), processes = processes.iter().count(), "storage ready");
    let targets = load_kpi_targets(&config.kpis.file)?;
    let blobs = open_blobs(config)?;
    tracing::info!(store = %blobs.describe(), "attachments ready");
    let services = Services::new(store, processes, blobs, config).with_kpi_targets(targets);
    let services = match config.plugins.dirs.is_empty() {
        true => services,
        false => {
            let host = steward_plugin_host::PluginHost::new(config.plugins.clone(), services.metrics.registry())
                .map_err(|e| AssemblyError::Plugins(e.to_string()))?;
            // A plugin that cannot load is kept as failed (and shown by the API); the server starts.
            for error in host.load_all() {
                tracing::error!(%error, "plugin not loaded");
            }
            services.with_plugins(Arc::new(host))
        }
    };
    let services = Arc::new(services);
    services.seed_sla(&config.sla.file).await?;
    services.check_stage_calendars()?;
    finish_data_migrations(&services).await?;
    Ok(services)
}
