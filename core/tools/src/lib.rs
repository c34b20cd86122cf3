//! Steward's offline tools: `steward seed` (a year of deterministic sample data) and `steward
//! bench` (the benchmark driver behind BENCHMARKS.md). Kept out of the server crate so that
//! neither weighs on it.

pub mod bench;
pub mod seed;
