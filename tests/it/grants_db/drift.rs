//! Drift reconciliation of `postgres` logins against the local server, with Warden's store on
//! SQLite and PostgreSQL: a login Warden made and never recorded is found, and in revoke mode
//! dropped exactly once however many runs race; a granted login dropped out of band is missing.

use super::pg_target::{PgTarget, grantor};
use super::{in_hours, request_id};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::wait::{PATIENCE, wait_until};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use warden::chat::CardAction;
use warden::domain::{
    Catalog, DriftAction, DriftKind, Platform, PlatformUser, RequestState, Resource,
};
use warden::grants::database::login_name;
use warden::grants::{GrantCall, GrantError, GrantOp, GrantReceipt, Grantor};
use warden::workflow::ReconcileOutcome;

on_both_databases!(
    a_login_left_behind_is_reported_then_dropped_exactly_once_by_two_racing_runs,
    a_granted_login_dropped_out_of_band_is_flagged_missing_and_a_live_one_is_no_drift,
    a_login_whose_grant_is_in_flight_is_left_alone_and_counts_once_recorded,
);

/// One resource, named after the target (the server is shared with other tests: holders are
/// listed per resource, so only this test's logins are in view).
fn catalog(t: &PgTarget, mode: &str) -> Catalog {
    Catalog::from_toml(&format!(
        r#"
[[resource]]
id = "{id}"
name = "Test database"
aliases = ["test db"]
roles = ["read"]
risk = "low"
max_duration = "1d"
default_duration = "1h"
reconcile = "{mode}"
grant = {{ backend = "postgres", server = "test", {params} }}
"#,
        id = t.tag,
        params = t.params()
    ))
    .expect("test catalog parses")
}

/// The real backend, counting revoke calls across every engine that shares the counter.
struct Counting {
    inner: Arc<dyn Grantor>,
    revokes: Arc<AtomicUsize>,
}

#[async_trait]
impl Grantor for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn holders(&self, r: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        self.inner.holders(r).await
    }
    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.inner.grant(call).await
    }
    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.revokes.fetch_add(1, Ordering::SeqCst);
        self.inner.revoke(call).await
    }
}

fn setup(t: &PgTarget, mode: &str, revokes: &Arc<AtomicUsize>) -> Setup {
    let g = Counting {
        inner: Arc::new(grantor()),
        revokes: revokes.clone(),
    };
    Setup {
        catalog: Arc::new(catalog(t, mode)),
        grantors: vec![Arc::new(g)],
        ..Setup::default()
    }
}

