//! Staff training: courses, append-only training records, and the certifications derived
//! from them, which gate the stages of a process that require one.

use super::{
    duration::TargetDuration,
    error::Errors,
    ids::{StaffId, TrainingRecordId},
    string_enum,
    time::Timestamp,
    FieldError, ValidationError,
};

string_enum! {
    pub enum AssessmentMethod {
        Exam => "exam",
        Simulation => "simulation",
        RealCase => "real_case",
    }
}

string_enum! {
    /// Where a person stands with a certification.
    pub enum CertificationState {
        Valid => "valid",
        /// Valid, but it expires within the warning window.
        Expiring => "expiring",
        Expired => "expired",
        /// Never passed (or every passing record was superseded by a failing correction).
        Missing => "missing",
    }
}

impl CertificationState {
    /// Whether the holder may work a stage that requires the certification.
    pub fn allows_work(self) -> bool {
        matches!(self, CertificationState::Valid | CertificationState::Expiring)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    /// Upper-case letters, digits and dashes, e.g. `SOLUTION-DESIGN`; named by stages'
    /// `required_certification`.
    pub code: String,
    pub title: String,
    pub description: String,
    /// Passing it certifies the person (for `validity`, or for good when none).
    pub certifies: bool,
    pub validity: Option<TargetDuration>,
    /// 0 to 100.
    pub pass_score: u8,
    pub method: AssessmentMethod,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A partial change of a course; the code never changes.
#[derive(Debug, Clone, Default)]
pub struct CoursePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub certifies: Option<bool>,
    pub validity: Option<Option<TargetDuration>>,
    pub pass_score: Option<i64>,
    pub method: Option<AssessmentMethod>,
}

impl Course {
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        code: &str,
        title: &str,
        description: Option<String>,
        certifies: bool,
        validity: Option<TargetDuration>,
        pass_score: i64,
        method: AssessmentMethod,
        now: Timestamp,
    ) -> Result<Course, ValidationError> {
        let mut errors = Errors::default();
        let code = errors.take(validate_code(code));
        let blank = Course {
            code: code.unwrap_or_default(),
            title: String::new(),
            description: String::new(),
            certifies,
            validity: None,
            pass_score: 0,
            method,
            created_at: now,
            updated_at: now,
        };
        let patch = CoursePatch {
            title: Some(title.to_owned()),
            description: Some(description.unwrap_or_default()),
            certifies: None,
            validity: Some(validity),
            pass_score: Some(pass_score),
            method: None,
        };
        match blank.apply(patch, now) {
            Ok(course) => {
                errors.finish()?;
                Ok(course)
            }
            Err(e) => {
                for f in e.errors {
                    errors.push(f);
                }
                Err(errors.finish().expect_err("at least one error"))
            }
        }
    }

    pub fn apply(&self, patch: CoursePatch, now: Timestamp) -> Result<Course, ValidationError> {
        let mut next = self.clone();
        let mut errors = Errors::default();
        if let Some(title) = patch.title {
            if title.trim().is_empty() || title.chars().count() > MAX_COURSE_TITLE_CHARS {
                errors.push(FieldError::new("title", format!("a title has 1 to {MAX_COURSE_TITLE_CHARS} characters")));
            }
            next.title = title.trim().to_owned();
        }
        if let Some(description) = patch.description {
            if description.chars().count() > MAX_COURSE_DESCRIPTION_CHARS {
                errors.push(FieldError::new("description", format!("must be at most {MAX_COURSE_DESCRIPTION_CHARS} characters")));
            }
            next.description = description.trim().to_owned();
        }
        if let Some(certifies) = patch.certifies {
            next.certifies = certifies;
        }
        if let Some(validity) = patch.validity {
            if validity.is_some_and(|v| v.as_seconds() == 0) {
                errors.push(FieldError::new("validity", "must be longer than zero"));
            }
            next.validity = validity;
        }
        if let Some(score) = patch.pass_score {
            match u8::try_from(score) {
                Ok(s) if s <= 100 => next.pass_score = s,
                _ => errors.push(FieldError::new("pass_score", "must be 0 to 100")),
            }
        }
        if let Some(method) = patch.method {
            next.method = method;
        }
        errors.finish()?;
        next.updated_at = now;
        Ok(next)
    }
}

