//! Ending access and requests: expiry, early revocation, cancellation.
//!
//! Revocation undoes what the grant record says was granted (backend, parameters, account, and
//! whether the grant changed anything at all), whatever the catalog says now. A failing revoke
//! is retried with an alert, never dropped.

use super::backend::{drop_hold, revoke_call, still_held_by};
use super::grant::backoff_ms;
use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::evidence::CallOutcome;
use crate::domain::jobs::RevokeOrder;
use crate::domain::{
    Entry, Evidence, GrantEffect, Job, JobKind, Patch, Person, Request, RequestEvent, RequestState,
};
use crate::store::{Change, ClaimedJob};

impl Engine {
    /// The expire and revoke jobs: the backend call first, then Active → Expired/Revoked.
    pub(crate) async fn exec_revoke(
        &self,
        job: &ClaimedJob,
        req: Request,
        order: Option<&RevokeOrder>,
    ) -> anyhow::Result<()> {
        let event = if order.is_some() {
            RequestEvent::Revoke
        } else {
            RequestEvent::Expire
        };
        if req.state != RequestState::Active {
            self.store.complete_job(&job.claim).await?;
            return Ok(());
        }
        let now = self.now_ms();
        if event == RequestEvent::Expire
            && let Some(at) = req.expires_at
            && at > now
        {
            // Extended since this job was armed; run again at the new expiry.
            return self.store.retry_job(&job.claim, at, "extended").await;
        }
        if event == RequestEvent::Expire
            && let Some(at) = self.extension_holds_expiry(&req).await?
        {
            // Never cut short by an extension in flight: look again once it is decided.
            return self
                .store
                .retry_job(&job.claim, at, "an extension waits for its decision")
                .await;
        }
        // The access is ending: a credential the agent never fetched is not handed out now.
        self.forget_sealed_of(&req).await;
        let (actor, reason) = match order {
            Some(o) => (o.actor.clone(), o.reason.clone()),
            None => ("scheduler".to_string(), "expired".to_string()),
        };
        let record = req
            .grant
            .clone()
            .ok_or_else(|| anyhow::anyhow!("active request {} has no grant record", req.id))?;
        let call = revoke_call(&req, &record, None, now);
        let mut req = req;
        let result = self.revoke_as_recorded(&mut req, &record, &call).await;
        match result {
            Ok(receipt) => {
                let status = if event == RequestEvent::Expire {
                    "Expired; access removed".to_string()
                } else {
                    format!("Revoked ({reason})")
                };
                let resource_name = self
                    .catalog
                    .get(&call.resource)
                    .map_or(call.resource.clone(), |r| r.name.clone());
                let mut told = format!(
                    "Your access ({} on {resource_name}, request {}) has ended: {}.",
                    call.role,
                    req.id,
                    status.to_lowercase()
                );
                if let Some(by) = still_held_by(&receipt) {
                    told.push_str(&format!(
                        " Your request {by} still grants the same access, so it stays until that one ends."
                    ));
                } else if receipt.effect == GrantEffect::AlreadyHeld {
                    told.push_str(
                        " You had this access before the request, so Warden left it as it was.",
                    );
                }
                let call_json = serde_json::to_value(&call)?;
                let receipt_json = serde_json::to_value(&receipt)?;
                let id = req.id.to_string();
                let ended = self
                    .change_request_from(&id, Some(req), |seen| {
                        if seen.state != RequestState::Active {
                            return Ok(None);
                        }
                        let mut grant = seen.grant.clone();
                        if let Some(g) = grant.as_mut() {
                            g.revoked_at = Some(now);
                            g.revoke_reason = Some(reason.clone());
                        }
                        let to = seen.state.apply(event)?;
                        let change = Change::event(event)
                            .patch(Patch {
                                grant,
                                ..Default::default()
                            })
                            .log(Entry::new(
                                &actor,
                                Evidence::RevokeCall {
                                    call: call_json.clone(),
                                    outcome: CallOutcome::Ok,
                                    detail: receipt_json.clone(),
                                    reason: reason.clone(),
                                },
                            ))
                            .log(Entry::warden(Evidence::StateChange {
                                from: RequestState::Active,
                                to,
                                why: None,
                            }))
                            .holds(drop_hold(seen.grant.as_ref()))
                            .cancel(&[JobKind::Warn, JobKind::Expire, JobKind::Revoke])
                            .complete(Some(job.claim.clone()));
                        Ok(Some(
                            Step::new(change).cards(status.clone()).tell(told.clone()),
                        ))
                    })
                    .await?;
                if ended.is_none() {
                    self.store.complete_job(&job.claim).await?;
                }
                let why = if event == RequestEvent::Expire {
                    "expired"
                } else {
                    "revoked"
                };
                self.metrics
                    .inc("warden_revocations_total", &format!("reason=\"{why}\""), 1);
                Ok(())
            }
            Err(why) => {
                let first = job.attempts == 1;
                self.revoke_failing(job, req, &call.resource, &why, first)
                    .await
            }
        }
    }

