//! Drift reconciliation: each listable resource's target against Warden's active grants.
//!
//! Expected holders come from the grant records (`GrantReceipt::holder`; a grant recorded
//! `AlreadyHeld` is expected too: the access is the person's either way). Actual holders come
//! from the backend (`Grantor::holders`). Each resource is reconciled under a lease
//! (`reconcile:<resource>`), so two runs (the scheduled job on two instances, a CLI run) never
//! compare one target at once; what is found is a row in `drift_findings`, and in revoke mode
//! each finding is removed by the one worker that claims it (see `revoke.rs`).

use super::Engine;
use crate::domain::drift::compare;
use crate::domain::{DriftFinding, DriftKind, ReconcileMode, RequestState, Resource};
use crate::grants::Grantor;
use crate::store::RequestFilter;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

mod revoke;

/// How long a run waits for another run to finish with a resource before skipping it.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// Active grants read per run: far above any deployment's count; a larger one is an error.
const MAX_ACTIVE: i64 = 100_000;

/// How reconciling one resource ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "why")]
pub enum Outcome {
    /// Compared: `findings` is the drift seen now (empty: none).
    Checked,
    /// `reconcile = "off"` in the catalog.
    Off,
    /// The backend cannot list who holds the access (a webhook, the log, Discord roles).
    NotListable,
    /// Another run held the resource for longer than this one would wait.
    Busy,
    /// Listing failed; the cause is in the log.
    Failed(String),
}

/// One resource's result.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDrift {
    pub resource: String,
    pub backend: String,
    pub mode: ReconcileMode,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Holders the target listed.
    pub holders: usize,
    pub findings: Vec<DriftFinding>,
}

/// What one run found, resource by resource.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    pub resources: Vec<ResourceDrift>,
}

impl ReconcileReport {
    pub fn findings(&self) -> impl Iterator<Item = &DriftFinding> {
        self.resources.iter().flat_map(|r| r.findings.iter())
    }
}

/// Holders of the active grants a run compares against.
struct Expected {
    /// (backend, resource, holder)
    grants: Vec<(String, String, Option<String>)>,
}

impl Expected {
    fn here(&self, resource: &str) -> BTreeSet<String> {
        self.grants
            .iter()
            .filter(|(_, r, _)| r == resource)
            .filter_map(|(_, _, h)| h.clone())
            .collect()
    }

    fn on_backend(&self, backend: &str) -> BTreeSet<String> {
        self.grants
            .iter()
            .filter(|(b, _, _)| b == backend)
            .filter_map(|(_, _, h)| h.clone())
            .collect()
    }

    /// An active grant of the resource whose holder was never recorded (older records): what
    /// it gave cannot be told apart from drift, so nothing there is removed.
    fn unnamed(&self, resource: &str) -> bool {
        self.grants
            .iter()
            .any(|(_, r, h)| r == resource && h.is_none())
    }
}

impl Engine {
    /// Reconciles every catalog resource, or the one named. An unknown name is a `UserError`.
    pub async fn reconcile(&self, only: Option<&str>) -> anyhow::Result<ReconcileReport> {
        let resources: Vec<&Resource> = match only {
            Some(id) => vec![self.catalog.get(id).ok_or_else(|| {
                super::user_error(format!("The catalog has no resource `{id}`."))
            })?],
            None => self.catalog.resources().iter().collect(),
        };
        let mut report = ReconcileReport::default();
        for res in resources {
            report.resources.push(self.reconcile_one(res).await?);
        }
        Ok(report)
    }

    async fn expected(&self) -> anyhow::Result<Expected> {
        let active = self.store.active_grants(MAX_ACTIVE).await?;
        anyhow::ensure!(
            (active.len() as i64) < MAX_ACTIVE,
            "more than {MAX_ACTIVE} active grants: reconciliation would miss some"
        );
        let grants = active
            .iter()
            .filter_map(|r| r.grant.as_ref())
            .map(|g| {
                let holder = g.receipt.as_ref().and_then(|r| r.holder.clone());
                (g.backend.clone(), g.resource.clone(), holder)
            })
            .collect();
        Ok(Expected { grants })
    }

