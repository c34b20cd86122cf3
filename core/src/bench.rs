//! `steward bench`: the skeleton of the benchmark driver of issue 7. It seeds the configured
//! database with `seed::seed`, then times the service calls behind the benchmark rows and
//! prints a markdown table (and JSON). Only the seed rate and P2 (list 50 open tickets with a
//! filter) are measured so far; `--quick` keeps N small so the tests can run it.

use crate::domain::ticket::{Status, TicketQuery};
use crate::seed::{seed, SeedError, SeedOptions};
use crate::services::{ServiceError, Services};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub tickets: u64,
    /// Timed repetitions of each measured call.
    pub samples: usize,
    pub seed: u64,
}

impl BenchOptions {
    /// Small enough for the test suite: proves the tool runs, measures nothing meaningful.
    pub fn quick() -> BenchOptions {
        BenchOptions { tickets: 40, samples: 20, seed: 1 }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub id: &'static str,
    pub what: String,
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Operations per second, where the row is a throughput.
    pub per_second: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub backend: &'static str,
    pub tickets: u64,
    pub cores: usize,
    pub rows: Vec<BenchRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Seed(#[from] SeedError),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

/// The value at quantile `q` (0..=1) of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => sorted[((n - 1) as f64 * q).round() as usize],
    }
}

pub async fn run(services: &Arc<Services>, options: BenchOptions) -> Result<BenchReport, BenchError> {
    let started = Instant::now();
    let seeded = seed(services, SeedOptions { tickets: options.tickets, seed: options.seed, ..SeedOptions::default() }).await?;
    let seconds = started.elapsed().as_secs_f64();
    let mut rows = vec![BenchRow {
        id: "seed",
        what: format!("seed {} tickets through the services", seeded.tickets),
        samples: 1,
        p50_ms: seconds * 1000.0,
        p99_ms: seconds * 1000.0,
        per_second: Some(seeded.tickets as f64 / seconds.max(f64::EPSILON)),
    }];
    let mut timings = Vec::with_capacity(options.samples);
    for _ in 0..options.samples.max(1) {
        let query = TicketQuery { status: Some(Status::Open), limit: 50, ..TicketQuery::default() };
        let started = Instant::now();
        services.list_tickets(query).await?;
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    timings.sort_by(f64::total_cmp);
    rows.push(BenchRow {
        id: "P2",
        what: "list 50 open tickets (status filter)".into(),
        samples: timings.len(),
        p50_ms: quantile(&timings, 0.5),
        p99_ms: quantile(&timings, 0.99),
        per_second: None,
    });
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    Ok(BenchReport { backend: services.store.backend().name(), tickets: seeded.tickets, cores, rows })
}

/// The report as a markdown table.
pub fn markdown(report: &BenchReport) -> String {
    let mut out = format!("Backend: {}, tickets: {}, cores: {}\n\n", report.backend, report.tickets, report.cores);
    out.push_str("| row | what | samples | p50 ms | p99 ms | per second |\n|---|---|---|---|---|---|\n");
    for r in &report.rows {
        let rate = r.per_second.map(|p| format!("{p:.1}")).unwrap_or_default();
        out.push_str(&format!("| {} | {} | {} | {:.2} | {:.2} | {} |\n", r.id, r.what, r.samples, r.p50_ms, r.p99_ms, rate));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_from_the_sorted_values() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), 51.0);
        assert_eq!(quantile(&values, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
