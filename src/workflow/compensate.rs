//! Withdrawing a grant that may have applied before it failed (a timeout, then a refusal or no
//! answer at all): a compensating revoke, key `<id>:revoke:compensate`, sent before the request
//! is marked failed and retried as a job until it succeeds, so "failed" never hides access.
//! The same withdrawal takes back a grant call that applied after its request had moved on.

use super::Engine;
use super::backend::{HELD_BY, drop_hold, revoke_call};
use super::grant::backoff_ms;
use super::step::Step;
use crate::domain::evidence::CallOutcome;
use crate::domain::{
    Entry, Evidence, GrantReceipt, GrantRecord, Job, JobKind, Patch, Request, RequestEvent,
    RequestState,
};
use crate::grants::GrantCall;
use crate::store::{Change, ClaimedJob};

/// The idempotency-key tag of a compensating revoke.
const TAG: &str = "compensate";
const REASON: &str = "compensate: the grant could not be confirmed";
/// The tag and reason of withdrawing a grant call that applied after its request moved on.
const LATE_TAG: &str = "late";
const LATE_REASON: &str = "withdrawn: the grant call applied after the request had moved on";

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
            .log(revoke_entry(&call, &withdrawn, REASON))
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
        // A request that ended without access (failed, or moved on while a late grant call
        // applied) whose grant record is not yet revoked: the withdrawal is still owed.
        let pending = ended_without_access(req.state)
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
        let entry = revoke_entry(&call, &withdrawn, REASON);
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

impl Engine {
    /// A grant call applied, but its commit found the request no longer Approved: another
    /// worker took the job over after this one's lease lapsed and failed or withdrew it (or
    /// granted and revoked it) while this call was in flight. Unless the request is Active —
    /// then its own grant record, made with the same idempotency key, names this access and its
    /// revoke takes it away — nothing would ever revoke what this call put in place. So it is
    /// withdrawn now, through the shared-access rules, and retried as a compensate job if that
    /// fails.
    pub(crate) async fn withdraw_late_grant(
        &self,
        job: &ClaimedJob,
        id: &str,
        record: GrantRecord,
    ) -> anyhow::Result<()> {
        self.store.complete_job(&job.claim).await?;
        let mut req = self
            .store
            .get_request(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request {id} is gone"))?;
        if !ended_without_access(req.state) {
            return Ok(());
        }
        tracing::warn!(request = id, state = ?req.state, "a grant call applied after its request had moved on; withdrawing it");
        let now = self.now_ms();
        let call = revoke_call(&req, &record, Some(LATE_TAG), now)
            .for_person(self.target_person(&req, &record.backend).await.as_ref());
        let withdrawn = self.revoke_late(&mut req, &record, &call).await;
        let mut change = Change::none().log(revoke_entry(&call, &withdrawn, LATE_REASON));
        change = match &withdrawn {
            Ok(_) => change.holds(drop_hold(Some(&record))),
            Err(e) => change
                // The record is what the compensate job retries from.
                .patch(Patch {
                    grant: Some(GrantRecord {
                        revoked_at: None,
                        revoke_reason: None,
                        ..record
                    }),
                    ..Default::default()
                })
                .log(Entry::warden(Evidence::Alert(
                    serde_json::json!({ "compensating_revoke_failing": e, "attempt": 1 }),
                )))
                .schedule(Job::Compensate, now + backoff_ms(1)),
        };
        self.change_request_from(id, Some(req.clone()), |seen| {
            Ok(ended_without_access(seen.state).then(|| Step::new(change.clone())))
        })
        .await?;
        if let Err(e) = withdrawn {
            self.metrics.inc("warden_revoke_failures_total", "", 1);
            let text = format!(
                "Withdrawing a grant of {} that applied after request {} had ended is failing ({e}). Warden keeps retrying; the access may still be in place.",
                call.resource, req.id
            );
            self.alert_security(&req, &text).await;
        }
        Ok(())
    }

    /// The revoke of a late grant: as recorded, except that a hold on shared access that the
    /// request's earlier ending already gave up still removes the access when no other grant
    /// holds it (the late call put it back after that ending removed it).
    async fn revoke_late(
        &self,
        req: &mut Request,
        record: &GrantRecord,
        call: &GrantCall,
    ) -> Result<GrantReceipt, String> {
        if let Some(key) = &record.access_key {
            let holds = self.store.access_holds(key).await.map_err(|e| {
                tracing::warn!(request = %req.id, error = ?e, "could not read who holds a shared access");
                "could not read who else holds this access".to_string()
            })?;
            let id = req.id.as_str();
            if !holds.iter().any(|h| h.request_id == id) {
                if let Some(other) = holds.iter().find(|h| !h.releasing) {
                    return Ok(GrantReceipt::unchanged(
                        record.backend.clone(),
                        serde_json::json!({ "result": "still held by another active grant", HELD_BY: other.request_id }),
                    ));
                }
                return match self.grantors.get(&record.backend) {
                    Some(g) => self
                        .call_backend(g.as_ref(), call)
                        .await
                        .map_err(|e| e.to_string()),
                    None => Err(format!(
                        "no grant backend '{}' is configured",
                        record.backend
                    )),
                };
            }
        }
        self.revoke_as_recorded(req, record, call).await
    }
}

/// The request ended and holds no access of its own, so a grant record on it that is not yet
/// revoked is access still to be withdrawn.
fn ended_without_access(state: RequestState) -> bool {
    state.is_terminal() && state != RequestState::Applied
}

/// The log entry of a compensating revoke, whichever way it went.
fn revoke_entry(call: &GrantCall, result: &Result<GrantReceipt, String>, reason: &str) -> Entry {
    let (outcome, detail) = match result {
        Ok(r) => (CallOutcome::Ok, serde_json::to_value(r).unwrap_or_default()),
        Err(e) => (CallOutcome::Failed, serde_json::json!({ "error": e })),
    };
    Entry::warden(Evidence::RevokeCall {
        call: serde_json::to_value(call).unwrap_or_default(),
        outcome,
        detail,
        reason: reason.into(),
    })
}
