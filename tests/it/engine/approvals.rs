//! Approvals: quorum, ordered steps, required deny reasons, approvers removed from the directory
//! or unresolvable in an outage, deadlines, and what waits for whom.

use super::group_policy;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::doubles::MutableDirectory;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::scim::FakeScim;
use std::sync::Arc;
use warden::chat::CardAction;
use warden::domain::RequestState;
use warden::workflow::Handled;

on_both_databases!(
    a_quorum_of_two_is_not_met_by_one_approver_clicking_twice,
    two_steps_are_approved_in_order,
    a_deny_without_a_required_reason_is_refused,
    an_approver_removed_from_the_directory_can_no_longer_approve,
    approving_after_the_request_expired_changes_nothing,
    status_lists_open_requests_active_grants_and_what_waits_for_me,
);

async fn a_quorum_of_two_is_not_met_by_one_approver_clicking_twice(db: TestDb) {
    let t = TestEngine::start(db, group_policy(2)).await;
    let id = t.request("alice", "need read on staging db for 1h").await;
    assert_eq!(
        t.click("carol", CardAction::Approve, &id).await,
        Handled::Done
    );
    let again = t.click("carol", CardAction::Approve, &id).await;
    assert!(
        matches!(again, Handled::Refused(ref m) if m.contains("already")),
        "{again:?}"
    );
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    assert_eq!(t.grants(), 0);
    assert_eq!(
        t.click("erin", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
    assert!(
        t.console.text().contains("(1 of 2)"),
        "{}",
        t.console.text()
    );
}

async fn two_steps_are_approved_in_order(db: TestDb) {
    // Critical: the shipped policy asks the manager (dana), then an owner (carol). The order of
    // steps is the point here; passkey step-up is tested in admin::step_up.
    let t = TestEngine::start(
        db,
        Setup {
            policy: crate::support::engine::policy_without_step_up(),
            ..Setup::default()
        },
    )
    .await;
    let id = t
        .request(
            "alice",
            "/access request prod-db write for 1h because INC-7 hotfix",
        )
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::PendingApproval,
        "{}",
        t.console.text()
    );
    let early = t.click("carol", CardAction::Approve, &id).await;
    assert!(
        matches!(early, Handled::Refused(ref m) if m.contains("manager")),
        "owner before manager: {early:?}"
    );
    assert_eq!(
        t.click("dana", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    assert_eq!(t.row(&id).await.current_step, 1);
    assert!(
        matches!(
            t.click("dana", CardAction::Approve, &id).await,
            Handled::Refused(_)
        ),
        "the manager cannot fill the owner step too"
    );
    assert_eq!(
        t.click("carol", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
    let steps: Vec<u32> = t
        .store
        .approvals(&id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.step)
        .collect();
    assert_eq!(steps, vec![0, 1]);
}

async fn a_deny_without_a_required_reason_is_refused(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t
        .request(
            "alice",
            "/access request prod-db write for 1h because INC-7 hotfix",
        )
        .await;
    let r = t.click("dana", CardAction::Deny, &id).await;
    assert!(
        matches!(r, Handled::Refused(ref m) if m.contains("reason is required")),
        "{r:?}"
    );
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    assert_eq!(
        t.click_with("dana", CardAction::Deny, &id, Some("not during the freeze"))
            .await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Denied);
    let text = t.console.text();
    assert!(
        text.contains("Denied by Dana Scully: not during the freeze"),
        "{text}"
    );
    let denial = t
        .store
        .approvals(&id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(
        (denial.verdict.as_str(), denial.reason.as_deref()),
        ("deny", Some("not during the freeze"))
    );
}

async fn an_approver_removed_from_the_directory_can_no_longer_approve(db: TestDb) {
    let directory = Arc::new(MutableDirectory::example());
    let mut setup = group_policy(1);
    setup.directory = directory.clone();
    let t = TestEngine::start(db, setup).await;
    let id = t.request("alice", "need read on staging db for 1h").await;
    directory.remove("carol");
    let r = t.click("carol", CardAction::Approve, &id).await;
    assert!(matches!(r, Handled::Refused(_)), "{r:?}");
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    assert_eq!(
        t.click("erin", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
}

async fn approving_after_the_request_expired_changes_nothing(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let id = t.request("alice", "need read on staging db for 1h").await;
    t.advance(3 * 60 + 1).await;
    assert!(
        t.console.text().contains("Reminder"),
        "approvers are reminded before the deadline"
    );
    t.advance(60).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    let r = t.click("carol", CardAction::Approve, &id).await;
    assert!(
        matches!(r, Handled::Refused(ref m) if m.contains("already resolved")),
        "{r:?}"
    );
    assert_eq!((t.state(&id).await, t.grants()), (RequestState::Expired, 0));
}

async fn status_lists_open_requests_active_grants_and_what_waits_for_me(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let active = t.request("alice", "need edit on the wiki for 2h").await;
    let pending = t
        .request("alice", "need read on the prod billing db for 2h, INC-9")
        .await;
    t.console.clear();
    t.say("alice", "/access status").await;
    let text = t.console.text();
    assert!(
        text.contains(&active) && text.contains(&pending) && text.contains("waiting for approval"),
        "{text}"
    );
    t.console.clear();
    t.say("dana", "status").await;
    let text = t.console.text();
    assert!(
        text.contains("Waiting for your approval") && text.contains(&pending),
        "{text}"
    );
}

/// A SCIM directory that fails while approvers are resolved: nothing is granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_outage_leaves_approvers_unresolved_and_nothing_granted() {
    warden::app::install_crypto();
    let scim = FakeScim::start().await;
    scim.user(serde_json::json!({
        "id": "alice", "userName": "alice", "displayName": "Alice Ng", "externalId": "console:local:alice", "active": true,
        "groups": [{ "display": "engineering" }],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "manager": { "value": "dana" } }
    }))
    .await;
    scim.fail_everything_else().await;
    let dir = warden::directory::scim::ScimDirectory::new(
        scim.url(),
        None,
        std::time::Duration::from_millis(500),
        std::time::Duration::from_secs(0),
    )
    .unwrap();
    let t = TestEngine::start(
        TestDb::sqlite(),
        Setup {
            directory: Arc::new(dir),
            ..Setup::default()
        },
    )
    .await;
    let id = t
        .request("alice", "need read on the prod billing db for 2h, INC-9")
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Failed,
        "{}",
        t.console.text()
    );
    assert_eq!(t.grants(), 0);
    assert!(
        t.console.text().contains("can't work out who can approve"),
        "{}",
        t.console.text()
    );
}
