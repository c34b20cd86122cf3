//! Improvement actions: set by the monthly review meeting, followed up by the next reviews.
//! Every use case takes the caller's `Principal`: reading needs `ReadTickets` (as the review),
//! changing `ManageImprovements` (supervisors, admins). Each change is stored with its history
//! entry, conditional on the version it was applied to.

use super::{ServiceError, Services};
use steward_domain::auth::{Permission, Principal};
use steward_domain::ids::ImprovementId;
use steward_domain::improvement::{Improvement, ImprovementEvent, ImprovementInput, ImprovementPatch, ImprovementQuery};

impl Services {
    /// The owner must be a staff member and the stage one of a known process.
    async fn check_improvement_references(&self, a: &Improvement) -> Result<(), ServiceError> {
        if self.store.get_staff(a.owner).await?.is_none() {
            return Err(ServiceError::Missing { field: "owner", message: format!("no staff member {}", a.owner) });
        }
        if let Some(stage) = &a.stage {
            let known = self.processes.get(&stage.process).is_some_and(|p| p.stage(&stage.stage).is_some());
            if !known {
                return Err(ServiceError::Missing { field: "stage", message: format!("no stage `{stage}` in the service processes") });
            }
        }
        Ok(())
    }

    pub async fn create_improvement(&self, principal: &Principal, input: ImprovementInput) -> Result<Improvement, ServiceError> {
        principal.require(Permission::ManageImprovements)?;
        let (action, event) = Improvement::create(input, &principal.actor(), self.now())?;
        self.check_improvement_references(&action).await?;
        self.store.insert_improvement(&action, &event).await?;
        Ok(action)
    }

    /// A page of actions in creation order and the cursor of the next page (the last id).
    pub async fn list_improvements(
        &self,
        principal: &Principal,
        mut query: ImprovementQuery,
    ) -> Result<(Vec<Improvement>, Option<ImprovementId>), ServiceError> {
        principal.require(Permission::ReadTickets)?;
        let limit = query.limit as usize;
        query.limit += 1;
        let mut actions = self.store.list_improvements(&query).await?;
        let next = if actions.len() > limit {
            actions.truncate(limit);
            actions.last().map(|a| a.id)
        } else {
            None
        };
        Ok((actions, next))
    }

    pub async fn get_improvement(&self, principal: &Principal, id: ImprovementId) -> Result<Improvement, ServiceError> {
        principal.require(Permission::ReadTickets)?;
        self.store.get_improvement(id).await?.ok_or(ServiceError::NotFound { what: "improvement action" })
    }

    /// An action's history, oldest first.
    pub async fn improvement_history(&self, principal: &Principal, id: ImprovementId) -> Result<Vec<ImprovementEvent>, ServiceError> {
        self.get_improvement(principal, id).await?;
        Ok(self.store.improvement_events(id).await?)
    }

    /// Applies `patch` to the action as it stands, if it is still at `expected_version` when one
    /// is given (a stale one is [`ServiceError::StaleVersion`]). A patch that changes nothing
    /// answers the action as it is, recording nothing.
    pub async fn update_improvement(
        &self,
        principal: &Principal,
        id: ImprovementId,
        expected_version: Option<i64>,
        patch: ImprovementPatch,
    ) -> Result<Improvement, ServiceError> {
        principal.require(Permission::ManageImprovements)?;
        let current = self.store.get_improvement(id).await?.ok_or(ServiceError::NotFound { what: "improvement action" })?;
        if expected_version.is_some_and(|v| v != current.version) {
            return Err(ServiceError::StaleVersion { current: current.version });
        }
        let (next, event) = current.apply(patch, &principal.actor(), self.now())?;
        let Some(event) = event else { return Ok(current) };
        self.check_improvement_references(&next).await?;
        if self.store.update_improvement(&next, &event, current.version).await? {
            return Ok(next);
        }
        // Someone else wrote in between: say at which version it now is.
        match self.store.get_improvement(id).await? {
            Some(now) => Err(ServiceError::StaleVersion { current: now.version }),
            None => Err(ServiceError::NotFound { what: "improvement action" }),
        }
    }

    /// Actions overdue now: past their due day, neither done nor dropped.
    pub async fn overdue_improvements(&self) -> Result<u64, ServiceError> {
        Ok(self.store.count_overdue_improvements(self.now()).await?)
    }
}
