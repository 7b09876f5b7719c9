//! The kill switch in the workflow: the freeze check each decision point makes, and revoking
//! every active grant in a frozen scope, concurrently and through the one revoke path.
//!
//! The freezes are read from the store at every decision (one small indexed read), never
//! cached, so a freeze set on one instance holds on every instance from its commit on.

use super::freeze_step_up::{AdminActor, StepUpRequired};
use super::step::Step;
use super::{Engine, Handled, UserError, user_error};
use crate::domain::text::sanitize_free_text;
use crate::domain::{
    AdminAction, AdminGate, Confirmation, Entry, Evidence, Freeze, FreezeScope, JobKind, Request,
    RequestEvent, RequestState, Subject, freeze::covering,
};
use crate::store::{Change, ClaimedJob, Frozen};
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;

/// Revokes run at once when a freeze revokes, unless the caller says otherwise.
pub const DEFAULT_REVOKE_CONCURRENCY: usize = 8;

/// How one revoke of a freeze ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeOutcome {
    /// The backend removed the access; the request is revoked.
    Revoked,
    /// The request was no longer active when its turn came (expired or revoked meanwhile).
    AlreadyEnded,
    /// The backend failed; the revoke job keeps retrying with alerts, access is still in place.
    Retrying,
    /// Warden could not start the revoke (see the log).
    Error,
}

/// One revoke done, for progress reports.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeProgress {
    pub done: usize,
    pub total: usize,
    pub request_id: String,
    pub outcome: RevokeOutcome,
}

/// What a freeze's revoke did, in counts and the requests that still hold access.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RevokeSummary {
    pub total: usize,
    pub revoked: usize,
    pub already_ended: usize,
    /// Requests whose access is still in place (backend failing, retried by the scheduler).
    pub still_active: Vec<String>,
    pub elapsed_ms: u128,
}

impl Engine {
    /// The first freeze in force that covers a request for `subject` on `resource`.
    pub(crate) async fn freeze_covering(
        &self,
        subject: Subject<'_>,
        resource: Option<&str>,
    ) -> anyhow::Result<Option<Freeze>> {
        let freezes = self.store.active_freezes().await?;
        Ok(covering(&freezes, subject, resource).cloned())
    }

    /// Refuses with the freeze's short chat notice when one covers this request.
    pub(crate) async fn refuse_if_frozen(
        &self,
        subject: Subject<'_>,
        resource: Option<&str>,
    ) -> anyhow::Result<()> {
        match self.freeze_covering(subject, resource).await? {
            Some(f) => {
                self.metrics.inc("warden_freeze_refusals_total", "", 1);
                Err(user_error(f.chat_notice()))
            }
            None => Ok(()),
        }
    }

    /// The freeze covering a stored request, if any.
    pub(crate) async fn freeze_on(&self, req: &Request) -> anyhow::Result<Option<Freeze>> {
        self.freeze_covering(req.subject(), req.resource()).await
    }

    /// Freezes a scope (or finds the freeze already on it). A resource must be in the catalog,
    /// so a typo cannot leave the real resource open while the admin believes it frozen.
    /// Where the policy requires a passkey for freezing, this refuses with `StepUpRequired`
    /// (the web UI then asks for one); a PDP fault never holds a freeze up.
    pub async fn freeze(
        &self,
        scope: &FreezeScope,
        actor: &AdminActor,
        reason: &str,
    ) -> anyhow::Result<Frozen> {
        self.check_freeze(scope, reason)?;
        if self
            .admin_gate(AdminAction::Freeze, actor, None, scope)
            .await
            == AdminGate::StepUp
        {
            return Err(StepUpRequired(AdminAction::Freeze).into());
        }
        self.commit_freeze(scope, &actor.name, reason, None).await
    }

    /// `warden freeze --break-glass-local`: on the host, past a policy that asks for a passkey
    /// to freeze. Recorded on the freeze and logged loudly.
    pub async fn freeze_locally(
        &self,
        scope: &FreezeScope,
        actor: &AdminActor,
        reason: &str,
        host_user: &str,
    ) -> anyhow::Result<Frozen> {
        self.check_freeze(scope, reason)?;
        let gate = self
            .admin_gate(AdminAction::Freeze, actor, None, scope)
            .await;
        let confirmation = (gate == AdminGate::StepUp).then(|| {
            tracing::error!(scope = %scope, actor = %actor.name, host_user, "kill switch set without the passkey the policy requires (--break-glass-local on the host)");
            Confirmation::LocalOverride {
                host_user: host_user.to_string(),
            }
        });
        self.commit_freeze(scope, &actor.name, reason, confirmation.as_ref())
            .await
    }

    /// The checks every freeze passes, with or without step-up.
    pub(crate) fn check_freeze(&self, scope: &FreezeScope, reason: &str) -> anyhow::Result<()> {
        if sanitize_free_text(reason, 500).trim().is_empty() {
            return Err(user_error("A freeze needs a reason."));
        }
        if let FreezeScope::Resource(id) = scope
            && self.catalog.get(id).is_none()
        {
            return Err(user_error(format!(
                "There is no resource '{id}' in the catalog; nothing was frozen."
            )));
        }
        // Likewise an agent must be registered: a misspelt id would freeze nothing.
        if let FreezeScope::Agent(id) = scope
            && self.agents.get(id).is_none()
        {
            return Err(user_error(format!(
                "There is no agent '{id}' in the agent registry; nothing was frozen."
            )));
        }
        Ok(())
    }

