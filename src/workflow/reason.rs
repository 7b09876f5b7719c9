//! The policy's `reason_required` obligation: a request without a reason is not decided; the
//! requester is asked for one, and their answer proposes and submits the request again.
//!
//! Path in the state machine: AwaitingConfirmation --ReasonNeeded--> Draft (question out) --
//! the requester's answer --IntentReady--> AwaitingConfirmation --Confirm--> Submitted (decided).

use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Decision, Entry, Evidence, Field, Intent, IntentError, Job, Obligation, Patch, Person, Request,
    RequestEvent, RequestState, Resource,
};
use crate::intake::IntakeResult;
use crate::policy::PolicyInput;
use crate::store::{Change, Committed};

/// Whether `decision` cannot stand for `intent` until the requester says why.
pub(super) fn lacks_required_reason(decision: &Decision, intent: &Intent) -> bool {
    decision.requires(Obligation::ReasonRequired) && !intent.has_reason()
}

/// Whether `req` was sent back to its requester because the policy wants a reason it still lacks.
pub(super) fn waiting_for_reason(req: &Request) -> bool {
    req.state == RequestState::Draft
        && matches!((&req.decision, &req.intent), (Some(d), Some(i)) if lacks_required_reason(d, i))
}

/// Whether `intent` is the intent `req` was sent back for, now with a reason: the requester
/// already confirmed everything else, so it is submitted without asking again.
pub(super) fn answers_reason_question(req: &Request, intent: &Intent) -> bool {
    let Some(before) = req.intent.as_ref().filter(|_| waiting_for_reason(req)) else {
        return false;
    };
    let same = |a: &Intent, b: &Intent| {
        (
            a.action,
            &a.resource,
            &a.role,
            a.duration_secs,
            a.break_glass,
        ) == (
            b.action,
            &b.resource,
            &b.role,
            b.duration_secs,
            b.break_glass,
        )
    };
    intent.has_reason() && same(before, intent)
}

/// The requester's reply to the reason question is the reason, unless it changed something
/// else: a parser reads "checking the refunds" as no field at all, a model may not either.
pub(super) fn reply_as_reason(req: &Request, result: &mut IntakeResult, reply: &str) {
    let Some(before) = req.intent.as_ref().filter(|_| waiting_for_reason(req)) else {
        return;
    };
    let d = &mut result.draft;
    // A reply that also changes the resource, role or duration is proposed for confirmation
    // again (`answers_reason_question` no longer matches), so the requester sees it.
    if before.justification.is_none()
        && d.justification.is_none()
        && d.ticket.is_none()
        && !d.break_glass
        && !reply.trim().is_empty()
    {
        d.justification = Some(reply.to_string());
    }
}

impl Engine {
    /// Submit found the policy requires a reason the request lacks: nothing is decided; the
    /// policy's input and answer are logged, and the requester is asked why.
    pub(super) async fn ask_for_reason(
        &self,
        req: &Request,
        resource: &Resource,
        input: &PolicyInput,
        decision: Decision,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        let actor = format!("policy:{}", self.policy.name());
        let question = IntentError::ask(
            Field::Justification,
            format!(
                "The access policy needs a reason before {} ({}) can be decided: what do you need it for? Reply here; a sentence or a ticket number is enough.",
                resource.name,
                req.role().unwrap_or_default()
            ),
            vec![],
        );
        let (clarified, msg) = self.clarify(req, question);
        let mut change = clarified
            .log(Entry::new(
                &actor,
                Evidence::PolicyInput(serde_json::to_value(input)?),
            ))
            .log(Entry::new(
                &actor,
                Evidence::PolicyDecision(serde_json::to_value(&decision)?),
            ));
        let change_open = change.events.is_empty();
        let status = if change_open {
            // Still open: back to the requester, with the decision that asked kept on the request
            // so their answer is recognised and submitted again.
            change.events.push(RequestEvent::ReasonNeeded);
            change.log.push(Entry::warden(Evidence::StateChange {
                from: req.state,
                to: RequestState::Draft,
                why: Some("the policy requires a reason".into()),
            }));
            change.patch = Patch {
                decision: Some(decision),
                ..change.patch
            };
            "Waiting for a reason"
        } else {
            "Cancelled: no clear answer"
        };
        let mut step = Step::new(change).cards(status);
        // A bundle's items are asked once, together, in the bundle's summary.
        if req.bundle_id.is_none() || !change_open {
            step = step.tell(msg);
        }
        if let Some(e) = event {
            step = step.for_event(e);
        }
        match self.commit_step(req, step).await? {
            Committed::Applied(_) => Ok(Handled::Done),
            Committed::Duplicate => Ok(Handled::Duplicate),
            Committed::Conflict | Committed::Refused(_) => Err(user_error(format!(
                "Request {} changed while you were clicking; nothing was changed.",
                req.id
            ))),
        }
    }
}