/// The longest assessor name of a training record, in characters as sent.
pub const MAX_ASSESSOR_CHARS: usize = 200;
/// A course title and description, in characters as sent.
pub const MAX_COURSE_TITLE_CHARS: usize = 200;
pub const MAX_COURSE_DESCRIPTION_CHARS: usize = 16 * 1024;
/// A course code: 1 to this many upper-case ASCII letters, digits and dashes, not starting with a
/// dash, exactly as sent (what stages name in `required_certification`).
pub const MAX_COURSE_CODE_CHARS: usize = 40;
/// The same rule as a regular expression (stated in the OpenAPI document).
pub const COURSE_CODE_PATTERN: &str = "^[A-Z0-9][A-Z0-9-]{0,39}$";

fn validate_code(code: &str) -> Result<String, FieldError> {
    let ok = !code.is_empty()
        && code.len() <= MAX_COURSE_CODE_CHARS
        && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && !code.starts_with('-');
    if ok {
        Ok(code.to_owned())
    } else {
        Err(FieldError::new("code", "1 to 40 upper-case letters, digits and dashes, such as SOLUTION-DESIGN"))
    }
}

/// A training record as typed in. `passed` and `expires_at` are derived from the course.
#[derive(Debug, Clone)]
pub struct RecordInput {
    pub staff_id: StaffId,
    pub completed_at: Timestamp,
    pub score: i64,
    pub assessor: String,
    pub method: Option<AssessmentMethod>,
    pub notes: Option<String>,
    /// A correction names the record it supersedes, with a reason.
    pub supersedes: Option<TrainingRecord>,
    pub correction_reason: Option<String>,
}

/// One completed training, append-only.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRecord {
    pub id: TrainingRecordId,
    pub staff_id: StaffId,
    pub course_code: String,
    pub completed_at: Timestamp,
    pub score: u8,
    pub assessor: String,
    pub method: AssessmentMethod,
    pub notes: Option<String>,
    pub passed: bool,
    pub expires_at: Option<Timestamp>,
    pub supersedes: Option<TrainingRecordId>,
    pub correction_reason: Option<String>,
    pub recorded_at: Timestamp,
}

impl TrainingRecord {
    pub fn create(course: &Course, input: RecordInput, now: Timestamp) -> Result<TrainingRecord, ValidationError> {
        let mut errors = Errors::default();
        let score = match u8::try_from(input.score) {
            Ok(s) if s <= 100 => s,
            _ => {
                errors.push(FieldError::new("score", "must be 0 to 100"));
                0
            }
        };
        let assessor = input.assessor.trim().to_owned();
        if assessor.is_empty() || input.assessor.chars().count() > MAX_ASSESSOR_CHARS {
            errors.push(FieldError::new("assessor", format!("an assessor has 1 to {MAX_ASSESSOR_CHARS} characters")));
        }
        if input.completed_at > now {
            errors.push(FieldError::new("completed_at", "must not be in the future"));
        }
        let reason = input.correction_reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        match (&input.supersedes, &reason) {
            (Some(old), Some(_)) => {
                if old.staff_id != input.staff_id || old.course_code != course.code {
                    errors.push(FieldError::new("supersedes", "a correction is for the same person and course"));
                }
            }
            (Some(_), None) => errors.push(FieldError::new("correction_reason", "a correction says why")),
            (None, Some(_)) => errors.push(FieldError::new("supersedes", "a correction names the record it supersedes")),
            (None, None) => {}
        }
        errors.finish()?;
        let passed = score >= course.pass_score;
        let expires_at = match (course.certifies && passed, course.validity) {
            (true, Some(v)) => Some(input.completed_at.plus_millis(v.as_millis())),
            _ => None,
        };
        Ok(TrainingRecord {
            id: TrainingRecordId::new_at(now),
            staff_id: input.staff_id,
            course_code: course.code.clone(),
            completed_at: input.completed_at,
            score,
            assessor,
            method: input.method.unwrap_or(course.method),
            notes: input.notes.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            passed,
            expires_at,
            supersedes: input.supersedes.map(|s| s.id),
            correction_reason: reason,
            recorded_at: now,
        })
    }
}