    /// Records a freeze that passed its checks (and its step-up, kept as `confirmation`).
    pub(crate) async fn commit_freeze(
        &self,
        scope: &FreezeScope,
        actor: &str,
        reason: &str,
        confirmation: Option<&Confirmation>,
    ) -> anyhow::Result<Frozen> {
        self.check_freeze(scope, reason)?;
        let reason = sanitize_free_text(reason, 500);
        let frozen = self
            .store
            .freeze(scope, actor, reason.trim(), self.now_ms(), confirmation)
            .await?;
        if let Frozen::New(f) = &frozen {
            tracing::warn!(freeze = %f.id, scope = %f.scope, actor, reason = %f.reason, "KILL SWITCH: new grants frozen");
            self.metrics.inc(
                "warden_freezes_total",
                &format!("scope=\"{}\"", scope.kind()),
                1,
            );
        }
        Ok(frozen)
    }

    /// The active freeze `id` and what the policy requires to lift it; `None` if no active
    /// freeze has that id. Refuses a lift without a reason, or one the policy denies.
    pub(crate) async fn lift_gate(
        &self,
        id: &str,
        actor: &AdminActor,
        reason: &str,
    ) -> anyhow::Result<Option<(Freeze, AdminGate)>> {
        if sanitize_free_text(reason, 500).trim().is_empty() {
            return Err(user_error("Lifting a freeze needs a reason."));
        }
        let Some(f) = self
            .store
            .freeze_by_id(id.trim())
            .await?
            .filter(Freeze::is_active)
        else {
            return Ok(None);
        };
        let gate = self
            .admin_gate(AdminAction::Unfreeze, actor, Some(&f.id), &f.scope)
            .await;
        if let AdminGate::Refused(reasons) = &gate {
            return Err(user_error(format!(
                "The policy does not allow lifting freeze {}: {}. Nothing was changed.",
                f.id,
                reasons.join("; ")
            )));
        }
        Ok(Some((f, gate)))
    }

    /// Lifts a freeze, explicitly and with a reason; `None` if no active freeze has that id.
    /// Where the policy requires a passkey (the shipped policy does: lifting re-opens access),
    /// this refuses with `StepUpRequired`; only the web UI's passkey confirmation lifts it then.
    pub async fn unfreeze(
        &self,
        id: &str,
        actor: &AdminActor,
        reason: &str,
    ) -> anyhow::Result<Option<Freeze>> {
        match self.lift_gate(id, actor, reason).await? {
            None => Ok(None),
            Some((_, AdminGate::StepUp)) => Err(StepUpRequired(AdminAction::Unfreeze).into()),
            Some((f, _)) => self.commit_unfreeze(&f.id, &actor.name, reason, None).await,
        }
    }

    /// `warden unfreeze --break-glass-local`: on the host, past a policy that asks for a
    /// passkey (a policy deny still stands). Recorded on the freeze and logged loudly.
    pub async fn unfreeze_locally(
        &self,
        id: &str,
        actor: &AdminActor,
        reason: &str,
        host_user: &str,
    ) -> anyhow::Result<Option<Freeze>> {
        let (f, gate) = match self.lift_gate(id, actor, reason).await? {
            None => return Ok(None),
            Some(found) => found,
        };
        let confirmation = (gate == AdminGate::StepUp).then(|| {
            tracing::error!(freeze = %f.id, scope = %f.scope, actor = %actor.name, host_user, "KILL SWITCH LIFTED WITHOUT THE PASSKEY THE POLICY REQUIRES (--break-glass-local on the host)");
            self.metrics.inc("warden_unfreeze_local_overrides_total", "", 1);
            Confirmation::LocalOverride {
                host_user: host_user.to_string(),
            }
        });
        self.commit_unfreeze(&f.id, &actor.name, reason, confirmation.as_ref())
            .await
    }

    /// Records the lifting of a freeze (and its step-up, kept as `confirmation`).
    pub(crate) async fn commit_unfreeze(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        confirmation: Option<&Confirmation>,
    ) -> anyhow::Result<Option<Freeze>> {
        let reason = sanitize_free_text(reason, 500);
        if reason.trim().is_empty() {
            return Err(user_error("Lifting a freeze needs a reason."));
        }
        let lifted = self
            .store
            .unfreeze(id.trim(), actor, reason.trim(), self.now_ms(), confirmation)
            .await?;
        if let Some(f) = &lifted {
            tracing::warn!(freeze = %f.id, scope = %f.scope, actor, reason = %reason.trim(), confirmed = confirmation.is_some(), "kill switch lifted");
        }
        Ok(lifted)
    }

