//! `steward seed`: fills the configured database with deterministic, realistic data through
//! the same service methods the API calls, so events, SLA clocks, surveys and alerts are real.
//!
//! Every ticket draws its whole life (kind, channel, priority, how far it gets, comments) from
//! its own generator seeded by `(seed, index)`, so the data does not depend on the order in
//! which the concurrent workers finish: the same seed gives the same distribution.

use crate::domain::auth::Role;
use crate::domain::event::{Actor, ActorKind};
use crate::domain::feedback::{ChecklistItem, ReviewOutcome};
use crate::domain::ids::TicketRef;
use crate::domain::staff::{Staff, StaffInput};
use crate::domain::ticket::{Channel, Kind, Priority, Status, TicketDraft, TicketPatch, Visibility};
use crate::services::{ServiceError, Services};
use std::sync::Arc;
use tokio::task::JoinSet;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub tickets: u64,
    /// Upper bound on the comments added to each ticket (stage moves come on top).
    pub events_per_ticket: u64,
    pub seed: u64,
    /// Tickets written at the same time.
    pub concurrency: usize,
    /// A progress line on stderr every this many tickets (0: none).
    pub progress_every: u64,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions { tickets: 100, events_per_ticket: 4, seed: 1, concurrency: 8, progress_every: 1000 }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub staff: u64,
    pub tickets: u64,
    pub transitions: u64,
    pub comments: u64,
    pub reviews: u64,
    pub status_changes: u64,
    pub surveys_answered: u64,
}

impl SeedReport {
    fn add(&mut self, other: &SeedReport) {
        self.staff += other.staff;
        self.tickets += other.tickets;
        self.transitions += other.transitions;
        self.comments += other.comments;
        self.reviews += other.reviews;
        self.status_changes += other.status_changes;
        self.surveys_answered += other.surveys_answered;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seeding ticket {index}: {source}")]
    Ticket { index: u64, source: ServiceError },
    #[error("seeding staff: {0}")]
    Staff(ServiceError),
    #[error("the process `{0}` is not loaded")]
    Process(String),
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

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index into `weights`, drawn in proportion to them.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                return i;
            }
            roll -= w;
        }
        weights.len() - 1
    }
}

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

/// How far a ticket's life goes. Stage moves follow the process order.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Stays open after this many moves (0..=3: consultation to delivery).
    Open(usize),
    WaitingCustomer,
    WaitingPartner,
    /// Reaches delivery and fails its review.
    FailedReview,
    /// Goes all the way to the resolving terminal stage.
    Resolved,
    Cancelled,
}

const FATE_WEIGHTS: &[u64] = &[12, 10, 8, 6, 8, 5, 6, 35, 10];

fn fate(rng: &mut Rng) -> Fate {
    match rng.weighted(FATE_WEIGHTS) {
        i @ 0..=3 => Fate::Open(i),
        4 => Fate::WaitingCustomer,
        5 => Fate::WaitingPartner,
        6 => Fate::FailedReview,
        7 => Fate::Resolved,
        _ => Fate::Cancelled,
    }
}

fn staff_actor(staff: &Staff) -> Actor {
    Actor { kind: ActorKind::Token, token_id: None, staff_id: Some(staff.id), name: staff.name.clone() }
}

