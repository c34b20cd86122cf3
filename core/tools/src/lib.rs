//! Steward's offline tools: `steward seed` (a year of deterministic sample data), `steward
//! bench` (the benchmark driver behind BENCHMARKS.md) and `steward mailgate` (an MTA's pipe to
//! the server). Kept out of the server crate so that none weighs on it.

pub mod bench;
pub mod mailgate;
pub mod seed;
