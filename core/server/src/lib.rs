//! Steward's server: the HTTP edge (`api`) and start-up (`startup`), which binds the listener,
//! assembles the services and runs the background workers; and `plugin_fixture`, the API's
//! JSON read back as hook inputs for `steward plugin test --fixture`.
//!
//! See ARCHITECTURE.md at the repository root for the map of the crates.

pub mod api;
pub mod plugin_fixture;
pub mod serve;
pub mod startup;
pub mod telemetry;

pub use startup::Application;
pub use steward_services::config::Config;
