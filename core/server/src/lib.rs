//! Steward's server: the HTTP edge (`api`) and start-up (`startup`), which binds the listener,
//! assembles the services and runs the background workers.
//!
//! See ARCHITECTURE.md at the repository root for the map of the crates.

pub mod api;
pub mod serve;
pub mod startup;
pub mod telemetry;

pub use startup::Application;
pub use steward_services::config::Config;
