//! Extensions the policy sends to approval: a linked request with its own approval cards, while
//! the grant stays until its own expiry or the extension's decision, whichever is later.

use super::group_policy;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::TestEngine;
use warden::chat::CardAction;
use warden::domain::{RequestId, RequestState};
use warden::workflow::Handled;

on_both_databases!(
    expiry_passes_while_the_extension_waits_then_a_denial_revokes_once,
    an_approved_extension_moves_the_expiry_and_is_applied_once,
    an_extension_that_times_out_ends_the_access_at_its_decision_time,
    a_second_extension_waits_for_the_first,
);

/// A one-hour grant approved by carol, then "extend by 1h": returns (grant, extension) ids.
async fn granted_then_extension_asked(t: &TestEngine) -> (String, String) {
    let id = t.request("alice", "need read on staging db for 1h").await;
    assert_eq!(
        t.click("carol", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(
        t.say("alice", &format!("extend {id} by 1h")).await,
        Handled::Done
    );
    let ext = t
        .store
        .pending_extension(&RequestId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no extension request: {}", t.console.text()));
    assert_eq!(ext.state, RequestState::PendingApproval);
    assert_eq!(
        ext.parent_id.as_ref().map(|p| p.to_string()),
        Some(id.clone())
    );
    (id, ext.id.to_string())
}

async fn expiry_passes_while_the_extension_waits_then_a_denial_revokes_once(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let (id, ext) = granted_then_extension_asked(&t).await;
    assert!(
        t.console.text().contains("stays until"),
        "{}",
        t.console.text()
    );
    // The original hour passes: the extension is still undecided, so the access stays.
    t.advance(70).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(t.revokes(), 0);
    // The extension's approvers are the request's: self-approval is refused as usual.
    let own = t.click("alice", CardAction::Approve, &ext).await;
    assert!(matches!(own, Handled::Refused(_)), "{own:?}");
    assert_eq!(
        t.click_with("erin", CardAction::Deny, &ext, Some("not needed"))
            .await,
        Handled::Done
    );
    assert_eq!(t.state(&ext).await, RequestState::Denied);
    // Denied after the original expiry: revoked at the decision, once.
    assert_eq!(
        t.state(&id).await,
        RequestState::Expired,
        "{}",
        t.console.text()
    );
    assert_eq!(t.revokes(), 1);
    t.advance(300).await;
    assert_eq!(t.revokes(), 1);
}

async fn an_approved_extension_moves_the_expiry_and_is_applied_once(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let (id, ext) = granted_then_extension_asked(&t).await;
    let first_end = t.row(&id).await.expires_at.unwrap();
    t.advance(30).await;
    assert_eq!(
        t.click("carol", CardAction::Approve, &ext).await,
        Handled::Done
    );
    assert_eq!(t.state(&ext).await, RequestState::Applied);
    let row = t.row(&id).await;
    assert_eq!(row.state, RequestState::Active);
    assert_eq!(row.extensions, 1);
    assert!(
        row.expires_at.unwrap() >= first_end + 3_600_000 - 10,
        "{} vs {first_end}",
        row.expires_at.unwrap()
    );
    assert_eq!(t.grants(), 1, "an extension grants nothing of its own");
    // Past the original end: still active; past the new one: expired, once.
    t.advance(40).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    t.advance(60).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
    assert_eq!(t.row(&id).await.extensions, 1);
}

async fn an_extension_that_times_out_ends_the_access_at_its_decision_time(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let (id, ext) = granted_then_extension_asked(&t).await;
    // Nobody decides: the grant outlives its hour while the extension waits (4 h by default).
    t.advance(3 * 60).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(t.revokes(), 0);
    t.advance(65).await;
    assert_eq!(t.state(&ext).await, RequestState::Expired);
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
}

async fn a_second_extension_waits_for_the_first(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let (id, ext) = granted_then_extension_asked(&t).await;
    let again = t.say("alice", &format!("extend {id} by 1h")).await;
    assert!(
        matches!(again, Handled::Refused(ref m) if m.contains(&ext)),
        "{again:?}"
    );
    // A message in the grant's thread still finds the grant, not its extension.
    t.reply("alice", &id, "thanks").await;
    assert!(
        t.console
            .text()
            .contains(&format!("Request {id} is active")),
        "{}",
        t.console.text()
    );
}
