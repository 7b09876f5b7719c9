//! What the target held before a grant: read once, before the first grant call, and recorded,
//! so a retried grant decides what the revoke undoes from that first reading.

use super::Engine;
use super::step::Step;
use crate::domain::evidence::recorded_prior_access;
use crate::domain::{Entry, Evidence, GrantEffect, PriorAccess, Request};
use crate::grants::{GrantCall, GrantError, Grantor};
use crate::store::{Change, ClaimedJob, HoldOp};

impl Engine {
    /// What the target held before this grant's first call: recorded by an earlier attempt, or
    /// read now and recorded before any grant call. `None`: the backend cannot tell.
    pub(super) async fn prior_access(
        &self,
        job: &ClaimedJob,
        req: &mut Request,
        grantor: &dyn Grantor,
        call: &GrantCall,
        shared: Option<&str>,
    ) -> Result<Option<PriorAccess>, GrantError> {
        let id = req.id.to_string();
        let stored = |e: anyhow::Error| {
            tracing::warn!(request = %id, error = ?e, "could not read or record the access held before the grant");
            GrantError::Transient("could not record the access held before the grant".into())
        };
        if job.attempts > 1 {
            let entries = self.store.log_entries(&id).await.map_err(stored)?;
            let recorded = entries
                .iter()
                .find_map(|e| recorded_prior_access(&e.kind, e.payload.as_ref()));
            if recorded.is_some() {
                return Ok(recorded);
            }
        }
        let Some(prior) = grantor.observe(call).await? else {
            return Ok(None);
        };
        let entry = Entry::warden(Evidence::PriorAccess {
            call: serde_json::to_value(call).map_err(|e| stored(e.into()))?,
            prior,
        });
        // The first holder of shared access that finds it held before Warden does not own it:
        // recorded with the reading, so a retry never decides otherwise.
        let disown = shared
            .filter(|_| prior == PriorAccess::Held)
            .map(|key| HoldOp::Disown {
                key: key.to_string(),
            });
        let recorded = self
            .change_request_from(&id, Some(req.clone()), |_| {
                Ok(Some(Step::new(
                    Change::none().log(entry.clone()).holds(disown.clone()),
                )))
            })
            .await
            .map_err(stored)?;
        if let Some(latest) = recorded {
            *req = latest;
        }
        Ok(Some(prior))
    }
}

/// What a successful grant did. The first reading decides where there is one; without one (a
/// backend that cannot look), a retry counts the access as Warden's own, since an earlier
/// attempt may be what put it there.
pub(super) fn settled_effect(
    prior: Option<PriorAccess>,
    reported: GrantEffect,
    retried: bool,
) -> GrantEffect {
    match prior {
        Some(p) => p.effect(),
        None if retried => GrantEffect::Applied,
        None => reported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reading_decides_what_a_grant_did() {
        use GrantEffect::{AlreadyHeld, Applied};
        use PriorAccess::{Absent, Held};
        // Found in place on a retry, but absent before the first call: Warden put it there.
        assert_eq!(settled_effect(Some(Absent), AlreadyHeld, true), Applied);
        // Held before the first call: never Warden's to take away, whatever a retry reports.
        assert_eq!(settled_effect(Some(Held), Applied, true), AlreadyHeld);
        assert_eq!(settled_effect(Some(Held), AlreadyHeld, true), AlreadyHeld);
        // A backend that cannot look: its own report, unless an earlier attempt may have applied.
        assert_eq!(settled_effect(None, AlreadyHeld, false), AlreadyHeld);
        assert_eq!(settled_effect(None, AlreadyHeld, true), Applied);
    }
}