/// One person's standing with one certification.
#[derive(Debug, Clone, PartialEq)]
pub struct Certification {
    pub staff_id: StaffId,
    pub course_code: String,
    pub state: CertificationState,
    /// None with a valid state: it does not expire.
    pub expires_at: Option<Timestamp>,
    /// The record it rests on: the latest passing one.
    pub record_id: Option<TrainingRecordId>,
}

/// Training compliance: of the active staff whose role some stage's certification is required
/// for (`needs`: role → course codes), how many hold a certification that allows work for every
/// one of them. Returns (compliant, considered).
pub fn training_compliance(
    staff: &[super::staff::Staff],
    needs: &std::collections::BTreeMap<String, Vec<String>>,
    records: &[TrainingRecord],
    now: Timestamp,
    expiring_within_ms: i64,
) -> (u64, u64) {
    let mut compliant = 0;
    let mut considered = 0;
    for person in staff.iter().filter(|s| s.active) {
        let Some(courses) = needs.get(person.role.as_str()).filter(|c| !c.is_empty()) else { continue };
        considered += 1;
        if courses.iter().all(|code| certification(person.id, code, records, now, expiring_within_ms).state.allows_work()) {
            compliant += 1;
        }
    }
    (compliant, considered)
}

/// Where `staff` stands with `course` given their records of it (superseded ones are ignored):
/// the latest passing record decides.
pub fn certification(
    staff: StaffId,
    course_code: &str,
    records: &[TrainingRecord],
    now: Timestamp,
    expiring_within_ms: i64,
) -> Certification {
    let superseded: Vec<TrainingRecordId> = records.iter().filter_map(|r| r.supersedes).collect();
    let latest = records
        .iter()
        .filter(|r| r.staff_id == staff && r.course_code == course_code && r.passed && !superseded.contains(&r.id))
        .max_by_key(|r| (r.completed_at, r.recorded_at));
    let (state, expires_at) = match latest {
        None => (CertificationState::Missing, None),
        Some(r) => match r.expires_at {
            None => (CertificationState::Valid, None),
            Some(at) if at <= now => (CertificationState::Expired, Some(at)),
            Some(at) if at.as_millis() - now.as_millis() <= expiring_within_ms => (CertificationState::Expiring, Some(at)),
            Some(at) => (CertificationState::Valid, Some(at)),
        },
    };
    Certification { staff_id: staff, course_code: course_code.to_owned(), state, expires_at, record_id: latest.map(|r| r.id) }
}

/// Why a certification gate refuses a person for a stage: what they lack and in what state
/// their certification is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificationRefusal {
    /// The request field that named the person (`assignee_id`, …).
    pub field: &'static str,
    pub staff_id: StaffId,
    pub staff_name: String,
    pub certification: String,
    pub state: CertificationState,
    pub expires_at: Option<Timestamp>,
    pub stage: String,
}

