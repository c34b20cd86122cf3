//! `steward bench`: the benchmark driver (BENCHMARKS.md). It seeds the configured database
//! with `steward seed`'s bulk path, runs the real server binary against it as a child process,
//! and measures, side by side in one run:
//!
//! - P1 ticket creation over HTTP with 64 concurrent connections, and the raw insert rate of
//!   the same rows (ticket + creation event) into the same database with no server;
//! - P2 listing 50 open tickets with a filter; P3 a stage move through a WASM and a rhai guard;
//! - P4 the full built-in KPI set over the year; P5 a /metrics scrape at a small and the full
//!   size; P6 an SLA sweep over every open clock and the delay from a due time to its breach;
//! - P7 the resident memory of the idle server.
//! - P8 people's sign-in (argon2id) and session lookup, in process.
//! - P9 slow clients: half-sent request heads held open while normal requests run; how many the
//!   server closes within its header read timeout, and the normal requests' latency meanwhile.
//! - P10 the console's ticket page of a ticket with 1 000 events, over HTTP; P11 the queue
//!   page of 50 and a view's count.
//! - P12 a ticket change shown in a console live stream on another node (PostgreSQL: this
//!   process is the other node; SQLite: one node).
//! - P13 the bytes a browser fetches, compressed, to show a console page the first time: the
//!   page and every asset it links.
//! - P14 inbound mail through `steward mailgate` (one process per message) and posted to the
//!   endpoint, to tickets per second; P15 through IMAP, one fetch pass; P16 outbound mail sent
//!   to the SMTP server by the mail worker; and P1 with mail on (P16) and with mail arriving
//!   (P14) against P1 with mail off, the 5 % rule (`mail.rs`; `--smtp` and `--imap` name the
//!   real servers, a row without its server says so).
//!
//! `--quick` keeps every size small so the test suite can run the whole tool; `--rows` measures
//! only the rows named (the database is seeded to the full size all the same); `--reuse` keeps
//! the tickets an earlier run seeded and seeds only the ones missing (P5's small size is then
//! measured only if the database is not already past it).

use crate::seed::{seed, SeedError, SeedOptions};
use serde::Serialize;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steward_domain::auth::Role;
use steward_domain::event::{Actor, EventData};
use steward_domain::history::{HistoryEvent, TicketHistory};
use steward_domain::ids::TicketNumber;
use steward_domain::ticket::{Channel, Kind, Priority, Ticket, TicketDraft};
use steward_domain::time::Timestamp;
use steward_services::{ServiceError, Services};

pub mod mail;

/// The rows `steward bench` measures, as `--rows` names them.
pub const ROWS: &[&str] = &["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11", "P12", "P13", "P14", "P15", "P16"];

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Tickets in the database for the measurements at scale.
    pub tickets: u64,
    /// The smaller size P5 is also measured at.
    pub small_tickets: u64,
    /// Timed repetitions of each measured call.
    pub samples: usize,
    /// Timed repetitions of the KPI set (each one reads the whole year).
    pub kpi_samples: usize,
    /// P1: concurrent connections, and requests each sends.
    pub connections: usize,
    pub requests_per_connection: usize,
    /// P6: tickets whose one-second first-response target is watched for its breach.
    pub breach_probes: usize,
    pub seed: u64,
    /// The SLA sweeper's batch, as the server is configured.
    pub sweep_batch: u32,
    /// P9: half-sent request heads held open, and the server's header read timeout for it.
    pub slow_connections: usize,
    pub header_read_timeout_ms: u64,
    /// The rows to measure (`P1` … `P13`); `None` measures them all. The seed always runs.
    pub rows: Option<Vec<String>>,
    /// Keep the tickets already in the database (an earlier run's seed, same `seed`) and seed
    /// only the ones missing up to `tickets`.
    pub reuse: bool,
    pub server: ServerCommand,
    /// P14–P16: the mail servers reached and the sizes.
    pub mail: mail::MailOptions,
}

impl BenchOptions {
    pub fn full(server: ServerCommand, sweep_batch: u32) -> BenchOptions {
        BenchOptions {
            tickets: 1_000_000,
            small_tickets: 10_000,
            samples: 200,
            kpi_samples: 10,
            connections: 64,
            requests_per_connection: 50,
            breach_probes: 20,
            seed: 1,
            sweep_batch,
            slow_connections: 1_500,
            header_read_timeout_ms: 10_000,
            rows: None,
            reuse: false,
            server,
            mail: mail::MailOptions::full(),
        }
    }

    fn wants(&self, row: &str) -> bool {
        self.rows.as_ref().is_none_or(|rows| rows.iter().any(|r| r.eq_ignore_ascii_case(row)))
    }

    /// Small enough for the test suite: proves every row runs, measures nothing meaningful.
    pub fn quick(server: ServerCommand, sweep_batch: u32) -> BenchOptions {
        BenchOptions {
            tickets: 300,
            small_tickets: 100,
            samples: 5,
            kpi_samples: 2,
            connections: 64,
            requests_per_connection: 1,
            breach_probes: 2,
            slow_connections: 50,
            header_read_timeout_ms: 500,
            mail: mail::MailOptions::quick(),
            ..BenchOptions::full(server, sweep_batch)
        }
    }
}

/// How to start the server under test: this binary with `serve`, same config and environment.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    pub program: PathBuf,
    /// Arguments before `serve` (e.g. `--config FILE`).
    pub args: Vec<OsString>,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub id: &'static str,
    pub what: String,
    pub samples: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Operations per second, where the row is a throughput.
    pub per_second: Option<f64>,
    /// The row's headline figure when it is not a latency (a ratio, megabytes …).
    pub value: Option<String>,
    pub target: String,
    /// Whether the target is met; None where the row has no target of its own.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub os: String,
    pub build: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub backend: &'static str,
    pub tickets: u64,
    pub running_clocks: i64,
    pub seed_seconds: f64,
    /// Tickets found in the database and kept (`--reuse`), not seeded by this run.
    pub reused_tickets: u64,
    pub machine: Machine,
    pub rows: Vec<BenchRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Seed(#[from] SeedError),
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("the server under test: {0}")]
    Server(String),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The value at quantile `q` (0..=1) of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => sorted[((n - 1) as f64 * q).round() as usize],
    }
}

