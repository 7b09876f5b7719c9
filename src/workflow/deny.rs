//! Deny clicks: the approver is re-checked at click time, a required reason is asked for, and
//! the denial is one compare-and-set commit, so a redelivery or a racing click changes nothing.

use super::approver::{CLICK_ATTEMPTS, already_acted};
use super::step::{Step, delivery_key};
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Approval, Entry, Evidence, JobKind, Patch, Person, RequestEvent, RequestId, RequestState,
    Verdict,
};
use crate::store::{Change, Committed};

impl Engine {
    pub(crate) async fn deny(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
        reason: Option<&str>,
    ) -> anyhow::Result<Handled> {
        self.deny_click(event, person, id, reason, delivery_key(event))
            .await
    }

    /// The one denial path; `delivery` is what the denial records, so a redelivery commits
    /// nothing (a "Deny all" records one per item).
    pub(crate) async fn deny_click(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
        reason: Option<&str>,
        delivery: String,
    ) -> anyhow::Result<Handled> {
        let reason = reason
            .map(|r| crate::domain::text::sanitize_free_text(r, 300))
            .filter(|r| !r.is_empty());
        for _ in 0..CLICK_ATTEMPTS {
            let seen = self.request_by_id(id).await?;
            let plan = self.check_approver(&seen, person, "deny").await?;
            if plan.deny_reason_required && reason.is_none() {
                return Err(user_error(format!(
                    "A reason is required to deny request {id}. Please add one (e.g. \"not needed for this incident\")."
                )));
            }
            if seen.has_acted(&person.id) {
                return Err(already_acted(id));
            }
            let because = reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let name = &person.display_name;
            let change = Change::event(RequestEvent::ApproverDeny)
                .patch(Patch {
                    approval: Some(Approval {
                        step: seen.current_step,
                        approver_id: person.id.clone(),
                        approver_account: event.actor.to_string(),
                        verdict: Verdict::Deny,
                        reason: reason.clone(),
                        at: self.now_ms(),
                    }),
                    deadline_at: Some(None),
                    ..Default::default()
                })
                .log(Entry::new(
                    &person.id,
                    Evidence::Denial {
                        step: seen.current_step,
                        account: event.actor.clone(),
                        reason: reason.clone(),
                    },
                ))
                .log(Entry::warden(Evidence::StateChange {
                    from: RequestState::PendingApproval,
                    to: RequestState::Denied,
                    why: None,
                }))
                .cancel(&[JobKind::PendingExpire, JobKind::Remind]);
            let mut step = Step::new(change)
                .cards(format!("Denied by {name}{because}"))
                .tell(format!("{name} denied request {}{because}.", seen.id));
            step.change.delivery = Some(delivery.clone());
            match self.commit_step(&seen, step).await? {
                Committed::Applied(_) => {
                    self.metrics
                        .inc("warden_approvals_total", "decision=\"deny\"", 1);
                    return Ok(Handled::Done);
                }
                Committed::Duplicate => return Ok(Handled::Duplicate),
                Committed::Conflict => continue,
                Committed::Refused(_) => break,
            }
        }
        Err(user_error(format!(
            "Request {id} changed while you were clicking; nothing was changed."
        )))
    }
}
