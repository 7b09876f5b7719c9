//! One request end to end, and the guarantees around it: confirmation first, no self-approval
//! (admins included), exactly one grant however the clicks race, a final policy deny, a failing
//! PDP that denies, illegal actions refused, clarifying questions kept in the request's thread.

use super::group_policy;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::pdp::FakePdp;
use crate::support::fakes::scripted::Reply;
use std::sync::Arc;
use warden::chat::CardAction;
use warden::domain::RequestState;
use warden::store::ChainStatus;
use warden::workflow::Handled;

on_both_databases!(
    a_low_risk_request_is_granted_after_confirmation_and_revoked_at_expiry,
    a_high_risk_request_waits_for_the_manager_and_nobody_approves_their_own,
    an_admin_cannot_approve_their_own_request_either,
    a_double_click_and_racing_approvers_produce_exactly_one_grant,
    the_policy_deny_is_final_and_tells_the_requester,
    illegal_actions_are_refused_and_change_nothing,
    a_clarifying_question_is_answered_in_the_request_thread,
);

async fn a_low_risk_request_is_granted_after_confirmation_and_revoked_at_expiry(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.say(
        "alice",
        "need edit on the wiki for 2h to fix the onboarding page",
    )
    .await;
    let id = t.latest("alice").await;
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    assert_eq!(
        t.grants(),
        0,
        "nothing is granted before the requester confirms"
    );
    t.click("alice", CardAction::Submit, &id).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
    let row = t.row(&id).await;
    assert_eq!(
        (row.resource(), row.role(), row.duration_secs()),
        (Some("wiki"), Some("edit"), Some(7200))
    );
    t.advance(119).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "not before its time"
    );
    t.advance(2).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
    let kinds: Vec<String> = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        "message_in",
        "intent_proposed",
        "intent_confirmed",
        "policy_input",
        "policy_decision",
        "grant_call",
        "revoke_call",
    ] {
        assert!(kinds.iter().any(|x| x == k), "log lacks {k}: {kinds:?}");
    }
    assert!(matches!(
        t.store.verify_chain(&id).await.unwrap(),
        ChainStatus::Intact { .. }
    ));
}