    /// A revoke that failed: an alert in the log (and in the security channel when `alert_now`,
    /// on the first failure), counted, and the job retried with backoff. Access is still in place.
    pub(crate) async fn revoke_failing(
        &self,
        job: &ClaimedJob,
        req: Request,
        resource: &str,
        why: &str,
        alert_now: bool,
    ) -> anyhow::Result<()> {
        tracing::error!(request = %req.id, attempt = job.attempts, why, "REVOCATION FAILING: access is still in place; retrying");
        self.metrics.inc("warden_revoke_failures_total", "", 1);
        let entry = Entry::warden(Evidence::Alert(
            serde_json::json!({ "revoke_failing": why, "attempt": job.attempts }),
        ));
        self.change_request_from(req.id.as_str(), Some(req.clone()), |_| {
            Ok(Some(Step::new(Change::none().log(entry.clone()))))
        })
        .await?;
        if alert_now {
            let text = format!(
                "Revoking {resource} for request {} is failing ({why}). Warden keeps retrying; the access is still in place.",
                req.id
            );
            self.alert_security(&req, &text).await;
        }
        self.store
            .retry_job(&job.claim, self.now_ms() + backoff_ms(job.attempts), why)
            .await
    }

    /// "I'm done": revoke now, by the requester (or an admin through the API). The revoke job
    /// is committed claimed by this worker and runs right after.
    pub async fn revoke_early(
        &self,
        req: &Request,
        actor: &str,
        reason: &str,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        let job = Job::Revoke(RevokeOrder {
            actor: actor.into(),
            reason: reason.into(),
        });
        let done = self
            .change_request_from(req.id.as_str(), Some(req.clone()), |seen| {
                if seen.state != RequestState::Active {
                    return Err(user_error(format!(
                        "Request {} has no active access to revoke (it is {}).",
                        seen.id,
                        seen.state.label()
                    )));
                }
                let claim = self.claim(&job, seen);
                let change = Change::none().schedule_claimed(job.clone(), self.now_ms(), claim);
                let step = Step::new(change);
                Ok(Some(match event {
                    Some(e) => step.for_event(e),
                    None => step,
                }))
            })
            .await?;
        Ok(if done.is_some() {
            Handled::Done
        } else {
            Handled::Duplicate
        })
    }

    /// Cancels a request that has not been granted.
    pub(crate) async fn cancel(
        &self,
        req: &Request,
        person: &Person,
        said: Vec<Entry>,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        if req.requester_id != person.id {
            return Err(user_error(format!(
                "I can't find a request {} of yours.",
                req.id
            )));
        }
        let name = person.display_name.clone();
        let done = self
            .change_request_from(req.id.as_str(), Some(req.clone()), |seen| {
                let to = seen.state.apply(RequestEvent::Cancel).map_err(|_| {
                    user_error(format!(
                        "Request {} can't be cancelled: it is {}.",
                        seen.id,
                        seen.state.label()
                    ))
                })?;
                let change = Change::event(RequestEvent::Cancel)
                    .patch(Patch {
                        deadline_at: Some(None),
                        ..Default::default()
                    })
                    .logs(said.clone())
                    .log(Entry::new(
                        &person.id,
                        Evidence::StateChange {
                            from: seen.state,
                            to,
                            why: Some("cancelled by the requester".into()),
                        },
                    ))
                    .cancel(&[
                        JobKind::ConfirmExpire,
                        JobKind::PendingExpire,
                        JobKind::Remind,
                    ]);
                let mut step = Step::new(change)
                    .cards(format!("Cancelled by {name}"))
                    .tell(format!("Request {} is cancelled.", seen.id));
                if let Some(e) = event {
                    step = step.for_event(e);
                }
                Ok(Some(step))
            })
            .await?;
        Ok(if done.is_some() {
            Handled::Done
        } else {
            Handled::Duplicate
        })
    }
}
