//! Drift reconciliation of an Okta group against the fake Okta API: a member added out of band
//! is found and, in revoke mode, removed exactly once, while the member Warden granted stays
//! until their grant ends.

use super::catalog;
use super::okta::by_token;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::okta::FakeOkta;
use std::sync::Arc;
use warden::domain::{DriftAction, DriftKind, RequestState};
use warden::workflow::ReconcileOutcome;

on_both_databases!(an_out_of_band_okta_member_is_removed_once_and_the_granted_member_stays,);

const GROUP: &str = "00gdrift";

fn deletes(f: &FakeOkta) -> usize {
    f.common()
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .count()
}

async fn an_out_of_band_okta_member_is_removed_once_and_the_granted_member_stays(db: TestDb) {
    let f = FakeOkta::start().await;
    f.user("00ualice", "alice@example.com");
    f.user("00umallory", "mallory@example.com");
    f.group(GROUP, &[]);
    // The shared test catalog's resource, reconciled in revoke mode (the line after `grant`).
    let cat = catalog(&format!(
        "{{ backend = \"okta\", group_id = \"{GROUP}\" }}\nreconcile = \"revoke\""
    ));
    let t = TestEngine::start(
        db,
        Setup {
            catalog: Arc::new(cat),
            grantors: vec![Arc::new(by_token(&f))],
            ..Setup::default()
        },
    )
    .await;
    let id = t.request("alice", "need read on the saas app for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert_eq!(f.members(GROUP), ["00ualice"]);

    // Someone adds mallory in the Okta admin console.
    f.group(GROUP, &["00ualice", "00umallory"]);
    let before = deletes(&f);
    let report = t.engine.reconcile(Some("app")).await.unwrap();
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
            "00umallory".to_string(),
            DriftAction::Revoked
        )],
        "{report:?}"
    );
    assert_eq!(f.members(GROUP), ["00ualice"], "only mallory is removed");
    assert_eq!(deletes(&f) - before, 1);

    // A second run finds nothing and calls nothing.
    let again = t.engine.reconcile(Some("app")).await.unwrap();
    assert!(again.findings().next().is_none(), "{again:?}");
    assert_eq!(deletes(&f) - before, 1, "removed exactly once");

    // Alice's own grant still ends at expiry, through the recorded holder.
    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert!(f.members(GROUP).is_empty(), "{:?}", f.members(GROUP));
}
