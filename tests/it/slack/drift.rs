//! Drift reconciliation of a Slack user group against the fake Web API: a member added out of
//! band is found and, in revoke mode, removed once while the granted member stays; and the
//! scheduled job runs it and re-arms itself.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::slack::FakeSlack;
use secrecy::SecretString;
use std::sync::Arc;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::slack::usergroup::SlackUsergroupGrantor;
use warden::domain::{Catalog, DriftAction, DriftKind, JobKind, RequestState};
use warden::workflow::{ReconcileOutcome, WorkflowOptions};

on_both_databases!(
    a_member_added_out_of_band_is_removed_once_and_the_granted_member_stays,
    the_scheduled_job_reports_drift_and_re_arms_itself,
);

const GROUP: &str = "S0WIKI";

/// The example deployment with the wiki granted as membership of `GROUP`, reconciled in `mode`.
fn setup(api_url: &str, mode: &str, options: WorkflowOptions) -> Setup {
    let text = warden::app::EXAMPLE_CATALOG.replace(
        "roles = [\"edit\"]\nrisk = \"low\"",
        &format!("roles = [\"edit\"]\nrisk = \"low\"\nreconcile = \"{mode}\"\ngrant = {{ backend = \"slack_usergroup\", usergroup = \"{GROUP}\" }}"),
    );
    assert!(text.contains(GROUP), "the example catalog changed shape");
    let api = SlackApi::new(
        Some(api_url),
        &SecretString::from("xoxb-test-token"),
        ApiOptions::default(),
    )
    .unwrap();
    Setup {
        catalog: Arc::new(Catalog::from_toml(&text).unwrap()),
        grantors: vec![Arc::new(SlackUsergroupGrantor::new(Arc::new(api)))],
        options,
        ..Setup::default()
    }
}

fn updates(fake: &FakeSlack) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.method == "usergroups.users.update")
        .count()
}

async fn a_member_added_out_of_band_is_removed_once_and_the_granted_member_stays(db: TestDb) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    fake.set_usergroup(GROUP, &[]);
    let t = TestEngine::start(db, setup(&url, "revoke", WorkflowOptions::default())).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    let receipt = t.row(&id).await.grant.unwrap().receipt.unwrap();
    assert_eq!(receipt.holder.as_deref(), Some("S0WIKI:alice"));

    fake.set_usergroup(GROUP, &["alice", "mallory"]);
    let before = updates(&fake);
    let report = t.engine.reconcile(Some("wiki")).await.unwrap();
    let r = &report.resources[0];
    assert_eq!(
        (r.outcome.clone(), r.holders),
        (ReconcileOutcome::Checked, 2),
        "{report:?}"
    );
    let found: Vec<_> = report
        .findings()
        .map(|f| (f.kind, f.holder.clone(), f.action))
        .collect();
    assert_eq!(
        found,
        [(
            DriftKind::Unmanaged,
            "S0WIKI:mallory".to_string(),
            DriftAction::Revoked
        )],
        "{report:?}"
    );
    // What `warden reconcile --format json` prints.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["resources"][0]["status"], "checked", "{json}");
    assert_eq!(json["resources"][0]["mode"], "revoke", "{json}");
    assert_eq!(
        json["resources"][0]["findings"][0]["action"], "revoked",
        "{json}"
    );
    assert_eq!(
        fake.usergroup(GROUP),
        ["alice"],
        "only the unmanaged member is removed"
    );
    assert_eq!(updates(&fake) - before, 1);

    // Again: nothing left to find, nothing written.
    let again = t.engine.reconcile(Some("wiki")).await.unwrap();
    assert!(again.findings().next().is_none(), "{again:?}");
    assert_eq!(updates(&fake) - before, 1, "removed once");

    // The grant's own revoke still removes alice at expiry, from the recorded group.
    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert!(!fake.usergroup(GROUP).contains(&"alice".to_string()) || fake.is_disabled(GROUP));
}

async fn the_scheduled_job_reports_drift_and_re_arms_itself(db: TestDb) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    fake.set_usergroup(GROUP, &["mallory"]);
    let options = WorkflowOptions {
        reconcile_interval_secs: Some(15 * 60),
        ..WorkflowOptions::default()
    };
    let t = TestEngine::start(db, setup(&url, "report", options)).await;
    t.engine.arm_reconcile().await.unwrap();
    let job = JobKind::RECONCILE_ID;
    assert_eq!(t.store.job_status(job).await.unwrap().unwrap().0, "pending");
    t.advance(5).await;
    assert!(
        t.store
            .drift_findings(true, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );

    t.advance(11).await;
    let open = t.store.drift_findings(true, None, 10).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0].kind, open[0].holder.as_str()),
        (DriftKind::Unmanaged, "S0WIKI:mallory")
    );
    assert_eq!(open[0].action, DriftAction::Reported, "report mode");
    assert_eq!(
        fake.usergroup(GROUP),
        ["mallory"],
        "report mode removes nothing"
    );
    assert_eq!(
        t.store.job_status(job).await.unwrap().unwrap().0,
        "pending",
        "re-armed for the next interval"
    );
    // A second instance arming at start leaves the pending job alone.
    t.engine.arm_reconcile().await.unwrap();

    // Removed out of band: the next run closes the finding.
    fake.set_usergroup(GROUP, &["bob"]);
    t.advance(16).await;
    let open = t.store.drift_findings(true, None, 10).await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].holder, "S0WIKI:bob");
    let all = t.store.drift_findings(false, None, 10).await.unwrap();
    assert_eq!(all.len(), 2, "mallory's finding closed: {all:?}");
}