/// Timings in milliseconds, summarised.
struct Timings(Vec<f64>);

impl Timings {
    fn sorted(mut values: Vec<f64>) -> Timings {
        values.sort_by(f64::total_cmp);
        Timings(values)
    }

    fn p50(&self) -> f64 {
        quantile(&self.0, 0.5)
    }

    fn p99(&self) -> f64 {
        quantile(&self.0, 0.99)
    }

    fn row(&self, id: &'static str, what: impl Into<String>, target: impl Into<String>, met: Option<bool>) -> BenchRow {
        BenchRow {
            id,
            what: what.into(),
            samples: self.0.len(),
            p50_ms: Some(self.p50()),
            p99_ms: Some(self.p99()),
            per_second: None,
            value: None,
            target: target.into(),
            met,
        }
    }
}

fn millis_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

pub async fn run(services: &Arc<Services>, options: BenchOptions) -> Result<BenchReport, BenchError> {
    let mut rows = Vec::new();
    let (_, admin) = services.create_token("steward bench", Role::Admin, None).await?;
    let token = admin.expose().to_owned();

    // The small size first: P5 there, for the ratio. With `--reuse`, a run continues the
    // sequence an earlier one left, so both sizes hold the same tickets as a fresh run's.
    let started = Instant::now();
    let reused = match options.reuse {
        true => services.ticket_count().await?.max(0) as u64,
        false => 0,
    };
    let small = options.small_tickets.min(options.tickets);
    let seed_options = SeedOptions { seed: options.seed, progress: true, ..SeedOptions::default() };
    if reused < small {
        seed(services, SeedOptions { tickets: small - reused, first: reused, ..seed_options.clone() }).await?;
    }
    let scrape_small = match options.wants("P5") && reused <= small {
        true => {
            let server = Server::start(&options.server, &token).await?;
            let timings = server.scrape_timings(options.samples).await?;
            server.stop().await;
            Some(timings)
        }
        false => None,
    };

    let present = reused.max(small);
    if present < options.tickets {
        seed(services, SeedOptions { tickets: options.tickets - present, first: present, ..seed_options }).await?;
    }
    let seed_seconds = started.elapsed().as_secs_f64();
    let tickets = options.tickets.max(reused);
    let seeded = tickets - reused;
    rows.push(BenchRow {
        id: "seed",
        what: match reused {
            0 => format!("seed {tickets} ticket histories (bulk path)"),
            _ => format!("seed {seeded} ticket histories (bulk path) on top of {reused} reused"),
        },
        samples: 1,
        p50_ms: None,
        p99_ms: None,
        per_second: (seeded > 0).then(|| seeded as f64 / seed_seconds.max(1e-9)),
        value: Some(format!("{seed_seconds:.0} s")),
        target: "feasible at 1M".into(),
        met: None,
    });

    // P6, the sweep, straight on the services: the server's sweeper calls exactly this.
    let running_clocks = services.running_clock_count().await?;
    let mut sweeps = Vec::new();
    let sweep_samples = if options.wants("P6") { options.samples } else { 0 };
    for _ in 0..sweep_samples {
        let started = Instant::now();
        services.sweep_sla(Timestamp::now(), options.sweep_batch).await?;
        sweeps.push(millis_since(started));
    }
    let sweeps = Timings::sorted(sweeps);
    let sweep_met = sweeps.p50() < 20.0;

    let server = Server::start(&options.server, &token).await?;
    // P7: what the idle server holds once started and its gauges refreshed.
    let rss_mb = match options.wants("P7") {
        true => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            server.resident_mb()
        }
        false => None,
    };

    // P2: the first page of open tickets, with a filter.
    for (what, query) in [("status=open", "status=open&limit=50"), ("status=open, priority=urgent", "status=open&priority=urgent&limit=50")]
    {
        if !options.wants("P2") {
            break;
        }
        let timings = server.get_timings(&format!("/api/v1/tickets?{query}"), options.samples).await?;
        let met = timings.p50() < 20.0;
        rows.push(timings.row("P2", format!("list 50 tickets ({what}) over HTTP"), "p50 < 20 ms", Some(met)));
    }

    // P3: the same move with no guard, with only the WASM guard, with only the rhai guard;
    // then the guard hook alone, in this process, where microseconds are not lost in noise.
    if options.wants("P3") {
        rows.extend(guard_rows(&server, &options).await?);
        rows.extend(guard_call_rows(services, options.samples * 20).await?);
    }

    // P4: every built-in KPI over the generated year.
    if options.wants("P4") {
        let to = Timestamp::now();
        let from = to.plus_millis(-366 * 86_400_000);
        let kpi_path = format!("/api/v1/kpis?from={from}&to={to}");
        let kpis = server.get_timings(&kpi_path, options.kpi_samples).await?;
        let kpi_met = (services.database_backend() == "postgres").then(|| kpis.p50() < 100.0);
        rows.push(kpis.row("P4", "all built-in KPIs over the year", "< 100 ms (PostgreSQL)", kpi_met));
    }

    if let Some(scrape_small) = scrape_small {
        let scrape_full = server.scrape_timings(options.samples).await?;
        let ratio = scrape_full.p50() / scrape_small.p50().max(1e-9);
        let mut small_row = scrape_small.row("P5", format!("GET /metrics at {small} tickets"), "< 10 ms", Some(scrape_small.p50() < 10.0));
        small_row.value = None;
        rows.push(small_row);
        let mut full_row = scrape_full.row(
            "P5",
            format!("GET /metrics at {tickets} tickets"),
            "< 10 ms; ratio to the small size ≤ 1.5",
            Some(scrape_full.p50() < 10.0 && ratio <= 1.5),
        );
        full_row.value = Some(format!("ratio {ratio:.2}"));
        rows.push(full_row);
    }

    if options.wants("P6") {
        let mut sweep_row = sweeps.row("P6", format!("one SLA sweep over {running_clocks} running clocks"), "< 20 ms", Some(sweep_met));
        sweep_row.value = Some(format!("{running_clocks} running clocks"));
        rows.push(sweep_row);
        let delays = breach_delays(&server, options.breach_probes).await?;
        let mut delay_row = delays.row("P6", "delay from a due time to its recorded breach", "< 1 s", Some(delays.p99() < 1000.0));
        delay_row.value = Some(format!("max {:.0} ms", delays.0.last().copied().unwrap_or_default()));
        rows.push(delay_row);
    }

    if options.wants("P7") {
        rows.push(BenchRow {
            id: "P7",
            what: format!("resident memory of the idle server at {tickets} tickets"),
            samples: 1,
            p50_ms: None,
            p99_ms: None,
            per_second: None,
            value: rss_mb.map(|mb| format!("{mb:.1} MB")),
            target: "< 150 MB".into(),
            met: rss_mb.map(|mb| mb < 150.0),
        });
    }

    // P8: people's sign-in, in process (the console calls these services directly).
    if options.wants("P8") {
        rows.extend(sign_in_rows(services, options.samples).await?);
    }
    // P10: the console's ticket page of a ticket with a long history.
    if options.wants("P10") {
        rows.push(ticket_page_row(services, &server, options.samples).await?);
    }

    // P9: slow clients, against a server of their own with the header read timeout asked for.
    if options.wants("P9") {
        let slow_server =
            Server::start_with(&options.server, &token, &[("STEWARD_HEADER_READ_TIMEOUT_MS", options.header_read_timeout_ms.to_string())])
                .await?;
        rows.push(slow_client_row(&slow_server, &options).await?);
        slow_server.stop().await;
    }

    // P11: the console's queue page and its view counts.
    if options.wants("P11") {
        rows.extend(queue_rows(services, &server, options.samples).await?);
    }

    // P12: from a change on one node to the live stream on the server under test.
    if options.wants("P12") {
        rows.push(live_row(services, &server, options.samples).await?);
    }

    // P13: what a browser fetches to show a console page the first time.
    if options.wants("P13") {
        rows.extend(first_load_rows(services, &server).await?);
    }

    // P1 last: it adds tickets.
    if options.wants("P1") {
        rows.extend(creation_rows(services, &server, &options).await?);
    }
    let after_load = server.resident_mb();
    server.stop().await;
    if let (Some(row), Some(mb)) = (rows.iter_mut().find(|r| r.id == "P7"), after_load) {
        row.value = Some(format!("{} (after the load: {mb:.1} MB)", row.value.clone().unwrap_or_default()));
    }
    // The mail rows start the servers they need (mail on or off), with no other running.
    rows.extend(mail::rows(services, &options, &token).await?);
    // In the rows' numeric order (P2 before P10), the seed first.
    rows.sort_by_key(|r| r.id.trim_start_matches('P').parse::<u32>().unwrap_or(0));
    Ok(BenchReport {
        backend: services.database_backend(),
        tickets,
        running_clocks,
        seed_seconds,
        reused_tickets: reused,
        machine: machine(),
        rows,
    })
}