impl std::fmt::Display for CertificationRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) does not hold a valid {} certification (it is {}), which stage `{}` requires",
            self.staff_name, self.staff_id, self.certification, self.state, self.stage
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn course() -> Course {
        Course::create(
            "SOLUTION-DESIGN",
            "Solution design",
            None,
            true,
            Some(TargetDuration::from_seconds(365 * 86_400)),
            70,
            AssessmentMethod::Exam,
            Timestamp::from_millis(0),
        )
        .unwrap()
    }

    fn record(staff: StaffId, completed_day: i64, score: i64) -> TrainingRecord {
        let input = RecordInput {
            staff_id: staff,
            completed_at: Timestamp::from_millis(completed_day * DAY),
            score,
            assessor: "Grace".into(),
            method: None,
            notes: None,
            supersedes: None,
            correction_reason: None,
        };
        TrainingRecord::create(&course(), input, Timestamp::from_millis(completed_day * DAY + 1)).unwrap()
    }

    #[test]
    fn passed_and_expiry_are_derived_from_the_course() {
        let staff = StaffId::new_at(Timestamp::from_millis(0));
        let pass = record(staff, 10, 70);
        assert!(pass.passed);
        assert_eq!(pass.expires_at, Some(Timestamp::from_millis(375 * DAY)));
        let fail = record(staff, 10, 69);
        assert!(!fail.passed && fail.expires_at.is_none());
    }

    #[test]
    fn state_comes_from_the_latest_passing_record() {
        let staff = StaffId::new_at(Timestamp::from_millis(0));
        let now = |day: i64| Timestamp::from_millis(day * DAY);
        let state = |records: &[TrainingRecord], day| certification(staff, "SOLUTION-DESIGN", records, now(day), 30 * DAY).state;
        assert_eq!(state(&[], 1), CertificationState::Missing);
        let records = vec![record(staff, 0, 90), record(staff, 100, 10)];
        assert_eq!(state(&records, 200), CertificationState::Valid);
        assert_eq!(state(&records, 340), CertificationState::Expiring);
        assert_eq!(state(&records, 365), CertificationState::Expired);
        assert!(!CertificationState::Expired.allows_work() && CertificationState::Expiring.allows_work());
    }

    #[test]
    fn a_correction_supersedes_with_a_reason() {
        let staff = StaffId::new_at(Timestamp::from_millis(0));
        let wrong = record(staff, 0, 95);
        let mut input = RecordInput {
            staff_id: staff,
            completed_at: Timestamp::from_millis(0),
            score: 40,
            assessor: "Grace".into(),
            method: None,
            notes: None,
            supersedes: Some(wrong.clone()),
            correction_reason: None,
        };
        let e = TrainingRecord::create(&course(), input.clone(), Timestamp::from_millis(DAY)).unwrap_err();
        assert_eq!(e.errors[0].field, "correction_reason");
        input.correction_reason = Some("score mistyped".into());
        let fix = TrainingRecord::create(&course(), input, Timestamp::from_millis(DAY)).unwrap();
        let c = certification(staff, "SOLUTION-DESIGN", &[wrong, fix], Timestamp::from_millis(2 * DAY), 0);
        assert_eq!(c.state, CertificationState::Missing);
    }

    #[test]
    fn course_codes_are_upper_case_and_scores_bounded() {
        let e = Course::create("sd", "t", None, true, None, 101, AssessmentMethod::Exam, Timestamp::from_millis(0)).unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["code", "pass_score"]);
    }
}

/// What happened to a person (not to a ticket): the staff timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum StaffEventData {
    /// A valid certification expires within the warning window.
    CertificationExpiring { certification: String, expires_at: Timestamp, record_id: TrainingRecordId },
    /// A certification has expired.
    CertificationExpired { certification: String, expired_at: Timestamp, record_id: TrainingRecordId },
}

impl StaffEventData {
    pub const KINDS: &'static [&'static str] = &["certification_expiring", "certification_expired"];

    pub fn kind(&self) -> &'static str {
        match self {
            StaffEventData::CertificationExpiring { .. } => "certification_expiring",
            StaffEventData::CertificationExpired { .. } => "certification_expired",
        }
    }

    /// Recorded at most once: one warning and one expiry per record a certification rests on.
    pub fn once_key(&self) -> String {
        match self {
            StaffEventData::CertificationExpiring { record_id, .. } | StaffEventData::CertificationExpired { record_id, .. } => {
                format!("{}:{record_id}", self.kind())
            }
        }
    }

    pub fn data_json(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => map.remove("data").unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }
}

/// A staff event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffEvent {
    pub id: super::ids::StaffEventId,
    pub staff_id: StaffId,
    pub at: Timestamp,
    pub kind: String,
    pub data: serde_json::Value,
}

/// The expiry watcher's rule: for each person and certifying course, the event their standing
/// calls for (expiring or expired), from their current passing records. The database keeps
/// each to one occurrence by its once key, so calling this on every tick is safe.
pub fn expiry_events(
    staff: &[StaffId],
    courses: &[Course],
    records: &[TrainingRecord],
    now: Timestamp,
    expiring_within_ms: i64,
) -> Vec<(StaffId, StaffEventData)> {
    let mut out = Vec::new();
    for &person in staff {
        for course in courses.iter().filter(|c| c.certifies) {
            let c = certification(person, &course.code, records, now, expiring_within_ms);
            let (Some(at), Some(record_id)) = (c.expires_at, c.record_id) else { continue };
            let event = match c.state {
                CertificationState::Expiring => {
                    StaffEventData::CertificationExpiring { certification: course.code.clone(), expires_at: at, record_id }
                }
                CertificationState::Expired => {
                    StaffEventData::CertificationExpired { certification: course.code.clone(), expired_at: at, record_id }
                }
                _ => continue,
            };
            out.push((person, event));
        }
    }
    out
}

