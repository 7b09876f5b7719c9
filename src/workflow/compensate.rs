//! Withdrawing a grant that may have applied before it failed (a timeout, then a refusal or no
//! answer at all): a compensating revoke, key `<id>:revoke:compensate`, sent before the request
//! is marked failed and retried as a job until it succeeds, so "failed" never hides access.

use super::Engine;
use super::backend::{drop_hold, revoke_call};
use super::grant::backoff_ms;
use super::step::Step;
use crate::domain::evidence::CallOutcome;
use crate::domain::{
    Entry, Evidence, GrantReceipt, GrantRecord, Job, JobKind, Patch, Request, RequestEvent,
    RequestState,
};
use crate::store::{Change, ClaimedJob};

/// The idempotency-key tag of a compensating revoke.
const TAG: &str = "compensate";
const REASON: &str = "compensate: the grant could not be confirmed";

impl Engine {
    /// The grant failed after a call that may have applied: withdraw what may be in place, then
    /// mark the request failed, and tell the requester which of the two happened.
    pub(crate) async fn withdraw_failed_grant(
        &self,
        job: &ClaimedJob,
        req: Request,
        attempted: GrantRecord,
        why: &str,
    ) -> anyhow::Result<()> {
        tracing::error!(request = %req.id, why, "granting failed after a call that may have applied; withdrawing it");
        let now = self.now_ms();
        // The grant's outcome is unknown, so its receipt may name no account: targets with
        // accounts of their own find the person's from the directory instead.
        let call = revoke_call(&req, &attempted, Some(TAG), now)
            .for_person(self.target_person(&req, &attempted.backend).await.as_ref());
        let mut req = req;
        let withdrawn = self.revoke_as_recorded(&mut req, &attempted, &call).await;
        let ends = withdrawn
            .is_ok()
            .then(|| drop_hold(Some(&attempted)))
            .flatten();
        let mut record = attempted;
        let mut change = Change::event(RequestEvent::Fail)
            .log(Entry::warden(Evidence::Error(
                serde_json::json!({ "grant_failed": why, "may_have_applied": true }),
            )))
            .log(revoke_entry(&call, &withdrawn))
            .holds(ends)
            .cancel(&[JobKind::Expire])
            .complete(Some(job.claim.clone()));
        let (status, told) = match &withdrawn {
            Ok(_) => {
                record.revoked_at = Some(now);
                record.revoke_reason = Some(REASON.into());
                (
                    "Approved, but the grant could not be confirmed; withdrawn",
                    format!(
                        "Request {} was approved, but the access could not be confirmed and was withdrawn. Nothing is in place; an admin has been told.",
                        req.id
                    ),
                )
            }
            Err(e) => {
                change = change
                    .log(Entry::warden(Evidence::Alert(
                        serde_json::json!({ "compensating_revoke_failing": e, "attempt": 1 }),
                    )))
                    .schedule(Job::Compensate, now + backoff_ms(1));
                (
                    "Approved, but the grant could not be confirmed; withdrawing",
                    format!(
                        "Request {} was approved, but the access could not be confirmed. Withdrawing it is failing and is being retried; an alert was raised.",
                        req.id
                    ),
                )
            }
        };
        let change = change.patch(Patch {
            grant: Some(record),
            ..Default::default()
        });
        let id = req.id.to_string();
        let failed = self
            .change_request_from(&id, Some(req.clone()), |seen| {
                if seen.state != RequestState::Approved {
                    return Ok(None);
                }
                Ok(Some(
                    Step::new(change.clone()).cards(status).tell(told.clone()),
                ))
            })
            .await?;
        if failed.is_none() {
            self.store.complete_job(&job.claim).await?;
        }
        if let Err(e) = withdrawn {
            self.metrics.inc("warden_revoke_failures_total", "", 1);
            let text = format!(
                "Withdrawing an unconfirmed grant of {} for request {} is failing ({e}). Warden keeps retrying; the access may still be in place.",
                call.resource, req.id
            );
            self.alert_security(&req, &text).await;
        }
        Ok(())
    }

    /// The compensate job: retries the withdrawal until the backend confirms it.
    pub(crate) async fn exec_compensate(
        &self,
        job: &ClaimedJob,
        req: Request,
    ) -> anyhow::Result<()> {
        let pending = req.state == RequestState::Failed
            && req.grant.as_ref().is_some_and(|g| g.revoked_at.is_none());
        let Some(record) = req.grant.clone().filter(|_| pending) else {
            self.store.complete_job(&job.claim).await?;
            return Ok(());
        };
        let now = self.now_ms();
        let call = revoke_call(&req, &record, Some(TAG), now)
            .for_person(self.target_person(&req, &record.backend).await.as_ref());
        let mut req = req;
        let withdrawn = self.revoke_as_recorded(&mut req, &record, &call).await;
        if let Err(why) = &withdrawn {
            // The security channel heard of it when the first, inline attempt failed.
            return self
                .revoke_failing(job, req, &call.resource, why, false)
                .await;
        }
        let entry = revoke_entry(&call, &withdrawn);
        let told = format!(
            "The access for request {} that could not be confirmed has now been withdrawn.",
            req.id
        );
        let id = req.id.to_string();
        let done = self
            .change_request_from(&id, Some(req), |seen| {
                let Some(mut grant) = seen.grant.clone().filter(|g| g.revoked_at.is_none()) else {
                    return Ok(None);
                };
                grant.revoked_at = Some(now);
                grant.revoke_reason = Some(REASON.into());
                let change = Change::none()
                    .patch(Patch {
                        grant: Some(grant),
                        ..Default::default()
                    })
                    .log(entry.clone())
                    .holds(drop_hold(seen.grant.as_ref()))
                    .complete(Some(job.claim.clone()));
                Ok(Some(
                    Step::new(change)
                        .cards("Approved, but the grant could not be confirmed; withdrawn")
                        .tell(told.clone()),
                ))
            })
            .await?;
        if done.is_none() {
            self.store.complete_job(&job.claim).await?;
        }
        Ok(())
    }
}

/// The log entry of a compensating revoke, whichever way it went.
fn revoke_entry(call: &crate::grants::GrantCall, result: &Result<GrantReceipt, String>) -> Entry {
    let (outcome, detail) = match result {
        Ok(r) => (CallOutcome::Ok, serde_json::to_value(r).unwrap_or_default()),
        Err(e) => (CallOutcome::Failed, serde_json::json!({ "error": e })),
    };
    Entry::warden(Evidence::RevokeCall {
        call: serde_json::to_value(call).unwrap_or_default(),
        outcome,
        detail,
        reason: REASON.into(),
    })
}
