//! What a policy decision leads to from Submitted: denied and told, approved with its grant
//! job claimed, or pending approval with its plan, deadline and reminder.

use super::Engine;
use super::plan::describe;
use super::step::Step;
use crate::domain::{
    Decision, Entry, Evidence, Intent, Job, Patch, Person, Request, RequestEvent, RequestState,
    Resource,
};
use crate::store::Change;

impl Engine {
    /// The step a decision leads to from Submitted, and the approvers to ask, if any.
    pub(super) async fn decision_step(
        &self,
        req: &Request,
        person: &Person,
        intent: &Intent,
        resource: &Resource,
        decision: Decision,
        change: Change,
    ) -> anyhow::Result<(Step, Option<Vec<Person>>)> {
        let now = self.now_ms();
        let decided = |event: RequestEvent, to: RequestState, d: &Decision| {
            change
                .clone()
                .then(event)
                .log(Entry::warden(Evidence::StateChange {
                    from: RequestState::Submitted,
                    to,
                    why: None,
                }))
                .patch(Patch {
                    decision: Some(d.clone()),
                    ..change.patch.clone()
                })
        };
        Ok(match &decision {
            Decision::Deny { .. } => {
                let c = decided(RequestEvent::PolicyDeny, RequestState::Denied, &decision);
                let told = format!("Request {} was denied: {}.", req.id, decision.explain());
                (Step::new(c).tell(told), None)
            }
            Decision::Allow { break_glass, .. } if *break_glass && !intent.break_glass => {
                // The policy may not invent an emergency nobody declared.
                let fault =
                    Decision::fault("break-glass allowed for a request that did not ask for it");
                if let Some(f) = fault.fault_info() {
                    tracing::error!(request = %req.id, reference = %f.reference, detail = %f.detail, "inconsistent policy answer; denied");
                }
                let c = decided(RequestEvent::PolicyDeny, RequestState::Denied, &fault);
                let told = format!("Request {} was denied: {}.", req.id, fault.explain());
                (Step::new(c).tell(told), None)
            }
            Decision::Allow { break_glass, .. } => {
                let mut c = decided(RequestEvent::PolicyAllow, RequestState::Approved, &decision);
                c.patch.break_glass = Some(*break_glass);
                c.patch.review_open = Some(*break_glass);
                let c = c.schedule_claimed(Job::Grant, now, self.claim(&Job::Grant, req));
                (Step::new(c), None)
            }
            Decision::RequireApproval {
                steps,
                deny_reason_required,
                reasons,
                ..
            } => match self
                .resolve_plan(steps, *deny_reason_required, person, resource)
                .await
            {
                Err(why) => {
                    tracing::warn!(request = %req.id, why, "approvers could not be resolved");
                    let c = decided(RequestEvent::Fail, RequestState::Failed, &decision).log(
                        Entry::warden(Evidence::Error(
                            serde_json::json!({ "approvers_unresolved": why }),
                        )),
                    );
                    let told = format!(
                        "Request {} needs approval, but I can't work out who can approve it: {why}. Nothing was granted; an admin has been told.",
                        req.id
                    );
                    (Step::new(c).tell(told), None)
                }
                Ok((plan, mut people)) => {
                    let deadline = now + (self.options.pending_ttl_secs as i64) * 1000;
                    let who = describe(&plan.steps[0].spec, plan.steps[0].count);
                    let why = if reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", reasons.join("; "))
                    };
                    let told = format!(
                        "Request {} needs approval from {who}{why}. I've asked them and will tell you here.",
                        req.id
                    );
                    let mut c = decided(
                        RequestEvent::PolicyRequireApproval,
                        RequestState::PendingApproval,
                        &decision,
                    )
                    .log(Entry::warden(Evidence::ApproversResolved(
                        serde_json::to_value(&plan)?,
                    )))
                    .schedule(Job::PendingExpire, deadline);
                    let remind_at = deadline - (self.options.reminder_before_secs as i64) * 1000;
                    if remind_at > now {
                        c = c.schedule(Job::Remind, remind_at);
                    }
                    c.patch.approval_plan = Some(plan);
                    c.patch.current_step = Some(0);
                    c.patch.deadline_at = Some(Some(deadline));
                    (Step::new(c).tell(told), Some(people.swap_remove(0)))
                }
            },
        })
    }
}