    /// Revokes every active grant in `freeze`'s scope, `concurrency` at a time, each through
    /// `revoke_early` (its revoke job `<id>:revoke` is the backend's idempotency key, so each
    /// grant is revoked once) and logged in its request's context log with `actor` and the
    /// freeze's reference and reason. `progress` hears about each revoke as it ends.
    pub async fn revoke_frozen(
        self: &Arc<Self>,
        freeze: &Freeze,
        actor: &str,
        concurrency: usize,
        progress: &(dyn Fn(&RevokeProgress) + Sync),
    ) -> anyhow::Result<RevokeSummary> {
        let started = std::time::Instant::now();
        let active: Vec<Request> = self
            .store
            .active_grants(i64::MAX)
            .await?
            .into_iter()
            .filter(|r| freeze.scope.covers(r.subject(), r.resource()))
            .collect();
        let total = active.len();
        let reason = format!("frozen ({}): {}", freeze.id, freeze.reason);
        tracing::warn!(freeze = %freeze.id, total, "revoking every active grant in the frozen scope");
        let mut summary = RevokeSummary {
            total,
            ..Default::default()
        };
        let mut ends = futures::stream::iter(active)
            .map(|req| {
                // Each revoke on its own task: it starts at the bottom of a worker's stack (a
                // revoke runs its job inline, deep on PostgreSQL), and it finishes even if the
                // caller goes away (an HTTP client that disconnects).
                let (engine, actor, reason) = (self.clone(), actor.to_string(), reason.clone());
                let id = req.id.to_string();
                async move {
                    let task =
                        tokio::spawn(async move { engine.revoke_one(req, &actor, &reason).await });
                    task.await.unwrap_or_else(|e| {
                        tracing::error!(request = %id, error = ?e, "a freeze's revoke task failed");
                        (id, RevokeOutcome::Error)
                    })
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((id, outcome)) = ends.next().await {
            match outcome {
                RevokeOutcome::Revoked => summary.revoked += 1,
                RevokeOutcome::AlreadyEnded => summary.already_ended += 1,
                RevokeOutcome::Retrying | RevokeOutcome::Error => {
                    summary.still_active.push(id.clone())
                }
            }
            let done = summary.revoked + summary.already_ended + summary.still_active.len();
            progress(&RevokeProgress {
                done,
                total,
                request_id: id,
                outcome,
            });
        }
        summary.elapsed_ms = started.elapsed().as_millis();
        Ok(summary)
    }

    async fn revoke_one(&self, req: Request, actor: &str, reason: &str) -> (String, RevokeOutcome) {
        let id = req.id.to_string();
        let outcome = match self.revoke_early(&req, actor, reason, None).await {
            Ok(Handled::Done | Handled::Duplicate | Handled::Refused(_)) => {
                match self.store.get_request(&id).await {
                    Ok(Some(r)) if r.state == RequestState::Active => RevokeOutcome::Retrying,
                    Ok(Some(r)) if r.state == RequestState::Revoked => RevokeOutcome::Revoked,
                    Ok(Some(_)) => RevokeOutcome::AlreadyEnded,
                    Ok(None) | Err(_) => RevokeOutcome::Error,
                }
            }
            Err(e) if e.downcast_ref::<UserError>().is_some() => RevokeOutcome::AlreadyEnded,
            Err(e) => {
                tracing::error!(request = %id, error = ?e, "a freeze could not revoke this grant");
                RevokeOutcome::Error
            }
        };
        (id, outcome)
    }
}

impl Engine {
    /// An approved request in a frozen scope: no backend call; the request fails closed and
    /// the requester is told it can be asked for again once the freeze is lifted.
    pub(super) async fn refuse_frozen_grant(
        &self,
        job: &ClaimedJob,
        req: Request,
        freeze: &Freeze,
    ) -> anyhow::Result<()> {
        tracing::warn!(request = %req.id, freeze = %freeze.id, "grant refused: the scope is frozen");
        let mut req = req;
        if job.attempts > 1 {
            // An earlier attempt may have joined a shared access before it was retried.
            self.let_go_of_holds(&mut req).await?;
        }
        let told = format!(
            "Request {} was not granted. {}",
            req.id,
            freeze.chat_notice()
        );
        let why = format!("frozen ({}): {}", freeze.id, freeze.reason);
        let id = req.id.to_string();
        let failed = self
            .change_request_from(&id, Some(req), |seen| {
                if seen.state != RequestState::Approved {
                    return Ok(None);
                }
                let change = Change::event(RequestEvent::Fail)
                    .log(Entry::warden(Evidence::Refusal {
                        action: "grant".into(),
                        why: why.clone(),
                    }))
                    .log(Entry::warden(Evidence::StateChange {
                        from: RequestState::Approved,
                        to: RequestState::Failed,
                        why: Some(why.clone()),
                    }))
                    .cancel(&[JobKind::Expire])
                    .complete(Some(job.claim.clone()));
                Ok(Some(
                    Step::new(change)
                        .cards(format!("Not granted: frozen ({})", freeze.id))
                        .tell(told.clone()),
                ))
            })
            .await?;
        if failed.is_none() {
            self.store.complete_job(&job.claim).await?;
        }
        self.metrics.inc("warden_freeze_refusals_total", "", 1);
        Ok(())
    }
}
