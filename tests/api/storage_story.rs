//! The storage conformance story: one story told straight to `steward_storage::Store`, without
//! HTTP or services, on a fresh SQLite file and on a fresh PostgreSQL database, with the same
//! assertions for both (after atuin's `db_story`). Domain values are built by the domain's own
//! constructors, as the services and `steward seed` build them.
//!
//! Every named unique key (`steward_storage::unique`) is provoked at least once: on SQLite the
//! driver names the columns, on PostgreSQL the constraint, and the store must report the same
//! name for both.

use crate::helpers::{Backend, TestDb};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use steward_domain::auth::{hash_token, ApiToken, Role};
use steward_domain::calendar::CalendarSpec;
use steward_domain::duration::TargetDuration;
use steward_domain::event::{Actor, ActorKind, EventData};
use steward_domain::history::TicketHistory;
use steward_domain::idempotency::{IdempotencyClaim, StoredResponse};
use steward_domain::ids::{DelegationId, TicketId, TicketNumber, TicketRef, TokenId};
use steward_domain::kpi::{BacklogCount, DurationStats, GroupBy, KpiFilter, KpiInputs, Period};
use steward_domain::partner::{Contract, Delegation, Partner, PartnerInput, PartnerKind, PartnerStatus};
use steward_domain::process::{Process, ProcessRegistry};
use steward_domain::sla::{Conditions, PolicySpec, SlaPolicy};
use steward_domain::sla_engine::{self, SlaCatalog, TicketClock};
use steward_domain::staff::{Staff, StaffInput, StaffPatch, StaffQuery};
use steward_domain::ticket::{
    Change, Channel, Kind, Priority, SideWrite, Status, Ticket, TicketDraft, TicketPatch, TicketQuery, TicketRules, Visibility,
};
use steward_domain::time::Timestamp;
use steward_domain::training::{AssessmentMethod, Course, RecordInput, TrainingRecord};
use steward_domain::webhook::{Attempt, AttemptOutcome, DeliveryState, Webhook, WebhookInput};
use steward_storage::sla::Catalog;
use steward_storage::webhooks::{ClaimedDelivery, DeliverySubject, FinishedAttempt};
use steward_storage::{unique, DatabaseConfig, Store, StoreError};

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_tells_the_conformance_story() {
        super::story(crate::helpers::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_tells_the_conformance_story() {
        super::story(crate::helpers::Backend::Postgres).await;
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Monday 2026-01-05 09:00 UTC: the story's instants are fixed (and in the past, as training
/// records must be), so ids and periods are known. Each chapter keeps to its own day.
const T0: Timestamp = Timestamp::from_millis(1_767_603_600_000);

fn day(n: i64) -> Timestamp {
    T0.plus_millis(n * DAY)
}

/// What the story needs at hand: the store, and the rules tickets are opened under.
struct World {
    store: Store,
    registry: ProcessRegistry,
    tiers: Vec<String>,
    agent: Actor,
    system: Actor,
}

impl World {
    fn rules(&self) -> TicketRules<'_> {
        TicketRules { tiers: &self.tiers, default_process: "general", processes: &self.registry }
    }

    fn general(&self) -> Arc<Process> {
        self.registry.get("general").expect("the built-in process").clone()
    }

    /// A ticket as `Ticket::open` makes it from a draft, not yet stored.
    fn open(&self, draft: TicketDraft, at: Timestamp) -> Change {
        Ticket::open(draft, &self.rules(), at).expect("a valid draft")
    }

    /// Opens and stores a ticket; returns it as stored (with its number).
    async fn insert(&self, draft: TicketDraft, at: Timestamp) -> Ticket {
        let mut change = self.open(draft, at);
        self.store.insert_ticket(&mut change, &self.agent, None).await.expect("ticket inserted");
        change.ticket
    }

    /// Applies `rule` under the row lock as `actor`; the rule must accept.
    async fn change(
        &self,
        ticket: TicketId,
        actor: &Actor,
        rule: impl FnOnce(&Ticket, &[TicketClock]) -> Result<Change, String>,
    ) -> (Ticket, Vec<EventData>) {
        self.store
            .change_ticket(TicketRef::Id(ticket), actor, rule)
            .await
            .expect("the store answers")
            .expect("the ticket exists")
            .expect("the rule accepts")
    }

    async fn get(&self, ticket: TicketId) -> Ticket {
        self.store.get_ticket(TicketRef::Id(ticket)).await.expect("the store answers").expect("the ticket exists")
    }

    async fn seqs(&self, ticket: TicketId) -> Vec<i64> {
        self.store.list_events(ticket, 0, 500).await.expect("events listed").iter().map(|e| e.seq).collect()
    }

    async fn kinds(&self, ticket: TicketId) -> Vec<String> {
        self.store.list_events(ticket, 0, 500).await.expect("events listed").into_iter().map(|e| e.kind).collect()
    }
}

fn draft(title: &str) -> TicketDraft {
    TicketDraft {
        title: title.into(),
        description: Some("Told by the storage story.".into()),
        kind: Kind::Request,
        channel: Channel::Email,
        priority: Priority::Normal,
        customer_name: "ACME Ltd".into(),
        customer_contact: Some("ops@acme.test".into()),
        customer_tier: None,
        process: None,
        assignee: None,
        tags: Vec::new(),
        custom_fields: None,
        origin_ticket_id: None,
    }
}

/// The unique key a failed write reports.
#[track_caller]
fn duplicate<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Duplicate { constraint }) => constraint,
        other => panic!("expected a duplicate key, got {other:?}"),
    }
}

/// The keys provoked so far; the story ends by checking that every one was.
#[derive(Default)]
struct Provoked(BTreeSet<String>);

impl Provoked {
    #[track_caller]
    fn expect<T: std::fmt::Debug>(&mut self, key: &str, result: Result<T, StoreError>) {
        assert_eq!(duplicate(result), key, "the store names the unique key that was violated");
        self.0.insert(key.to_owned());
    }
}

