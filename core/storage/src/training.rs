//! Courses and training records (append-only), and the aggregates assignment needs.

use super::sql::{bind_cells, Bind, Cell, Conditions};
use super::Operation;
use super::{col, col_bool, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use steward_domain::duration::TargetDuration;
use steward_domain::ids::{StaffEventId, StaffId, TicketId, TicketNumber, TrainingRecordId};
use steward_domain::time::Timestamp;
use steward_domain::training::{AssessmentMethod, Course, GateOverride, StaffEvent, StaffEventData, TrainingRecord};

const COURSE_COLUMNS: &str = "code, title, description, certifies, validity_secs, pass_score, method, created_at, updated_at";
const RECORD_COLUMNS: &str = "id, staff_id, course_code, completed_at, score, assessor, method, notes, passed, expires_at, \
     supersedes, correction_reason, recorded_at";
/// Records no correction has superseded.
const CURRENT: &str = "id NOT IN (SELECT supersedes FROM training_records WHERE supersedes IS NOT NULL)";

fn course_from_row(row: &AnyRow) -> Result<Course, StoreError> {
    Ok(Course {
        code: col(row, "code")?,
        title: col(row, "title")?,
        description: col(row, "description")?,
        certifies: col_bool(row, "certifies")?,
        validity: col::<Option<i64>>(row, "validity_secs")?
            .map(|s| u64::try_from(s).map(TargetDuration::from_seconds).map_err(corrupt))
            .transpose()?,
        pass_score: u8::try_from(col::<i64>(row, "pass_score")?).map_err(corrupt)?,
        method: AssessmentMethod::parse("method", &col::<String>(row, "method")?).map_err(corrupt)?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

fn record_from_row(row: &AnyRow) -> Result<TrainingRecord, StoreError> {
    let supersedes: Option<String> = col(row, "supersedes")?;
    Ok(TrainingRecord {
        id: TrainingRecordId::parse("id", &col::<String>(row, "id")?).map_err(corrupt)?,
        staff_id: StaffId::parse("staff_id", &col::<String>(row, "staff_id")?).map_err(corrupt)?,
        course_code: col(row, "course_code")?,
        completed_at: Timestamp::from_millis(col(row, "completed_at")?),
        score: u8::try_from(col::<i64>(row, "score")?).map_err(corrupt)?,
        assessor: col(row, "assessor")?,
        method: AssessmentMethod::parse("method", &col::<String>(row, "method")?).map_err(corrupt)?,
        notes: col(row, "notes")?,
        passed: col_bool(row, "passed")?,
        expires_at: col::<Option<i64>>(row, "expires_at")?.map(Timestamp::from_millis),
        supersedes: supersedes.map(|s| TrainingRecordId::parse("supersedes", &s)).transpose().map_err(corrupt)?,
        correction_reason: col(row, "correction_reason")?,
        recorded_at: Timestamp::from_millis(col(row, "recorded_at")?),
    })
}

fn validity_secs(c: &Course) -> Option<i64> {
    c.validity.map(|v| i64::try_from(v.as_seconds()).unwrap_or(i64::MAX))
}

/// The fields a course edit may change, in the order the insert and the update list them
/// (after their own leading parameters).
fn course_state_cells(c: &Course) -> Vec<Cell> {
    vec![
        c.title.as_str().into(),
        c.description.as_str().into(),
        c.certifies.into(),
        validity_secs(c).into(),
        i64::from(c.pass_score).into(),
        c.method.as_str().into(),
        c.updated_at.as_millis().into(),
    ]
}

impl Store {
    /// [`StoreError::Duplicate`] when the code is taken.
    pub async fn insert_course(&self, c: &Course) -> Result<(), StoreError> {
        Operation("insert_course")
            .run(async {
                let insert = sqlx::query(
                    "INSERT INTO courses (code, created_at, title, description, certifies, validity_secs, pass_score, method, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&c.code)
                .bind(c.created_at.as_millis());
                bind_cells(insert, course_state_cells(c)).execute(self.pool()).await?;
                Ok(())
            })
            .await
    }

    pub async fn update_course(&self, c: &Course) -> Result<bool, StoreError> {
        Operation("update_course")
            .run(async {
                let update = sqlx::query(
                    "UPDATE courses SET title = $2, description = $3, certifies = $4, validity_secs = $5, pass_score = $6, \
                 method = $7, updated_at = $8 WHERE code = $1",
                )
                .bind(&c.code);
                let done = bind_cells(update, course_state_cells(c)).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    pub async fn get_course(&self, code: &str) -> Result<Option<Course>, StoreError> {
        Operation("get_course")
            .run(async {
                let row = sqlx::query(&format!("SELECT {COURSE_COLUMNS} FROM courses WHERE code = $1"))
                    .bind(code)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(course_from_row).transpose()
            })
            .await
    }

    pub async fn list_courses(&self) -> Result<Vec<Course>, StoreError> {
        Operation("list_courses")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {COURSE_COLUMNS} FROM courses ORDER BY code")).fetch_all(self.pool()).await?;
                rows.iter().map(course_from_row).collect()
            })
            .await
    }

    /// [`StoreError::ForeignKey`] when training records refer to the course.
    pub async fn delete_course(&self, code: &str) -> Result<bool, StoreError> {
        Operation("delete_course")
            .run(async {
                let done = sqlx::query("DELETE FROM courses WHERE code = $1").bind(code).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    /// [`StoreError::Duplicate`] when the superseded record was already superseded.
    pub async fn insert_training_record(&self, r: &TrainingRecord) -> Result<(), StoreError> {
        Operation("insert_training_record")
            .run(async {
                sqlx::query(&format!(
                    "INSERT INTO training_records ({RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(r.id.to_string())
                .bind(r.staff_id.to_string())
                .bind(&r.course_code)
                .bind(r.completed_at.as_millis())
                .bind(i64::from(r.score))
                .bind(&r.assessor)
                .bind(r.method.as_str())
                .bind(&r.notes)
                .bind(r.passed)
                .bind(r.expires_at.map(Timestamp::as_millis))
                .bind(r.supersedes.map(|s| s.to_string()))
                .bind(&r.correction_reason)
                .bind(r.recorded_at.as_millis())
                .execute(self.pool())
                .await?;
                Ok(())
            })
            .await
    }

    pub async fn get_training_record(&self, id: TrainingRecordId) -> Result<Option<TrainingRecord>, StoreError> {
        Operation("get_training_record")
            .run(async {
                let row = sqlx::query(&format!("SELECT {RECORD_COLUMNS} FROM training_records WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(record_from_row).transpose()
            })
            .await
    }

    /// Records, oldest first, of one person and/or one course (superseded ones included).
    pub async fn list_training_records(&self, staff: Option<StaffId>, course: Option<&str>) -> Result<Vec<TrainingRecord>, StoreError> {
        Operation("list_training_records")
            .run(async {
                let sql = format!(
                    "SELECT {RECORD_COLUMNS} FROM training_records WHERE ($1 = '' OR staff_id = $1) AND ($2 = '' OR course_code = $2) \
                 ORDER BY completed_at, id"
                );
                let rows = sqlx::query(&sql)
                    .bind(staff.map(|s| s.to_string()).unwrap_or_default())
                    .bind(course.unwrap_or_default().to_owned())
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(record_from_row).collect()
            })
            .await
    }

    /// Passing records not superseded, of one person (any course) or of one course (anyone):
    /// what certifications rest on.
    pub async fn current_passing_records(&self, staff: Option<StaffId>, course: Option<&str>) -> Result<Vec<TrainingRecord>, StoreError> {
        Operation("current_passing_records")
            .run(async {
                let sql = format!(
                    "SELECT {RECORD_COLUMNS} FROM training_records WHERE passed = $3 AND {CURRENT} \
                 AND ($1 = '' OR staff_id = $1) AND ($2 = '' OR course_code = $2) ORDER BY completed_at, id"
                );
                let rows = sqlx::query(&sql)
                    .bind(staff.map(|s| s.to_string()).unwrap_or_default())
                    .bind(course.unwrap_or_default().to_owned())
                    .bind(true)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(record_from_row).collect()
            })
            .await
    }
}

impl Store {
    /// Records staff events, each at most once across nodes (by its once key); returns how
    /// many were new.
    pub async fn record_staff_events_once(&self, events: &[(StaffId, StaffEventData)], at: Timestamp) -> Result<u64, StoreError> {
        Operation("record_staff_events_once")
            .run(async {
                let mut new = 0;
                for (staff, event) in events {
                    // Each event commits with its webhook deliveries and its mail, or not at all.
                    let mut tx = self.begin_write().await?;
                    let id = StaffEventId::new_at(at);
                    let done = sqlx::query(
                        "INSERT INTO staff_events (id, staff_id, at, kind, data, once_key) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (once_key) DO NOTHING",
                    )
                    .bind(id.to_string())
                    .bind(staff.to_string())
                    .bind(at.as_millis())
                    .bind(event.kind())
                    .bind(event.data_json().to_string())
                    .bind(event.once_key())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        super::webhooks::queue_staff_deliveries(&mut tx, id, event.kind(), at).await?;
                        super::mail::queue_staff_mail(&mut tx, self.mail_settings(), *staff, event, at).await?;
                        new += 1;
                    }
                    tx.commit().await?;
                }
                Ok(new)
            })
            .await
    }

    /// The staff timeline in order, optionally of one person, after `after`.
    pub async fn list_staff_events(
        &self,
        staff: Option<StaffId>,
        after: Option<StaffEventId>,
        limit: u32,
    ) -> Result<Vec<StaffEvent>, StoreError> {
        Operation("list_staff_events")
            .run(async {
                let rows = sqlx::query(
                "SELECT id, staff_id, at, kind, data FROM staff_events WHERE ($1 = '' OR staff_id = $1) AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(staff.map(|s| s.to_string()).unwrap_or_default())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
                rows.iter()
                    .map(|row| {
                        let data: String = col(row, "data")?;
                        Ok(StaffEvent {
                            id: StaffEventId::parse("id", &col::<String>(row, "id")?).map_err(corrupt)?,
                            staff_id: StaffId::parse("staff_id", &col::<String>(row, "staff_id")?).map_err(corrupt)?,
                            at: Timestamp::from_millis(col(row, "at")?),
                            kind: col(row, "kind")?,
                            data: serde_json::from_str(&data).map_err(corrupt)?,
                        })
                    })
                    .collect()
            })
            .await
    }

    /// Certification gate overrides across tickets, newest first, before the event `before`;
    /// with `staff`, only those that let that person through. Served by the partial index
    /// `ticket_events_overrides` (migration 0012): only override events are read.
    pub async fn list_gate_overrides(
        &self,
        staff: Option<StaffId>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<GateOverride>, StoreError> {
        Operation("list_gate_overrides")
            .run(async {
                let mut c = Conditions::default();
                // A literal, not a parameter: it is what lets the engines use the partial index.
                c.and("e.kind = 'certification_overridden'");
                if let Some(before) = before {
                    c.push("e.id < {}", Bind::Int(before));
                }
                if let Some(staff) = staff {
                    c.push(&format!("{} = {{}}", self.backend().json_text("e.data", "staff_id")), Bind::Text(staff.to_string()));
                }
                let limit = c.placeholder(Bind::Int(i64::from(limit)));
                let sql = format!(
                    "SELECT e.id, e.at, e.actor_name, e.data, t.id AS ticket_id, t.number FROM ticket_events e \
                     JOIN tickets t ON t.id = e.ticket_id {} ORDER BY e.id DESC LIMIT {limit}",
                    c.where_sql()
                );
                let rows = c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await?;
                rows.iter().map(gate_override_from_row).collect()
            })
            .await
    }
}

fn gate_override_from_row(row: &AnyRow) -> Result<GateOverride, StoreError> {
    #[derive(serde::Deserialize)]
    struct Data {
        staff_id: String,
        stage: String,
        certification: String,
        state: String,
        reason: String,
    }
    let data: Data = serde_json::from_str(&col::<String>(row, "data")?).map_err(corrupt)?;
    Ok(GateOverride {
        event_id: col(row, "id")?,
        ticket_id: TicketId::parse("ticket_id", &col::<String>(row, "ticket_id")?).map_err(corrupt)?,
        ticket_number: TicketNumber(col(row, "number")?),
        at: Timestamp::from_millis(col(row, "at")?),
        by: col(row, "actor_name")?,
        staff_id: StaffId::parse("staff_id", &data.staff_id).map_err(corrupt)?,
        stage: data.stage,
        certification: data.certification,
        state: data.state,
        reason: data.reason,
    })
}
