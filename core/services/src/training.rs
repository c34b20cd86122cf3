use super::{ServiceError, Services};
use steward_domain::event::EventData;
use steward_domain::ids::{StaffId, TicketRef, TrainingRecordId};
use steward_domain::staff::Staff;
use steward_domain::time::Timestamp;
use steward_domain::training::{
    certification, Certification, CertificationRefusal, Course, CoursePatch, GateOverride, RecordInput, TrainingRecord,
};

use steward_storage::{unique, StoreError};

/// A person who may take a ticket in its current stage, with their load.
pub struct EligibleAssignee {
    pub staff: Staff,
    pub open_tickets: i64,
    /// Their standing with the stage's required certification, when it has one.
    pub certification: Option<Certification>,
}

/// A training record as the API receives it: the course and the superseded record by key.
pub struct NewTrainingRecord {
    pub course_code: String,
    pub staff_id: StaffId,
    pub completed_at: Timestamp,
    pub score: i64,
    pub assessor: String,
    pub method: Option<steward_domain::training::AssessmentMethod>,
    pub notes: Option<String>,
    pub supersedes: Option<TrainingRecordId>,
    pub correction_reason: Option<String>,
}

impl Services {
    pub async fn create_course(&self, course: Course) -> Result<Course, ServiceError> {
        match self.store.insert_course(&course).await {
            Ok(()) => Ok(course),
            Err(StoreError::Duplicate { constraint }) if constraint == unique::COURSE_CODE => {
                Err(ServiceError::Conflict { field: Some("code"), message: format!("a course with code {} exists", course.code) })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_course(&self, code: &str) -> Result<Course, ServiceError> {
        self.store.get_course(code).await?.ok_or(ServiceError::NotFound { what: "course" })
    }

    pub async fn list_courses(&self) -> Result<Vec<Course>, ServiceError> {
        Ok(self.store.list_courses().await?)
    }

    pub async fn update_course(&self, code: &str, patch: CoursePatch) -> Result<Course, ServiceError> {
        let next = self.get_course(code).await?.apply(patch, Timestamp::now())?;
        if !self.store.update_course(&next).await? {
            return Err(ServiceError::NotFound { what: "course" });
        }
        Ok(next)
    }

    pub async fn delete_course(&self, code: &str) -> Result<(), ServiceError> {
        match self.store.delete_course(code).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ServiceError::NotFound { what: "course" }),
            Err(StoreError::ForeignKey) => {
                Err(ServiceError::Conflict { field: None, message: "training records refer to this course; it stays".into() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Appends a training record; `passed` and `expires_at` follow from the course.
    pub async fn record_training(&self, input: NewTrainingRecord) -> Result<TrainingRecord, ServiceError> {
        let course = self
            .store
            .get_course(&input.course_code)
            .await?
            .ok_or_else(|| ServiceError::Missing { field: "course_code", message: format!("no course {}", input.course_code) })?;
        if self.store.get_staff(input.staff_id).await?.is_none() {
            return Err(ServiceError::Missing { field: "staff_id", message: format!("no staff member {}", input.staff_id) });
        }
        let supersedes = match input.supersedes {
            Some(id) => Some(
                self.store
                    .get_training_record(id)
                    .await?
                    .ok_or_else(|| ServiceError::Missing { field: "supersedes", message: format!("no training record {id}") })?,
            ),
            None => None,
        };
        let record = TrainingRecord::create(
            &course,
            RecordInput {
                staff_id: input.staff_id,
                completed_at: input.completed_at,
                score: input.score,
                assessor: input.assessor,
                method: input.method,
                notes: input.notes,
                supersedes,
                correction_reason: input.correction_reason,
            },
            Timestamp::now(),
        )?;
        match self.store.insert_training_record(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::Duplicate { constraint }) if constraint == unique::SUPERSEDED_RECORD => Err(ServiceError::Conflict {
                field: Some("supersedes"),
                message: "that record was already corrected; supersede the correction instead".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_training_records(&self, staff: Option<StaffId>, course: Option<&str>) -> Result<Vec<TrainingRecord>, ServiceError> {
        Ok(self.store.list_training_records(staff, course).await?)
    }

    /// How far ahead a certification counts as expiring (`training.expiring_within_days`).
    pub fn expiring_within_days(&self) -> u64 {
        self.expiring_within_days
    }

    fn expiring_window_ms(&self) -> i64 {
        super::days_ms(self.expiring_within_days)
    }

    /// A person's standing with every certifying course.
    pub async fn staff_certifications(&self, staff: StaffId) -> Result<Vec<Certification>, ServiceError> {
        self.get_staff(staff).await?;
        let records = self.store.current_passing_records(Some(staff), None).await?;
        let now = Timestamp::now();
        Ok(self
            .store
            .list_courses()
            .await?
            .iter()
            .filter(|c| c.certifies)
            .map(|c| certification(staff, &c.code, &records, now, self.expiring_window_ms()))
            .collect())
    }

    /// Each person's standing with every certifying course, for a page of people at once (one
    /// read of the records instead of one per person).
    pub async fn certification_standing(
        &self,
        staff: &[StaffId],
    ) -> Result<std::collections::HashMap<StaffId, Vec<Certification>>, ServiceError> {
        let records = self.store.current_passing_records(None, None).await?;
        let courses = self.store.list_courses().await?;
        let now = Timestamp::now();
        Ok(staff
            .iter()
            .map(|&person| {
                let held = courses
                    .iter()
                    .filter(|c| c.certifies)
                    .map(|c| certification(person, &c.code, &records, now, self.expiring_window_ms()))
                    .collect();
                (person, held)
            })
            .collect())
    }

    /// Certification gate overrides, newest first, with the cursor of the next page (the last
    /// event id shown) when there is one; with `staff`, those that let that person through.
    pub async fn gate_overrides(
        &self,
        staff: Option<StaffId>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<GateOverride>, Option<i64>), ServiceError> {
        let mut overrides = self.store.list_gate_overrides(staff, before, limit + 1).await?;
        let next = if overrides.len() > limit as usize {
            overrides.truncate(limit as usize);
            overrides.last().map(|o| o.event_id)
        } else {
            None
        };
        Ok((overrides, next))
    }

    /// Which certifications each role needs: the stages it is responsible for that require one.
    fn certification_needs(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut needs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for process in self.processes.iter() {
            for stage in &process.stages {
                if let Some(code) = &stage.required_certification {
                    let codes = needs.entry(stage.responsible_role.clone()).or_default();
                    if !codes.contains(code) {
                        codes.push(code.clone());
                    }
                }
            }
        }
        needs
    }

    /// (compliant, considered): active staff holding every certification their role's stages need.
    pub async fn training_compliance(&self) -> Result<(u64, u64), ServiceError> {
        self.training_compliance_at(Timestamp::now()).await
    }

    /// Training compliance as it stood at `at`: only records completed by then count, and
    /// certifications are judged valid or expired at that instant.
    pub async fn training_compliance_at(&self, at: Timestamp) -> Result<(u64, u64), ServiceError> {
        let needs = self.certification_needs();
        if needs.is_empty() {
            return Ok((0, 0));
        }
        let mut records = self.store.current_passing_records(None, None).await?;
        records.retain(|r| r.completed_at <= at);
        let staff = self.store.active_staff().await?;
        Ok(steward_domain::training::training_compliance(&staff, &needs, &records, at, self.expiring_window_ms()))
    }

    /// How many (active staff, certifying course) pairs stand in each certification state.
    pub async fn certification_counts(&self) -> Result<Vec<(steward_domain::training::CertificationState, u64)>, ServiceError> {
        let now = Timestamp::now();
        let records = self.store.current_passing_records(None, None).await?;
        let courses = self.store.list_courses().await?;
        let mut counts: Vec<(steward_domain::training::CertificationState, u64)> =
            steward_domain::training::CertificationState::ALL.iter().map(|s| (*s, 0)).collect();
        for staff in self.store.active_staff().await? {
            for course in courses.iter().filter(|c| c.certifies) {
                let state = certification(staff.id, &course.code, &records, now, self.expiring_window_ms()).state;
                if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == state) {
                    slot.1 += 1;
                }
            }
        }
        Ok(counts)
    }

    /// Valid certifications of active staff that expire within `within_days`, soonest first.
    pub async fn expiring_certifications(&self, within_days: u64) -> Result<Vec<Certification>, ServiceError> {
        let now = Timestamp::now();
        let until = now.plus_millis(super::days_ms(within_days));
        let records = self.store.current_passing_records(None, None).await?;
        let courses = self.store.list_courses().await?;
        let mut out = Vec::new();
        for staff in self.store.active_staff().await? {
            for course in courses.iter().filter(|c| c.certifies) {
                let c = certification(staff.id, &course.code, &records, now, self.expiring_window_ms());
                if c.state.allows_work() && c.expires_at.is_some_and(|at| at <= until) {
                    out.push(c);
                }
            }
        }
        out.sort_by_key(|c| c.expires_at);
        Ok(out)
    }

    /// Checks the certification gate of `stage` for `staff`. Passes (`Ok(None)`) when the stage
    /// needs none or the person holds it; with an override reason, passes with the event that
    /// records the override; otherwise refuses, naming person, certification and state.
    pub(super) async fn certification_gate(
        &self,
        staff: steward_domain::ids::StaffId,
        process: &str,
        stage: &str,
        field: &'static str,
        override_reason: Option<&str>,
    ) -> Result<Option<EventData>, ServiceError> {
        let Some(required) = self.processes.get(process).and_then(|p| p.stage(stage)).and_then(|s| s.required_certification.clone()) else {
            return Ok(None);
        };
        let person = self
            .store
            .get_staff(staff)
            .await?
            .ok_or_else(|| ServiceError::Missing { field, message: format!("no staff member {staff}") })?;
        let records = self.store.current_passing_records(Some(staff), Some(&required)).await?;
        let held = certification(staff, &required, &records, Timestamp::now(), self.expiring_window_ms());
        if held.state.allows_work() {
            return Ok(None);
        }
        match override_reason {
            Some(reason) => Ok(Some(EventData::CertificationOverridden {
                staff_id: staff,
                stage: stage.to_owned(),
                certification: required,
                state: held.state.as_str().to_owned(),
                reason: reason.to_owned(),
            })),
            None => Err(ServiceError::CertificationRequired(Box::new(CertificationRefusal {
                field,
                staff_id: staff,
                staff_name: person.name,
                certification: required,
                state: held.state,
                expires_at: held.expires_at,
                stage: stage.to_owned(),
            }))),
        }
    }

    /// How many open tickets each staff member holds (people without any are absent).
    pub async fn open_ticket_load(&self) -> Result<std::collections::HashMap<StaffId, i64>, ServiceError> {
        Ok(self.store.open_ticket_load().await?)
    }

    /// Active staff whose role works tickets and who may take the ticket in its current stage,
    /// least loaded first.
    pub async fn eligible_assignees(&self, reference: TicketRef) -> Result<(String, Option<String>, Vec<EligibleAssignee>), ServiceError> {
        let ticket = self.get_ticket(reference).await?;
        let required =
            self.processes.get(&ticket.process).and_then(|p| p.stage(&ticket.stage)).and_then(|s| s.required_certification.clone());
        let records = match &required {
            Some(code) => self.store.current_passing_records(None, Some(code)).await?,
            None => Vec::new(),
        };
        let load = self.store.open_ticket_load().await?;
        let now = Timestamp::now();
        let mut out: Vec<EligibleAssignee> = self
            .store
            .active_staff()
            .await?
            .into_iter()
            // Only people whose role works tickets can take one.
            .filter(|staff| staff.role.allows(steward_domain::auth::Permission::WriteTickets))
            .filter_map(|staff| {
                let cert = required.as_deref().map(|code| certification(staff.id, code, &records, now, self.expiring_window_ms()));
                if cert.as_ref().is_some_and(|c| !c.state.allows_work()) {
                    return None;
                }
                let open_tickets = load.get(&staff.id).copied().unwrap_or(0);
                Some(EligibleAssignee { staff, open_tickets, certification: cert })
            })
            .collect();
        out.sort_by_key(|e| (e.open_tickets, e.staff.id));
        Ok((ticket.stage, required, out))
    }
}

impl Services {
    /// One pass of the certification expiry watcher: records `certification_expiring` and
    /// `certification_expired` once each for active staff. Safe on every node at once.
    pub async fn watch_certifications(&self, now: Timestamp) -> Result<u64, ServiceError> {
        let courses = self.store.list_courses().await?;
        if !courses.iter().any(|c| c.certifies) {
            return Ok(0);
        }
        let staff: Vec<StaffId> = self.store.active_staff().await?.into_iter().map(|s| s.id).collect();
        let records = self.store.current_passing_records(None, None).await?;
        let events = steward_domain::training::expiry_events(&staff, &courses, &records, now, self.expiring_window_ms());
        Ok(self.store.record_staff_events_once(&events, now).await?)
    }

    pub async fn staff_events(
        &self,
        staff: Option<StaffId>,
        after: Option<steward_domain::ids::StaffEventId>,
        limit: u32,
    ) -> Result<Vec<steward_domain::training::StaffEvent>, ServiceError> {
        Ok(self.store.list_staff_events(staff, after, limit).await?)
    }
}