/// The password of the people the bench signs in as.
const BENCH_PASSWORD: &str = "bench passphrase, long enough";

/// An agent with a login whose password is [`BENCH_PASSWORD`], for the rows that act as a
/// signed-in person (P8, P10, P11, P12); `slug` makes the email unique per run.
async fn bench_person(
    services: &Arc<Services>,
    name: &str,
    slug: &str,
    team: Option<&str>,
) -> Result<steward_domain::login::Login, BenchError> {
    let operator = steward_domain::auth::Principal::operator();
    let input = steward_domain::staff::StaffInput {
        name: name.into(),
        email: format!("{slug}-{}@steward.invalid", Timestamp::now().as_millis()),
        role: Role::Agent,
        team: team.map(str::to_owned),
        active: true,
    };
    let staff = services.create_staff(input).await?;
    let new = steward_services::NewLogin { staff_id: Some(staff.id), ..steward_services::NewLogin::default() };
    let login = services.create_login(&operator, new).await?;
    let link = services.issue_set_password_link(&operator, login.id).await?;
    services.set_password(&link.secret, BENCH_PASSWORD).await?;
    Ok(login)
}

/// P8: sign-ins (one argon2id verification and a session row each), timed one at a time and
/// as a throughput with one task per core; then looking up a session (what every console
/// request does).
async fn sign_in_rows(services: &Arc<Services>, samples: usize) -> Result<Vec<BenchRow>, BenchError> {
    use steward_services::SignIn;
    let login = bench_person(services, "Bench Person", "bench", None).await?;
    let attempt = || SignIn { email: login.email.clone(), password: BENCH_PASSWORD.into(), remote_addr: None };

    let mut one_at_a_time = Vec::new();
    let mut secrets = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        secrets.push(services.sign_in(attempt()).await?.secret);
        one_at_a_time.push(millis_since(started));
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_task = samples.div_ceil(cores).max(1);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..cores {
        let services = services.clone();
        let attempt = attempt();
        tasks.spawn(async move {
            for _ in 0..per_task {
                services.sign_in(attempt.clone()).await?;
            }
            Ok::<(), ServiceError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let per_second = (per_task * cores) as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let sign_ins = Timings::sorted(one_at_a_time);
    let mut sign_in_row = sign_ins.row(
        "P8",
        format!("sign in (argon2id m=19 MiB t=2 p=1 + session), throughput with {cores} tasks"),
        "p50 < 250 ms",
        Some(sign_ins.p50() < 250.0),
    );
    sign_in_row.per_second = Some(per_second);

    let mut lookups = Vec::new();
    for n in 0..samples * 20 {
        let started = Instant::now();
        services.session_principal(&secrets[n % secrets.len()]).await?;
        lookups.push(millis_since(started));
    }
    let lookups = Timings::sorted(lookups);
    let lookup_row = lookups.row("P8", "session lookup (the principal of a console request)", "p50 < 5 ms", Some(lookups.p50() < 5.0));
    Ok(vec![sign_in_row, lookup_row])
}

/// P10: `GET /tickets/{number}` (the console's ticket page, rendered in one pass) for a ticket
/// with 1 000 events, by a signed-in agent over HTTP. The history is imported through the bulk
/// path (one ticket, its creation and 999 comments, alternately public and internal).
async fn ticket_page_row(services: &Arc<Services>, server: &Server, samples: usize) -> Result<BenchRow, BenchError> {
    use steward_domain::ticket::Visibility;
    use steward_services::SignIn;
    const EVENTS: usize = 1_000;
    let number = services.reserve_ticket_numbers(1).await?[0];
    let actor = Arc::new(Actor::system());
    let mut change =
        Ticket::open(bench_draft("A ticket with a long history".into(), vec!["bench".into()]), &services.rules(), Timestamp::now())
            .map_err(ServiceError::from)?;
    Ticket::set_number(&mut change, TicketNumber(number));
    let start = change.ticket.created_at;
    let mut events: Vec<HistoryEvent> = change
        .events
        .iter()
        .filter(|e| matches!(e, EventData::Created { .. }))
        .map(|e| HistoryEvent { at: start, actor: actor.clone(), data: e.clone() })
        .collect();
    for i in events.len()..EVENTS {
        let visibility = if i % 2 == 0 { Visibility::Public } else { Visibility::Internal };
        let data = EventData::CommentAdded {
            body: format!("Comment {i}: checked the unit again, details below.\nAll good so far."),
            visibility,
            first_response: false,
            from_customer: false,
        };
        events.push(HistoryEvent { at: start.plus_millis(i as i64), actor: actor.clone(), data });
    }
    let mut history = TicketHistory::open(steward_domain::ticket::Change::new(change.ticket.clone(), Vec::new()), &actor)
        .expect("a fresh history takes its own ticket");
    history.events = events;
    services.import_histories(&[history]).await?;

    let login = bench_person(services, "Bench Reader", "bench-reader", None).await?;
    let secret = services.sign_in(SignIn { email: login.email.clone(), password: BENCH_PASSWORD.into(), remote_addr: None }).await?.secret;

    let url = format!("{}/tickets/{}", server.base, TicketNumber(number));
    let mut timings = Vec::with_capacity(samples);
    for i in 0..=samples {
        let started = Instant::now();
        let response = server.client.get(&url).header("cookie", format!("steward_session={secret}")).send().await?;
        let status = response.status();
        let page = response.text().await?;
        if !status.is_success() || !page.contains("Comment 999") {
            return Err(BenchError::Server(format!("the ticket page answered {status}")));
        }
        if i > 0 {
            timings.push(millis_since(started));
        }
    }
    let timings = Timings::sorted(timings);
    let met = timings.p50() < 30.0;
    Ok(timings.row("P10", "console ticket page with 1 000 events over HTTP", "p50 < 30 ms", Some(met)))
}

/// P11: a queue page of 50 (every ticket, sorted by SLA due, with countdowns) rendered by the
/// server for a signed-in person, over HTTP; and the counts of every view beside it, from the
/// counters, in process (what the page calls).
async fn queue_rows(services: &Arc<Services>, server: &Server, samples: usize) -> Result<Vec<BenchRow>, BenchError> {
    use steward_services::SignIn;
    let login = bench_person(services, "Queue Bench", "queue-bench", Some("support")).await?;
    let secret = services.sign_in(SignIn { email: login.email.clone(), password: BENCH_PASSWORD.into(), remote_addr: None }).await?.secret;
    let principal = services.session_principal(&secret).await?.map(|live| live.principal);
    let principal = principal.ok_or_else(|| BenchError::Server("the bench session is not live".into()))?;

    let url = format!("{}/queues?view=all", server.base);
    let mut pages = Vec::with_capacity(samples);
    for n in 0..=samples {
        let started = Instant::now();
        let response = server.client.get(&url).header("cookie", format!("steward_session={secret}")).send().await?;
        let status = response.status();
        let html = response.text().await?;
        if !status.is_success() || !html.contains("data-row") {
            return Err(BenchError::Server(format!("the queue page answered {status}")));
        }
        if n > 0 {
            pages.push(millis_since(started));
        }
    }
    let pages = Timings::sorted(pages);
    let page_row = pages.row(
        "P11",
        "queue page of 50 (all tickets, by SLA due) rendered server-side, over HTTP",
        "p50 < 20 ms",
        Some(pages.p50() < 20.0),
    );

    let views = Services::views_for(&principal).len().max(1);
    let mut counts = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        services.view_counts(&principal).await?;
        counts.push(millis_since(started) / views as f64);
    }
    let counts = Timings::sorted(counts);
    let mut count_row =
        counts.row("P11", "one view's count (from the counters; all views timed, per view)", "< 5 ms", Some(counts.p99() < 5.0));
    count_row.value = Some(format!("{views} views per page"));
    Ok(vec![page_row, count_row])
}

/// P12: the time from a ticket change to its `changed` event in a console live stream
/// (`/live?ticket=…`) served by the server under test. On PostgreSQL the change is made by
/// this process, a second node on the same database, which then sends its notification as the
/// server's notifier does (the first commit after a quiet spell is announced at once): commit,
/// `pg_notify`, the server's listener, the stream's resync and the event. On SQLite (one
/// node) the change goes through the server's API and its in-process hint.
async fn live_row(services: &Arc<Services>, server: &Server, samples: usize) -> Result<BenchRow, BenchError> {
    use steward_domain::ids::{TicketId, TicketRef};
    use steward_domain::ticket::Visibility;
    use steward_services::SignIn;
    let login = bench_person(services, "Bench Watcher", "watcher", None).await?;
    let session = services.sign_in(SignIn { email: login.email.clone(), password: BENCH_PASSWORD.into(), remote_addr: None }).await?.secret;
    let ticket =
        server.post("/api/v1/tickets", &json!({"title": "Live probe", "channel": "email", "customer": {"name": "Bench Ltd"}})).await?;
    let id = ticket["id"].as_str().unwrap_or_default().to_owned();
    let ticket_id = TicketId::parse("id", &id).map_err(|e| BenchError::Server(e.to_string()))?;
    let mut stream = server
        .client
        .get(format!("{}/live?ticket={id}", server.base))
        .header("cookie", format!("steward_session={session}"))
        .send()
        .await?;
    if !stream.status().is_success() {
        return Err(BenchError::Server(format!("/live answered {}", stream.status())));
    }
    let mut buffer = String::new();
    // The stream is ready once it has said who else is viewing.
    next_sse_event(&mut stream, &mut buffer, "viewers").await?;
    let postgres = services.database_backend() == "postgres";
    let mut timings = Vec::with_capacity(samples);
    for i in 0..samples {
        let started = Instant::now();
        if postgres {
            services
                .comment_on_ticket(TicketRef::Id(ticket_id), &format!("probe {i}"), Visibility::Public, false, &Actor::system())
                .await?;
            services.notify_changes().await?;
        } else {
            server.post(&format!("/api/v1/tickets/{id}/comments"), &json!({"body": format!("probe {i}"), "visibility": "public"})).await?;
        }
        next_sse_event(&mut stream, &mut buffer, "changed").await?;
        timings.push(millis_since(started));
        // Past the notifier's coalescing window, as separate changes by people would be.
        tokio::time::sleep(steward_services::live::NOTIFY_COALESCE).await;
    }
    let timings = Timings::sorted(timings);
    let what = match postgres {
        true => "a change on another node shown in a live stream (commit → NOTIFY → listener → SSE)",
        false => "a change shown in a live stream on the same node (commit → hint → SSE)",
    };
    Ok(timings.row("P12", what, "< 1 s", Some(timings.p99() < 1000.0)))
}

/// P13: the bytes on the wire, gzip accepted as every browser does, of a console page's first
/// load with an empty cache: the page and each script and style sheet it links. Two pages: the
/// queue page of 50 (where a person lands) and the page of a seeded ticket opened from it.
async fn first_load_rows(services: &Arc<Services>, server: &Server) -> Result<Vec<BenchRow>, BenchError> {
    use steward_services::SignIn;
    let login = bench_person(services, "First Load", "first-load", Some("support")).await?;
    let secret = services.sign_in(SignIn { email: login.email.clone(), password: BENCH_PASSWORD.into(), remote_addr: None }).await?.secret;
    let fetch = |path: String| {
        let request = server.client.get(format!("{}{path}", server.base));
        let request = request.header("cookie", format!("steward_session={secret}")).header("accept-encoding", "gzip, deflate, br");
        async move {
            let response = request.send().await?;
            if !response.status().is_success() {
                return Err(BenchError::Server(format!("GET {path} answered {}", response.status())));
            }
            // The client decodes nothing: these are the bytes as sent.
            Ok::<_, BenchError>(response.bytes().await?.to_vec())
        }
    };
    let plain = |bytes: &[u8]| -> String {
        use std::io::Read;
        let mut text = String::new();
        match flate2::read::GzDecoder::new(bytes).read_to_string(&mut text) {
            Ok(_) => text,
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    };

    let queue_page = fetch("/queues?view=all".into()).await?;
    let queue_html = plain(&queue_page);
    let ticket_path = queue_html
        .split('"')
        .find(|s| s.starts_with("/tickets/T-") && !s[9..].contains('/'))
        .ok_or_else(|| BenchError::Server("the queue page links no ticket".into()))?
        .to_owned();
    let ticket_page = fetch(ticket_path).await?;

    let mut rows = Vec::new();
    for (what, page) in [("the queue page of 50", queue_page), ("a ticket's page", ticket_page)] {
        let html = plain(&page);
        let mut assets: Vec<&str> = html.split('"').filter(|s| s.starts_with("/assets/")).collect();
        assets.sort_unstable();
        assets.dedup();
        let mut asset_bytes = 0;
        for asset in &assets {
            asset_bytes += fetch((*asset).to_owned()).await?.len();
        }
        let total_kb = (page.len() + asset_bytes) as f64 / 1024.0;
        rows.push(BenchRow {
            id: "P13",
            what: format!("first load of {what} with all its assets, compressed (bodies as sent)"),
            samples: 1,
            p50_ms: None,
            p99_ms: None,
            per_second: None,
            value: Some(format!(
                "{total_kb:.1} KB (page {:.1} KB of {:.1} KB, {} assets {:.1} KB)",
                page.len() as f64 / 1024.0,
                html.len() as f64 / 1024.0,
                assets.len(),
                asset_bytes as f64 / 1024.0
            )),
            target: "< 150 KB".into(),
            met: Some(total_kb < 150.0),
        });
    }
    Ok(rows)
}

/// Reads an SSE response until an event named `kind` (skipping others and comments); fails
/// after 10 s.
async fn next_sse_event(stream: &mut reqwest::Response, buffer: &mut String, kind: &str) -> Result<(), BenchError> {
    let read = async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l.strip_prefix("event:").is_some_and(|v| v.trim() == kind)) {
                    return Ok(());
                }
            }
            match stream.chunk().await? {
                Some(chunk) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
                None => return Err(BenchError::Server("the live stream ended".into())),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.map_err(|_| BenchError::Server(format!("no `{kind}` event within 10 s")))?
}

/// P1's load: `connections` clients each creating `requests` tickets one after another
/// (email channel, a customer contact, a tag), all at once. The rate over the whole load, and
/// each request's latency.
async fn http_creations(server: &Server, connections: usize, requests: usize) -> Result<(f64, Timings), BenchError> {
    let total = connections * requests;
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..connections {
        let (client, base, token) = (server.client.clone(), server.base.clone(), server.token.clone());
        clients.spawn(async move {
            let mut latencies = Vec::with_capacity(requests);
            for r in 0..requests {
                let body = json!({
                    "title": format!("Bench ticket {c}-{r}"),
                    "channel": "email",
                    "priority": "normal",
                    "customer": {"name": "Bench Ltd", "contact": "bench@example.com"},
                    "tags": ["bench"],
                });
                let started = Instant::now();
                let response = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await?;
                let status = response.status();
                response.bytes().await?;
                if status != reqwest::StatusCode::CREATED {
                    return Err(BenchError::Server(format!("creating a ticket answered {status}")));
                }
                latencies.push(millis_since(started));
            }
            Ok::<_, BenchError>(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(total);
    while let Some(done) = clients.join_next().await {
        latencies.extend(done??);
    }
    let http_rate = total as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let latencies = Timings::sorted(latencies);
    Ok((http_rate, latencies))
}

/// P1: creation over HTTP by `connections` clients at once, then the same rows inserted
/// straight into the database by as many tasks.
async fn creation_rows(services: &Arc<Services>, server: &Server, options: &BenchOptions) -> Result<Vec<BenchRow>, BenchError> {
    let total = options.connections * options.requests_per_connection;
    let (http_rate, latencies) = http_creations(server, options.connections, options.requests_per_connection).await?;

    // The same rows with no server: the ticket and its creation event, one transaction each.
    let numbers = services.reserve_ticket_numbers(total as u32).await?;
    let actor = Arc::new(Actor::system());
    let mut histories = Vec::with_capacity(total);
    for (i, number) in numbers.into_iter().enumerate() {
        let draft = bench_draft(format!("Raw ticket {i}"), vec!["bench".into()]);
        let mut change = Ticket::open(draft, &services.rules(), Timestamp::now()).map_err(ServiceError::from)?;
        Ticket::set_number(&mut change, TicketNumber(number));
        let created: Vec<HistoryEvent> = change
            .events
            .iter()
            .filter(|e| matches!(e, EventData::Created { .. }))
            .map(|e| HistoryEvent { at: change.ticket.created_at, actor: actor.clone(), data: e.clone() })
            .collect();
        let mut history = TicketHistory::open(steward_domain::ticket::Change::new(change.ticket.clone(), Vec::new()), &actor)
            .expect("a fresh history takes its own ticket");
        history.events = created;
        histories.push(history);
    }
    let per_task = histories.len().div_ceil(options.connections.max(1)).max(1);
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    let mut histories = histories.into_iter().peekable();
    while histories.peek().is_some() {
        let share: Vec<TicketHistory> = histories.by_ref().take(per_task).collect();
        let services = services.clone();
        writers.spawn(async move {
            for history in &share {
                services.import_histories(std::slice::from_ref(history)).await?;
            }
            Ok::<_, ServiceError>(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    let raw_rate = total as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let ratio = http_rate / raw_rate.max(1e-9);
    let mut http = latencies.row(
        "P1",
        format!("create tickets over HTTP, {} connections", options.connections),
        "ratio to raw inserts ≥ 0.5",
        Some(ratio >= 0.5),
    );
    http.per_second = Some(http_rate);
    http.value = Some(format!("ratio {ratio:.2}"));
    let raw = BenchRow {
        id: "P1",
        what: format!("raw insert of the same rows (ticket + creation event), {} tasks, no server", options.connections),
        samples: total,
        p50_ms: None,
        p99_ms: None,
        per_second: Some(raw_rate),
        value: None,
        target: String::new(),
        met: None,
    };
    Ok(vec![http, raw])
}

/// P3: the latency of one stage move with no guard, then with each guard alone; the added
/// latency is the difference of the medians.
async fn guard_rows(server: &Server, options: &BenchOptions) -> Result<Vec<BenchRow>, BenchError> {
    let plugins = server.get_json("/api/v1/plugins").await?;
    let loaded = |name: &str| plugins.as_array().into_iter().flatten().any(|p| p["name"] == name && p["state"] == "enabled");
    const WASM: &str = "field-service";
    const RHAI: &str = "ecommerce-returns";
    let (wasm, rhai) = (loaded(WASM), loaded(RHAI));
    for name in [WASM, RHAI] {
        if loaded(name) {
            server.post(&format!("/api/v1/plugins/{name}/disable"), &json!({})).await?;
        }
    }
    let baseline = server.transition_timings(options.samples).await?;
    let mut rows = vec![baseline.row("P3", "stage move, no guard", "", None)];
    for (name, runtime, present) in [(WASM, "WASM", wasm), (RHAI, "rhai", rhai)] {
        if !present {
            rows.push(BenchRow {
                id: "P3",
                what: format!("stage move through the {runtime} guard ({name} not loaded: run `steward plugin build-bundled`)"),
                samples: 0,
                p50_ms: None,
                p99_ms: None,
                per_second: None,
                value: None,
                target: "added < 1 ms".into(),
                met: None,
            });
            continue;
        }
        server.post(&format!("/api/v1/plugins/{name}/enable"), &json!({})).await?;
        let timings = server.transition_timings(options.samples).await?;
        server.post(&format!("/api/v1/plugins/{name}/disable"), &json!({})).await?;
        let added = timings.p50() - baseline.p50();
        let mut row = timings.row("P3", format!("stage move through the {runtime} guard ({name})"), "added < 1 ms", Some(added < 1.0));
        row.value = Some(format!("added {added:.2} ms"));
        rows.push(row);
    }
    for (name, present) in [(WASM, wasm), (RHAI, rhai)] {
        if present {
            server.post(&format!("/api/v1/plugins/{name}/enable"), &json!({})).await?;
        }
    }
    Ok(rows)
}

/// A plain email request from the bench's customer.
fn bench_draft(title: String, tags: Vec<String>) -> TicketDraft {
    TicketDraft {
        title,
        description: None,
        kind: Kind::Request,
        channel: Channel::Email,
        priority: Priority::Normal,
        customer_name: "Bench Ltd".into(),
        customer_contact: Some("bench@example.com".into()),
        customer_tier: None,
        process: None,
        assignee: None,
        tags,
        custom_fields: None,
        origin_ticket_id: None,
    }
}

/// P3 in process: one guard-hook call through the plugin host (what a stage move adds),
/// with no guard plugin enabled, then with each alone.
async fn guard_call_rows(services: &Arc<Services>, calls: usize) -> Result<Vec<BenchRow>, BenchError> {
    let Some(host) = services.plugin_host().cloned() else { return Ok(Vec::new()) };
    let services = services.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let draft = bench_draft("Guard probe".into(), Vec::new());
        let Ok(change) = Ticket::open(draft, &services.rules(), Timestamp::now()) else { return Vec::new() };
        let snapshot = steward_plugin_host::TicketSnapshot::at(&change.ticket, Timestamp::now());
        let time_calls = || {
            let mut timings = Vec::with_capacity(calls);
            for i in 0..calls + calls / 10 {
                let started = Instant::now();
                let _ = host.guard_transition(&snapshot, "consultation", "needs_analysis");
                if i >= calls / 10 {
                    timings.push(millis_since(started));
                }
            }
            Timings::sorted(timings)
        };
        let guards = [("field-service", "WASM"), ("ecommerce-returns", "rhai")];
        let present: Vec<_> = guards
            .iter()
            .filter(|(name, _)| host.status(name).is_ok_and(|s| s.state == steward_plugin_host::PluginState::Enabled))
            .collect();
        for (name, _) in &present {
            let _ = host.disable(name);
        }
        let baseline = time_calls();
        let mut rows = vec![baseline.row("P3", "guard hook, in process, no guard plugin enabled", "", None)];
        for (name, runtime) in present {
            let _ = host.enable(name);
            let timings = time_calls();
            let _ = host.disable(name);
            let added = timings.p50() - baseline.p50();
            let mut row = timings.row("P3", format!("guard hook, in process, {runtime} guard ({name})"), "added < 1 ms", Some(added < 1.0));
            row.value = Some(format!("added {:.1} µs", added * 1000.0));
            rows.push(row);
        }
        rows
    })
    .await?;
    Ok(rows)
}

/// P6: tickets under a one-second first-response target; how long after each due time the
/// sweeper recorded the breach.
async fn breach_delays(server: &Server, probes: usize) -> Result<Timings, BenchError> {
    let policy = json!({
        "key": "bench-breach-probe", "name": "Bench breach probe", "order": 1,
        "match": {"channels": ["onsite"], "priorities": ["low"], "kinds": ["incident"]},
        "first_response": "1s", "resolution": "1d",
    });
    server.post("/api/v1/sla-policies", &policy).await?;
    // The server re-reads policies every few seconds; a probe opened before it did would not match.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut ids = Vec::new();
    for i in 0..probes {
        let ticket = server
            .post(
                "/api/v1/tickets",
                &json!({"title": format!("Breach probe {i}"), "channel": "onsite", "priority": "low", "kind": "incident",
                        "customer": {"name": "Bench Ltd"}}),
            )
            .await?;
        ids.push(ticket["id"].as_str().unwrap_or_default().to_owned());
        tokio::time::sleep(Duration::from_millis(137)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut delays = Vec::new();
    for id in &ids {
        let sla = server.get_json(&format!("/api/v1/tickets/{id}/sla")).await?;
        let events = server.get_json(&format!("/api/v1/tickets/{id}/events?limit=200")).await?;
        let clock = sla["clocks"].as_array().into_iter().flatten().find(|c| c["kind"] == "first_response");
        // Once breached, `breached_at` is the instant the target was reached.
        let due = clock.and_then(|c| c["breached_at"].as_str().or(c["due_at"].as_str())).and_then(|t| Timestamp::parse("due_at", t).ok());
        let breached = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["kind"] == "sla_breached" && e["data"]["clock"]["kind"] == "first_response")
            .and_then(|e| e["at"].as_str())
            .and_then(|t| Timestamp::parse("at", t).ok());
        match (due, breached) {
            (Some(due), Some(at)) => delays.push((at.as_millis() - due.as_millis()) as f64),
            _ => return Err(BenchError::Server(format!("probe {id}: no first-response breach recorded ({sla})"))),
        }
    }
    server.delete("/api/v1/sla-policies/bench-breach-probe").await?;
    Ok(Timings::sorted(delays))
}

/// P9: `slow_connections` clients each send half a request head and then nothing; meanwhile
/// normal requests (a page of tickets) run one after another. Counts the slow connections the
/// server closed within its header read timeout (plus one second for scheduling), and times the
/// normal requests.
async fn slow_client_row(server: &Server, options: &BenchOptions) -> Result<BenchRow, BenchError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.base.trim_start_matches("http://").to_owned();
    let timeout = Duration::from_millis(options.header_read_timeout_ms);
    let allowed = timeout + Duration::from_secs(1);
    let started = Instant::now();
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..options.slow_connections {
        let mut stream = tokio::net::TcpStream::connect(&address).await.map_err(|e| BenchError::Server(format!("slow client {i}: {e}")))?;
        stream
            .write_all(format!("GET /api/v1/tickets HTTP/1.1\r\nHost: bench\r\nX-Slow-{i}: ").as_bytes())
            .await
            .map_err(|e| BenchError::Server(format!("slow client {i}: {e}")))?;
        slow.spawn(async move {
            let opened = Instant::now();
            let mut buf = [0u8; 512];
            // Reads until the server closes the connection, or gives up well past the timeout.
            let closed = tokio::time::timeout(allowed * 3, async {
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
            })
            .await
            .is_ok();
            closed.then(|| opened.elapsed())
        });
    }
    let mut timings = Vec::new();
    while started.elapsed() < timeout {
        let request_started = Instant::now();
        server.get_json("/api/v1/tickets?status=open&limit=50").await?;
        timings.push(millis_since(request_started));
    }
    let mut closed_in_time = 0;
    while let Some(outcome) = slow.join_next().await {
        if outcome?.is_some_and(|after| after <= allowed) {
            closed_in_time += 1;
        }
    }
    let timings = Timings::sorted(timings);
    let n = options.slow_connections;
    let met = closed_in_time == n && timings.p99() < 50.0;
    let mut row = timings.row(
        "P9",
        format!("{n} half-sent request heads held open while normal requests run (header timeout {} ms)", timeout.as_millis()),
        "all closed within the timeout; normal p99 < 50 ms",
        Some(met),
    );
    row.value = Some(format!("{closed_in_time}/{n} closed in time"));
    Ok(row)
}

/// The server binary under test, serving the benchmark's database on a free port. Killed
/// when dropped, so a failed run leaves no server behind.
struct Server {
    child: std::process::Child,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Server {
    async fn start(command: &ServerCommand, token: &str) -> Result<Server, BenchError> {
        Server::start_with(command, token, &[]).await
    }

    /// Starts the server with `env` added to its environment.
    async fn start_with(command: &ServerCommand, token: &str, env: &[(&str, String)]) -> Result<Server, BenchError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| BenchError::Server(format!("no free port: {e}")))?
            .port();
        let child = std::process::Command::new(&command.program)
            .args(&command.args)
            .arg("serve")
            .env("STEWARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("STEWARD_LOG_LEVEL", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .spawn()
            .map_err(|e| BenchError::Server(format!("cannot start {}: {e}", command.program.display())))?;
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).no_proxy().build()?;
        let mut server = Server { child, client, base: format!("http://127.0.0.1:{port}"), token: token.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = server.client.get(format!("{}/readyz", server.base)).send().await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            if let Ok(Some(exit)) = server.child.try_wait() {
                return Err(BenchError::Server(format!("exited before it was ready ({exit})")));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Server("not ready within two minutes".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = tokio::task::spawn_blocking(move || self.child.wait()).await;
    }

    /// The server's resident set, from /proc (Linux).
    fn resident_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, BenchError> {
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            return Err(BenchError::Server(format!("{status}: {text}")));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get_json(&self, path: &str) -> Result<Value, BenchError> {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, BenchError> {
        self.send(self.client.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body.to_string())).await
    }

    async fn delete(&self, path: &str) -> Result<Value, BenchError> {
        self.send(self.client.delete(format!("{}{path}", self.base))).await
    }

    /// `samples` timed GETs of `path` (after one untimed warm-up), each read to the end.
    async fn get_timings(&self, path: &str, samples: usize) -> Result<Timings, BenchError> {
        self.get_json(path).await?;
        let mut timings = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            self.get_json(path).await?;
            timings.push(millis_since(started));
        }
        Ok(Timings::sorted(timings))
    }

    /// The value of one series in the server's `/metrics` (`name{labels}` as exposed); 0 when
    /// it has not been exposed yet.
    async fn metric(&self, series: &str) -> Result<f64, BenchError> {
        let response = self.client.get(format!("{}/metrics", self.base)).bearer_auth(&self.token).send().await?;
        let text = response.text().await?;
        let value = text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()));
        Ok(value.unwrap_or(0.0))
    }

    async fn scrape_timings(&self, samples: usize) -> Result<Timings, BenchError> {
        let path = format!("{}/metrics", self.base);
        let mut timings = Vec::with_capacity(samples);
        for i in 0..=samples {
            let started = Instant::now();
            let response = self.client.get(&path).bearer_auth(&self.token).send().await?;
            let status = response.status();
            response.bytes().await?;
            if !status.is_success() {
                return Err(BenchError::Server(format!("/metrics answered {status}")));
            }
            if i > 0 {
                timings.push(millis_since(started));
            }
        }
        Ok(Timings::sorted(timings))
    }

    /// `samples` fresh tickets, each moved once (consultation to needs analysis); only the
    /// moves are timed.
    async fn transition_timings(&self, samples: usize) -> Result<Timings, BenchError> {
        let mut timings = Vec::with_capacity(samples);
        for i in 0..samples {
            let ticket = self
                .post(
                    "/api/v1/tickets",
                    &json!({"title": format!("Guard probe {i}"), "channel": "email", "customer": {"name": "Bench Ltd"}}),
                )
                .await?;
            let id = ticket["id"].as_str().unwrap_or_default().to_owned();
            let started = Instant::now();
            self.post(&format!("/api/v1/tickets/{id}/transitions"), &json!({"to": "needs_analysis"})).await?;
            timings.push(millis_since(started));
        }
        Ok(Timings::sorted(timings))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory_gib: memory_kb / 1024.0 / 1024.0,
        os: std::env::consts::OS.to_owned(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
    }
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_default()
}

/// The report as a markdown table.
pub fn markdown(report: &BenchReport) -> String {
    let m = &report.machine;
    let reused = match report.reused_tickets {
        0 => String::new(),
        n => format!(", {n} of them reused from an earlier run"),
    };
    let mut out = format!(
        "Backend: **{}**, {} tickets ({} running SLA clocks), seeded in {:.0} s{reused}. Machine: {}, {} cores, {:.1} GiB, {} build.\n\n",
        report.backend, report.tickets, report.running_clocks, report.seed_seconds, m.cpu, m.cores, m.memory_gib, m.build
    );
    out.push_str(
        "| row | what | samples | p50 ms | p99 ms | per second | figure | target | met |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &report.rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.id,
            r.what,
            r.samples,
            cell(r.p50_ms, 3),
            cell(r.p99_ms, 3),
            cell(r.per_second, 0),
            r.value.clone().unwrap_or_default(),
            r.target,
            met
        ));
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
