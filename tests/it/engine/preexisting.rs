//! Access the person held before the grant: the revoke leaves it alone; access an earlier
//! attempt of the grant put there is Warden's to take away. What was there before is read once,
//! before the first grant call.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use std::sync::atomic::Ordering;
use warden::domain::{GrantEffect, RequestState};

on_both_databases!(
    access_held_before_the_grant_is_not_revoked,
    access_found_in_place_on_a_retried_grant_is_revoked,
    access_held_before_a_retried_grant_is_not_revoked,
);

async fn access_held_before_the_grant_is_not_revoked(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.grantor.already_held.store(true, Ordering::SeqCst);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    let record = t.row(&id).await.grant.expect("a grant record");
    assert_eq!(record.effect(), GrantEffect::AlreadyHeld);
    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 0, "nothing Warden added, nothing to take away");
    assert!(
        t.transcript().contains("left it as it was"),
        "{}",
        t.transcript()
    );
}

async fn access_found_in_place_on_a_retried_grant_is_revoked(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    // The first attempt applies but its answer is lost; the retry finds the access in place.
    t.grantor.time_out_after_applying.store(1, Ordering::SeqCst);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    t.advance(1).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(
        t.row(&id).await.grant.unwrap().effect(),
        GrantEffect::Applied,
        "Warden's own first attempt may have put it there"
    );
    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    let calls = t.grantor.revoke_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].grant.as_ref().map(|r| r.effect),
        Some(GrantEffect::Applied),
        "the revoke call carries what the grant changed"
    );
}

async fn access_held_before_a_retried_grant_is_not_revoked(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    // The person held the access before; the first grant call fails before changing anything,
    // so the retry finds the access in place. It was never Warden's: the revoke must leave it.
    t.grantor.already_held.store(true, Ordering::SeqCst);
    t.grantor.fail_before_applying.store(1, Ordering::SeqCst);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    t.advance(1).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(
        t.row(&id).await.grant.unwrap().effect(),
        GrantEffect::AlreadyHeld,
        "held before the first call, whatever the retry found"
    );
    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 0, "access held before Warden is left in place");
    assert!(t.grantor.already_held.load(Ordering::SeqCst));
}