/// Fills the database behind `services`: a few staff members, then `options.tickets` tickets
/// (written `options.concurrency` at a time) in every status, with stage moves, comments and
/// reviews.
pub async fn seed(services: &Arc<Services>, options: SeedOptions) -> Result<SeedReport, SeedError> {
    let process = services
        .processes
        .get(services.default_process())
        .ok_or_else(|| SeedError::Process(services.default_process().to_owned()))?
        .clone();
    let path: Vec<String> = process.stages.iter().filter(|s| !s.terminal).map(|s| s.key.clone()).collect();
    let reviewed_at = process.stages.iter().filter(|s| !s.terminal).position(|s| s.requires_review);
    let resolving = process.stages.iter().find(|s| s.terminal && s.resolves).map(|s| s.key.clone());
    let cancelling = process.stages.iter().find(|s| s.terminal && !s.resolves).map(|s| s.key.clone());
    let mut report = SeedReport::default();
    let existing = services.store.active_staff().await.map_err(|e| SeedError::Staff(e.into()))?;
    let mut agents = Vec::new();
    let mut reviewers = Vec::new();
    for (i, (role, name)) in
        [(Role::Agent, "Ada Agent"), (Role::Agent, "Bo Agent"), (Role::Agent, "Cy Agent"), (Role::Qa, "Quinn Reviewer")]
            .into_iter()
            .enumerate()
    {
        let input = StaffInput {
            name: name.to_owned(),
            email: format!("seed-{}-{i}@steward.example", options.seed),
            role,
            team: Some("seeded".into()),
            active: true,
        };
        // Seeding the same database again reuses the staff an earlier run created.
        let staff = match existing.iter().find(|s| s.email == input.email) {
            Some(staff) => staff.clone(),
            None => {
                report.staff += 1;
                services.create_staff(input).await.map_err(SeedError::Staff)?
            }
        };
        match role {
            Role::Qa => reviewers.push(staff),
            _ => agents.push(staff),
        }
    }
    let people = Arc::new(People { agents, reviewer: reviewers.remove(0), path, reviewed_at, resolving, cancelling });
    let mut tasks = JoinSet::new();
    let mut next = 0;
    let mut done = 0;
    let concurrency = options.concurrency.max(1);
    while done < options.tickets {
        while next < options.tickets && tasks.len() < concurrency {
            let (services, people, options) = (services.clone(), people.clone(), options.clone());
            let index = next;
            tasks.spawn(async move {
                one_ticket(&services, &people, &options, index).await.map_err(|source| SeedError::Ticket { index, source })
            });
            next += 1;
        }
        let Some(finished) = tasks.join_next().await else { break };
        report.add(&finished??);
        done += 1;
        if options.progress_every > 0 && (done % options.progress_every == 0 || done == options.tickets) {
            eprintln!("seed: {done}/{} tickets", options.tickets);
        }
    }
    Ok(report)
}

struct People {
    agents: Vec<Staff>,
    reviewer: Staff,
    /// The non-terminal stages, in process order.
    path: Vec<String>,
    /// Where on `path` the first stage that needs a review is.
    reviewed_at: Option<usize>,
    resolving: Option<String>,
    cancelling: Option<String>,
}

