//! Policy replay over real recorded decisions: what a stricter policy would change, with nothing
//! changed by asking.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use warden::chat::CardAction;
use warden::clock::Clock;
use warden::domain::RequestState;
use warden::policy::embedded::EmbeddedPolicy;
use warden::policy::replay::replay;

on_both_databases!(a_stricter_policy_replayed_names_each_changed_decision_and_changes_nothing,);

/// Everything needs the requester's manager.
pub const STRICT: &str = r#"package access
decision := {"outcome": "require_approval", "reasons": ["everything needs a manager"], "approvals": [{"from": "manager"}], "break_glass": false, "deny_reason_required": false}"#;

async fn a_stricter_policy_replayed_names_each_changed_decision_and_changes_nothing(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let since = t.clock.now_ms();
    let wiki = t
        .request(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    let denied = t
        .request(
            "bob",
            "/access request prod-db write for 1h because quick hotfix",
        )
        .await;
    let prod = t
        .request("alice", "need read on the prod billing db for 2h, INC-4411")
        .await;
    assert_eq!(
        t.click("dana", CardAction::Approve, &prod).await,
        warden::workflow::Handled::Done
    );
    assert_eq!(t.state(&wiki).await, RequestState::Active);
    assert_eq!(t.state(&denied).await, RequestState::Denied);
    let logged = t.store.log_entries(&wiki).await.unwrap().len();

    // The same policy: nothing would change.
    let same = replay(&t.store, t.engine.policy(), "shipped", since)
        .await
        .unwrap();
    assert_eq!(
        (same.decisions, same.requests, same.unchanged),
        (3, 3, 3),
        "{same:?}"
    );
    assert!(same.changes.is_empty(), "{same:?}");

    let strict = EmbeddedPolicy::from_source("strict.rego", STRICT).unwrap();
    let report = replay(&t.store, &strict, "strict.rego", since)
        .await
        .unwrap();
    assert_eq!(report.decisions, 3);
    let ids = |kind: &str| report.changes.get(kind).map(|g| g.request_ids.clone());
    assert_eq!(
        ids("allow → approval"),
        Some(vec![wiki.clone()]),
        "{}",
        report.to_text()
    );
    assert_eq!(
        ids("deny → approval"),
        Some(vec![denied.clone()]),
        "{}",
        report.to_text()
    );
    assert!(report.to_text().contains(&wiki), "{}", report.to_text());

    // Nothing changed by asking: states and logs as they were.
    assert_eq!(t.state(&wiki).await, RequestState::Active);
    assert_eq!(t.store.log_entries(&wiki).await.unwrap().len(), logged);
}
