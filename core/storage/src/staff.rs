//! Staff members.

use super::sql::{placeholders, Bind, Conditions};
use super::Operation;
use super::{col, col_bool, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use std::collections::HashMap;
use steward_domain::auth::Role;
use steward_domain::ids::StaffId;
use steward_domain::staff::{Staff, StaffQuery};
use steward_domain::time::Timestamp;

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

impl Store {
    /// Fails with [`StoreError::Duplicate`] when the email is taken.
    pub async fn insert_staff(&self, s: &Staff) -> Result<(), StoreError> {
        Operation("insert_staff")
            .run(async {
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
            })
            .await
    }

    pub async fn get_staff(&self, id: StaffId) -> Result<Option<Staff>, StoreError> {
        Operation("get_staff")
            .run(async {
                let row = sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(staff_from_row).transpose()
            })
            .await
    }

    /// The names of the given staff members (a page's assignees), by id, in one read; an id
    /// with no staff row is absent.
    pub async fn staff_names(&self, ids: &[StaffId]) -> Result<HashMap<StaffId, String>, StoreError> {
        Operation("staff_names")
            .run(async {
                if ids.is_empty() {
                    return Ok(HashMap::new());
                }
                let sql = format!("SELECT id, name FROM staff WHERE id IN ({})", placeholders(1, ids.len()));
                let mut query = sqlx::query(&sql);
                for id in ids {
                    query = query.bind(id.to_string());
                }
                let mut names = HashMap::new();
                for row in query.fetch_all(self.pool()).await? {
                    names.insert(StaffId::parse("id", &col::<String>(&row, "id")?).map_err(corrupt)?, col(&row, "name")?);
                }
                Ok(names)
            })
            .await
    }

    pub async fn list_staff(&self, query: &StaffQuery) -> Result<Vec<Staff>, StoreError> {
        Operation("list_staff")
            .run(async {
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
            })
            .await
    }

    /// The staff member with this (normalised) email.
    pub async fn find_staff_by_email(&self, email: &str) -> Result<Option<Staff>, StoreError> {
        Operation("find_staff_by_email")
            .run(async {
                let row = sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE email = $1"))
                    .bind(email)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(staff_from_row).transpose()
            })
            .await
    }

    /// Every active staff member, in id order.
    pub async fn active_staff(&self) -> Result<Vec<Staff>, StoreError> {
        Operation("active_staff")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {STAFF_COLUMNS} FROM staff WHERE active = $1 ORDER BY id"))
                    .bind(true)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(staff_from_row).collect()
            })
            .await
    }

    /// Returns false when no such staff member exists.
    pub async fn update_staff(&self, s: &Staff) -> Result<bool, StoreError> {
        Operation("update_staff")
            .run(async {
                let done =
                    sqlx::query("UPDATE staff SET name = $2, email = $3, role = $4, team = $5, active = $6, updated_at = $7 WHERE id = $1")
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
            })
            .await
    }

    /// Returns false when no such staff member exists; [`StoreError::ForeignKey`] when tickets
    /// or tokens still refer to them.
    pub async fn delete_staff(&self, id: StaffId) -> Result<bool, StoreError> {
        Operation("delete_staff")
            .run(async {
                let done = sqlx::query("DELETE FROM staff WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }
}
