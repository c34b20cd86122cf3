use super::{ServiceError, Services};
use steward_domain::auth::{hash_token, ApiToken, Role, TokenSecret};
use steward_domain::ids::{PartnerId, StaffId, TokenId};
use steward_domain::time::Timestamp;
use steward_domain::ValidationError;

impl Services {
    /// Creates a token and returns it with its secret, which is not stored and cannot be
    /// shown again.
    pub async fn create_token(&self, name: &str, role: Role, staff_id: Option<StaffId>) -> Result<(ApiToken, TokenSecret), ServiceError> {
        self.create_token_for(name, role, staff_id, None).await
    }

    /// Creates a token; a `partner` token must name its partner, and only a partner token may.
    pub async fn create_token_for(
        &self,
        name: &str,
        role: Role,
        staff_id: Option<StaffId>,
        partner_id: Option<PartnerId>,
    ) -> Result<(ApiToken, TokenSecret), ServiceError> {
        match (role, partner_id) {
            (Role::Partner, None) => return Err(ValidationError::field("partner_id", "a partner token names its partner").into()),
            (Role::Partner, Some(p)) => {
                if self.store.get_partner(p).await?.is_none() {
                    return Err(ServiceError::Missing { field: "partner_id", message: format!("no partner {p}") });
                }
                if staff_id.is_some() {
                    return Err(ValidationError::field("staff_id", "a partner token acts for its partner, not for staff").into());
                }
            }
            (_, Some(_)) => return Err(ValidationError::field("partner_id", "only a token with role `partner` names a partner").into()),
            (_, None) => {}
        }
        if role == Role::Mailgate && staff_id.is_some() {
            return Err(ValidationError::field("staff_id", "a mailgate token acts for a mail gateway, not for staff").into());
        }
        if name.trim().is_empty() || name.chars().count() > steward_domain::auth::MAX_TOKEN_NAME_CHARS {
            let max = steward_domain::auth::MAX_TOKEN_NAME_CHARS;
            return Err(ValidationError::field("name", format!("a token name has 1 to {max} characters")).into());
        }
        let name = name.trim();
        if let Some(staff) = staff_id {
            if self.store.get_staff(staff).await?.is_none() {
                return Err(ServiceError::Missing { field: "staff_id", message: format!("no staff member {staff}") });
            }
        }
        let now = Timestamp::now();
        let token =
            ApiToken { id: TokenId::new_at(now), name: name.to_owned(), role, staff_id, partner_id, created_at: now, revoked_at: None };
        let secret = TokenSecret::generate();
        self.store.insert_token(&token, &secret.hash()).await?;
        Ok((token, secret))
    }

    /// The live token with this secret, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiToken>, ServiceError> {
        Ok(self.store.find_token_by_hash(&hash_token(secret)).await?)
    }

    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, ServiceError> {
        Ok(self.store.list_tokens().await?)
    }

    pub async fn revoke_token(&self, id: TokenId) -> Result<ApiToken, ServiceError> {
        if !self.store.revoke_token(id, Timestamp::now()).await? {
            return Err(ServiceError::NotFound { what: "token" });
        }
        self.store.get_token(id).await?.ok_or(ServiceError::NotFound { what: "token" })
    }
}
