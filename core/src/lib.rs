//! Steward: a self-hosted service-operations platform.
//!
//! See ARCHITECTURE.md at the repository root for the map of this crate.

pub mod api;
pub mod bench;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod metrics;
pub mod plugins;
pub mod seed;
pub mod services;
pub mod startup;
pub mod storage;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
