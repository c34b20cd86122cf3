//! `steward seed`: fills the configured database with deterministic, realistic data.
//!
//! The reference data (courses, staff with training records, partners with contracts) goes
//! through the services like any API call. Tickets take the bulk path: each ticket's whole life
//! (opening, first response, comments, stage moves through plugin guards, reviews, delegations,
//! waiting periods, the sweeper's SLA alerts, resolution, the survey and its answer) is played
//! through the same domain rules and SLA engine the services use, at backdated instants across
//! the past year, into a [`TicketHistory`]; histories are written a batch per transaction with
//! multi-row inserts while the next batch is generated.
//!
//! Every ticket draws its life from its own generator seeded by `(seed, index)` and a fixed
//! "until" instant, so the same seed gives the same data whatever the batch size.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;
use steward_domain::auth::Role;
use steward_domain::clock::ClockKind;
use steward_domain::duration::TargetDuration;
use steward_domain::event::{Actor, ActorKind};
use steward_domain::feedback::{ChecklistItem, Review, ReviewOutcome};
use steward_domain::history::{HistoryError, TicketHistory};
use steward_domain::ids::TicketNumber;
use steward_domain::partner::{Contract, Partner, PartnerInput, PartnerKind, PartnerStatus};
use steward_domain::process::Process;
use steward_domain::staff::{Staff, StaffInput};
use steward_domain::ticket::{Change, Channel, Kind, Priority, Status, Ticket, TicketDraft, TicketPatch, Visibility};
use steward_domain::time::Timestamp;
use steward_domain::training::{AssessmentMethod, Course};
use steward_services::{NewTrainingRecord, ServiceError, Services};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub tickets: u64,
    /// The index of the first ticket: a later run continues an earlier one's sequence
    /// instead of repeating it.
    pub first: u64,
    /// Upper bound on the comments added to each ticket (stage moves and the rest come on top).
    pub events_per_ticket: u64,
    pub seed: u64,
    /// Tickets per transaction.
    pub batch: usize,
    /// The instant the generated year ends at (default: now). Fixing it makes two runs equal.
    pub until: Option<Timestamp>,
    /// A progress bar (or, off a terminal, a line per tenth) on stderr.
    pub progress: bool,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { tickets: 100, first: 0, events_per_ticket: 4, seed: 1, batch: 500, until: None, progress: false }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub staff: u64,
    pub courses: u64,
    pub training_records: u64,
    pub partners: u64,
    pub tickets: u64,
    pub events: u64,
    pub transitions: u64,
    pub comments: u64,
    pub reviews: u64,
    pub status_changes: u64,
    pub delegations: u64,
    pub surveys_answered: u64,
    pub sla_alerts: u64,
    /// Moves a plugin guard vetoed (those tickets wait where they are).
    pub vetoed_moves: u64,
    /// Tickets per process key.
    pub by_process: std::collections::BTreeMap<String, u64>,
}