impl Engine {
    /// The requester's reply in a bundle's thread while items of it wait for the reason the
    /// policy requires: the reply is that reason for every such item, each is proposed again
    /// with it and submitted (they were confirmed before), and approvers are asked once. `None`
    /// when no item waits for a reason (the reply is then context, as any other).
    pub(super) async fn answer_bundle_reason(
        &self,
        event: &ChatEvent,
        person: &Person,
        lead: &Request,
        reply: &str,
        said: &[Entry],
    ) -> anyhow::Result<Option<Handled>> {
        let Some(bundle) = &lead.bundle_id else {
            return Ok(None);
        };
        let items = self.store.requests_in_bundle(bundle).await?;
        let waiting: Vec<Request> = items.into_iter().filter(waiting_for_reason).collect();
        let reason = crate::domain::text::sanitize_free_text(reply, 500);
        if waiting.is_empty() || reason.trim().is_empty() {
            return Ok(None);
        }
        let deadline = self.now_ms() + (self.options.confirm_ttl_secs as i64) * 1000;
        let mut ready = Vec::with_capacity(waiting.len());
        for (n, item) in waiting.iter().enumerate() {
            let Some(mut intent) = item.intent.clone() else {
                continue;
            };
            intent.justification = Some(reason.clone());
            // What was said is logged once, with the first item, which records the delivery.
            let change = Change::event(RequestEvent::IntentReady)
                .logs(if n == 0 { said.to_vec() } else { vec![] })
                .log(Entry::warden(Evidence::IntentProposed {
                    intent: serde_json::to_value(&intent)?,
                }))
                .schedule(Job::ConfirmExpire, deadline)
                .patch(Patch {
                    intent: Some(intent),
                    deadline_at: Some(Some(deadline)),
                    ..Default::default()
                });
            let mut step = Step::new(change);
            if n == 0 {
                step = step.for_event(event);
            }
            match self.commit_step(item, step).await? {
                Committed::Applied(r) => ready.push((*r, None)),
                Committed::Duplicate => return Ok(Some(Handled::Duplicate)),
                Committed::Conflict | Committed::Refused(_) => {
                    tracing::warn!(request = %item.id, "a bundle item changed while its reason came in; left as it is");
                }
            }
        }
        Ok(Some(self.submit_items(lead, person, false, ready).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Action, Origin, Platform, RequestId, ScopeKind};

    fn intent(duration: u64, justification: Option<&str>) -> Intent {
        Intent {
            action: Action::Request,
            resource: Some("prod-billing-db".into()),
            role: Some("read".into()),
            duration_secs: Some(duration),
            justification: justification.map(str::to_string),
            ticket: None,
            request_id: None,
            break_glass: false,
            notes: vec![],
            items: vec![],
        }
    }

    fn sent_back(obligations: Vec<Obligation>) -> Request {
        let mut r = Request::draft(
            RequestId::parse("AR-00000000").unwrap(),
            Origin {
                platform: Platform::Console,
                workspace: "local".into(),
                channel: "c".into(),
                thread: None,
                kind: ScopeKind::Console,
            },
            "alice".into(),
            "alice".into(),
            1,
        );
        r.intent = Some(intent(3600, None));
        r.decision = Some(Decision::Allow {
            decision_id: None,
            reasons: vec![],
            break_glass: false,
            obligations,
        });
        r
    }

    #[test]
    fn only_the_same_intent_with_a_reason_is_submitted_again() {
        let r = sent_back(vec![Obligation::ReasonRequired]);
        assert!(waiting_for_reason(&r));
        assert!(answers_reason_question(&r, &intent(3600, Some("INC-42"))));
        assert!(!answers_reason_question(&r, &intent(3600, None)));
        assert!(!answers_reason_question(&r, &intent(7200, Some("INC-42"))));
    }

    #[test]
    fn a_decision_without_the_obligation_asks_nothing() {
        let r = sent_back(vec![]);
        assert!(!waiting_for_reason(&r));
        assert!(!answers_reason_question(&r, &intent(3600, Some("INC-42"))));
        let d = r.decision.as_ref().unwrap();
        assert!(!lacks_required_reason(d, &intent(3600, None)));
    }
}