async fn one_ticket(services: &Services, people: &People, options: &SeedOptions, index: u64) -> Result<SeedReport, ServiceError> {
    let mut rng = Rng::new(options.seed, index);
    let mut report = SeedReport { tickets: 1, ..SeedReport::default() };
    let fate = fate(&mut rng);
    let agent = rng.pick(&people.agents);
    let actor = staff_actor(agent);
    // Only tickets that stay early are assigned: later stages need a certification the
    // seeded agents do not hold.
    let assignee = matches!(fate, Fate::Open(0) | Fate::Open(1) | Fate::WaitingCustomer).then_some(agent.id);
    let draft = TicketDraft {
        title: format!("{} #{index}", rng.pick(SUBJECTS)),
        description: Some("Generated by `steward seed`.".into()),
        kind: *rng.pick(&[Kind::Request, Kind::Request, Kind::Incident, Kind::Complaint]),
        channel: *rng.pick(&[Channel::Phone, Channel::Email, Channel::Chat, Channel::Web, Channel::Onsite]),
        priority: *rng.pick(&[Priority::Urgent, Priority::High, Priority::Normal, Priority::Normal, Priority::Low]),
        customer_name: rng.pick(CUSTOMERS).to_string(),
        customer_contact: Some(format!("customer{}@example.com", rng.below(500))),
        customer_tier: None,
        process: None,
        assignee,
        tags: vec![format!("seed-{}", rng.below(5))],
        custom_fields: None,
        origin_ticket_id: None,
    };
    let ticket = match services.create_ticket(draft, &actor, None).await? {
        crate::services::CreateTicket::Created(ticket) => ticket,
        _ => unreachable!("no idempotency key was given"),
    };
    let reference = TicketRef::Id(ticket.id);
    for _ in 0..rng.below(options.events_per_ticket + 1) {
        let visibility = *rng.pick(&[Visibility::Public, Visibility::Internal]);
        let body = *rng.pick(COMMENTS);
        services.comment_on_ticket(reference, body, visibility, false, &actor).await?;
        report.comments += 1;
    }
    let moves = match fate {
        Fate::Open(n) => n,
        Fate::WaitingCustomer | Fate::WaitingPartner => 1,
        Fate::FailedReview => people.reviewed_at.unwrap_or(0),
        Fate::Resolved => people.path.len().saturating_sub(1),
        Fate::Cancelled => 0,
    };
    for stage in 0..moves.min(people.path.len().saturating_sub(1)) {
        // A stage that needs a review is left only after a passing one.
        if people.reviewed_at == Some(stage) {
            review(services, people, reference, ReviewOutcome::Pass).await?;
            report.reviews += 1;
        }
        services.transition_ticket(reference, &people.path[stage + 1], None, None, None, &actor).await?;
        report.transitions += 1;
    }
    match fate {
        Fate::WaitingCustomer | Fate::WaitingPartner => {
            let status = if matches!(fate, Fate::WaitingCustomer) { Status::WaitingCustomer } else { Status::WaitingPartner };
            let current = services.get_ticket(reference).await?;
            let patch = TicketPatch { status: Some(status), ..TicketPatch::default() };
            services.update_ticket(reference, current.version, patch, None, &actor).await?;
            report.status_changes += 1;
        }
        Fate::FailedReview if people.reviewed_at.is_some() => {
            review(services, people, reference, ReviewOutcome::Fail).await?;
            report.reviews += 1;
        }
        Fate::Resolved => {
            if let Some(to) = &people.resolving {
                if people.reviewed_at == Some(people.path.len() - 1) {
                    review(services, people, reference, ReviewOutcome::Pass).await?;
                    report.reviews += 1;
                }
                services.transition_ticket(reference, to, Some("done".into()), None, None, &actor).await?;
                report.transitions += 1;
                // Most customers answer the survey that resolving issued.
                let score = *rng.pick(&[5, 5, 4, 4, 3, 2, 1, 0, 0]);
                if score > 0 {
                    if let Some(token) = survey_token(services, reference).await? {
                        services.answer_survey(&token, score, Some("Seeded answer.")).await?;
                        report.surveys_answered += 1;
                    }
                }
            }
        }
        Fate::Cancelled => {
            if let Some(to) = &people.cancelling {
                services.transition_ticket(reference, to, Some("no longer needed".into()), None, None, &actor).await?;
                report.transitions += 1;
            }
        }
        Fate::Open(_) | Fate::FailedReview => {}
    }
    Ok(report)
}

/// The token of the survey the ticket's resolution issued, read from its events.
async fn survey_token(services: &Services, reference: TicketRef) -> Result<Option<String>, ServiceError> {
    let events = services.ticket_events(reference, 0, 200).await?;
    Ok(events
        .iter()
        .rev()
        .filter(|e| e.kind == "survey_issued")
        .find_map(|e| e.data["survey_url"].as_str().and_then(|url| url.rsplit('/').next()).map(str::to_owned)))
}

async fn review(services: &Services, people: &People, reference: TicketRef, outcome: ReviewOutcome) -> Result<(), ServiceError> {
    let passed = matches!(outcome, ReviewOutcome::Pass);
    let (score, checklist) = match passed {
        true => (90, vec![ChecklistItem { item: "work matches the request".into(), passed: true }]),
        false => (40, vec![ChecklistItem { item: "work matches the request".into(), passed: false }]),
    };
    services.review_ticket(reference, outcome, score, checklist, None, &staff_actor(&people.reviewer)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream_and_fates_vary() {
        let draw = |seed| (0..50).map(|i| Rng::new(seed, i).next()).collect::<Vec<_>>();
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let fates: std::collections::HashSet<_> = (0..200).map(|i| format!("{:?}", fate(&mut Rng::new(7, i)))).collect();
        assert!(fates.len() >= 6, "{fates:?}");
    }
}