async fn a_login_left_behind_is_reported_then_dropped_exactly_once_by_two_racing_runs(db: TestDb) {
    let mut target = PgTarget::new().await;
    let revokes = Arc::new(AtomicUsize::new(0));
    let t = TestEngine::start(db, setup(&target, "report", &revokes)).await;
    // Made the way the backend makes it, for a request Warden has no grant for (a crash
    // before the grant was recorded, and the request gone since).
    let cat = catalog(&target, "report");
    let orphan_request = request_id();
    let c = GrantCall::new(
        GrantOp::Grant,
        &orphan_request,
        cat.get(&target.tag).unwrap(),
        "read",
        "alice",
        &PlatformUser::new(Platform::Console, "local", "alice"),
        in_hours(1),
        None,
    );
    grantor().grant(&c).await.expect("login made");
    let orphan = login_name(&orphan_request);
    assert!(target.role_exists(&orphan).await);

    let report = t.engine.reconcile(Some(&target.tag)).await.unwrap();
    let r = &report.resources[0];
    assert_eq!(r.outcome, ReconcileOutcome::Checked, "{report:?}");
    assert_eq!(r.findings.len(), 1, "{report:?}");
    let f = &r.findings[0];
    assert_eq!(
        (f.kind, f.holder.as_str()),
        (DriftKind::Unmanaged, orphan.as_str())
    );
    assert_eq!(f.action, DriftAction::Reported);
    assert!(
        target.role_exists(&orphan).await,
        "report mode removes nothing"
    );
    assert_eq!(revokes.load(Ordering::SeqCst), 0);

    // Revoke mode, two instances running at once.
    let a = t.restart(setup(&target, "revoke", &revokes)).await;
    let b = t.restart(setup(&target, "revoke", &revokes)).await;
    let (ra, rb) = tokio::join!(
        a.engine.reconcile(Some(&target.tag)),
        b.engine.reconcile(Some(&target.tag))
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(!target.role_exists(&orphan).await, "dropped: {ra:?} {rb:?}");
    assert_eq!(
        revokes.load(Ordering::SeqCst),
        1,
        "exactly once: {ra:?} {rb:?}"
    );
    let all = t
        .store
        .drift_findings(false, Some(&target.tag), 10)
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        1,
        "one finding, however many runs saw it: {all:?}"
    );
    assert_eq!(all[0].id, f.id, "the same finding");
    assert_eq!(all[0].action, DriftAction::Revoked, "{all:?}");

    // The next run no longer sees it: the finding closes; nothing is removed twice.
    let again = a.engine.reconcile(Some(&target.tag)).await.unwrap();
    assert!(again.findings().next().is_none(), "{again:?}");
    let all = t
        .store
        .drift_findings(false, Some(&target.tag), 10)
        .await
        .unwrap();
    assert!(all[0].resolved_at.is_some(), "{all:?}");
    assert!(
        t.store
            .drift_findings(true, Some(&target.tag), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(revokes.load(Ordering::SeqCst), 1);
    target.cleanup(&[]).await;
}

async fn a_granted_login_dropped_out_of_band_is_flagged_missing_and_a_live_one_is_no_drift(
    db: TestDb,
) {
    let mut target = PgTarget::new().await;
    let revokes = Arc::new(AtomicUsize::new(0));
    let t = TestEngine::start(db, setup(&target, "revoke", &revokes)).await;
    let id = t.request("alice", "need read on the test db for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    let login = login_name(&id);
    let record = t.row(&id).await.grant.unwrap();
    assert_eq!(
        record.receipt.unwrap().holder.as_deref(),
        Some(login.as_str()),
        "the receipt names the login"
    );

    let clean = t.engine.reconcile(Some(&target.tag)).await.unwrap();
    assert_eq!(clean.resources[0].holders, 1, "{clean:?}");
    assert!(
        clean.findings().next().is_none(),
        "a granted login is no drift: {clean:?}"
    );

    target.sql(format!("DROP ROLE {login}")).await;
    let report = t.engine.reconcile(Some(&target.tag)).await.unwrap();
    let found: Vec<_> = report
        .findings()
        .map(|f| (f.kind, f.holder.clone(), f.action))
        .collect();
    assert_eq!(
        found,
        [(DriftKind::Missing, login.clone(), DriftAction::Reported)],
        "{report:?}"
    );
    assert_eq!(
        revokes.load(Ordering::SeqCst),
        0,
        "a missing grant is flagged, never revoked"
    );
    target.cleanup(&[]).await;
}

/// Applies the grant, then never answers: the process "dies" with the login made and nothing
/// recorded (the request stays approved).
struct DiesAfterApplying(Arc<dyn Grantor>);

#[async_trait]
impl Grantor for DiesAfterApplying {
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn holders(&self, r: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        self.0.holders(r).await
    }
    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.0.grant(call).await?;
        std::future::pending().await
    }
    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.0.revoke(call).await
    }
}

async fn a_login_whose_grant_is_in_flight_is_left_alone_and_counts_once_recorded(db: TestDb) {
    let mut target = PgTarget::new().await;
    let revokes = Arc::new(AtomicUsize::new(0));
    let dying = Setup {
        catalog: Arc::new(catalog(&target, "revoke")),
        grantors: vec![Arc::new(DiesAfterApplying(Arc::new(grantor())))],
        ..Setup::default()
    };
    let t = TestEngine::start(db, dying).await;
    t.say("alice", "need read on the test db for 1h").await;
    let id = t.latest("alice").await;
    let login = login_name(&id);
    let submit = {
        let engine = t.engine.clone();
        let event = t.click_event("alice", CardAction::Submit, &id, None);
        tokio::spawn(async move { engine.handle(event).await })
    };
    let probe = PgTarget::probe();
    wait_until(PATIENCE, "the login to be made", || {
        let (probe, login) = (probe.clone(), login.clone());
        async move { PgTarget::exists(&probe, &login).await }
    })
    .await;
    submit.abort();
    let _ = submit.await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Approved,
        "nothing recorded"
    );

    // Revoke mode sees the login with no grant behind it, but the grant is in flight.
    let report = t.engine.reconcile(Some(&target.tag)).await.unwrap();
    let found: Vec<_> = report
        .findings()
        .map(|f| (f.kind, f.holder.clone(), f.action))
        .collect();
    assert_eq!(
        found,
        [(DriftKind::Unmanaged, login.clone(), DriftAction::Deferred)],
        "{report:?}"
    );
    assert!(
        target.role_exists(&login).await,
        "not removed while its grant is in flight"
    );
    assert_eq!(revokes.load(Ordering::SeqCst), 0);

    // A new process finishes the grant; the login is then expected, and the finding closes.
    let t2 = t.restart(setup(&target, "revoke", &revokes)).await;
    t2.advance(2).await;
    assert_eq!(
        t2.state(&id).await,
        RequestState::Active,
        "{}",
        t2.transcript()
    );
    let report = t2.engine.reconcile(Some(&target.tag)).await.unwrap();
    assert!(report.findings().next().is_none(), "{report:?}");
    assert!(target.role_exists(&login).await);
    assert_eq!(revokes.load(Ordering::SeqCst), 0);
    t2.advance(61).await;
    assert!(
        !target.role_exists(&login).await,
        "its own revoke drops it at expiry"
    );
    target.cleanup(&[]).await;
}
