//! Who may act on a pending approval step, checked at click time (never the requester, only
//! an eligible approver of the current step), and the refusal logged when not.

use super::plan::describe;
use super::step::Step;
use super::{Engine, user_error};
use crate::domain::{ApprovalPlan, Entry, Evidence, Person, Request, RequestId, RequestState};
use crate::store::Change;

pub(super) fn already_acted(id: &RequestId) -> anyhow::Error {
    user_error(format!(
        "You've already acted on request {id}; it still needs the others."
    ))
}

/// How many times a click is re-decided when another actor changed the request meanwhile.
pub(super) const CLICK_ATTEMPTS: usize = 8;

impl Engine {
    /// Checks that `person` may act on the request's current step right now.
    pub(super) async fn check_approver(
        &self,
        req: &Request,
        person: &Person,
        verb: &str,
    ) -> anyhow::Result<ApprovalPlan> {
        if req.state != RequestState::PendingApproval {
            return Err(user_error(format!(
                "Request {} is already resolved ({}); nothing was changed.",
                req.id,
                req.state.label()
            )));
        }
        if person.id == req.requester_id {
            self.log_refusal(req, person, verb, "self-approval is not allowed")
                .await;
            return Err(user_error(format!("You can't {verb} your own request.")));
        }
        let plan = req
            .approval_plan
            .clone()
            .ok_or_else(|| anyhow::anyhow!("request {} has no approval plan", req.id))?;
        let planned = plan
            .steps
            .get(req.current_step as usize)
            .ok_or_else(|| anyhow::anyhow!("request {} is at a step its plan lacks", req.id))?;
        let resource = self.resource_of(req)?;
        let requester = self
            .requester_for_approvals(req)
            .await
            .unwrap_or_else(|| Person {
                id: req.requester_id.clone(),
                display_name: req.requester_id.clone(),
                email: None,
                manager: None,
                groups: vec![],
                accounts: vec![],
                sso_subject: None,
                target_ids: Default::default(),
                active: true,
            });
        let eligible = self
            .eligible_for(&planned.spec, &requester, resource)
            .await
            .map_err(|why| {
                user_error(format!(
                    "I can't check approvers right now ({why}); nothing was changed."
                ))
            })?;
        if !eligible.iter().any(|p| p.id == person.id) {
            self.log_refusal(
                req,
                person,
                verb,
                "not an eligible approver for the current step",
            )
            .await;
            return Err(user_error(format!(
                "You're not an approver for request {} (this step needs {}).",
                req.id,
                describe(&planned.spec, planned.count)
            )));
        }
        Ok(plan)
    }
    /// Records a refused action in the request's log (its own small change).
    pub(crate) async fn log_refusal(&self, req: &Request, person: &Person, verb: &str, why: &str) {
        let entry = Entry::new(
            &person.id,
            Evidence::Refusal {
                action: verb.into(),
                why: why.into(),
            },
        );
        let result = self
            .change_request(req.id.as_str(), |_| {
                Ok(Some(Step::new(Change::none().log(entry.clone()))))
            })
            .await;
        if let Err(err) = result {
            tracing::warn!(request = %req.id, error = ?err, "failed to log a refusal");
        }
    }
}