async fn story(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend).await else {
        eprintln!("skipped: STEWARD_TEST_POSTGRES_URL is not set");
        return;
    };
    // Connect and migrate; migrating again finds nothing to do.
    let store = Store::connect(&DatabaseConfig { url: url.clone(), max_connections: 4, ..Default::default() }).await.expect("connects");
    assert_eq!(
        store.backend().name(),
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
    store.migrate().await.expect("migrates");
    store.migrate().await.expect("migrating twice is harmless");
    store.ping().await.expect("answers");

    let agent = Actor { kind: ActorKind::Token, token_id: None, staff_id: None, name: "story-agent".into() };
    let world = World {
        store,
        registry: ProcessRegistry::builtin(),
        tiers: vec!["standard".into(), "priority".into(), "vip".into(), "key-account".into()],
        agent,
        system: Actor::system(),
    };
    let mut provoked = Provoked::default();

    let staff = staff_chapter(&world, &mut provoked).await;
    tokens_chapter(&world, &mut provoked, &staff).await;
    logins_chapter(&world, &mut provoked, &staff).await;
    let tickets = tickets_chapter(&world, &mut provoked, &staff).await;
    sla_chapter(&world).await;
    webhook_chapter(&world).await;
    partner_chapter(&world, &mut provoked).await;
    training_chapter(&world, &mut provoked, &staff).await;
    catalog_chapter(&world, &mut provoked).await;
    kpi_chapter(&world).await;
    month_end_chapter(&world).await;
    timeline_keys_chapter(&world, &mut provoked, &tickets, &url).await;

    let every_key: BTreeSet<String> = [
        unique::STAFF_EMAIL,
        unique::TOKEN_SECRET,
        unique::TICKET_NUMBER,
        unique::EVENT_SEQ,
        unique::IDEMPOTENCY_KEY,
        unique::CALENDAR_KEY,
        unique::POLICY_KEY,
        unique::COURSE_CODE,
        unique::SUPERSEDED_RECORD,
        unique::ACTIVE_DELEGATION,
        unique::LOGIN_STAFF,
        unique::LOGIN_EMAIL,
        unique::SET_PASSWORD_SECRET,
        unique::SESSION_SECRET,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(provoked.0, every_key, "every named unique key is provoked on {backend:?}");
    world.store.close().await;
}

/// Staff: stored and read back whole; an email is taken once, whatever its case.
async fn staff_chapter(w: &World, provoked: &mut Provoked) -> Vec<Staff> {
    let at = day(0);
    let person = |name: &str, email: &str, role: Role, team: &str, n: i64| {
        Staff::create(StaffInput { name: name.into(), email: email.into(), role, team: Some(team.into()), active: true }, at.plus_millis(n))
            .expect("valid staff")
    };
    let ada = person("Ada", "ada@example.test", Role::Agent, "support", 0);
    let grace = person("Grace", "grace@example.test", Role::Supervisor, "support", 1);
    let linus = person("Linus", "linus@example.test", Role::Agent, "field", 2);
    for s in [&ada, &grace, &linus] {
        w.store.insert_staff(s).await.expect("staff inserted");
    }
    assert_eq!(w.store.get_staff(ada.id).await.unwrap().as_ref(), Some(&ada), "staff read back as written");

    let again = person("Ada Again", "ADA@Example.test", Role::Agent, "support", 3);
    provoked.expect(unique::STAFF_EMAIL, w.store.insert_staff(&again).await);
    let renamed = linus.apply(StaffPatch { email: Some("grace@example.test".into()), ..Default::default() }, at.plus_millis(4)).unwrap();
    provoked.expect(unique::STAFF_EMAIL, w.store.update_staff(&renamed).await);
    assert_eq!(w.store.get_staff(linus.id).await.unwrap().as_ref(), Some(&linus), "a refused update changes nothing");

    // Listing: filters, id order, keyset pages.
    let list = |q: StaffQuery| async move { w.store.list_staff(&q).await.unwrap().into_iter().map(|s| s.name).collect::<Vec<_>>() };
    assert_eq!(list(StaffQuery { limit: 10, ..Default::default() }).await, ["Ada", "Grace", "Linus"]);
    assert_eq!(list(StaffQuery { role: Some(Role::Agent), limit: 10, ..Default::default() }).await, ["Ada", "Linus"]);
    assert_eq!(list(StaffQuery { team: Some("support".into()), limit: 10, ..Default::default() }).await, ["Ada", "Grace"]);
    assert_eq!(list(StaffQuery { limit: 2, after: Some(ada.id), ..Default::default() }).await, ["Grace", "Linus"]);
    let retired = person("Retired", "retired@example.test", Role::Agent, "field", 5);
    w.store.insert_staff(&Staff { active: false, ..retired.clone() }).await.unwrap();
    assert_eq!(list(StaffQuery { active: Some(false), limit: 10, ..Default::default() }).await, ["Retired"]);
    assert_eq!(w.store.active_staff().await.unwrap().len(), 3);
    assert!(w.store.delete_staff(retired.id).await.unwrap());
    assert!(!w.store.delete_staff(retired.id).await.unwrap(), "deleting twice finds nothing");
    vec![ada, grace, linus]
}

/// Tokens: found by the hash of their secret while live; a secret is stored once.
async fn tokens_chapter(w: &World, provoked: &mut Provoked, staff: &[Staff]) {
    let at = day(0).plus_millis(HOUR);
    let token = |name: &str, n: i64| ApiToken {
        id: TokenId::new_at(at.plus_millis(n)),
        name: name.into(),
        role: Role::Agent,
        staff_id: Some(staff[0].id),
        partner_id: None,
        created_at: at.plus_millis(n),
        revoked_at: None,
    };
    let first = token("first", 0);
    let hash = hash_token("stw_story_secret");
    w.store.insert_token(&first, &hash).await.expect("token inserted");
    assert_eq!(w.store.find_token_by_hash(&hash).await.unwrap().as_ref(), Some(&first));
    provoked.expect(unique::TOKEN_SECRET, w.store.insert_token(&token("copy", 1), &hash).await);
    assert_eq!(w.store.list_tokens().await.unwrap(), std::slice::from_ref(&first), "the refused token was not stored");

    assert!(w.store.revoke_token(first.id, at.plus_millis(MINUTE)).await.unwrap());
    assert!(w.store.revoke_token(first.id, at.plus_millis(2 * MINUTE)).await.unwrap());
    assert!(!w.store.revoke_token(TokenId::new_at(at), at).await.unwrap(), "no such token");
    assert_eq!(w.store.find_token_by_hash(&hash).await.unwrap(), None, "a revoked token no longer authenticates");
    let revoked = w.store.get_token(first.id).await.unwrap().expect("still listed");
    assert_eq!(revoked.revoked_at, Some(at.plus_millis(MINUTE)), "revoking twice keeps the first time");
}

/// Logins: one per staff member and per email; a link works once; sessions are found by their
/// secret's hash while live; the audit counts failures per email and per address.
async fn logins_chapter(w: &World, provoked: &mut Provoked, staff: &[Staff]) {
    use steward_domain::ids::{LoginAuditId, LoginId, SessionId, SetPasswordLinkId};
    use steward_domain::login::{AuditEntry, AuditKind, Login};
    use steward_storage::logins::{AuditFilter, NewSessionRow};
    let at = day(0).plus_millis(2 * HOUR);
    let login = |staff: &Staff, email: &str, n: i64| Login {
        id: LoginId::new_at(at.plus_millis(n)),
        staff_id: staff.id,
        email: email.into(),
        partner_id: None,
        password_set: false,
        created_at: at,
        updated_at: at,
        disabled_at: None,
        preferences: Default::default(),
    };
    let ada = login(&staff[0], "ada@example.test", 0);
    w.store.insert_login(&ada).await.expect("login inserted");
    assert_eq!(w.store.get_login(ada.id).await.unwrap().as_ref(), Some(&ada));
    provoked.expect(unique::LOGIN_STAFF, w.store.insert_login(&login(&staff[0], "other@example.test", 1)).await);
    provoked.expect(unique::LOGIN_EMAIL, w.store.insert_login(&login(&staff[1], "ada@example.test", 2)).await);
    assert_eq!(w.store.list_logins().await.unwrap(), std::slice::from_ref(&ada), "refused logins were not stored");

    let link = hash_token("stp_story");
    w.store.insert_set_password_link(SetPasswordLinkId::new_at(at), ada.id, &link, at, at.plus_millis(HOUR)).await.unwrap();
    provoked.expect(
        unique::SET_PASSWORD_SECRET,
        w.store.insert_set_password_link(SetPasswordLinkId::new_at(at), ada.id, &link, at, at.plus_millis(HOUR)).await,
    );
    assert!(w.store.set_password_link_login(&link, at.plus_millis(HOUR)).await.unwrap().is_none(), "expired at its end");
    assert_eq!(w.store.use_set_password_link(&link, "$argon2id$story", at.plus_millis(MINUTE)).await.unwrap(), Some(ada.id));
    assert_eq!(w.store.use_set_password_link(&link, "$argon2id$again", at.plus_millis(MINUTE)).await.unwrap(), None, "once");
    let owner = w.store.find_login_owner_by_email("ada@example.test").await.unwrap().expect("found");
    assert_eq!(
        (owner.password_hash.as_deref(), owner.staff_name.as_str(), owner.staff_role),
        (Some("$argon2id$story"), "Ada", Role::Agent)
    );

    let secret = hash_token("sts_story");
    let row = NewSessionRow {
        id: SessionId::new_at(at),
        login_id: ada.id,
        secret_hash: &secret,
        remote_addr: Some("192.0.2.1"),
        created_at: at,
        expires_at: at.plus_millis(HOUR),
    };
    w.store.insert_session(&row).await.unwrap();
    provoked.expect(unique::SESSION_SECRET, w.store.insert_session(&NewSessionRow { id: SessionId::new_at(at), ..row }).await);
    let (session, _) = w.store.find_live_session(&secret, at.plus_millis(MINUTE)).await.unwrap().expect("live");
    assert_eq!(session.remote_addr.as_deref(), Some("192.0.2.1"));
    assert!(w.store.find_live_session(&secret, at.plus_millis(HOUR)).await.unwrap().is_none(), "expired");
    assert_eq!(w.store.revoke_login_sessions(ada.id, at.plus_millis(MINUTE)).await.unwrap(), 1);
    assert!(w.store.find_live_session(&secret, at.plus_millis(MINUTE)).await.unwrap().is_none(), "revoked");

    for (n, (kind, addr)) in
        [(AuditKind::SignInFailed, "a"), (AuditKind::SignInFailed, "b"), (AuditKind::SignedIn, "a"), (AuditKind::SignInFailed, "a")]
            .into_iter()
            .enumerate()
    {
        let at = at.plus_millis(n as i64);
        let entry = AuditEntry {
            id: LoginAuditId::new_at(at),
            at,
            kind,
            email: Some("ada@example.test".into()),
            login_id: Some(ada.id),
            remote_addr: Some(addr.into()),
            actor: None,
            detail: None,
        };
        w.store.insert_login_audit(&entry).await.unwrap();
    }
    let since = at.plus_millis(-HOUR);
    assert_eq!(
        w.store.recent_account_failures("ada@example.test", since, 10).await.unwrap(),
        [at.plus_millis(3)],
        "a success clears the count"
    );
    assert_eq!(w.store.recent_address_failures("a", since, 10).await.unwrap(), [at.plus_millis(3), at]);
    let filter = AuditFilter { kind: Some(AuditKind::SignInFailed), remote_addr: Some("a".into()), limit: 10, ..Default::default() };
    assert_eq!(w.store.list_login_audit(&filter).await.unwrap().len(), 2);
}

/// What the tickets chapter leaves for the last one.
struct Tickets {
    first: Ticket,
}

/// Tickets: inserted with an idempotency claim, read by id and number, listed newest first in
/// keyset pages under every filter, changed under the row lock with gapless event numbers.
async fn tickets_chapter(w: &World, provoked: &mut Provoked, staff: &[Staff]) -> Tickets {
    let at = day(1);
    let claim = |key: &str, hash: &str| IdempotencyClaim {
        principal: "token:story".into(),
        key: key.into(),
        request_hash: hash.into(),
        render: Box::new(|t: &Ticket| {
            (201, json!({"id": t.id.to_string(), "number": t.number.to_string()}).to_string(), Some(format!("/api/v1/tickets/{}", t.id)))
        }),
    };
    let mut change = w.open(
        TicketDraft {
            priority: Priority::High,
            channel: Channel::Phone,
            customer_tier: Some("vip".into()),
            tags: vec!["Printer".into(), "floor-3".into()],
            custom_fields: Some(json!({"asset": "PR-7", "floor": 3})),
            assignee: Some(staff[0].id),
            ..draft("Printer on fire")
        },
        at,
    );
    w.store.insert_ticket(&mut change, &w.agent, Some(claim("key-1", "hash-1"))).await.expect("ticket with a claim inserted");
    let first = change.ticket.clone();
    assert!(first.number.0 >= 1);
    assert_eq!(w.get(first.id).await, first, "a ticket reads back as written");
    assert_eq!(w.store.get_ticket(TicketRef::Number(first.number)).await.unwrap().as_ref(), Some(&first), "found by number");
    assert_eq!(w.store.get_ticket(TicketRef::Number(TicketNumber(first.number.0 + 1000))).await.unwrap(), None);
    assert_eq!(w.kinds(first.id).await, ["created", "assignee_changed"]);
    let created = w.store.list_events(first.id, 0, 1).await.unwrap();
    assert_eq!(created[0].data["number"], first.number.to_string(), "the created event carries the allocated number");
    assert_eq!(
        w.store.find_idempotent_response("token:story", "key-1", at.plus_millis(-1)).await.unwrap(),
        Some(StoredResponse {
            request_hash: "hash-1".into(),
            status: 201,
            body: json!({"id": first.id.to_string(), "number": first.number.to_string()}).to_string(),
            location: Some(format!("/api/v1/tickets/{}", first.id)),
        })
    );
    assert_eq!(w.store.find_idempotent_response("token:story", "key-1", at.plus_millis(1)).await.unwrap(), None, "older than asked for");

    // The same key again creates nothing.
    let mut twice = w.open(draft("The same request again"), at.plus_millis(1));
    provoked.expect(unique::IDEMPOTENCY_KEY, w.store.insert_ticket(&mut twice, &w.agent, Some(claim("key-1", "hash-2"))).await);
    assert_eq!(w.store.get_ticket(TicketRef::Id(twice.ticket.id)).await.unwrap(), None, "no ticket under a claimed key");
    assert_eq!(w.store.purge_idempotency_keys(at).await.unwrap(), 0, "nothing older than the claim");

    // More tickets, a second apart, for the listings.
    let second =
        w.insert(TicketDraft { kind: Kind::Incident, tags: vec!["printer".into()], ..draft("Scanner jammed") }, at.plus_millis(1000)).await;
    let third = w
        .insert(
            TicketDraft { priority: Priority::High, assignee: Some(staff[2].id), ..draft("VPN drops every hour") },
            at.plus_millis(2000),
        )
        .await;
    let fourth = w
        .insert(
            TicketDraft { channel: Channel::Chat, process: Some("general".into()), ..draft("New laptop for a starter") },
            at.plus_millis(3000),
        )
        .await;
    let numbers: Vec<i64> = [&first, &second, &third, &fourth].iter().map(|t| t.number.0).collect();
    assert!(numbers.windows(2).all(|n| n[0] < n[1]), "numbers are unique and increase: {numbers:?}");

    // Each listing is bounded to this chapter's hour, so the other chapters' tickets stay out.
    let window = |q: TicketQuery| TicketQuery {
        created_after: q.created_after.or(Some(at)),
        created_before: q.created_before.or(Some(at.plus_millis(HOUR))),
        limit: if q.limit == 0 { 10 } else { q.limit },
        ..q
    };
    let list =
        |q: TicketQuery| async move { w.store.list_tickets(&window(q)).await.unwrap().into_iter().map(|t| t.title).collect::<Vec<_>>() };
    assert_eq!(
        list(TicketQuery::default()).await,
        ["New laptop for a starter", "VPN drops every hour", "Scanner jammed", "Printer on fire"]
    );
    // Keyset pages: each continues below the last id of the one before.
    let page = |before: Option<TicketId>| TicketQuery { before, limit: 2, ..Default::default() };
    let page_one = w.store.list_tickets(&window(page(None))).await.unwrap();
    assert_eq!(page_one.iter().map(|t| t.id).collect::<Vec<_>>(), [fourth.id, third.id]);
    let page_two = w.store.list_tickets(&window(page(Some(third.id)))).await.unwrap();
    assert_eq!(page_two.iter().map(|t| t.id).collect::<Vec<_>>(), [second.id, first.id]);
    assert_eq!(list(TicketQuery { before: Some(first.id), ..Default::default() }).await, Vec::<String>::new());
    assert_eq!(
        list(TicketQuery { priority: Some(Priority::High), ..Default::default() }).await,
        ["VPN drops every hour", "Printer on fire"]
    );
    assert_eq!(
        list(TicketQuery { priority: Some(Priority::High), before: Some(third.id), ..Default::default() }).await,
        ["Printer on fire"]
    );
    assert_eq!(list(TicketQuery { kind: Some(Kind::Incident), ..Default::default() }).await, ["Scanner jammed"]);
    assert_eq!(list(TicketQuery { channel: Some(Channel::Chat), ..Default::default() }).await, ["New laptop for a starter"]);
    assert_eq!(list(TicketQuery { tier: Some("vip".into()), ..Default::default() }).await, ["Printer on fire"]);
    assert_eq!(list(TicketQuery { assignee: Some(staff[2].id), ..Default::default() }).await, ["VPN drops every hour"]);
    assert_eq!(list(TicketQuery { tag: Some("printer".into()), ..Default::default() }).await, ["Scanner jammed", "Printer on fire"]);
    assert_eq!(list(TicketQuery { tag: Some("printer".into()), before: Some(second.id), ..Default::default() }).await, ["Printer on fire"]);
    assert_eq!(list(TicketQuery { title_contains: Some("PRINTER".into()), ..Default::default() }).await, ["Printer on fire"]);
    assert_eq!(
        list(TicketQuery { title_contains: Some("100%".into()), ..Default::default() }).await,
        Vec::<String>::new(),
        "LIKE wildcards match literally"
    );
    assert_eq!(list(TicketQuery { status: Some(Status::Open), stage: Some("consultation".into()), ..Default::default() }).await.len(), 4);
    assert_eq!(
        list(TicketQuery { created_after: Some(at.plus_millis(1000)), created_before: Some(at.plus_millis(3000)), ..Default::default() })
            .await,
        ["VPN drops every hour", "Scanner jammed"],
        "creation bounds are half open"
    );

    // Changes under the row lock: concurrent writers queue, and the timeline stays gapless.
    let before = w.get(second.id).await;
    let mut writers = Vec::new();
    for i in 0..6 {
        let store = w.store.clone();
        let actor = w.agent.clone();
        writers.push(tokio::spawn(async move {
            store
                .change_ticket(TicketRef::Id(second.id), &actor, |t, _| {
                    t.comment(&format!("note {i}"), Visibility::Internal, false, at.plus_millis(MINUTE))
                })
                .await
        }));
    }
    for writer in writers {
        writer.await.expect("writer ran").expect("the store answers").expect("the ticket exists").expect("the rule accepts");
    }
    let (moved, events) = w
        .change(second.id, &w.agent, |t, _| {
            t.transition(&w.general(), "needs_analysis", Some("enough said".into()), at.plus_millis(2 * MINUTE)).map_err(|e| e.to_string())
        })
        .await;
    assert_eq!(
        events,
        [EventData::StageChanged { from: "consultation".into(), to: "needs_analysis".into(), note: Some("enough said".into()) }]
    );
    assert_eq!(moved.version, before.version + 7, "every change moved the version once");
    assert_eq!(w.seqs(second.id).await, (1..=8).collect::<Vec<_>>(), "event numbers are gapless");
    assert_eq!(w.get(second.id).await, moved, "the committed state is the one handed back");

    // A patch that changes tags rewrites the tag index.
    let (_, events) = w
        .change(second.id, &w.agent, |t, _| {
            t.apply_patch(TicketPatch { tags: Some(vec!["scanner".into()]), ..Default::default() }, &w.rules(), at.plus_millis(3 * MINUTE))
                .map_err(|e| e.to_string())
        })
        .await;
    assert!(matches!(events.as_slice(), [EventData::Updated { .. }]), "{events:?}");
    assert_eq!(list(TicketQuery { tag: Some("printer".into()), ..Default::default() }).await, ["Printer on fire"]);
    assert_eq!(list(TicketQuery { tag: Some("scanner".into()), ..Default::default() }).await, ["Scanner jammed"]);

    // A rule that refuses writes nothing; nor does a missing ticket.
    let refused = w.store.change_ticket(TicketRef::Id(second.id), &w.agent, |_, _| Err::<Change, _>("refused")).await.unwrap();
    assert!(matches!(refused, Some(Err("refused"))));
    let missing = w
        .store
        .change_ticket(TicketRef::Id(TicketId::new_at(at)), &w.agent, |t, _| Ok::<_, String>(t.record(Vec::new(), at)))
        .await
        .unwrap();
    assert!(missing.is_none());

    // Version conflict: a writer holding an older version is refused under the lock (as the
    // services refuse an If-Match that no longer matches), and nothing is written.
    let held = w.get(fourth.id).await;
    w.change(fourth.id, &w.agent, |t, _| {
        t.comment("first", Visibility::Internal, false, at.plus_millis(MINUTE)).map_err(|e| e.to_string())
    })
    .await;
    let stale = w
        .store
        .change_ticket(TicketRef::Id(fourth.id), &w.agent, |t, _| {
            if t.version != held.version {
                return Err(t.version);
            }
            Ok(t.comment("second", Visibility::Internal, false, at.plus_millis(2 * MINUTE)).expect("valid"))
        })
        .await
        .unwrap();
    assert_eq!(stale.map(|r| r.map(|_| ())), Some(Err(held.version + 1)), "the rule sees the version committed meanwhile");
    // The store's own guard: a change that is not of the locked row is refused whole.
    let stray = w
        .store
        .change_ticket(TicketRef::Id(fourth.id), &w.agent, |t, _| {
            let mut change = t.comment("astray", Visibility::Internal, false, at.plus_millis(3 * MINUTE)).map_err(|e| e.to_string())?;
            change.ticket.id = TicketId::new_at(at);
            Ok::<_, String>(change)
        })
        .await;
    assert!(matches!(stray, Err(StoreError::VersionConflict)), "{stray:?}");
    assert_eq!(w.seqs(fourth.id).await, [1, 2], "neither refused change wrote an event");

    // Staff still referenced by a ticket cannot be deleted.
    assert!(matches!(w.store.delete_staff(staff[2].id).await, Err(StoreError::ForeignKey)));
    Tickets { first }
}

/// SLA clocks: written with the ticket, found by the sweep query when an alert falls due, and
/// each alert recorded once per clock and level even when a second sweeper read the same clocks.
async fn sla_chapter(w: &World) {
    let at = day(2);
    let policy = SlaPolicy::from_spec(
        "standard",
        PolicySpec {
            name: "Standard".into(),
            order: 0,
            conditions: Conditions::default(),
            first_response: Some("1h".into()),
            next_response: None,
            resolution: Some("8h".into()),
            warning_percent: None,
            escalations: Vec::new(),
            calendar: None,
            first_response_calendar: None,
            next_response_calendar: None,
            resolution_calendar: None,
            pause_on: None,
        },
        &[],
        &w.tiers,
    )
    .expect("a valid policy");
    let catalog = SlaCatalog { policies: vec![policy], calendars: BTreeMap::new() };
    let change = w.open(draft("Clocked"), at);
    let plan = sla_engine::reconcile(None, &change.ticket, &change.events, Some(&w.general()), &[], &catalog, at);
    let mut change = change.with_sla(plan);
    assert_eq!(change.sla.clocks.len(), 3, "first response, resolution and the first stage");
    w.store.insert_ticket(&mut change, &w.agent, None).await.expect("ticket with clocks inserted");
    let ticket = change.ticket.id;
    let mut written = change.sla.clocks.clone();
    written.sort_by_key(|c| c.id);
    assert_eq!(w.store.ticket_clocks(ticket).await.unwrap(), written, "clocks read back as written");
    assert_eq!(w.store.running_clock_count().await.unwrap(), 3);

    // The first response warns at 80% of its hour.
    assert!(w.store.tickets_with_due_clocks(at.plus_millis(48 * MINUTE - 1), 10).await.unwrap().is_empty());
    assert_eq!(w.store.tickets_with_due_clocks(at.plus_millis(48 * MINUTE), 10).await.unwrap(), [ticket]);
    let read_by_both = w.store.ticket_clocks(ticket).await.unwrap();
    let sweep = |clocks: &[TicketClock], t: &Ticket, now: Timestamp| {
        Change::new(t.clone(), Vec::new()).with_sla(sla_engine::sweep(clocks, &catalog, now))
    };
    let warned = at.plus_millis(50 * MINUTE);
    let (_, events) = w.change(ticket, &w.system, |t, clocks| Ok(sweep(clocks, t, warned))).await;
    assert!(matches!(events.as_slice(), [EventData::SlaWarning { percent: 80, .. }]), "{events:?}");
    // A second sweeper that read the clocks before the first committed records nothing more.
    let (_, events) = w.change(ticket, &w.system, |t, _| Ok(sweep(&read_by_both, t, warned))).await;
    assert!(events.is_empty(), "the warning was already recorded: {events:?}");
    assert_eq!(w.kinds(ticket).await.iter().filter(|k| *k == "sla_warning").count(), 1);

    // Next due: the breach, the millisecond after the target is reached.
    assert!(w.store.tickets_with_due_clocks(at.plus_millis(HOUR), 10).await.unwrap().is_empty());
    assert_eq!(w.store.tickets_with_due_clocks(at.plus_millis(HOUR + 1), 10).await.unwrap(), [ticket]);
    let read_by_both = w.store.ticket_clocks(ticket).await.unwrap();
    let breached = at.plus_millis(HOUR + MINUTE);
    let (_, events) = w.change(ticket, &w.system, |t, clocks| Ok(sweep(clocks, t, breached))).await;
    assert!(matches!(events.as_slice(), [EventData::SlaBreached { .. }]), "{events:?}");
    let (_, events) = w.change(ticket, &w.system, |t, _| Ok(sweep(&read_by_both, t, breached))).await;
    assert!(events.is_empty(), "the breach was already recorded: {events:?}");
    assert_eq!(w.kinds(ticket).await, ["created", "sla_warning", "sla_breached"]);
    assert_eq!(w.seqs(ticket).await, [1, 2, 3]);
    let first_response =
        w.store.ticket_clocks(ticket).await.unwrap().into_iter().find(|c| c.clock.kind.as_str() == "first_response").unwrap();
    assert_eq!(first_response.alerted, ["warning", "breach"]);
    assert_eq!(first_response.clock.breached_at, Some(at.plus_millis(HOUR)), "breached when the target was reached");
    // The resolution clock is due next, not before its warning.
    assert!(w.store.tickets_with_due_clocks(breached, 10).await.unwrap().is_empty());
}

/// The webhook outbox: deliveries queued with the events, claimed under a lease that a second
/// claimer respects until it runs out, recorded only by the claim's holder.
async fn webhook_chapter(w: &World) {
    let created = Timestamp::now();
    let webhook = Webhook::create(
        WebhookInput {
            url: "http://127.0.0.1:9/story".into(),
            event_kinds: vec!["*".into()],
            secret: Some("0123456789abcdef".into()),
            active: true,
        },
        created,
    )
    .expect("a valid webhook");
    w.store.insert_webhook(&webhook).await.expect("webhook inserted");
    assert_eq!(w.store.get_webhook(webhook.id).await.unwrap().as_ref(), Some(&webhook));
    let ticket = w.insert(draft("Sent out"), created).await;
    w.change(ticket.id, &w.agent, |t, _| t.comment("Thanks, on it.", Visibility::Public, false, created).map_err(|e| e.to_string())).await;

    let now = Timestamp::now();
    let lease = 60_000;
    let first = w.store.claim_due_deliveries(now, now.plus_millis(lease), 10).await.expect("claimed");
    let described = |claimed: &[ClaimedDelivery]| {
        let mut seen: Vec<(i64, String)> = claimed
            .iter()
            .map(|d| match &d.subject {
                DeliverySubject::Ticket { ticket_id, ticket_number, ticket_title, customer, event } => {
                    assert_eq!((*ticket_id, *ticket_number), (ticket.id, ticket.number));
                    assert_eq!((ticket_title, customer), (&ticket.title, &ticket.customer), "the payload names the ticket");
                    assert_eq!(
                        (d.webhook_id, d.url.as_str(), d.secret.as_str()),
                        (webhook.id, webhook.url.as_str(), webhook.secret.as_str())
                    );
                    (event.seq, event.kind.clone())
                }
                DeliverySubject::Staff(e) => panic!("a staff event was queued: {e:?}"),
            })
            .collect();
        seen.sort();
        seen
    };
    assert_eq!(described(&first), [(1, "created".to_owned()), (2, "comment_added".to_owned())]);
    assert_eq!(w.store.claim_due_deliveries(now, now.plus_millis(lease), 10).await.unwrap().len(), 0, "a second claimer gets nothing");
    // Once the lease runs out another worker takes them, and the first claim is void.
    let later = now.plus_millis(lease + 1);
    let second = w.store.claim_due_deliveries(later, later.plus_millis(lease), 10).await.unwrap();
    assert_eq!(described(&second), described(&first));
    let attempt = Attempt { at: later, duration_ms: 12, outcome: AttemptOutcome::Status(204) };
    for d in &first {
        assert!(!w.store.record_delivery_attempt(delivered(d, &attempt)).await.unwrap(), "a lapsed claim records nothing");
    }
    for d in &second {
        assert!(w.store.record_delivery_attempt(delivered(d, &attempt)).await.unwrap(), "the holder records the attempt");
    }
    let much_later = later.plus_millis(10 * lease);
    assert_eq!(
        w.store.claim_due_deliveries(much_later, much_later.plus_millis(lease), 10).await.unwrap().len(),
        0,
        "delivered ones are done"
    );
    let log = w.store.list_deliveries(webhook.id, None, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d.state, DeliveryState::Delivered);
        assert_eq!(d.attempts, std::slice::from_ref(&attempt), "one attempt recorded, by the holder");
    }

    // Concurrent claimers split the due deliveries between them.
    for i in 0..6 {
        w.change(ticket.id, &w.agent, |t, _| {
            t.comment(&format!("update {i}"), Visibility::Internal, false, created).map_err(|e| e.to_string())
        })
        .await;
    }
    let now = Timestamp::now();
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let store = w.store.clone();
            tokio::spawn(async move { store.claim_due_deliveries(now, now.plus_millis(lease), 10).await.expect("claimed") })
        })
        .collect();
    let mut ids = Vec::new();
    for claimer in claimers {
        ids.extend(claimer.await.unwrap().into_iter().map(|d| d.id));
    }
    let distinct: BTreeSet<_> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (6, 6), "each due delivery claimed exactly once");
    assert!(w.store.delete_webhook(webhook.id).await.unwrap(), "a webhook goes with its deliveries");
    assert!(w.store.list_webhooks().await.unwrap().is_empty());
}

