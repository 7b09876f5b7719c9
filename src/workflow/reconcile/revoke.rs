//! Acting on drift: removing unmanaged access exactly once, alerting, and the scheduled job.

use super::{Engine, label};
use crate::chat::Scope;
use crate::domain::{
    DriftAction, DriftFinding, DriftKind, GrantReceipt, Platform, PlatformUser, Resource, ScopeKind,
};
use crate::grants::{GrantCall, GrantOp, Grantor, TargetIdentity};
use crate::store::ClaimedJob;

impl Engine {
    /// Removes an unmanaged holder's access through the backend's revoke, unless `hold_back`
    /// says why not now. Exactly once: the finding is claimed by compare-and-set (one worker
    /// wins), the call carries the finding's own idempotency key, and a finding already removed
    /// is never claimed again.
    pub(super) async fn remove(
        &self,
        res: &Resource,
        grantor: &dyn Grantor,
        f: &mut DriftFinding,
        hold_back: Option<&str>,
    ) -> anyhow::Result<()> {
        if let Some(why) = hold_back {
            self.store.defer_drift(&f.id, why).await?;
            if matches!(f.action, DriftAction::Reported | DriftAction::Deferred) {
                f.action = DriftAction::Deferred;
                f.detail = Some(why.to_string());
            }
            return Ok(());
        }
        let now = self.now_ms();
        let until = now + self.options.reconcile_lease_secs as i64 * 1000;
        if !self
            .store
            .claim_drift(&f.id, &self.worker_id, now, until)
            .await?
        {
            return Ok(()); // removed already, or another worker is removing it
        }
        let call = drift_revoke_call(res, f, self.clock.now());
        let (action, detail) = match self.call_backend(grantor, &call).await {
            Ok(r) => (DriftAction::Revoked, serde_json::to_string(&r.detail)?),
            Err(e) => (DriftAction::RevokeFailed, e.to_string()),
        };
        if action == DriftAction::Revoked {
            tracing::warn!(resource = %f.resource, holder = %f.holder, finding = %f.id, key = %call.idempotency_key, "drift: unmanaged access removed");
            self.metrics.inc(
                "warden_drift_revoked_total",
                &format!("resource=\"{}\"", label(&f.resource)),
                1,
            );
        } else {
            let text = format!(
                "Drift on {}: removing unmanaged access of {} failed; retried on the next run.",
                f.resource, f.holder
            );
            tracing::error!(finding = %f.id, error = %detail, "ALERT: {text}");
            self.metrics.inc("warden_drift_alerts_total", "", 1);
            self.alert_channel(&text).await;
        }
        if self
            .store
            .finish_drift(&f.id, &self.worker_id, action, &detail)
            .await?
        {
            f.action = action;
            f.detail = Some(detail);
        }
        Ok(())
    }

    /// A new finding: the log (an alert), the alert counter and the security channel.
    pub(super) async fn alert_drift(&self, f: &DriftFinding) {
        let text = match f.kind {
            DriftKind::Unmanaged => format!(
                "Drift on {}: {} holds access that no active grant accounts for.",
                f.resource, f.holder
            ),
            DriftKind::Missing => format!(
                "Drift on {}: the active grant to {} is missing on the target.",
                f.resource, f.holder
            ),
        };
        tracing::error!(resource = %f.resource, backend = %f.backend, kind = f.kind.as_str(), holder = %f.holder, finding = %f.id, "ALERT: {text}");
        self.metrics.inc("warden_drift_alerts_total", "", 1);
        self.alert_channel(&text).await;
    }

    /// A message to the security channel, if one is configured (no request to log it in).
    async fn alert_channel(&self, text: &str) {
        let Some((platform, channel)) = &self.options.security_channel else {
            return;
        };
        let scope = Scope {
            platform: *platform,
            workspace: String::new(),
            channel: channel.clone(),
            thread: None,
            kind: ScopeKind::Channel,
        };
        self.send_unlogged(&scope, text).await;
    }

    /// The scheduled run: reconciles everything, then re-arms itself one interval later (the
    /// job's lease keeps other instances out meanwhile).
    pub(crate) async fn exec_reconcile(&self, job: &ClaimedJob) -> anyhow::Result<()> {
        let report = self.reconcile(None).await?;
        let found = report.findings().count();
        tracing::info!(findings = found, "drift reconciliation run done");
        match self.options.reconcile_interval_secs {
            Some(secs) => {
                let next = self.now_ms() + secs as i64 * 1000;
                self.store.rearm_job(&job.claim, next).await?;
            }
            None => {
                self.store.complete_job(&job.claim).await?;
            }
        }
        Ok(())
    }

    /// On start: the reconciliation job exists and is due within one interval (none when off).
    pub async fn arm_reconcile(&self) -> anyhow::Result<()> {
        if let Some(secs) = self.options.reconcile_interval_secs {
            self.store
                .arm_reconcile(self.now_ms() + secs as i64 * 1000)
                .await?;
        }
        Ok(())
    }
}

/// The revoke call that removes one finding's access: the holder as the grant receipt names it
/// (what backends' revokes read), the finding's own key, today's catalog parameters (there is
/// no grant record: the access was never Warden's grant, or its record is gone).
fn drift_revoke_call(
    res: &Resource,
    f: &DriftFinding,
    now: chrono::DateTime<chrono::Utc>,
) -> GrantCall {
    let receipt = GrantReceipt::applied(
        res.grant.backend.clone(),
        serde_json::json!({ "drift_finding": f.id }),
    )
    .with_holder(f.holder.clone());
    GrantCall {
        op: GrantOp::Revoke,
        idempotency_key: f.revoke_key(),
        request_id: format!("drift-{}", f.id),
        resource: res.id.clone(),
        role: res
            .roles
            .first()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
        person: String::new(),
        account: PlatformUser::new(Platform::Console, "drift", f.holder.clone()),
        expires_at: now,
        params: res.grant.params.clone(),
        grant: Some(receipt),
        identity: TargetIdentity::default(),
    }
}
