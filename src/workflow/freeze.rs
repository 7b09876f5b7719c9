//! The kill switch in the workflow: the freeze check each decision point makes (and a grant
//! refused in a frozen scope), and setting and lifting a freeze with its confirmation gate.
//!
//! The freezes are read from the store at every decision (one small indexed read), never
//! cached, so a freeze set on one instance holds on every instance from its commit on.

use super::freeze_step_up::{AdminActor, StepUpRequired};
use super::step::Step;
use super::{Engine, user_error};
use crate::domain::text::sanitize_free_text;
use crate::domain::{
    AdminAction, AdminGate, Confirmation, Entry, Evidence, Freeze, FreezeScope, JobKind, Request,
    RequestEvent, RequestState, Subject, freeze::covering,
};
use crate::store::{Change, ClaimedJob, Frozen};

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
