//! Extending active access: a new policy check each time, within the resource's maximum; one
//! the policy sends to approval becomes a linked approval (`extension.rs`).

use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::evidence::{CallOutcome, Inbound};
use crate::domain::{
    Action, Decision, Entry, Evidence, Intent, Job, Patch, Person, Request, RequestState,
};
use crate::policy::RequestContextInput;
use crate::store::Change;

impl Engine {
    /// Extends active access: a new policy check; where policy wants approval, a linked
    /// extension request its approvers decide while the access stays.
    pub(crate) async fn extend(
        &self,
        event: &ChatEvent,
        person: &Person,
        req: &Request,
        intent: &Intent,
    ) -> anyhow::Result<Handled> {
        if req.state != RequestState::Active {
            return Err(user_error(format!(
                "Only active access can be extended; request {} is {}.",
                req.id,
                req.state.label()
            )));
        }
        if req.extensions >= self.options.max_extensions {
            return Err(user_error(format!(
                "Request {} was already extended {} time(s), the most allowed. Please make a new request.",
                req.id, req.extensions
            )));
        }
        if let Some(waiting) = self.store.pending_extension(&req.id).await? {
            return Err(user_error(format!(
                "An extension of {} is already waiting for approval ({}).",
                req.id, waiting.id
            )));
        }
        let resource = self.resource_of(req)?.clone();
        self.refuse_if_frozen(req.subject(), Some(&resource.id))
            .await?;
        let role = req.role().unwrap_or_default().to_string();
        let max = resource.max_duration_for(&role);
        let wanted = intent
            .duration_secs
            .or(req.duration_secs())
            .unwrap_or(3600)
            .min(max);
        let mut ext_intent = req
            .intent
            .clone()
            .ok_or_else(|| anyhow::anyhow!("request {} has no intent", req.id))?;
        ext_intent.action = Action::Extend;
        ext_intent.duration_secs = Some(wanted);
        ext_intent.request_id = Some(req.id.clone());
        let context = RequestContextInput {
            is_extension: true,
            extensions_so_far: req.extensions,
        };
        let mut input = self.policy_input(req, person, &ext_intent, &resource, context);
        input.oncall = self.oncall_input(&input.subject, person).await;
        let decision = self.ask_policy(&input).await;
        let actor = format!("policy:{}", self.policy.name());
        let asked = [
            Entry::new(
                &person.id,
                Evidence::MessageIn(Inbound::Extend {
                    extend: wanted,
                    account: event.actor.clone(),
                }),
            ),
            Entry::new(&actor, Evidence::PolicyInput(serde_json::to_value(&input)?)),
            Entry::new(
                &actor,
                Evidence::PolicyDecision(serde_json::to_value(&decision)?),
            ),
        ];
        let refusal = match &decision {
            Decision::Allow {
                break_glass: false, ..
            } => None,
            Decision::Deny { .. } => Some(format!(
                "The extension of {} was denied: {}.",
                req.id,
                decision.explain()
            )),
            Decision::Allow { .. } => {
                Some("Emergency access can't be extended; make a new request.".to_string())
            }
            Decision::RequireApproval { .. } => {
                return self
                    .open_extension_approval(
                        event,
                        person,
                        req,
                        &resource,
                        ext_intent,
                        asked.to_vec(),
                        decision,
                    )
                    .await;
            }
        };
        let now = self.now_ms();
        let max_end = now + (max as i64) * 1000;
        let warn_before = (self.options.expiry_warning_before_secs as i64) * 1000;
        let max_ext = self.options.max_extensions;
        let done = self
            .change_request_from(req.id.as_str(), Some(req.clone()), |seen| {
                let change = Change::none().logs(asked.clone());
                if refusal.is_some() {
                    return Ok(Some(Step::new(change)));
                }
                if seen.state != RequestState::Active {
                    return Err(user_error(format!(
                        "Request {} changed meanwhile; nothing was extended.",
                        seen.id
                    )));
                }
                let new_end =
                    (seen.expires_at.unwrap_or(now).max(now) + (wanted as i64) * 1000).min(max_end);
                let n = seen.extensions + 1;
                let mut change = change
                    .patch(Patch {
                        expires_at: Some(Some(new_end)),
                        extensions: Some(n),
                        ..Default::default()
                    })
                    .log(Entry::new(
                        &person.id,
                        Evidence::Extended {
                            extended_to: new_end,
                            extension: n,
                        },
                    ))
                    .schedule(Job::Expire, new_end);
                if new_end - warn_before > now {
                    change = change.schedule(Job::Warn, new_end - warn_before);
                }
                let told = format!(
                    "Extended: request {} now lasts {} (extension {n} of {max_ext}).",
                    seen.id,
                    self.until(new_end)
                );
                Ok(Some(Step::new(change).tell(told).for_event(event)))
            })
            .await?;
        match refusal {
            Some(msg) => Err(user_error(msg)),
            None => match done {
                Some(extended) => {
                    // Boxed: inline, it would grow every inbound handler's future by a backend call.
                    Box::pin(self.move_target_expiry(&extended)).await;
                    Ok(Handled::Done)
                }
                None => Ok(Handled::Duplicate),
            },
        }
    }

    /// Moves an expiry the target enforces itself (PostgreSQL `VALID UNTIL`) to the new end.
    /// A failure fails closed: the login stops at its old time, which is logged and told.
    pub(super) async fn move_target_expiry(&self, req: &Request) {
        let Some(record) = req.grant.as_ref() else {
            return;
        };
        let Some(grantor) = self.grantors.get(&record.backend) else {
            return;
        };
        let now = self.now_ms();
        let mut call = super::backend::revoke_call(req, record, None, now);
        call.op = crate::grants::GrantOp::Extend;
        call.idempotency_key = format!("{}:extend:{}", req.id, req.extensions);
        let result = self.call_backend(grantor.as_ref(), &call).await;
        if matches!(&result, Ok(r) if r.effect == crate::domain::GrantEffect::AlreadyHeld) {
            return; // Nothing on the target to move.
        }
        let (outcome, detail) = match &result {
            Ok(r) => (CallOutcome::Ok, serde_json::to_value(r).unwrap_or_default()),
            Err(e) => {
                tracing::error!(request = %req.id, error = %e, "could not move the target's own expiry");
                (
                    CallOutcome::Failed,
                    serde_json::json!({ "error": e.to_string() }),
                )
            }
        };
        let entry = Entry::warden(Evidence::GrantCall {
            call: serde_json::to_value(&call).unwrap_or_default(),
            outcome,
            detail,
            attempt: 1,
        });
        let told = result.is_err().then(|| {
            format!(
                "The target could not be told about the extension of {}: your login may stop working at the original time. Request again if it does.",
                req.id
            )
        });
        let logged = self
            .change_request(req.id.as_str(), |_| {
                let mut step = Step::new(Change::none().log(entry.clone()));
                if let Some(t) = &told {
                    step = step.tell(t.clone());
                }
                Ok(Some(step))
            })
            .await;
        if let Err(e) = logged {
            tracing::warn!(request = %req.id, error = ?e, "could not log an expiry move");
        }
    }
}
