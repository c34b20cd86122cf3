use super::{ServiceError, Services};
use steward_domain::ids::StaffId;
use steward_domain::staff::StaffQuery;
use steward_domain::staff::{Staff, StaffInput, StaffPatch};
use steward_domain::time::Timestamp;
use steward_storage::{unique, StoreError};

fn email_taken(email: &str) -> ServiceError {
    ServiceError::Conflict { field: Some("email"), message: format!("a staff member with email {email} exists") }
}

impl Services {
    pub async fn create_staff(&self, input: StaffInput) -> Result<Staff, ServiceError> {
        let staff = Staff::create(input, Timestamp::now())?;
        match self.store.insert_staff(&staff).await {
            Ok(()) => Ok(staff),
            Err(StoreError::Duplicate { constraint }) if constraint == unique::STAFF_EMAIL => Err(email_taken(&staff.email)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_staff(&self, id: StaffId) -> Result<Staff, ServiceError> {
        self.store.get_staff(id).await?.ok_or(ServiceError::NotFound { what: "staff member" })
    }

    pub async fn list_staff(&self, mut query: StaffQuery) -> Result<(Vec<Staff>, Option<String>), ServiceError> {
        let limit = query.limit as usize;
        query.limit += 1;
        let mut staff = self.store.list_staff(&query).await?;
        let next = if staff.len() > limit {
            staff.truncate(limit);
            staff.last().map(|s| s.id.to_string())
        } else {
            None
        };
        Ok((staff, next))
    }

    pub async fn update_staff(&self, id: StaffId, patch: StaffPatch) -> Result<Staff, ServiceError> {
        let next = self.get_staff(id).await?.apply(patch, Timestamp::now())?;
        match self.store.update_staff(&next).await {
            Ok(true) => Ok(next),
            Ok(false) => Err(ServiceError::NotFound { what: "staff member" }),
            Err(StoreError::Duplicate { constraint }) if constraint == unique::STAFF_EMAIL => Err(email_taken(&next.email)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_staff(&self, id: StaffId) -> Result<(), ServiceError> {
        match self.store.delete_staff(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ServiceError::NotFound { what: "staff member" }),
            Err(StoreError::ForeignKey) => Err(ServiceError::Conflict {
                field: None,
                message: "tickets or tokens still refer to this staff member; set active to false instead".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}
