//! `EventData`'s serde form is a public contract three times over: the `data` column of the
//! ticket timeline, the API's `data` field and the webhook payload. One full value of every
//! variant (and a minimal one where fields are optional) is serialised and compared with
//! `tests/golden/event-data.json`, so renaming a field or a variant fails here first.
//!
//! After an intended change of shape: `UPDATE_GOLDEN=1 cargo test -p steward-domain --test golden`
//! rewrites the file; review its diff like any other change of the API.

use serde_json::Value;
use std::collections::BTreeMap;
use steward_domain::event::{EventData, FieldChange, SlaClockRef};
use steward_domain::feedback::ReviewOutcome;
use steward_domain::ids::{AttachmentId, ClockId, DelegationId, PartnerId, ReviewId, StaffId, TicketId};
use steward_domain::ticket::{Priority, Status, Visibility};
use steward_domain::time::Timestamp;

const GOLDEN: &str = include_str!("golden/event-data.json");
const GOLDEN_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/event-data.json");

/// Fails to compile when a variant is added: give it a number here and a value in
/// [`one_of_each`] (the test checks that every number has one).
fn variant(e: &EventData) -> usize {
    match e {
        EventData::Created { .. } => 0,
        EventData::Updated { .. } => 1,
        EventData::StatusChanged { .. } => 2,
        EventData::AssigneeChanged { .. } => 3,
        EventData::StageChanged { .. } => 4,
        EventData::CommentAdded { .. } => 5,
        EventData::Reopened { .. } => 6,
        EventData::FollowUpCreated { .. } => 7,
        EventData::ComplaintReceived { .. } => 8,
        EventData::SurveyIssued { .. } => 9,
        EventData::CsatReceived { .. } => 10,
        EventData::Reviewed { .. } => 11,
        EventData::SlaPolicyChanged { .. } => 12,
        EventData::SlaWarning { .. } => 13,
        EventData::SlaBreached { .. } => 14,
        EventData::SlaEscalated { .. } => 15,
        EventData::PluginFailed { .. } => 16,
        EventData::Delegated { .. } => 17,
        EventData::DelegationWithdrawn { .. } => 18,
        EventData::CertificationOverridden { .. } => 19,
        EventData::AttachmentAdded { .. } => 20,
        EventData::AttachmentDeleted { .. } => 21,
    }
}
const VARIANTS: usize = 22;

fn id<T>(parse: fn(&str, &str) -> Result<T, steward_domain::FieldError>, n: u32) -> T {
    parse("id", &format!("019b8c2e-4a00-7000-8000-{n:012}")).expect("a fixed id")
}

