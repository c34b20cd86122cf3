//! API tokens. Only the SHA-256 of a secret is stored.

use super::Operation;
use super::{col, corrupt, Store, StoreError};
use sqlx::any::AnyRow;
use steward_domain::auth::{ApiToken, Role};
use steward_domain::ids::{PartnerId, StaffId, TokenId};
use steward_domain::time::Timestamp;

const TOKEN_COLUMNS: &str = "id, name, role, staff_id, partner_id, created_at, revoked_at";

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let id: String = col(row, "id")?;
    let role: String = col(row, "role")?;
    let staff: Option<String> = col(row, "staff_id")?;
    let partner: Option<String> = col(row, "partner_id")?;
    Ok(ApiToken {
        id: TokenId::parse("id", &id).map_err(corrupt)?,
        name: col(row, "name")?,
        role: Role::parse("role", &role).map_err(corrupt)?,
        staff_id: staff.map(|s| StaffId::parse("staff_id", &s)).transpose().map_err(corrupt)?,
        partner_id: partner.map(|p| PartnerId::parse("partner_id", &p)).transpose().map_err(corrupt)?,
        created_at: Timestamp::from_millis(col(row, "created_at")?),
        revoked_at: col::<Option<i64>>(row, "revoked_at")?.map(Timestamp::from_millis),
    })
}

impl Store {
    pub async fn insert_token(&self, token: &ApiToken, secret_hash: &str) -> Result<(), StoreError> {
        Operation("insert_token")
            .run(async {
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, secret_hash, staff_id, partner_id, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
                )
                .bind(token.id.to_string())
                .bind(&token.name)
                .bind(token.role.as_str())
                .bind(secret_hash)
                .bind(token.staff_id.map(|s| s.to_string()))
                .bind(token.partner_id.map(|p| p.to_string()))
                .bind(token.created_at.as_millis())
                .execute(self.pool())
                .await?;
                Ok(())
            })
            .await
    }

    /// The live (not revoked) token with this secret hash.
    pub async fn find_token_by_hash(&self, secret_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        Operation("find_token_by_hash")
            .run(async {
                let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = $1 AND revoked_at IS NULL"))
                    .bind(secret_hash)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(token_from_row).transpose()
            })
            .await
    }

    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Operation("list_tokens")
            .run(async {
                let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id")).fetch_all(self.pool()).await?;
                rows.iter().map(token_from_row).collect()
            })
            .await
    }

    pub async fn get_token(&self, id: TokenId) -> Result<Option<ApiToken>, StoreError> {
        Operation("get_token")
            .run(async {
                let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(token_from_row).transpose()
            })
            .await
    }

    /// Revokes a token; returns false when it does not exist. Revoking twice keeps the first time.
    pub async fn revoke_token(&self, id: TokenId, at: Timestamp) -> Result<bool, StoreError> {
        Operation("revoke_token")
            .run(async {
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                    .bind(id.to_string())
                    .bind(at.as_millis())
                    .execute(self.pool())
                    .await?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }
}