fn delivered<'a>(delivery: &'a ClaimedDelivery, attempt: &'a Attempt) -> FinishedAttempt<'a> {
    FinishedAttempt { delivery, attempt, state: DeliveryState::Delivered, next_attempt_at: None }
}

/// Partners and delegations: a ticket has at most one active delegation; a withdrawn one makes
/// room for the next.
async fn partner_chapter(w: &World, provoked: &mut Provoked) {
    let at = day(3);
    let partner = Partner::create(
        PartnerInput {
            name: "Northwind Parts".into(),
            kind: PartnerKind::Supplier,
            contact: Some("desk@northwind.test".into()),
            status: PartnerStatus::Active,
            categories: vec!["hardware".into()],
            contract: Some(Contract {
                start: day(-30),
                end: None,
                first_response: TargetDuration::from_seconds(4 * 3600),
                resolution: TargetDuration::from_seconds(2 * 86_400),
                calendar: None,
            }),
        },
        at,
    )
    .expect("a valid partner");
    w.store.insert_partner(&partner).await.expect("partner inserted");
    assert_eq!(w.store.get_partner(partner.id).await.unwrap().as_ref(), Some(&partner), "read back as written");
    let ticket = w.insert(draft("Pump replacement"), at).await;

    let delegate = |n: i64| {
        let now = at.plus_millis(n * MINUTE);
        let delegation = Delegation {
            id: DelegationId::new_at(now),
            ticket_id: ticket.id,
            partner_id: partner.id,
            note: Some(format!("delegation {n}")),
            delegated_at: now,
            first_response_due_at: Some(now.plus_millis(4 * HOUR)),
            resolution_due_at: Some(now.plus_millis(2 * DAY)),
            withdrawn_at: None,
        };
        let event = EventData::Delegated {
            delegation_id: delegation.id,
            partner_id: partner.id,
            partner_name: partner.name.clone(),
            note: delegation.note.clone(),
            first_response_due_at: delegation.first_response_due_at,
            resolution_due_at: delegation.resolution_due_at,
        };
        (delegation, event, now)
    };
    let plan = |t: &Ticket, delegation: Delegation, event: EventData, now: Timestamp| {
        let mut change = t.record(vec![event], now);
        change.side.push(SideWrite::Delegate(delegation));
        change
    };
    let (one, event, now) = delegate(1);
    w.change(ticket.id, &w.agent, |t, _| Ok(plan(t, one.clone(), event, now))).await;
    assert_eq!(w.store.active_delegation(ticket.id).await.unwrap().as_ref(), Some(&one));
    let before = w.get(ticket.id).await;
    let (two, event, now) = delegate(2);
    provoked.expect(
        unique::ACTIVE_DELEGATION,
        w.store.change_ticket(TicketRef::Id(ticket.id), &w.agent, |t, _| Ok::<_, String>(plan(t, two.clone(), event, now))).await,
    );
    assert_eq!(w.get(ticket.id).await, before, "the refused delegation left the ticket as it was");
    assert_eq!(w.seqs(ticket.id).await, [1, 2]);
    let listed = w.store.list_tickets(&TicketQuery { delegated_to: Some(partner.id), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [ticket.id]);

    let withdraw = |t: &Ticket, n: i64| {
        let now = at.plus_millis(n * MINUTE);
        let mut change = t.record(vec![EventData::DelegationWithdrawn { delegation_id: one.id, partner_id: partner.id }], now);
        change.side.push(SideWrite::WithdrawDelegation { ticket_id: t.id, at: now });
        change
    };
    w.change(ticket.id, &w.agent, |t, _| Ok(withdraw(t, 3))).await;
    assert_eq!(w.store.active_delegation(ticket.id).await.unwrap(), None);
    let again = w.store.change_ticket(TicketRef::Id(ticket.id), &w.agent, |t, _| Ok::<_, String>(withdraw(t, 4))).await;
    assert!(matches!(again, Err(StoreError::AlreadyDone(_))), "{again:?}");
    assert!(w
        .store
        .list_tickets(&TicketQuery { delegated_to: Some(partner.id), limit: 10, ..Default::default() })
        .await
        .unwrap()
        .is_empty());
    let (three, event, now) = delegate(5);
    w.change(ticket.id, &w.agent, |t, _| Ok(plan(t, three.clone(), event, now))).await;
    assert_eq!(w.store.active_delegation(ticket.id).await.unwrap().as_ref(), Some(&three), "a new delegation after the withdrawal");
    assert!(matches!(w.store.delete_partner(partner.id).await, Err(StoreError::ForeignKey)), "delegations refer to the partner");
}

/// Training: courses by code; records append-only, each superseded at most once.
async fn training_chapter(w: &World, provoked: &mut Provoked, staff: &[Staff]) {
    let at = day(4);
    let course = Course::create(
        "SOLUTION-DESIGN",
        "Solution design",
        None,
        true,
        Some(TargetDuration::from_seconds(365 * 86_400)),
        70,
        AssessmentMethod::Exam,
        at,
    )
    .expect("a valid course");
    w.store.insert_course(&course).await.expect("course inserted");
    assert_eq!(w.store.get_course(&course.code).await.unwrap().as_ref(), Some(&course));
    provoked.expect(unique::COURSE_CODE, w.store.insert_course(&Course { title: "Another".into(), ..course.clone() }).await);

    let record = |score: i64, supersedes: Option<TrainingRecord>, n: i64| {
        let correction_reason = supersedes.as_ref().map(|_| "score mistyped".to_owned());
        let input = RecordInput {
            staff_id: staff[1].id,
            completed_at: at,
            score,
            assessor: "Grace Hopper".into(),
            method: None,
            notes: None,
            supersedes,
            correction_reason,
        };
        TrainingRecord::create(&course, input, at.plus_millis(n)).expect("a valid record")
    };
    let original = record(75, None, 1);
    w.store.insert_training_record(&original).await.unwrap();
    let correction = record(85, Some(original.clone()), 2);
    w.store.insert_training_record(&correction).await.unwrap();
    provoked.expect(unique::SUPERSEDED_RECORD, w.store.insert_training_record(&record(90, Some(original.clone()), 3)).await);
    assert_eq!(w.store.get_training_record(correction.id).await.unwrap().as_ref(), Some(&correction), "read back as written");
    assert_eq!(w.store.list_training_records(Some(staff[1].id), None).await.unwrap(), [original.clone(), correction.clone()]);
    assert_eq!(
        w.store.current_passing_records(Some(staff[1].id), None).await.unwrap(),
        std::slice::from_ref(&correction),
        "the correction stands"
    );
    assert_eq!(w.store.current_passing_records(None, Some("SOLUTION-DESIGN")).await.unwrap(), [correction]);
    assert!(matches!(w.store.delete_course(&course.code).await, Err(StoreError::ForeignKey)), "records refer to the course");
}

/// The catalogs of calendars and SLA policies, keyed by name.
async fn catalog_chapter(w: &World, provoked: &mut Provoked) {
    let at = day(5);
    let calendar = serde_json::to_string(&CalendarSpec { timezone: "UTC".into(), always: true, ..Default::default() }).unwrap();
    w.store.insert_catalog_entry(Catalog::Calendars, "office", &calendar, at).await.expect("calendar inserted");
    provoked.expect(unique::CALENDAR_KEY, w.store.insert_catalog_entry(Catalog::Calendars, "office", &calendar, at).await);
    assert!(!w.store.seed_catalog_entry(Catalog::Calendars, "office", "{}", at).await.unwrap(), "seeding keeps what exists");
    assert!(w.store.seed_catalog_entry(Catalog::Calendars, "weekend", &calendar, at).await.unwrap());

    let policy = json!({"name": "Standard", "first_response": "1h"}).to_string();
    w.store.insert_catalog_entry(Catalog::Policies, "standard", &policy, at).await.expect("policy inserted");
    provoked.expect(unique::POLICY_KEY, w.store.insert_catalog_entry(Catalog::Policies, "standard", &policy, at).await);
    // One catalog's keys are not the other's.
    w.store.insert_catalog_entry(Catalog::Policies, "office", &policy, at).await.expect("a policy may share a calendar's key");

    assert!(w.store.replace_catalog_entry(Catalog::Policies, "standard", "{\"name\":\"Changed\"}", at).await.unwrap());
    assert!(!w.store.replace_catalog_entry(Catalog::Policies, "missing", "{}", at).await.unwrap());
    assert_eq!(
        w.store.catalog_entries(Catalog::Policies).await.unwrap(),
        [("office".to_owned(), policy.clone()), ("standard".to_owned(), "{\"name\":\"Changed\"}".to_owned())]
    );
    assert!(w.store.delete_catalog_entry(Catalog::Calendars, "weekend").await.unwrap());
    assert!(!w.store.delete_catalog_entry(Catalog::Calendars, "weekend").await.unwrap());
    assert_eq!(w.store.catalog_entries(Catalog::Calendars).await.unwrap(), [("office".to_owned(), calendar)]);
}

/// A KPI aggregate over four tickets whose figures are known by hand.
async fn kpi_chapter(w: &World) {
    let at = day(6);
    let kpi_draft = |title: &str| TicketDraft { customer_tier: Some("priority".into()), ..draft(title) };
    let opened = |n: i64| at.plus_millis(n * MINUTE);
    let reply = |t: &Ticket, minutes: i64| {
        t.comment("On it.", Visibility::Public, false, t.created_at.plus_millis(minutes * MINUTE)).map_err(|e| e.to_string())
    };
    let resolve = |t: &Ticket, minutes: i64| {
        t.apply_patch(
            TicketPatch { status: Some(Status::Resolved), ..Default::default() },
            &w.rules(),
            t.created_at.plus_millis(minutes * MINUTE),
        )
        .map_err(|e| e.to_string())
    };
    // Answered in 10 minutes, resolved in an hour with that one reply: first-contact resolved.
    let quick = w.insert(kpi_draft("Quick"), opened(0)).await;
    w.change(quick.id, &w.agent, |t, _| reply(t, 10)).await;
    w.change(quick.id, &w.agent, |t, _| resolve(t, 60)).await;
    // Answered in 20 minutes, replied to again, resolved in two hours.
    let chatty = w.insert(TicketDraft { channel: Channel::Phone, ..kpi_draft("Chatty") }, opened(1)).await;
    w.change(chatty.id, &w.agent, |t, _| reply(t, 20)).await;
    w.change(chatty.id, &w.agent, |t, _| reply(t, 30)).await;
    w.change(chatty.id, &w.agent, |t, _| resolve(t, 120)).await;
    // A complaint nobody answered publicly yet.
    let complaint =
        w.insert(TicketDraft { kind: Kind::Complaint, tags: vec!["billing".into()], ..kpi_draft("Complaint") }, opened(2)).await;
    w.change(complaint.id, &w.agent, |t, _| {
        t.comment("Looking.", Visibility::Internal, false, t.created_at.plus_millis(5 * MINUTE)).map_err(|e| e.to_string())
    })
    .await;
    // Answered in 40 minutes, resolved, then reopened by the customer.
    let reopened = w.insert(kpi_draft("Reopened"), opened(3)).await;
    w.change(reopened.id, &w.agent, |t, _| reply(t, 40)).await;
    w.change(reopened.id, &w.agent, |t, _| resolve(t, 90)).await;
    w.change(reopened.id, &w.agent, |t, _| {
        t.reopen(&w.general(), None, Some("still broken".into()), true, 7 * DAY, t.created_at.plus_millis(100 * MINUTE))
            .map_err(|e| e.to_string())
    })
    .await;

    let filter =
        KpiFilter { period: Some(Period { from: at, to: at.plus_millis(HOUR) }), tier: Some("priority".into()), ..Default::default() };
    let inputs = w.store.kpi_inputs(&filter).await.expect("KPI inputs");
    let minutes = |m: i64| Some((m * MINUTE) as f64);
    assert_eq!(
        inputs,
        KpiInputs {
            tickets: 4,
            resolved: 2,
            resolved_once: 3,
            reopened: 1,
            first_contact_resolved: 1,
            complaints: 1,
            first_response: DurationStats {
                count: 3,
                mean_ms: Some((70.0 / 3.0 * MINUTE as f64).round()),
                p50_ms: minutes(20),
                p90_ms: minutes(40),
                max_ms: minutes(40)
            },
            resolution: DurationStats { count: 2, mean_ms: minutes(90), p50_ms: minutes(60), p90_ms: minutes(120), max_ms: minutes(120) },
            backlog: vec![BacklogCount { process: "general".into(), stage: "consultation".into(), status: "open".into(), count: 2 }],
            ..KpiInputs::default()
        },
        "the aggregate of the known tickets"
    );
    assert_eq!(w.store.complaint_tags(&filter, 5).await.unwrap(), [("billing".to_owned(), 1)]);
    assert_eq!(w.store.group_values(&filter, GroupBy::Channel).await.unwrap(), ["email", "phone"]);
    let outside = KpiFilter { period: Some(Period { from: at.plus_millis(HOUR), to: at.plus_millis(2 * HOUR) }), ..filter.clone() };
    assert_eq!(w.store.kpi_inputs(&outside).await.unwrap().tickets, 0, "the period bounds the tickets");
}

/// The backlog as of a month's end is read from the timelines: resolving, reopening or
/// resolving again after the month's end does not change the month's figure.
async fn month_end_chapter(w: &World) {
    let (opened, month_end) = (day(20), day(30));
    let actor = Arc::new(w.agent.clone());
    let mut number = 900_000;
    // A ticket of this chapter's own tier opened on day 20, then changed on the given days.
    let mut history = |title: &str, moves: &[(i64, &str)]| {
        number += 1;
        let mut change = w.open(TicketDraft { customer_tier: Some("key-account".into()), ..draft(title) }, opened);
        Ticket::set_number(&mut change, TicketNumber::parse("number", &number.to_string()).unwrap());
        let mut history = TicketHistory::open(change, &actor).expect("a history");
        for (on, what) in moves {
            let at = day(*on);
            let change = match *what {
                "resolve" => {
                    history.ticket.apply_patch(TicketPatch { status: Some(Status::Resolved), ..Default::default() }, &w.rules(), at)
                }
                "reopen" => Ok(history.ticket.reopen(&w.general(), None, None, true, 30 * DAY, at).expect("within the window")),
                other => unreachable!("{other}"),
            };
            history.apply(change.expect("the rule accepts"), &actor, at).expect("applied");
        }
        history
    };
    let histories = vec![
        // Open at the month's end, resolved after it: in the month's backlog.
        history("Resolved after the month", &[(35, "resolve")]),
        // Resolved within the month, reopened after it: not in the month's backlog.
        history("Reopened after the month", &[(25, "resolve"), (32, "reopen")]),
        // Resolved, reopened and resolved again after the month: not in it either.
        history("Resolved twice", &[(25, "resolve"), (32, "reopen"), (34, "resolve")]),
        // Reopened within the month and resolved after it: in it.
        history("Reopened within the month", &[(22, "resolve"), (26, "reopen"), (36, "resolve")]),
        // Resolved within the month and untouched since: not in it.
        history("Resolved within the month", &[(24, "resolve")]),
        // Opened after the month: not in it.
    ];
    let mut late = w.open(TicketDraft { customer_tier: Some("key-account".into()), ..draft("Opened after the month") }, day(31));
    Ticket::set_number(&mut late, TicketNumber::parse("number", "900100").unwrap());
    let late = TicketHistory::open(late, &actor).expect("a history");
    w.store.insert_histories(&histories).await.expect("histories written");
    w.store.insert_histories(&[late]).await.expect("history written");

    let filter = KpiFilter { tier: Some("key-account".into()), ..Default::default() };
    assert_eq!(w.store.backlog_at(&filter, month_end).await.unwrap(), 2, "the backlog as it stood at the month's end");
    assert_eq!(w.store.backlog_at(&filter, day(33)).await.unwrap(), 5, "all but the one resolved within the month");
    assert_eq!(w.store.backlog_at(&filter, day(40)).await.unwrap(), 2, "the one reopened after the month, and the late one");
    assert_eq!(w.store.backlog_at(&filter, opened).await.unwrap(), 0, "opened at that very instant, not before it");
}

/// The timeline's own keys: a ticket number, and an event's place in its ticket's timeline.
async fn timeline_keys_chapter(w: &World, provoked: &mut Provoked, tickets: &Tickets, url: &str) {
    // A bulk history that reuses a number is refused whole.
    let mut change = w.open(draft("Imported twice"), day(7));
    Ticket::set_number(&mut change, tickets.first.number);
    let history = TicketHistory::open(change, &Arc::new(w.agent.clone())).expect("a history");
    let id = history.ticket.id;
    provoked.expect(unique::TICKET_NUMBER, w.store.insert_histories(&[history]).await);
    assert_eq!(w.store.get_ticket(TicketRef::Id(id)).await.unwrap(), None);

    // Event numbers are kept gapless by the row lock, and unique by the database: a second
    // event 1 written behind the store's back is refused, and the store's error names the key.
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(url).await.expect("a raw connection");
    let written = sqlx::query(
        "INSERT INTO ticket_events (ticket_id, seq, at, actor_kind, actor_name, kind, data) VALUES ($1, 1, $2, 'system', 'raw', 'updated', '{}')",
    )
    .bind(tickets.first.id.to_string())
    .bind(day(7).as_millis())
    .execute(&mut raw)
    .await;
    provoked.expect(unique::EVENT_SEQ, written.map_err(StoreError::from));
    raw.close().await.unwrap();
}
