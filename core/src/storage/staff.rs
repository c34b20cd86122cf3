//! Staff members.

use super::sql::{Bind, Conditions};
use super::{col, col_bool, corrupt, Store, StoreError};
use crate::domain::auth::Role;
use crate::domain::ids::StaffId;
use crate::domain::staff::Staff;
use crate::domain::time::Timestamp;
use sqlx::any::AnyRow;

const STAFF_COLUMNS: &str = "id, name, email, role, team, active, created_at, updated_at";

fn staff_from_row(row: &AnyRow) -> Result<Staff, StoreError> {
    let id: String = col(row, "id")?;
    let role: String = col(row, "role")?;
    Ok(Staff {
        id: StaffId::parse("id", &id).map_err(corrupt)?,
        name: col(row, "name")?,
        email: col(row, "email")?,
        role: Role::parse("role", &role).map_err(corrupt)?,
        team: col(row, "team")?,
        active: col_bool(row, "active")?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        updated_at: Timestamp::from_millis(col(row, "updated_at")?),
    })
}

/// Which staff to list, in id order, continuing after `after`.
#[derive(Debug, Clone, Default)]
pub struct StaffQuery {
    pub role: Option<Role>,
    pub team: Option<String>,
    pub active: Option<bool>,
    pub after: Option<StaffId>,
    pub limit: u32,
}

impl Store {
    /// Fails with [`StoreError::Duplicate`] when the email is taken.
    pub async fn insert_staff(&self, s: &Staff) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO staff (id, name, email, role, team, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(s.id.to_string())
        .bind(&s.name)
        .bind(&s.email)
        .bind(s.role.as_str())
        .bind(&s.team)
        .bind(s.active)
        .bind(s.created_at.as_millis())
        .bind(s.updated_at.as_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn get_staff(&self, id: StaffId) -> Result<Option<Staff>, StoreError> {
        let row = sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(staff_from_row).transpose()
    }

    pub async fn list_staff(&self, query: &StaffQuery) -> Result<Vec<Staff>, StoreError> {
        let mut c = Conditions::default();
        if let Some(role) = query.role {
            c.push("role = {}", Bind::Text(role.as_str().into()));
        }
        if let Some(team) = &query.team {
            c.push("team = {}", Bind::Text(team.clone()));
        }
        if let Some(active) = query.active {
            c.push("active = {}", Bind::Bool(active));
        }
        if let Some(after) = query.after {
            c.push("id > {}", Bind::Text(after.to_string()));
        }
        let limit = c.placeholder(Bind::Int(i64::from(query.limit)));
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff {} ORDER BY id LIMIT {limit}", c.where_sql());
        let rows = c.bind_all(sqlx::query(&sql)).fetch_all(self.pool()).await?;
        rows.iter().map(staff_from_row).collect()
    }

    /// Every active staff member, in id order.
    pub async fn active_staff(&self) -> Result<Vec<Staff>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE active = $1 ORDER BY id"))
            .bind(true)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(staff_from_row).collect()
    }

    /// Returns false when no such staff member exists.
    pub async fn update_staff(&self, s: &Staff) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE staff SET name = $2, email = $3, role = $4, team = $5, active = $6, updated_at = $7 WHERE id = $1")
            .bind(s.id.to_string())
            .bind(&s.name)
            .bind(&s.email)
            .bind(s.role.as_str())
            .bind(&s.team)
            .bind(s.active)
            .bind(s.updated_at.as_millis())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns false when no such staff member exists; [`StoreError::ForeignKey`] when tickets
    /// or tokens still refer to them.
    pub async fn delete_staff(&self, id: StaffId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM staff WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }
}