async fn a_high_risk_request_waits_for_the_manager_and_nobody_approves_their_own(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t
        .request("alice", "need read on the prod billing db for 2h, INC-4411")
        .await;
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    let refused = t.click("alice", CardAction::Approve, &id).await;
    assert!(
        matches!(refused, Handled::Refused(ref m) if m.contains("own request")),
        "{refused:?}"
    );
    let outsider = t.click("bob", CardAction::Approve, &id).await;
    assert!(matches!(outsider, Handled::Refused(_)), "{outsider:?}");
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    assert_eq!(
        t.click("dana", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
    let text = t.console.text();
    assert!(
        text.contains("@dana (DM)") && text.contains("Approved by Dana Scully"),
        "{text}"
    );
    let refusals = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "refusal")
        .count();
    assert_eq!(refusals, 2, "both refused clicks are evidence");
}

async fn an_admin_cannot_approve_their_own_request_either(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    // erin is in sre (an eligible approver for everyone else) and in security.
    let id = t.request("erin", "need read on staging db for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    let r = t.click("erin", CardAction::Approve, &id).await;
    assert!(
        matches!(r, Handled::Refused(ref m) if m.contains("own request")),
        "{r:?}"
    );
    assert_eq!(t.state(&id).await, RequestState::PendingApproval);
    t.click("carol", CardAction::Approve, &id).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
}

async fn a_double_click_and_racing_approvers_produce_exactly_one_grant(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    for round in 0..5 {
        let id = t.request("alice", "need read on staging db for 1h").await;
        let before = t.grants();
        let events = [
            t.click_event("carol", CardAction::Approve, &id, None),
            t.click_event("carol", CardAction::Approve, &id, None),
            t.click_event("erin", CardAction::Approve, &id, None),
            t.click_event("erin", CardAction::Approve, &id, None),
        ];
        let handles: Vec<_> = events
            .into_iter()
            .map(|ev| {
                let e = t.engine.clone();
                tokio::spawn(async move { e.handle(ev).await })
            })
            .collect();
        let mut done = 0;
        for h in handles {
            if h.await.unwrap().unwrap() == Handled::Done {
                done += 1;
            }
        }
        assert_eq!(done, 1, "round {round}: exactly one click wins");
        assert_eq!(t.state(&id).await, RequestState::Active, "round {round}");
        assert_eq!(t.grants() - before, 1, "round {round}: one grant call");
        assert_eq!(t.store.count_grants(&id).await.unwrap(), 1);
        assert_eq!(
            t.store.approvals(&id).await.unwrap().len(),
            1,
            "round {round}: the losers left no approval behind"
        );
    }
}

async fn the_policy_deny_is_final_and_tells_the_requester(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t
        .request(
            "bob",
            "/access request prod-db write for 1h because quick hotfix",
        )
        .await;
    assert_eq!(t.state(&id).await, RequestState::Denied);
    assert_eq!(t.grants(), 0);
    assert!(t.console.text().contains("denied"), "{}", t.console.text());
    let r = t.click("dana", CardAction::Approve, &id).await;
    assert!(
        matches!(r, Handled::Refused(ref m) if m.contains("already resolved")),
        "{r:?}"
    );
    assert_eq!(t.state(&id).await, RequestState::Denied);
}

async fn illegal_actions_are_refused_and_change_nothing(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.say("alice", "need edit on the wiki for 1h").await;
    let id = t.latest("alice").await;
    // Approving something not yet submitted, submitting for someone else, revoking what isn't granted.
    assert!(matches!(
        t.click("dana", CardAction::Approve, &id).await,
        Handled::Refused(_)
    ));
    assert!(matches!(
        t.click("bob", CardAction::Submit, &id).await,
        Handled::Refused(_)
    ));
    assert!(matches!(
        t.click("alice", CardAction::Revoke, &id).await,
        Handled::Refused(_)
    ));
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    t.click("alice", CardAction::Submit, &id).await;
    assert!(
        matches!(
            t.click("alice", CardAction::Submit, &id).await,
            Handled::Refused(_)
        ),
        "no second submit"
    );
    assert!(
        matches!(
            t.click("alice", CardAction::Cancel, &id).await,
            Handled::Refused(_)
        ),
        "active access is revoked, not cancelled"
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(
        t.click("alice", CardAction::Revoke, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Revoked);
    assert!(matches!(
        t.click("alice", CardAction::Revoke, &id).await,
        Handled::Refused(_)
    ));
    assert_eq!((t.grants(), t.revokes()), (1, 1));
}

async fn a_clarifying_question_is_answered_in_the_request_thread(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.say("alice", "need access to the prod billing db").await;
    let id = t.latest("alice").await;
    assert_eq!(t.state(&id).await, RequestState::Draft);
    assert!(
        t.console.text().contains("Which role"),
        "{}",
        t.console.text()
    );
    // Another request in the same channel does not join this thread.
    t.say("alice", "need edit on the wiki for 1h").await;
    let other = t.latest("alice").await;
    assert_ne!(other, id);
    t.reply("alice", &id, "read please, for 2h, INC-4411").await;
    let row = t.row(&id).await;
    assert_eq!(
        row.state,
        RequestState::AwaitingConfirmation,
        "{}",
        t.console.text()
    );
    assert_eq!(
        (
            row.resource(),
            row.role(),
            row.duration_secs(),
            row.ticket()
        ),
        (
            Some("prod-billing-db"),
            Some("read"),
            Some(7200),
            Some("INC-4411")
        )
    );
    assert_eq!(t.row(&other).await.resource(), Some("wiki"));
}

#[tokio::test]
async fn a_failing_pdp_denies_the_request_and_grants_nothing() {
    warden::app::install_crypto();
    let pdp = FakePdp::opa(Reply::empty(500)).await;
    let opa = warden::policy::opa::OpaPolicy::new(
        pdp.url(),
        "access/decision",
        std::time::Duration::from_millis(500),
    )
    .unwrap();
    let t = TestEngine::start(
        TestDb::sqlite(),
        Setup {
            policy: Arc::new(opa),
            ..Setup::default()
        },
    )
    .await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::Denied);
    assert_eq!(t.grants(), 0);
    let decision = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "policy_decision")
        .unwrap();
    assert_eq!(decision.payload.unwrap()["outcome"], "deny");
    assert!(!pdp.calls().is_empty(), "the PDP was asked");
}
