//! The grant job: one backend call (idempotency key `<id>:grant`), then Approved → Active.
//!
//! What the grant changed (backend, parameters, account, and whether the person already had the
//! access) is recorded on the request at grant time; revocation reads that record, never
//! today's catalog. Whether the person held the access before is read from the target once,
//! before the first grant call, and recorded (`prior_access`); retries use that reading. A grant
//! that fails after a call that may have applied is withdrawn (`compensate`) before the request is
//! marked failed.

use super::Engine;
use super::prior_access::settled_effect;
use super::step::Step;
use crate::domain::evidence::CallOutcome;
use crate::domain::{
    Entry, Evidence, GrantReceipt, GrantRecord, Job, JobKind, Patch, PriorAccess, Request,
    RequestEvent, RequestState,
};
use crate::grants::{GrantCall, GrantError, GrantOp};
use crate::store::{Change, ClaimedJob};

/// Grant attempts before a transient failure counts as permanent.
const GRANT_ATTEMPTS: i64 = 5;

/// Grant and revoke retries: exponential from 5 s, at most 5 minutes apart.
pub(crate) fn backoff_ms(attempts: i64) -> i64 {
    (5_000i64 << attempts.clamp(0, 6)).min(300_000)
}

impl Engine {
    pub(crate) async fn exec_grant(&self, job: &ClaimedJob, req: Request) -> anyhow::Result<()> {
        if req.state != RequestState::Approved {
            self.store.complete_job(&job.claim).await?;
            return Ok(());
        }
        // The last decision point: a freeze set after the approval still stops the grant.
        if let Some(f) = self.freeze_on(&req).await? {
            return self.refuse_frozen_grant(job, req, &f).await;
        }
        if let Some(parent) = req.parent_id.clone() {
            // An extension request grants nothing of its own: it moves its parent's expiry.
            return self.apply_extension(job, req, &parent).await;
        }
        let resource = self.resource_of(&req)?.clone();
        let Some(grantor) = self.grantors.get(&resource.grant.backend) else {
            let why = format!(
                "no grant backend '{}' is configured",
                resource.grant.backend
            );
            return self.fail_grant(job, req, &why).await;
        };
        let mut secs = req.duration_secs().unwrap_or(3600).max(60) as i64;
        if req.break_glass {
            secs = secs.min(self.options.break_glass_secs as i64);
        }
        let now = self.now_ms();
        let expires_at = now + secs * 1000;
        let role = req.role().unwrap_or_default().to_string();
        let account = req.requester_account();
        let call = GrantCall::new(
            GrantOp::Grant,
            req.id.as_str(),
            &resource,
            &role,
            &req.requester_id,
            &account,
            crate::clock::from_ms(expires_at),
            None,
        )
        .for_person(self.target_person(&req, grantor.name()).await.as_ref());
        let mut req = req;
        // Shared access is joined before the target is read, so a grant of it ending meanwhile
        // hands its removal over instead of taking the access away under this one.
        let key = grantor.access_key(&call);
        if let Some(k) = &key
            && let Err(e) = self.join_holders(&mut req, k).await
        {
            return self
                .grant_failed(job, req, &call, None, e, key.as_deref())
                .await;
        }
        let prior = match self
            .prior_access(job, &mut req, grantor.as_ref(), &call, key.as_deref())
            .await
        {
            Ok(prior) => prior,
            Err(e) => {
                return self
                    .grant_failed(job, req, &call, None, e, key.as_deref())
                    .await;
            }
        };
        let attempted = GrantRecord {
            backend: grantor.name().to_string(),
            resource: resource.id.clone(),
            role: role.clone(),
            account,
            params: resource.grant.params.clone(),
            granted_at: now,
            // Held before: a withdrawal after a failed call must leave it in place too.
            receipt: (prior == Some(PriorAccess::Held)).then(|| {
                GrantReceipt::unchanged(
                    grantor.name(),
                    serde_json::json!({ "result": "held before the grant" }),
                )
            }),
            access_key: key.clone(),
            revoked_at: None,
            revoke_reason: None,
        };
        match self.call_backend(grantor.as_ref(), &call).await {
            Ok(mut receipt) => {
                // Held in memory only, and handed over after the commit (`credentials.rs`).
                let credential = receipt.credential.take();
                receipt.effect = settled_effect(prior, receipt.effect, job.attempts > 1);
                let record = GrantRecord {
                    receipt: Some(receipt.clone()),
                    ..attempted
                };
                let mut told = format!(
                    "Access granted: {role} on {} {}. Request {}. Say \"revoke {}\" when you're done.",
                    resource.name,
                    self.until(expires_at),
                    req.id,
                    req.id
                );
                if credential.is_some() {
                    told.push_str(" Your login details are sent to you privately.");
                }
                // An agent's is sealed and kept before the commit, so the first status read
                // that sees the grant active finds it.
                let kept = match (&credential, req.is_agent()) {
                    (Some(c), true) => Some(self.stash_for_agent(&req, c).await),
                    _ => None,
                };
                let call_json = serde_json::to_value(&call)?;
                let receipt_json = serde_json::to_value(&receipt)?;
                let warn_at = expires_at - (self.options.expiry_warning_before_secs as i64) * 1000;
                let status = format!("Granted {}", self.until(expires_at));
                let id = req.id.to_string();
                let granted = self
                    .change_request_from(&id, Some(req), |seen| {
                        if seen.state != RequestState::Approved {
                            return Ok(None);
                        }
                        let mut change = Change::event(RequestEvent::Granted)
                            .patch(Patch {
                                expires_at: Some(Some(expires_at)),
                                grant: Some(record.clone()),
                                ..Default::default()
                            })
                            .log(Entry::warden(Evidence::GrantCall {
                                call: call_json.clone(),
                                outcome: CallOutcome::Ok,
                                detail: receipt_json.clone(),
                                attempt: job.attempts,
                            }))
                            .log(Entry::warden(Evidence::StateChange {
                                from: RequestState::Approved,
                                to: RequestState::Active,
                                why: None,
                            }))
                            .schedule(Job::Expire, expires_at)
                            .complete(Some(job.claim.clone()));
                        if warn_at > now {
                            change = change.schedule(Job::Warn, warn_at);
                        }
                        Ok(Some(
                            Step::new(change).cards(status.clone()).tell(told.clone()),
                        ))
                    })
                    .await?;
                match granted {
                    None => {
                        if kept.is_some() {
                            self.forget_agent_credential(&id).await;
                        }
                        self.withdraw_late_grant(job, &id, record).await?;
                    }
                    Some(active) => {
                        self.metrics.inc(
                            "warden_grants_total",
                            &format!("backend=\"{}\"", grantor.name()),
                            1,
                        );
                        // A grant taken back at once by a freeze hands out no credential.
                        let frozen = self.revoke_if_frozen_meanwhile(&active).await;
                        match (frozen, &credential, kept) {
                            (true, _, Some(_)) => self.forget_agent_credential(&id).await,
                            (false, Some(c), Some(kept)) => {
                                Box::pin(self.agent_credential_kept(&active, c, kept)).await
                            }
                            (false, Some(c), None) => {
                                let what = format!("{role} on {}", resource.name);
                                Box::pin(self.deliver_credential(&active, &what, c)).await;
                            }
                            _ => {}
                        }
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.grant_failed(job, req, &call, Some(attempted), e, key.as_deref())
                    .await
            }
        }
    }

    /// A grant (or the reading before it) failed: retried while transient, withdrawn when a
    /// call may have applied, else the request fails with nothing granted. `attempted` is
    /// `None` when the failure came before any grant call.
    async fn grant_failed(
        &self,
        job: &ClaimedJob,
        req: Request,
        call: &GrantCall,
        attempted: Option<GrantRecord>,
        e: GrantError,
        key: Option<&str>,
    ) -> anyhow::Result<()> {
        match (e, attempted) {
            (GrantError::Transient(why), _) if job.attempts < GRANT_ATTEMPTS => {
                let entry = Entry::warden(Evidence::GrantCall {
                    call: serde_json::to_value(call)?,
                    outcome: CallOutcome::Retrying,
                    detail: serde_json::json!({ "error": why }),
                    attempt: job.attempts,
                });
                self.change_request_from(req.id.as_str(), Some(req.clone()), |_| {
                    Ok(Some(Step::new(Change::none().log(entry.clone()))))
                })
                .await?;
                let at = self.now_ms() + backoff_ms(job.attempts);
                self.store.retry_job(&job.claim, at, &why).await
            }
            // A failure after a call that may have applied (a timeout, retries used up, or any
            // failure on a retry) must not end as "nothing was granted": withdraw it first.
            (e, Some(attempted)) if e.may_have_applied() || job.attempts > 1 => {
                self.withdraw_failed_grant(job, req, attempted, &e.to_string())
                    .await
            }
            // No grant call was made: an observing backend is called only after its first
            // reading is recorded, and a recorded reading is never read again. A hold on
            // shared access is given up first (handed over if another grant holds it too).
            (e, _) => {
                let mut req = req;
                if let Some(k) = key {
                    self.end_hold(&mut req, k, false).await?;
                }
                self.fail_grant(job, req, &e.to_string()).await
            }
        }
    }

    /// A freeze that landed while the backend call was in flight: a freeze's revoke pass lists
    /// only what is active, so this grant, active from now, is taken back by its own job.
    /// Returns whether it was frozen (and so is being taken back).
    /// The grant job is already complete, so failures here are logged, not retried as the job:
    /// a revoke job that was committed is run by the scheduler once its lease lapses.
    async fn revoke_if_frozen_meanwhile(&self, active: &Request) -> bool {
        let f = match self.freeze_on(active).await {
            Ok(Some(f)) => f,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(request = %active.id, error = ?e, "could not read freezes after a grant");
                return false;
            }
        };
        tracing::warn!(request = %active.id, freeze = %f.id, "granted while a freeze landed; revoking");
        let reason = format!("frozen ({}) while granting: {}", f.id, f.reason);
        if let Err(e) = Box::pin(self.revoke_early(active, "warden", &reason, None)).await {
            tracing::error!(request = %active.id, error = ?e, "could not start the revoke of a grant made into a frozen scope");
        }
        true
    }

    async fn fail_grant(&self, job: &ClaimedJob, req: Request, why: &str) -> anyhow::Result<()> {
        tracing::error!(request = %req.id, why, "granting failed");
        let alert = format!(
            "Granting {} for request {} failed and will not be retried: {why}. Nothing was granted.",
            req.resource().unwrap_or("a resource"),
            req.id
        );
        let for_alert = req.clone();
        let told = format!(
            "Request {} was approved, but granting the access failed. Nothing was granted; an admin has been told.",
            req.id
        );
        let id = req.id.to_string();
        let failed = self
            .change_request_from(&id, Some(req), |seen| {
                if seen.state != RequestState::Approved {
                    return Ok(None);
                }
                let change = Change::event(RequestEvent::Fail)
                    .log(Entry::warden(Evidence::Error(
                        serde_json::json!({ "grant_failed": why }),
                    )))
                    .cancel(&[JobKind::Expire])
                    .complete(Some(job.claim.clone()));
                Ok(Some(
                    Step::new(change)
                        .cards("Approved, but granting failed")
                        .tell(told.clone()),
                ))
            })
            .await?;
        if failed.is_none() {
            self.store.complete_job(&job.claim).await?;
        } else {
            // The requester was told an admin knows: make it so.
            self.metrics.inc("warden_grant_failures_total", "", 1);
            self.alert_security(&for_alert, &alert).await;
        }
        Ok(())
    }
}

impl Engine {
    /// The requester as the directory knows them now, for targets with accounts of their own
    /// (`backend` needs an identity); `None` without a directory read for every other backend.
    /// A directory that fails leaves the identity empty: such a backend then refuses the call
    /// permanently rather than guessing an account.
    pub(super) async fn target_person(
        &self,
        req: &Request,
        backend: &str,
    ) -> Option<crate::domain::Person> {
        if !self
            .grantors
            .get(backend)
            .is_some_and(|g| g.needs_identity())
        {
            return None;
        }
        match self.directory.person(&req.requester_id).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "directory read failed before a grant");
                None
            }
        }
    }
}