/// Every variant with every optional field set, then the variants with optional fields again
/// with none set (what is left out matters as much as what is written).
fn one_of_each() -> Vec<EventData> {
    let at = Timestamp::from_millis(1_767_603_600_000);
    let later = at.plus_millis(3_600_000);
    let other = id(TicketId::parse, 1);
    let staff = id(StaffId::parse, 3);
    let clock = SlaClockRef { id: id(ClockId::parse, 4), kind: "stage".into(), stage: Some("delivery".into()), policy: Some("vip".into()) };
    let bare_clock = SlaClockRef { id: id(ClockId::parse, 4), kind: "resolution".into(), stage: None, policy: None };
    let delegation = id(DelegationId::parse, 5);
    let partner = id(PartnerId::parse, 6);
    let changes: BTreeMap<String, FieldChange> = [
        ("priority".to_owned(), FieldChange { from: "normal".into(), to: "high".into() }),
        ("tags".to_owned(), FieldChange { from: serde_json::json!(["a"]), to: serde_json::json!(["a", "b"]) }),
    ]
    .into_iter()
    .collect();
    vec![
        EventData::Created {
            number: "T-000042".into(),
            process: "general".into(),
            process_version: 3,
            stage: "consultation".into(),
            status: Status::Open,
            priority: Priority::High,
            channel: "phone".into(),
            kind: "complaint".into(),
            tier: "vip".into(),
            origin_ticket_id: Some(other),
        },
        EventData::Updated { changes },
        EventData::StatusChanged { from: Status::Open, to: Status::WaitingCustomer },
        EventData::AssigneeChanged { from: None, to: Some(staff) },
        EventData::StageChanged { from: "consultation".into(), to: "needs_analysis".into(), note: Some("customer called back".into()) },
        EventData::CommentAdded {
            body: "Thanks, we are on it.".into(),
            visibility: Visibility::Public,
            first_response: true,
            from_customer: true,
        },
        EventData::Reopened { reopen_count: 2, from_status: Status::Closed, reason: Some("still broken".into()), from_customer: true },
        EventData::FollowUpCreated { ticket_id: other, number: "T-000043".into() },
        EventData::ComplaintReceived { complaint_id: other, number: "T-000043".into(), title: "Late delivery".into() },
        EventData::SurveyIssued { survey_url: "/api/v1/surveys/svy_abc".into(), expires_at: later },
        EventData::CsatReceived { score: 4, comment: Some("Quick and friendly".into()) },
        EventData::Reviewed {
            review_id: id(ReviewId::parse, 7),
            stage: "delivery".into(),
            outcome: ReviewOutcome::Fail,
            score: 55,
            failed_items: vec!["work matches the request".into()],
        },
        EventData::SlaPolicyChanged { from: Some("standard".into()), to: Some("vip".into()), explanation: "tier vip".into() },
        EventData::SlaWarning { clock: clock.clone(), percent: 80, due_at: Some(later) },
        EventData::SlaBreached { clock: clock.clone(), breached_at: later, target: "4h".into() },
        EventData::SlaEscalated { clock: clock.clone(), percent: 150, notify_role: "supervisor".into() },
        EventData::PluginFailed {
            plugin: "erp".into(),
            hook: "on-event".into(),
            error: "trap".into(),
            auto_disabled: Some("5 failures in a row".into()),
        },
        EventData::Delegated {
            delegation_id: delegation,
            partner_id: partner,
            partner_name: "Northwind".into(),
            note: Some("parts on site".into()),
            first_response_due_at: Some(at),
            resolution_due_at: Some(later),
        },
        EventData::DelegationWithdrawn { delegation_id: delegation, partner_id: partner },
        EventData::CertificationOverridden {
            staff_id: staff,
            stage: "solution_design".into(),
            certification: "SOLUTION-DESIGN".into(),
            state: "expired".into(),
            reason: "no one else on shift".into(),
        },
        EventData::AttachmentAdded {
            attachment_id: id(AttachmentId::parse, 8),
            file_name: "打印机照片.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 48_213,
            sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
            comment_seq: Some(4),
            visibility: Visibility::Internal,
        },
        EventData::AttachmentDeleted {
            attachment_id: id(AttachmentId::parse, 8),
            file_name: "打印机照片.jpg".into(),
            visibility: Visibility::Public,
        },
        // The same variants with their optional fields absent.
        EventData::Created {
            number: "T-000042".into(),
            process: "general".into(),
            process_version: 1,
            stage: "consultation".into(),
            status: Status::Open,
            priority: Priority::Normal,
            channel: "web".into(),
            kind: "request".into(),
            tier: "standard".into(),
            origin_ticket_id: None,
        },
        EventData::AssigneeChanged { from: Some(staff), to: None },
        EventData::StageChanged { from: "delivery".into(), to: "closed".into(), note: None },
        EventData::CommentAdded {
            body: "Internal note".into(),
            visibility: Visibility::Internal,
            first_response: false,
            from_customer: false,
        },
        EventData::Reopened { reopen_count: 1, from_status: Status::Resolved, reason: None, from_customer: false },
        EventData::CsatReceived { score: 5, comment: None },
        EventData::SlaPolicyChanged { from: None, to: None, explanation: "no policy matches".into() },
        EventData::SlaWarning { clock: bare_clock.clone(), percent: 80, due_at: None },
        EventData::PluginFailed { plugin: "erp".into(), hook: "guard-transition".into(), error: "timeout".into(), auto_disabled: None },
        EventData::Delegated {
            delegation_id: delegation,
            partner_id: partner,
            partner_name: "Northwind".into(),
            note: None,
            first_response_due_at: None,
            resolution_due_at: None,
        },
        EventData::AttachmentAdded {
            attachment_id: id(AttachmentId::parse, 8),
            file_name: "log.txt".into(),
            content_type: "text/plain; charset=utf-8".into(),
            size: 12,
            sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
            comment_seq: None,
            visibility: Visibility::Public,
        },
    ]
}

/// The paths at which two JSON values differ, one line each.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(w) => differences(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: missing (golden has {v})")),
                }
            }
            for (k, w) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}.{k}: not in the golden file (now {w})"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (v, w)) in e.iter().zip(a).enumerate() {
                differences(&format!("{path}[{i}]"), v, w, out);
            }
        }
        (e, a) if e != a => out.push(format!("{path}: golden {e}, now {a}")),
        _ => {}
    }
}

#[test]
fn every_event_variant_serialises_as_the_golden_file_says() {
    let values = one_of_each();
    let mut covered: Vec<usize> = values.iter().map(variant).collect();
    covered.sort();
    covered.dedup();
    assert_eq!(covered, (0..VARIANTS).collect::<Vec<_>>(), "every variant has a value in one_of_each");

    let actual = Value::Array(values.iter().map(|e| serde_json::to_value(e).expect("serialises")).collect());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_PATH, serde_json::to_string_pretty(&actual).expect("serialises") + "\n").expect("golden file written");
        return;
    }
    let golden: Value = serde_json::from_str(GOLDEN).expect("the golden file is JSON");
    let mut diff = Vec::new();
    differences("$", &golden, &actual, &mut diff);
    if let (Value::Array(g), Value::Array(a)) = (&golden, &actual) {
        if g.len() != a.len() {
            diff.push(format!("$: golden has {} values, now {}", g.len(), a.len()));
        }
    }
    assert!(
        diff.is_empty(),
        "EventData's serde form changed: it is the timeline's data column, the API's `data` and the webhook payload.\n  {}\n\
         If the change is intended, run with UPDATE_GOLDEN=1 and review the diff of {GOLDEN_PATH}.",
        diff.join("\n  ")
    );
    // Each stored shape reads back as the value it came from (stored events are read again).
    for (value, stored) in values.iter().zip(golden.as_array().expect("an array")) {
        let read: EventData = serde_json::from_value(stored.clone()).unwrap_or_else(|e| panic!("{stored} does not read back: {e}"));
        assert_eq!(&read, value);
        assert_eq!(stored["kind"], value.kind(), "the tag is the kind column");
        assert_eq!(stored.get("data").cloned().unwrap_or(Value::Null), value.data_json(), "`data` is what the column stores");
    }
}
