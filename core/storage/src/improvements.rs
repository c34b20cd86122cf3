//! Improvement actions (migration 0018) and their append-only history: every write stores the
//! action and its history entry in one transaction, conditional on the version it was read at.

use super::sql::{Bind, Conditions};
use super::Operation;
use super::{col, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use steward_domain::event::Actor;
use steward_domain::ids::{ImprovementId, StaffId};
use steward_domain::improvement::{
    DueDate, FieldChange, Improvement, ImprovementEvent, ImprovementEventKind, ImprovementQuery, ImprovementStatus, StageRef,
};
use steward_domain::kpi::Month;
use steward_domain::time::Timestamp;

const COLUMNS: &str =
    "id, title, description, owner_id, due_date, status, kpi, process, stage, review_month, version, created_at, updated_at, closed_at";

fn action_from_row(row: &AnyRow) -> Result<Improvement, StoreError> {
    let text = |name: &str| col::<String>(row, name);
    let process: Option<String> = col(row, "process")?;
    let stage: Option<String> = col(row, "stage")?;
    Ok(Improvement {
        id: ImprovementId::parse("id", &text("id")?).map_err(corrupt)?,
        title: text("title")?,
        description: col(row, "description")?,
        owner: StaffId::parse("owner_id", &text("owner_id")?).map_err(corrupt)?,
        due: DueDate::parse("due_date", &text("due_date")?).map_err(corrupt)?,
        status: ImprovementStatus::parse("status", &text("status")?).map_err(corrupt)?,
        kpi: col(row, "kpi")?,
        stage: process.zip(stage).map(|(process, stage)| StageRef { process, stage }),
        month: Month::parse("review_month", &text("review_month")?).map_err(corrupt)?,
        version: col(row, "version")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
        closed_at: col::<Option<i64>>(row, "closed_at")?.map(Timestamp::from_millis),
    })
}

fn event_from_row(row: &AnyRow) -> Result<ImprovementEvent, StoreError> {
    let actor: String = col(row, "actor")?;
    let changes: String = col(row, "changes")?;
    Ok(ImprovementEvent {
        improvement_id: ImprovementId::parse("improvement_id", &col::<String>(row, "improvement_id")?).map_err(corrupt)?,
        seq: col(row, "seq")?,
        at: Timestamp::from_millis(col(row, "at")?),
        actor: serde_json::from_str::<Actor>(&actor).map_err(|e| corrupt(format!("improvement_events.actor: {e}")))?,
        kind: ImprovementEventKind::parse("kind", &col::<String>(row, "kind")?).map_err(corrupt)?,
        changes: serde_json::from_str::<Vec<FieldChange>>(&changes).map_err(|e| corrupt(format!("improvement_events.changes: {e}")))?,
    })
}

async fn insert_event(tx: &mut sqlx::Transaction<'static, sqlx::Any>, e: &ImprovementEvent) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO improvement_events (improvement_id, seq, at, kind, actor, changes) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(e.improvement_id.to_string())
        .bind(e.seq)
        .bind(e.at.as_millis())
        .bind(e.kind.as_str())
        .bind(serde_json::to_string(&e.actor).expect("actors serialise"))
        .bind(serde_json::to_string(&e.changes).expect("changes serialise"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Stores a new action with its `created` history entry.
    pub async fn insert_improvement(&self, a: &Improvement, event: &ImprovementEvent) -> Result<(), StoreError> {
        Operation("insert_improvement")
            .run(async {
                let mut tx = self.begin_write().await?;
                sqlx::query(&format!(
                    "INSERT INTO improvement_actions ({COLUMNS}, due_end) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ))
                .bind(a.id.to_string())
                .bind(&a.title)
                .bind(&a.description)
                .bind(a.owner.to_string())
                .bind(a.due.to_string())
                .bind(a.status.as_str())
                .bind(&a.kpi)
                .bind(a.stage.as_ref().map(|s| s.process.clone()))
                .bind(a.stage.as_ref().map(|s| s.stage.clone()))
                .bind(a.month.to_string())
                .bind(a.version)
                .bind(a.created_at.as_millis())
                .bind(a.updated_at.as_millis())
                .bind(a.closed_at.map(Timestamp::as_millis))
                .bind(a.due.end().as_millis())
                .execute(&mut *tx)
                .await?;
                insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// Writes `next` with its history entry if the stored action is still at
    /// `expected_version`; false when it is not (or is gone), and nothing is written.
    pub async fn update_improvement(
        &self,
        next: &Improvement,
        event: &ImprovementEvent,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        Operation("update_improvement")
            .run(async {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE improvement_actions SET title = $3, description = $4, owner_id = $5, due_date = $6, due_end = $7, \
                     status = $8, kpi = $9, process = $10, stage = $11, review_month = $12, version = $13, updated_at = $14, \
                     closed_at = $15 WHERE id = $1 AND version = $2",
                )
                .bind(next.id.to_string())
                .bind(expected_version)
                .bind(&next.title)
                .bind(&next.description)
                .bind(next.owner.to_string())
                .bind(next.due.to_string())
                .bind(next.due.end().as_millis())
                .bind(next.status.as_str())
                .bind(&next.kpi)
                .bind(next.stage.as_ref().map(|s| s.process.clone()))
                .bind(next.stage.as_ref().map(|s| s.stage.clone()))
                .bind(next.month.to_string())
                .bind(next.version)
                .bind(next.updated_at.as_millis())
                .bind(next.closed_at.map(Timestamp::as_millis))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(true)
            })
            .await
    }

    pub async fn get_improvement(&self, id: ImprovementId) -> Result<Option<Improvement>, StoreError> {
        Operation("get_improvement")
            .run(async {
                let row = sqlx::query(&format!("SELECT {COLUMNS} FROM improvement_actions WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(action_from_row).transpose()
            })
            .await
    }

    /// Actions in id (creation) order, filtered, after the query's cursor.
    pub async fn list_improvements(&self, q: &ImprovementQuery) -> Result<Vec<Improvement>, StoreError> {
        Operation("list_improvements")
            .run(async {
                let mut c = Conditions::default();
                if let Some(status) = q.status {
                    c.push("status = {}", Bind::Text(status.as_str().into()));
                }
                if let Some(owner) = q.owner {
                    c.push("owner_id = {}", Bind::Text(owner.to_string()));
                }
                if let Some(month) = q.month {
                    c.push("review_month = {}", Bind::Text(month.to_string()));
                }
                if let Some(at) = q.overdue_at {
                    c.and("closed_at IS NULL");
                    c.push("due_end <= {}", Bind::Int(at.as_millis()));
                }
                if let Some(after) = q.after {
                    c.push("id > {}", Bind::Text(after.to_string()));
                }
                let limit = c.placeholder(Bind::Int(i64::from(q.limit)));
                let sql = format!("SELECT {COLUMNS} FROM improvement_actions {} ORDER BY id LIMIT {limit}", c.where_sql());
                let rows = c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await?;
                rows.iter().map(action_from_row).collect()
            })
            .await
    }

    /// An action's history, oldest first.
    pub async fn improvement_events(&self, id: ImprovementId) -> Result<Vec<ImprovementEvent>, StoreError> {
        Operation("improvement_events")
            .run(async {
                let rows = sqlx::query(
                    "SELECT improvement_id, seq, at, kind, actor, changes FROM improvement_events WHERE improvement_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(event_from_row).collect()
            })
            .await
    }

    /// Actions that existed at `at`, were past their due day then and not closed by then. For
    /// `at` now, exactly the open actions past due; for a month's end, as it stood then (an
    /// action reopened since counts from its last closing).
    pub async fn count_overdue_improvements(&self, at: Timestamp) -> Result<u64, StoreError> {
        Operation("count_overdue_improvements")
            .run(async {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM improvement_actions \
                     WHERE created_at <= $1 AND due_end <= $1 AND (closed_at IS NULL OR closed_at > $1)",
                )
                .bind(at.as_millis())
                .fetch_one(self.pool())
                .await?;
                Ok(u64::try_from(col::<i64>(&row, "n")?).unwrap_or(0))
            })
            .await
    }

    /// The actions a review of `month` follows up: set by an earlier review, and not closed
    /// before `month` began. Oldest month first, then creation order.
    pub async fn improvements_to_follow_up(&self, month: Month) -> Result<Vec<Improvement>, StoreError> {
        Operation("improvements_to_follow_up")
            .run(async {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM improvement_actions WHERE review_month < $1 AND (closed_at IS NULL OR closed_at >= $2) \
                     ORDER BY review_month, id"
                ))
                .bind(month.to_string())
                .bind(month.period().from.as_millis())
                .fetch_all(self.pool())
                .await?;
                rows.iter().map(action_from_row).collect()
            })
            .await
    }
}