impl SeedReport {
    fn add(&mut self, other: SeedReport) {
        self.staff += other.staff;
        self.courses += other.courses;
        self.training_records += other.training_records;
        self.partners += other.partners;
        self.tickets += other.tickets;
        self.events += other.events;
        self.transitions += other.transitions;
        self.comments += other.comments;
        self.reviews += other.reviews;
        self.status_changes += other.status_changes;
        self.delegations += other.delegations;
        self.surveys_answered += other.surveys_answered;
        self.sla_alerts += other.sla_alerts;
        self.vetoed_moves += other.vetoed_moves;
        for (process, n) in other.by_process {
            *self.by_process.entry(process).or_default() += n;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seeding ticket {index}: {message}")]
    Ticket { index: u64, message: String },
    #[error("seeding: {0}")]
    Service(#[from] ServiceError),
    #[error("a seeding task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// SplitMix64: small, fast and plenty for test data; the same seed gives the same stream.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `0.0..1.0`.
    fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A duration in milliseconds between `min` and `max` minutes, skewed towards `min`.
    fn minutes(&mut self, min: u64, max: u64) -> i64 {
        let span = max.saturating_sub(min).max(1);
        let a = self.below(span);
        let b = self.below(span);
        ((min + a.min(b)) * 60_000 + self.below(60_000)) as i64
    }
}

const DAY_MS: i64 = 86_400_000;
const YEAR_MS: i64 = 365 * DAY_MS;

const CUSTOMERS: &[&str] = &["Acme Ltd", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Soylent"];
const SUBJECTS: &[&str] = &[
    "Printer offline on floor 3",
    "Invoice shows the wrong amount",
    "New laptop for a starter",
    "VPN drops every hour",
    "Change of delivery address",
    "Contract renewal question",
    "Installation on site",
    "Late delivery complaint",
];
const COMMENTS: &[&str] = &[
    "Called the customer, waiting for details.",
    "Reproduced the problem.",
    "Customer confirmed the time slot.",
    "Parts ordered.",
    "Escalated to the back office.",
    "Sent the proposal.",
];
const TEAMS: &[&str] = &["front-office", "back-office", "field"];
/// Custom fields a realistic share of a plugin process's tickets carries, so its guards let
/// most of them through (and veto the rest).
const PROCESS_FIELDS: &[(&str, &str, &str)] =
    &[("field_service", "parts_log", "1 pump, 2 filters"), ("ecommerce", "payment_ref", "PAY-2291")];
/// The course every agent takes; certification courses come from the processes' stages.
const BASICS_COURSE: &str = "SERVICE-BASICS";

/// How a ticket's life ends, unless "until" comes first.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Resolved,
    Cancelled,
    /// Stops after this many stage moves and stays open.
    Stalls(usize),
}

/// Reference data the ticket lives draw on.
struct Cast {
    agents: Vec<Arc<Actor>>,
    /// Agents certified for every gated stage: the only ones tickets are assigned to.
    assignable: Vec<Staff>,
    reviewers: Vec<Arc<Actor>>,
    partners: Vec<Partner>,
    system: Arc<Actor>,
    /// Processes tickets are opened in, with their weight.
    processes: Vec<(Arc<Process>, u64)>,
}

/// Fills the database behind `services` with the reference data, then `options.tickets`
/// ticket histories.
/// One batch of ticket lives, generated on the blocking pool, and what it holds.
type GeneratedBatch = (Vec<TicketHistory>, SeedReport);

pub async fn seed(services: &Arc<Services>, options: SeedOptions) -> Result<SeedReport, SeedError> {
    let until = options.until.unwrap_or_else(Timestamp::now);
    let mut report = SeedReport::default();
    let cast = Arc::new(reference_data(services, &options, until, &mut report).await?);
    let batch = options.batch.max(1) as u64;
    let mut progress = Progress::new(options.tickets, options.progress);
    let mut in_flight: VecDeque<tokio::task::JoinHandle<Result<GeneratedBatch, SeedError>>> = VecDeque::new();
    let (mut next, end) = (options.first, options.first + options.tickets);
    loop {
        // Generation of the next batch overlaps the write of the previous one.
        while next < end && in_flight.len() < 2 {
            let count = batch.min(end - next);
            let numbers = services.reserve_ticket_numbers(count as u32).await?;
            let (services, cast, options) = (services.clone(), cast.clone(), options.clone());
            let first = next;
            in_flight.push_back(tokio::task::spawn_blocking(move || {
                let mut histories = Vec::with_capacity(numbers.len());
                let mut report = SeedReport::default();
                for (offset, number) in numbers.into_iter().enumerate() {
                    let index = first + offset as u64;
                    let life = Life::play(&services, &cast, &options, until, index, TicketNumber(number), &mut report)
                        .map_err(|message| SeedError::Ticket { index, message })?;
                    histories.push(life);
                }
                Ok((histories, report))
            }));
            next += count;
        }
        let Some(handle) = in_flight.pop_front() else { break };
        let (histories, batch_report) = handle.await??;
        services.import_histories(&histories).await?;
        progress.advance(histories.len() as u64);
        report.add(batch_report);
    }
    progress.finish();
    services.refresh_planner_statistics().await?;
    Ok(report)
}

async fn reference_data(services: &Services, options: &SeedOptions, until: Timestamp, report: &mut SeedReport) -> Result<Cast, SeedError> {
    let processes: Vec<Arc<Process>> = services.processes.iter().cloned().collect();
    // Courses: the basics, and one per certification a stage requires.
    let mut certifications: Vec<String> =
        processes.iter().flat_map(|p| p.stages.iter().filter_map(|s| s.required_certification.clone())).collect();
    certifications.sort();
    certifications.dedup();
    let existing_courses = services.list_courses().await?;
    for (code, certifies) in std::iter::once((BASICS_COURSE.to_owned(), false)).chain(certifications.iter().map(|c| (c.clone(), true))) {
        if existing_courses.iter().any(|c| c.code == code) {
            continue;
        }
        services
            .create_course(Course {
                title: format!("{} (seeded)", code.to_lowercase().replace('-', " ")),
                description: "Generated by `steward seed`.".into(),
                certifies,
                validity: certifies.then(|| TargetDuration::from_seconds(2 * 365 * 86_400)),
                pass_score: 70,
                method: AssessmentMethod::Exam,
                code,
                created_at: until,
                updated_at: until,
            })
            .await?;
        report.courses += 1;
    }

    // Staff: agents in three teams, supervisors, reviewers. A later run reuses them.
    let existing = services.active_staff().await?;
    let mut roster = Vec::new();
    for i in 0..24 {
        roster.push((Role::Agent, format!("Agent {i:02}"), TEAMS[i % TEAMS.len()]));
    }
    for i in 0..3 {
        roster.push((Role::Supervisor, format!("Supervisor {i}"), TEAMS[i % TEAMS.len()]));
        roster.push((Role::Qa, format!("Reviewer {i}"), "quality"));
    }
    let mut cast = Cast {
        agents: Vec::new(),
        assignable: Vec::new(),
        reviewers: Vec::new(),
        partners: Vec::new(),
        system: Arc::new(Actor::system()),
        processes: Vec::new(),
    };
    for (i, (role, name, team)) in roster.into_iter().enumerate() {
        let email = format!("seed-{}-{i}@steward.example", options.seed);
        let staff = match existing.iter().find(|s| s.email == email) {
            Some(staff) => staff.clone(),
            None => {
                report.staff += 1;
                let staff = services.create_staff(StaffInput { name, email, role, team: Some(team.to_owned()), active: true }).await?;
                // Training: everyone took the basics; most agents and all supervisors hold every
                // certification (completed over the last two years, so some expire soon), a few
                // agents let theirs lapse and one never took it.
                let mut rng = Rng::new(options.seed, u64::MAX - i as u64);
                let mut courses = vec![(BASICS_COURSE.to_owned(), rng.below(700) as i64)];
                if role == Role::Supervisor || (role == Role::Agent && i % 8 != 7) {
                    courses.extend(certifications.iter().map(|c| (c.clone(), 30 + rng.below(670) as i64)));
                } else if role == Role::Agent && i % 16 == 7 {
                    courses.extend(certifications.iter().map(|c| (c.clone(), 740 + rng.below(100) as i64)));
                }
                for (course_code, days_ago) in courses {
                    services
                        .record_training(NewTrainingRecord {
                            course_code,
                            staff_id: staff.id,
                            completed_at: until.plus_millis(-days_ago * DAY_MS),
                            score: 70 + rng.below(31) as i64,
                            assessor: "Seeded assessor".into(),
                            method: Some(AssessmentMethod::Exam),
                            notes: None,
                            supersedes: None,
                            correction_reason: None,
                        })
                        .await?;
                    report.training_records += 1;
                }
                staff
            }
        };
        let actor = Arc::new(Actor { kind: ActorKind::Token, token_id: None, staff_id: Some(staff.id), name: staff.name.clone() });
        match staff.role {
            Role::Qa => cast.reviewers.push(actor),
            _ => {
                cast.agents.push(actor);
                if staff.role == Role::Supervisor
                    || (staff.role == Role::Agent && staff.email.rsplit('-').next().is_some_and(is_certified_slot))
                {
                    cast.assignable.push(staff);
                }
            }
        }
    }

    // Partners: most under contract, one suspended, one whose contract has ended.
    let existing_partners = services.list_partners().await?;
    let partners: [(&str, PartnerKind, PartnerStatus, Option<i64>); 6] = [
        ("Northwind Parts", PartnerKind::Supplier, PartnerStatus::Active, None),
        ("Contoso Field Services", PartnerKind::Subcontractor, PartnerStatus::Active, None),
        ("Fabrikam Logistics", PartnerKind::Logistics, PartnerStatus::Active, None),
        ("Tailspin Repairs", PartnerKind::Subcontractor, PartnerStatus::Active, None),
        ("Litware Installers", PartnerKind::Subcontractor, PartnerStatus::Suspended, None),
        ("Adventure Works", PartnerKind::Supplier, PartnerStatus::Active, Some(-30)),
    ];
    for (i, (name, kind, status, ends_in_days)) in partners.into_iter().enumerate() {
        let name = format!("{name} (seed {})", options.seed);
        let partner = match existing_partners.iter().find(|p| p.name == name) {
            Some(p) => p.clone(),
            None => {
                report.partners += 1;
                services
                    .create_partner(PartnerInput {
                        name,
                        kind,
                        contact: Some(format!("desk{i}@partner.example")),
                        status,
                        categories: vec!["hardware".into(), "installation".into()],
                        contract: Some(Contract {
                            start: until.plus_millis(-2 * YEAR_MS),
                            end: Some(until.plus_millis(ends_in_days.unwrap_or(365) * DAY_MS)),
                            first_response: TargetDuration::from_seconds(4 * 3600),
                            resolution: TargetDuration::from_seconds((2 + i as u64) * 86_400),
                            calendar: None,
                        }),
                    })
                    .await?
            }
        };
        cast.partners.push(partner);
    }

    // Most tickets go through the default process, the rest through the others (plugins' too).
    for process in processes {
        let weight = if process.key == services.default_process() { 6 } else { 1 };
        cast.processes.push((process, weight));
    }
    cast.processes.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    Ok(cast)
}

/// Whether the agent in this roster slot holds every certification (see the training above).
fn is_certified_slot(slot: &str) -> bool {
    slot.split('@').next().and_then(|n| n.parse::<usize>().ok()).is_some_and(|i| i % 8 != 7)
}

/// One ticket's life, played forward in time.
struct Life<'a> {
    services: &'a Services,
    catalog: Arc<steward_domain::sla_engine::SlaCatalog>,
    history: TicketHistory,
    system: Arc<Actor>,
    /// The typical time one piece of work takes on this ticket, and whether the ticket is
    /// one of the late ones (its work takes longer than its SLA allows).
    pace_ms: i64,
    late: bool,
    now: Timestamp,
    until: Timestamp,
    report: &'a mut SeedReport,
}

impl<'a> Life<'a> {
    fn play(
        services: &Services,
        cast: &Cast,
        options: &SeedOptions,
        until: Timestamp,
        index: u64,
        number: TicketNumber,
        report: &mut SeedReport,
    ) -> Result<TicketHistory, String> {
        let mut rng = Rng::new(options.seed, index);
        let weights: Vec<u64> = cast.processes.iter().map(|(_, w)| *w).collect();
        let process = cast.processes[weighted(&mut rng, &weights)].0.clone();
        let path: Vec<&str> = process.stages.iter().filter(|s| !s.terminal).map(|s| s.key.as_str()).collect();
        let resolving = process.stages.iter().find(|s| s.terminal && s.resolves).map(|s| s.key.as_str());
        let cancelling = process.stages.iter().find(|s| s.terminal && !s.resolves).map(|s| s.key.as_str());
        let fate = match rng.below(100) {
            0..=79 => Fate::Resolved,
            80..=87 => Fate::Cancelled,
            _ => Fate::Stalls(rng.below(path.len() as u64) as usize),
        };
        // Tickets arrive in index order across the year (so rows are mostly appended to the
        // id-ordered indexes); a life that runs into "until" stops there, open.
        let end = (options.first + options.tickets).max(1) as f64;
        let arrival = ((index as f64 + rng.fraction()) / end * YEAR_MS as f64) as i64;
        let opened = until.plus_millis(arrival - YEAR_MS);
        let agent = rng.pick(&cast.agents).clone();
        let assignee = (rng.chance(70) && !cast.assignable.is_empty()).then(|| rng.pick(&cast.assignable).id);
        let mut custom_fields = serde_json::Map::new();
        for (key, field, value) in PROCESS_FIELDS {
            if *key == process.key && rng.chance(80) {
                custom_fields.insert((*field).to_owned(), (*value).into());
            }
        }
        let draft = TicketDraft {
            title: format!("{} #{index}", rng.pick(SUBJECTS)),
            description: Some("Generated by `steward seed`.".into()),
            kind: *rng.pick(&[Kind::Request, Kind::Request, Kind::Request, Kind::Incident, Kind::Incident, Kind::Complaint]),
            channel: *rng.pick(&[Channel::Phone, Channel::Email, Channel::Email, Channel::Chat, Channel::Web, Channel::Onsite]),
            priority: *rng.pick(&[Priority::Urgent, Priority::High, Priority::Normal, Priority::Normal, Priority::Normal, Priority::Low]),
            customer_name: rng.pick(CUSTOMERS).to_string(),
            customer_contact: Some(format!("customer{}@example.com", rng.below(5000))),
            customer_tier: Some(rng.pick(&["standard", "standard", "standard", "premium", "vip"]).to_string())
                .filter(|t| services.rules().tiers.iter().any(|k| k == t)),
            process: Some(process.key.clone()),
            assignee,
            tags: vec![format!("seed-{}", rng.below(5))],
            custom_fields: Some(serde_json::Value::Object(custom_fields)),
            origin_ticket_id: None,
        };
        let mut change = Ticket::open(draft, &services.rules(), opened).map_err(|e| e.to_string())?;
        Ticket::set_number(&mut change, number);
        let change = services.plan_new_ticket(change);
        let history = TicketHistory::open(change, &agent).map_err(|e| e.to_string())?;
        *report.by_process.entry(process.key.clone()).or_default() += 1;
        report.tickets += 1;
        let mut life = Life {
            services,
            catalog: services.sla_catalog(),
            history,
            system: cast.system.clone(),
            pace_ms: 0,
            late: rng.chance(12),
            now: opened,
            until,
            report,
        };
        life.live(&mut rng, cast, options, &process, &path, fate, resolving, cancelling, &agent);
        life.sweep_until(until);
        life.report.events += life.history.events.len() as u64;
        life.report.sla_alerts += life.history.alerts.len() as u64;
        Ok(life.history)
    }

    #[allow(clippy::too_many_arguments)]
    fn live(
        &mut self,
        rng: &mut Rng,
        cast: &Cast,
        options: &SeedOptions,
        process: &Process,
        path: &[&str],
        fate: Fate,
        resolving: Option<&str>,
        cancelling: Option<&str>,
        agent: &Arc<Actor>,
    ) {
        // The work is paced to fit the resolution target (the late tickets' does not).
        let comments = rng.below(options.events_per_ticket + 1);
        let moves = match fate {
            Fate::Stalls(n) => n,
            Fate::Cancelled => 1,
            Fate::Resolved => path.len(),
        };
        let target = |kind| self.history.clocks.iter().find(|c| c.clock.kind == kind).map(|c| c.clock.target_ms);
        let budget = target(ClockKind::Resolution).unwrap_or(3 * DAY_MS);
        self.pace_ms = budget / (comments as i64 + moves as i64 + 3);
        // First response, within its target unless the ticket is a late one.
        let first_response = target(ClockKind::FirstResponse).unwrap_or(3_600_000);
        let delay = self.scaled(rng, first_response);
        if !self.step(delay, agent, |t, now| t.comment("Thanks, we are on it.", Visibility::Public, false, now).map_err(|e| e.to_string()))
        {
            return;
        }
        self.report.comments += 1;
        for _ in 0..comments {
            let visibility = *rng.pick(&[Visibility::Public, Visibility::Internal]);
            let body = *rng.pick(COMMENTS);
            if !self.step(self.work(rng), agent, |t, now| t.comment(body, visibility, false, now).map_err(|e| e.to_string())) {
                return;
            }
            self.report.comments += 1;
        }
        if fate == Fate::Cancelled {
            if let Some(to) = cancelling {
                if self.step(self.work(rng), agent, |t, now| {
                    t.transition(process, to, Some("no longer needed".into()), now).map_err(|e| e.to_string())
                }) {
                    self.report.transitions += 1;
                }
            }
            return;
        }
        for (from, to) in path.iter().zip(path.iter().skip(1)).take(moves.min(path.len() - 1)) {
            // A stage is worked on for a while; some wait on the customer or a partner meanwhile.
            if rng.chance(10) && !self.wait(rng, agent, true) {
                return;
            }
            if rng.chance(6) && !self.delegate(rng, cast, agent, true) {
                return;
            }
            if process.stage(from).is_some_and(|s| s.requires_review) && !self.review(rng, cast) {
                return;
            }
            let ticket = self.history.ticket.clone();
            if let Some(host) = self.services.plugin_host() {
                let snapshot = steward_plugin_host::TicketSnapshot::at(&ticket, self.now);
                if host.guard_transition(&snapshot, from, to).is_err() {
                    self.report.vetoed_moves += 1;
                    return;
                }
            }
            if !self.step(self.work(rng), agent, |t, now| t.transition(process, to, None, now).map_err(|e| e.to_string())) {
                return;
            }
            self.report.transitions += 1;
        }
        if let Fate::Stalls(_) = fate {
            // Stalled work often waits on someone else.
            match rng.below(100) {
                0..=29 => {
                    self.wait(rng, agent, false);
                }
                30..=49 => {
                    self.delegate(rng, cast, agent, false);
                }
                _ => {}
            }
            return;
        }
        if let (Fate::Resolved, Some(to)) = (fate, resolving) {
            let last = path.last().copied().unwrap_or_default();
            if process.stage(last).is_some_and(|s| s.requires_review) && !self.review(rng, cast) {
                return;
            }
            // Some work is marked resolved first and closed once the customer confirms.
            if rng.chance(30) {
                let services = self.services;
                let rules = services.rules();
                let patch = TicketPatch { status: Some(Status::Resolved), ..TicketPatch::default() };
                if !self.step(self.work(rng), agent, |t, now| t.apply_patch(patch, &rules, now).map_err(|e| e.to_string())) {
                    return;
                }
                self.report.status_changes += 1;
            }
            if !self.step(self.work(rng), agent, |t, now| t.transition(process, to, Some("done".into()), now).map_err(|e| e.to_string())) {
                return;
            }
            self.report.transitions += 1;
            // Most customers answer the survey resolving issued, within a few days.
            let score = *rng.pick(&[5u8, 5, 5, 4, 4, 4, 3, 2, 1, 0, 0, 0]);
            if let (true, Some(token)) = (score > 0, self.history.open_survey().map(str::to_owned)) {
                let customer = Arc::new(Actor::customer(&self.history.ticket.customer.name));
                let comment = (score <= 2).then(|| "Took far too long.".to_owned());
                if self.step(rng.minutes(60, 3 * 24 * 60), &customer, |t, now| {
                    Ok(steward_services::plan_survey_answer(t, &token, score, comment, now))
                }) {
                    self.report.surveys_answered += 1;
                }
            }
        }
    }

    /// How long one piece of work takes: a share of the pace.
    fn work(&self, rng: &mut Rng) -> i64 {
        self.scaled(rng, self.pace_ms)
    }

    /// A duration for something allowed `allowed_ms`: within it (mostly well within), or for
    /// a late ticket, past it.
    fn scaled(&self, rng: &mut Rng, allowed_ms: i64) -> i64 {
        let share = if self.late { 0.8 + 1.5 * rng.fraction() } else { 0.05 + 0.9 * rng.fraction() * rng.fraction() };
        ((allowed_ms as f64 * share) as i64).max(1000)
    }

    /// Advances the clock by `delay` and applies `rule` there, as the services would: the
    /// sweeper's alerts due meanwhile first, then the rule's change settled by the SLA engine.
    /// False when the life runs past "until" (it stops, the ticket stays as it is) or the
    /// rule refuses.
    fn step(&mut self, delay: i64, actor: &Arc<Actor>, rule: impl FnOnce(&Ticket, Timestamp) -> Result<Change, String>) -> bool {
        let at = self.now.plus_millis(delay.max(1));
        if at > self.until {
            return false;
        }
        self.sweep_until(at);
        self.now = at;
        let before = self.history.ticket.clone();
        let change = match rule(&before, at) {
            Ok(change) if change.is_empty() => return true,
            Ok(change) => change,
            Err(_) => return false,
        };
        let change = self.services.settle_change(&before, change, &self.history.clocks, &self.catalog, at);
        self.apply(change, actor, at)
    }

    fn apply(&mut self, change: Change, actor: &Arc<Actor>, at: Timestamp) -> bool {
        match self.history.apply(change, actor, at) {
            Ok(()) => true,
            Err(HistoryError::AlreadyDelegated | HistoryError::NoActiveDelegation | HistoryError::NoOpenSurvey(_)) => false,
            Err(e) => panic!("a seeded change broke the history: {e}"),
        }
    }

    /// Records the alerts the sweeper would have recorded by `at`, each at its due instant.
    fn sweep_until(&mut self, at: Timestamp) {
        // Bounded: each sweep moves a clock's next check past the instant swept.
        for _ in 0..32 {
            let Some(due) = self.history.clocks.iter().filter_map(|c| c.next_check_at).min().filter(|due| *due <= at) else { return };
            let change = Services::plan_sweep(&self.history.ticket, &self.history.clocks, &self.catalog, due);
            let system = self.system.clone();
            if change.is_empty() || !self.apply(change, &system, due) {
                return;
            }
        }
    }

    /// Waits on the customer for a while, then (when `and_back`) carries on.
    fn wait(&mut self, rng: &mut Rng, agent: &Arc<Actor>, and_back: bool) -> bool {
        let services = self.services;
        let rules = services.rules();
        let to = |status| TicketPatch { status: Some(status), ..TicketPatch::default() };
        if !self.step(rng.minutes(10, 4 * 60), agent, |t, now| {
            t.apply_patch(to(Status::WaitingCustomer), &rules, now).map_err(|e| e.to_string())
        }) {
            return false;
        }
        self.report.status_changes += 1;
        if !and_back {
            return true;
        }
        if !self.step(rng.minutes(60, 3 * 24 * 60), agent, |t, now| t.apply_patch(to(Status::Open), &rules, now).map_err(|e| e.to_string()))
        {
            return false;
        }
        self.report.status_changes += 1;
        true
    }

    /// Hands the work to a partner under contract, who (when `and_back`) answers and hands it
    /// back.
    fn delegate(&mut self, rng: &mut Rng, cast: &Cast, agent: &Arc<Actor>, and_back: bool) -> bool {
        let takers: Vec<&Partner> = cast.partners.iter().filter(|p| p.refuses_work(self.now).is_none()).collect();
        if takers.is_empty() {
            return true;
        }
        let partner = *rng.pick(&takers);
        let services = self.services;
        if !self.step(self.work(rng), agent, |t, now| {
            services.plan_delegation(t, partner, Some("Seeded delegation.".into()), now).map_err(|e| e.to_string())
        }) {
            return false;
        }
        self.report.delegations += 1;
        let rules = services.rules();
        if !and_back {
            // Where delegating does not set it, the agent marks the wait.
            let patch = TicketPatch { status: Some(Status::WaitingPartner), ..TicketPatch::default() };
            return self.step(rng.minutes(1, 30), agent, |t, now| t.apply_patch(patch, &rules, now).map_err(|e| e.to_string()));
        }
        let partner_actor = Arc::new(Actor { kind: ActorKind::Token, token_id: None, staff_id: None, name: partner.name.clone() });
        // The partner reports back; the agent takes the ticket back up.
        self.step(rng.minutes(60, 3 * 24 * 60), &partner_actor, |t, now| {
            t.comment("Work done on our side.", Visibility::Public, false, now).map_err(|e| e.to_string())
        }) && self.step(self.work(rng), agent, |t, now| {
            let patch = TicketPatch { status: Some(Status::Open), ..TicketPatch::default() };
            t.apply_patch(patch, &rules, now).map_err(|e| e.to_string())
        })
    }

    /// A quality review of the current stage: most pass at once, some fail and pass later.
    fn review(&mut self, rng: &mut Rng, cast: &Cast) -> bool {
        let reviewer = rng.pick(&cast.reviewers).clone();
        let outcomes: &[ReviewOutcome] = if rng.chance(15) { &[ReviewOutcome::Fail, ReviewOutcome::Pass] } else { &[ReviewOutcome::Pass] };
        for outcome in outcomes {
            let passed = *outcome == ReviewOutcome::Pass;
            let (score, item) = if passed { (80 + rng.below(21) as i64, true) } else { (30 + rng.below(30) as i64, false) };
            let name = reviewer.name.clone();
            let recorded = self.step(self.work(rng), &reviewer, |t, now| {
                let checklist = vec![ChecklistItem { item: "work matches the request".into(), passed: item }];
                let review = Review::new(t.id, &t.stage, *outcome, score, checklist, None, &name, now).map_err(|e| e.to_string())?;
                Ok(t.record_review(review, now))
            });
            if !recorded {
                return false;
            }
            self.report.reviews += 1;
        }
        true
    }
}

/// An index into `weights`, drawn in proportion to them.
fn weighted(rng: &mut Rng, weights: &[u64]) -> usize {
    let mut roll = rng.below(weights.iter().sum::<u64>().max(1));
    for (i, w) in weights.iter().enumerate() {
        if roll < *w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

/// A progress bar on a terminal; a line per tenth elsewhere (logs stay readable).
struct Progress {
    total: u64,
    done: u64,
    started: Instant,
    enabled: bool,
    terminal: bool,
    last_tenth: u64,
}

impl Progress {
    fn new(total: u64, enabled: bool) -> Progress {
        Progress { total, done: 0, started: Instant::now(), enabled, terminal: std::io::stderr().is_terminal(), last_tenth: 0 }
    }

    fn advance(&mut self, by: u64) {
        self.done += by;
        if !self.enabled || self.total == 0 {
            return;
        }
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let eta = (self.total - self.done) as f64 / rate.max(1e-9);
        let line = format!("{}/{} tickets, {:.0}/s, {:.0}s left", self.done, self.total, rate, eta);
        if self.terminal {
            let filled = (self.done * 30 / self.total) as usize;
            eprint!("\rseed [{}{}] {line}   ", "#".repeat(filled), " ".repeat(30 - filled));
        } else if self.done * 10 / self.total > self.last_tenth || self.done == self.total {
            self.last_tenth = self.done * 10 / self.total;
            eprintln!("seed: {line}");
        }
    }

    fn finish(&self) {
        if self.enabled && self.terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let draw = |seed| (0..50).map(|i| Rng::new(seed, i).next()).collect::<Vec<_>>();
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn durations_stay_in_their_range_and_weights_are_honoured() {
        let mut rng = Rng::new(1, 1);
        for _ in 0..1000 {
            let ms = rng.minutes(5, 60);
            assert!((5 * 60_000..61 * 60_000).contains(&ms), "{ms}");
        }
        let mut counts = [0u32; 3];
        for _ in 0..6000 {
            counts[weighted(&mut rng, &[1, 0, 5])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > 4 * counts[0], "{counts:?}");
    }

    #[test]
    fn only_one_agent_in_eight_goes_uncertified() {
        let certified = (0..24).filter(|i| is_certified_slot(&format!("{i}@steward.example"))).count();
        assert_eq!(certified, 21);
    }
}
