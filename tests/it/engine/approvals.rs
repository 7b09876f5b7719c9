//! Approvals and the access lifecycle: quorum, ordered steps, required deny reasons, removed
//! approvers, deadlines, extensions, early revocation, break-glass, crash recovery, instances.

use super::harness::{MutableDirectory, Setup, TestEngine};
use super::lifecycle::group_policy;
use crate::on_both_databases;
use crate::support::fakes::scim::FakeScim;
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use warden::chat::CardAction;
use warden::domain::{Platform, RequestState};
use warden::workflow::{Handled, WorkflowOptions};

on_both_databases!(
    a_quorum_of_two_is_not_met_by_one_approver_clicking_twice,
    two_steps_are_approved_in_order,
    a_deny_without_a_required_reason_is_refused,
    an_approver_removed_from_the_directory_can_no_longer_approve,
    approving_after_the_request_expired_changes_nothing,
    extensions_are_allowed_up_to_the_maximum,
    early_revocation_ends_access_at_once,
    break_glass_is_announced_short_and_reviewed,
    a_crash_between_approval_and_grant_grants_exactly_once_after_restart,
    a_failing_revocation_is_retried_with_an_alert_until_it_succeeds,
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
    // Critical: the shipped policy asks the manager (dana), then an owner (carol).
    let t = TestEngine::start(db, Setup::default()).await;
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

async fn extensions_are_allowed_up_to_the_maximum(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 2h").await;
    let first_end = t.row(&id).await.expires_at.unwrap();
    t.say("alice", &format!("extend {id} by 1h")).await;
    let row = t.row(&id).await;
    assert_eq!(row.extensions, 1, "{}", t.console.text());
    assert!(row.expires_at.unwrap() >= first_end + 3_600_000 - 10);
    t.say("alice", &format!("extend {id} by 1h")).await;
    assert_eq!(t.row(&id).await.extensions, 2);
    let third = t.say("alice", &format!("extend {id} by 1h")).await;
    assert!(
        matches!(third, Handled::Refused(ref m) if m.contains("most allowed")),
        "{third:?}"
    );
    assert_eq!(t.row(&id).await.extensions, 2);
    // The extended expiry holds: not revoked at the original end, revoked at the new one.
    t.advance(2 * 60 + 5).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    t.advance(2 * 60).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
}

async fn early_revocation_ends_access_at_once(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 4h").await;
    t.say("alice", &format!("I'm done, please revoke {id}"))
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Revoked,
        "{}",
        t.console.text()
    );
    assert_eq!(t.revokes(), 1);
    t.advance(5 * 60).await;
    assert_eq!(t.revokes(), 1, "the expiry job finds nothing to do");
    assert_eq!(t.store.grant(&id).await.unwrap().unwrap().status, "revoked");
}

async fn break_glass_is_announced_short_and_reviewed(db: TestDb) {
    let options = WorkflowOptions {
        security_channel: Some((Platform::Console, "security".into())),
        break_glass_secs: 1800,
        ..WorkflowOptions::default()
    };
    let t = TestEngine::start(
        db,
        Setup {
            options,
            ..Setup::default()
        },
    )
    .await;
    // gina is on call; prod-billing-db allows break-glass.
    let id = t
        .request(
            "gina",
            "break-glass prod-db read for 4h because SEV1 billing outage",
        )
        .await;
    let row = t.row(&id).await;
    assert_eq!(row.state, RequestState::Active, "{}", t.console.text());
    assert!(row.break_glass && row.review_open);
    let granted_for =
        row.expires_at.unwrap() - t.store.grant(&id).await.unwrap().unwrap().granted_at;
    assert_eq!(
        granted_for, 1_800_000,
        "break-glass is short whatever was asked"
    );
    let text = t.console.text();
    assert!(
        text.contains("#security") && text.contains("BREAK-GLASS"),
        "{text}"
    );
    assert!(text.contains("@carol (DM)"), "the owner is told: {text}");
    assert!(
        matches!(
            t.click("gina", CardAction::Review, &id).await,
            Handled::Refused(_)
        ),
        "no self-review"
    );
    assert!(matches!(
        t.click("bob", CardAction::Review, &id).await,
        Handled::Refused(_)
    ));
    assert_eq!(
        t.click("carol", CardAction::Review, &id).await,
        Handled::Done
    );
    assert!(!t.row(&id).await.review_open);
    let kinds: Vec<String> = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"alert".to_string()) && kinds.contains(&"review".to_string()),
        "{kinds:?}"
    );
    // Someone not on call is refused break-glass.
    let refused = t
        .request("alice", "break-glass prod-db read because curious")
        .await;
    assert_eq!(t.state(&refused).await, RequestState::Denied);
}

async fn a_crash_between_approval_and_grant_grants_exactly_once_after_restart(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let id = t.request("alice", "need read on staging db for 1h").await;
    // The process dies after the approval commits, before the grant call reaches the backend.
    t.grantor
        .hang_grants
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let click = {
        let engine = t.engine.clone();
        let event = t.click_event("carol", CardAction::Approve, &id, None);
        tokio::spawn(async move { engine.handle(event).await })
    };
    wait_until(PATIENCE, "the approval to commit", || async {
        t.state(&id).await == RequestState::Approved
    })
    .await;
    click.abort();
    let _ = click.await;
    t.grantor
        .hang_grants
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(t.state(&id).await, RequestState::Approved);
    assert_eq!(t.grants(), 0);
    let restarted = t.restart(Setup::default()).await;
    // The dead worker's lease on the grant job runs out; the new engine takes it over.
    t.clock.advance(chrono::Duration::minutes(2));
    restarted.engine.recover().await.unwrap();
    assert_eq!(restarted.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
    restarted.engine.recover().await.unwrap();
    t.restart(Setup::default())
        .await
        .engine
        .recover()
        .await
        .unwrap();
    assert_eq!(t.grants(), 1, "granted exactly once");
    assert_eq!(
        t.grantor
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.ends_with(":grant"))
            .count(),
        1
    );
}

async fn a_failing_revocation_is_retried_with_an_alert_until_it_succeeds(db: TestDb) {
    let options = WorkflowOptions {
        security_channel: Some((Platform::Console, "security".into())),
        ..WorkflowOptions::default()
    };
    let t = TestEngine::start(
        db,
        Setup {
            options,
            ..Setup::default()
        },
    )
    .await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    t.grantor.fail_revokes.store(2, Ordering::SeqCst);
    t.advance(61).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "still active while the backend refuses"
    );
    assert!(
        t.console.text().contains("#security") && t.console.text().contains("failing"),
        "{}",
        t.console.text()
    );
    for _ in 0..5 {
        t.advance(10).await;
    }
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
    let alerts = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "alert")
        .count();
    assert_eq!(alerts, 2, "one alert per failed attempt");
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

/// Two engines over one PostgreSQL run the same due jobs: each job runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_one_postgres_run_each_due_job_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = TestEngine::start(db, Setup::default()).await;
    let b = a.restart(Setup::default()).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(a.request("alice", "need edit on the wiki for 1h").await);
    }
    a.clock.advance(chrono::Duration::hours(2));
    let (ra, rb) = tokio::join!(a.engine.run_due_jobs(), b.engine.run_due_jobs());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra + rb >= 12, "{ra} + {rb}");
    for id in &ids {
        assert_eq!(a.state(id).await, RequestState::Expired);
    }
    assert_eq!(
        a.revokes(),
        12,
        "each expiry revoked once across both instances"
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
