//! A grant that may have been applied and then failed: withdrawn by a compensating revoke
//! before the request is marked failed, and the requester told the truth.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use std::sync::atomic::Ordering;
use warden::domain::{Platform, RequestState};
use warden::workflow::WorkflowOptions;

on_both_databases!(
    a_grant_that_timed_out_and_was_then_refused_is_withdrawn_before_it_is_marked_failed,
    a_compensating_revoke_that_fails_is_retried_as_a_job_with_an_alert,
    a_grant_refused_on_its_first_attempt_needs_no_compensation,
);

async fn kinds(t: &TestEngine, id: &str) -> Vec<String> {
    t.store
        .log_entries(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn compensating_keys(t: &TestEngine, id: &str) -> usize {
    let key = format!("{id}:revoke:compensate");
    t.grantor
        .keys
        .lock()
        .unwrap()
        .iter()
        .filter(|k| **k == key)
        .count()
}

async fn a_grant_that_timed_out_and_was_then_refused_is_withdrawn_before_it_is_marked_failed(
    db: TestDb,
) {
    let t = TestEngine::start(db, Setup::default()).await;
    // The first call reaches the backend and applies, but the answer is lost; the retry is refused.
    t.grantor.time_out_after_applying.store(1, Ordering::SeqCst);
    t.grantor.refuse_grants.store(1, Ordering::SeqCst);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::Approved, "retrying");
    t.advance(1).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Failed,
        "{}",
        t.transcript()
    );
    assert_eq!(t.revokes(), 1, "the access that may exist is withdrawn");
    assert_eq!(compensating_keys(&t, &id), 1);
    let said = t.transcript();
    assert!(
        said.contains("could not be confirmed") && said.contains("withdrawn"),
        "{said}"
    );
    assert!(!said.contains("Nothing was granted"), "{said}");
    let log = kinds(&t, &id).await;
    assert!(log.contains(&"revoke_call".to_string()), "{log:?}");
    let grant = t
        .store
        .grant(&id)
        .await
        .unwrap()
        .expect("what was withdrawn is on record");
    assert_eq!(grant.status, "revoked");
    // Nothing runs again.
    t.advance(60).await;
    assert_eq!(t.revokes(), 1);
}

async fn a_compensating_revoke_that_fails_is_retried_as_a_job_with_an_alert(db: TestDb) {
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
    // Every grant attempt times out after applying; the first two revokes fail too.
    t.grantor
        .time_out_after_applying
        .store(100, Ordering::SeqCst);
    t.grantor.fail_revokes.store(2, Ordering::SeqCst);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    for _ in 0..6 {
        if t.state(&id).await != RequestState::Approved {
            break;
        }
        t.advance(5).await;
    }
    assert_eq!(
        t.state(&id).await,
        RequestState::Failed,
        "{}",
        t.transcript()
    );
    assert_eq!(t.revokes(), 0, "the compensating revoke failed so far");
    let said = t.transcript();
    assert!(said.contains("being retried"), "{said}");
    assert!(said.contains("#security"), "{said}");
    assert!(!said.contains("Nothing was granted"), "{said}");
    assert!(kinds(&t, &id).await.contains(&"alert".to_string()));
    let grant = t.store.grant(&id).await.unwrap().expect("on record");
    assert_eq!(grant.status, "withdrawing");
    for _ in 0..6 {
        t.advance(10).await;
    }
    assert_eq!(t.revokes(), 1, "retried until withdrawn");
    assert_eq!(compensating_keys(&t, &id), 1);
    assert!(t.transcript().contains("withdrawn"), "{}", t.transcript());
    assert_eq!(
        t.transcript().matches("#security").count(),
        1,
        "one alert in the security channel, not one per retry: {}",
        t.transcript()
    );
    assert_eq!(t.state(&id).await, RequestState::Failed);
    assert_eq!(t.store.grant(&id).await.unwrap().unwrap().status, "revoked");
    t.advance(60).await;
    assert_eq!(t.revokes(), 1, "withdrawn once");
}

async fn a_grant_refused_on_its_first_attempt_needs_no_compensation(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.grantor.refuse_grants.store(1, Ordering::SeqCst);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::Failed);
    assert_eq!(
        t.revokes(),
        0,
        "a refusal on the first call applied nothing"
    );
    assert!(
        t.transcript().contains("Nothing was granted"),
        "{}",
        t.transcript()
    );
}
