//! How a freeze's revoke pass behaves under load and failure: a bounded number of revokes at
//! once, and a failing backend leaves the grant listed as still active and retried.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use std::sync::atomic::Ordering;
use warden::domain::{FreezeScope, RequestState};
use warden::workflow::RevokeOutcome;

on_both_databases!(
    a_revoke_pass_runs_at_most_the_given_number_of_revokes_at_once,
    a_failing_backend_leaves_the_grant_listed_as_still_active_and_retried,
);

async fn wiki_grants(t: &TestEngine, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for who in ["alice", "bob", "gina"].iter().cycle().take(n) {
        let id = Box::pin(t.request(who, "/access request wiki edit for 1h because docs")).await;
        assert_eq!(
            t.state(&id).await,
            RequestState::Active,
            "{}",
            t.transcript()
        );
        ids.push(id);
    }
    ids
}

async fn a_revoke_pass_runs_at_most_the_given_number_of_revokes_at_once(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let ids = wiki_grants(&t, 12).await;
    t.grantor.revoke_delay_ms.store(100, Ordering::SeqCst);
    let frozen = t
        .engine
        .freeze(
            &FreezeScope::Resource("wiki".into()),
            &ops("admin:ops"),
            "load",
        )
        .await
        .unwrap();
    let summary = t
        .engine
        .revoke_frozen(frozen.freeze(), "admin:ops", 3, &|_| {})
        .await
        .unwrap();
    assert_eq!((summary.total, summary.revoked), (12, 12), "{summary:?}");
    assert_eq!(t.revokes(), 12);
    let most = t.grantor.max_revokes_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&most),
        "revokes overlap, never more than 3 at once: {most}"
    );
    for id in &ids {
        assert_eq!(t.state(id).await, RequestState::Revoked);
    }
}

async fn a_failing_backend_leaves_the_grant_listed_as_still_active_and_retried(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let ids = wiki_grants(&t, 2).await;
    t.grantor.fail_revokes.store(1, Ordering::SeqCst);
    let frozen = t
        .engine
        .freeze(&FreezeScope::Everything, &ops("admin:ops"), "drill")
        .await
        .unwrap();
    let outcomes = std::sync::Mutex::new(Vec::new());
    let summary = t
        .engine
        .revoke_frozen(frozen.freeze(), "admin:ops", 1, &|p| {
            outcomes.lock().unwrap().push(p.outcome)
        })
        .await
        .unwrap();
    assert_eq!((summary.total, summary.revoked), (2, 1), "{summary:?}");
    assert_eq!(summary.still_active.len(), 1);
    let failing = summary.still_active[0].clone();
    assert!(ids.contains(&failing));
    assert_eq!(t.state(&failing).await, RequestState::Active);
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|o| *o as u8);
    assert_eq!(
        outcomes,
        vec![RevokeOutcome::Revoked, RevokeOutcome::Retrying]
    );
    // The revoke job keeps its key and retries: the access ends, revoked once at the backend.
    t.advance(1).await;
    assert_eq!(t.state(&failing).await, RequestState::Revoked);
    let keys = t.grantor.keys.lock().unwrap().clone();
    let revoke_key = format!("{failing}:revoke");
    assert_eq!(keys.iter().filter(|k| **k == revoke_key).count(), 1);
}

fn ops(name: &str) -> warden::workflow::AdminActor {
    warden::workflow::AdminActor::new(name, None, warden::workflow::AdminVia::Api)
}