/// A supervisor's override of a certification gate, as the override lists show it: the ticket
/// event `certification_overridden` with its ticket and who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOverride {
    /// The event's id, which numbers events in insert order: the lists' keyset cursor.
    pub event_id: i64,
    pub ticket_id: super::ids::TicketId,
    pub ticket_number: super::ids::TicketNumber,
    pub at: Timestamp,
    /// Who overrode the gate (the event's actor).
    pub by: String,
    /// Who was let through.
    pub staff_id: StaffId,
    pub stage: String,
    pub certification: String,
    /// The certification's state when the override was made.
    pub state: String,
    pub reason: String,
}

#[cfg(test)]
mod watcher_tests {
    use super::*;

    #[test]
    fn the_watcher_warns_then_reports_expiry_each_keyed_to_the_record() {
        let day = 86_400_000;
        let course = Course::create(
            "FIELD-SAFETY",
            "Field safety",
            None,
            true,
            Some(TargetDuration::from_seconds(100 * 86_400)),
            50,
            AssessmentMethod::RealCase,
            Timestamp::from_millis(0),
        )
        .unwrap();
        let staff = StaffId::new_at(Timestamp::from_millis(0));
        let input = RecordInput {
            staff_id: staff,
            completed_at: Timestamp::from_millis(0),
            score: 80,
            assessor: "A".into(),
            method: None,
            notes: None,
            supersedes: None,
            correction_reason: None,
        };
        let record = TrainingRecord::create(&course, input, Timestamp::from_millis(1)).unwrap();
        let at = |d: i64| Timestamp::from_millis(d * day);
        let events = |d| expiry_events(&[staff], std::slice::from_ref(&course), std::slice::from_ref(&record), at(d), 30 * day);
        assert!(events(10).is_empty());
        let warn = events(80);
        assert_eq!(warn[0].1.kind(), "certification_expiring");
        assert_eq!(warn[0].1.once_key(), format!("certification_expiring:{}", record.id));
        let expired = events(100);
        assert_eq!(expired[0].1.kind(), "certification_expired");
        assert_eq!(events(200)[0].1.once_key(), expired[0].1.once_key(), "the same key: recorded once");
    }

    #[test]
    fn kinds_lists_every_staff_event() {
        let id = TrainingRecordId::new_at(Timestamp::from_millis(0));
        let at = Timestamp::from_millis(0);
        let all = [
            StaffEventData::CertificationExpiring { certification: "C".into(), expires_at: at, record_id: id },
            StaffEventData::CertificationExpired { certification: "C".into(), expired_at: at, record_id: id },
        ];
        let kinds: Vec<_> = all.iter().map(StaffEventData::kind).collect();
        assert_eq!(kinds, StaffEventData::KINDS);
        for e in &all {
            assert_eq!(serde_json::to_value(e).unwrap()["kind"], e.kind());
        }
    }

    #[test]
    fn compliance_counts_only_staff_whose_stages_need_a_certification() {
        use crate::auth::Role;
        use crate::staff::{Staff, StaffInput};
        let now = Timestamp::from_millis(1_800_000_000_000);
        let person = |name: &str, role: Role| {
            Staff::create(StaffInput { name: name.into(), email: format!("{name}@x.test"), role, team: None, active: true }, now).unwrap()
        };
        let staff = vec![person("sue", Role::Supervisor), person("sam", Role::Supervisor), person("ada", Role::Agent)];
        let needs: std::collections::BTreeMap<String, Vec<String>> =
            [("supervisor".to_string(), vec!["SD".to_string()])].into_iter().collect();
        assert_eq!(training_compliance(&staff, &needs, &[], now, 0), (0, 2));
    }
}
