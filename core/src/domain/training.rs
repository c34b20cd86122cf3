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
            let title = title.trim();
            if title.is_empty() || title.chars().count() > 200 {
                errors.push(FieldError::new("title", "a title has 1 to 200 characters"));
            }
            next.title = title.to_owned();
        }
        if let Some(description) = patch.description {
            if description.len() > 16 * 1024 {
                errors.push(FieldError::new("description", "must be at most 16384 bytes"));
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

fn validate_code(code: &str) -> Result<String, FieldError> {
    let code = code.trim();
    let ok = !code.is_empty()
        && code.len() <= 40
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
        if assessor.is_empty() || assessor.chars().count() > 200 {
            errors.push(FieldError::new("assessor", "an assessor has 1 to 200 characters"));
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