    async fn reconcile_one(&self, res: &Resource) -> anyhow::Result<ResourceDrift> {
        let mut out = ResourceDrift {
            resource: res.id.clone(),
            backend: res.grant.backend.clone(),
            mode: res.reconcile,
            outcome: Outcome::Checked,
            holders: 0,
            findings: Vec::new(),
        };
        if res.reconcile == ReconcileMode::Off {
            out.outcome = Outcome::Off;
            return Ok(out);
        }
        let Some(grantor) = self.grantors.get(&res.grant.backend) else {
            out.outcome = Outcome::Failed(format!("no grant backend `{}`", res.grant.backend));
            return Ok(out);
        };
        let key = format!("reconcile:{}", res.id);
        let Some(holder) = self.hold(&key).await? else {
            out.outcome = Outcome::Busy;
            return Ok(out);
        };
        let result = self.compare_and_act(res, grantor.as_ref(), &mut out).await;
        if let Err(e) = self.store.release_lease(&key, &holder).await {
            tracing::warn!(key, error = ?e, "could not release a reconciliation lease");
        }
        result.map(|()| out)
    }

    /// Takes the resource's lease, waiting a while for another run to finish with it.
    async fn hold(&self, key: &str) -> anyhow::Result<Option<String>> {
        let holder = format!("{}:{}", self.worker_id, uuid::Uuid::new_v4().simple());
        let lease_ms = self.options.reconcile_lease_secs as i64 * 1000;
        let give_up = Instant::now() + WAIT;
        loop {
            let now = self.now_ms();
            if self
                .store
                .try_lease(key, &holder, now, now + lease_ms)
                .await?
            {
                return Ok(Some(holder));
            }
            if Instant::now() >= give_up {
                return Ok(None);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The order of the reads is what makes removal safe: the target first, then whether a
    /// grant is in flight, then the active grants. Access a grant put on the target before the
    /// listing is either still in flight at the second read (removal waits) or committed before
    /// the third (expected): never removed as unmanaged.
    async fn compare_and_act(
        &self,
        res: &Resource,
        grantor: &dyn Grantor,
        out: &mut ResourceDrift,
    ) -> anyhow::Result<()> {
        let actual = match grantor.holders(res).await {
            Ok(Some(h)) => h,
            Ok(None) => {
                out.outcome = Outcome::NotListable;
                return Ok(());
            }
            Err(e) => {
                tracing::error!(resource = %res.id, error = %e, "ALERT: drift reconciliation could not list the holders");
                self.metrics.inc(
                    "warden_drift_list_failures_total",
                    &format!("resource=\"{}\"", label(&res.id)),
                    1,
                );
                out.outcome = Outcome::Failed(e.to_string());
                return Ok(());
            }
        };
        out.holders = actual.len();
        let in_flight = match res.reconcile {
            ReconcileMode::Revoke => self.grant_in_flight(res).await?,
            _ => false,
        };
        let expected = self.expected().await?;
        let here = expected.here(&res.id);
        let drift = compare(&here, &expected.on_backend(&res.grant.backend), &actual);
        let now = self.now_ms();
        for (kind, holder) in drift {
            let f = self
                .store
                .sight_drift(&res.id, &res.grant.backend, kind, &holder, now)
                .await?;
            if f.first_seen == now {
                self.alert_drift(&f).await;
            }
            out.findings.push(f);
        }
        let seen: Vec<String> = out.findings.iter().map(|f| f.id.clone()).collect();
        self.store.resolve_drift(&res.id, &seen, now).await?;
        if res.reconcile == ReconcileMode::Revoke {
            let hold_back = hold_back(res, &expected, in_flight);
            for f in out.findings.iter_mut() {
                if f.kind == DriftKind::Unmanaged {
                    self.remove(res, grantor, f, hold_back.as_deref()).await?;
                }
            }
        }
        Ok(())
    }

    /// Whether a grant of the resource is approved but not yet recorded: what it made on the
    /// target may not be in any grant record yet.
    async fn grant_in_flight(&self, res: &Resource) -> anyhow::Result<bool> {
        let approved = self
            .store
            .list_requests(&RequestFilter {
                resource: Some(res.id.clone()),
                state: Some(RequestState::Approved),
                limit: 1,
                ..Default::default()
            })
            .await?;
        Ok(!approved.is_empty())
    }
}

/// Why unmanaged access must not be removed now, if it must not: a grant of the resource is in
/// flight, or an active grant's holder is unnamed.
fn hold_back(res: &Resource, expected: &Expected, in_flight: bool) -> Option<String> {
    if expected.unnamed(&res.id) {
        return Some(
            "an active grant here has no recorded holder; removal waits until it ends".into(),
        );
    }
    in_flight.then(|| {
        "a grant of this resource is in flight; removal waits for the next run".to_string()
    })
}

/// A Prometheus label value, escaped.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
