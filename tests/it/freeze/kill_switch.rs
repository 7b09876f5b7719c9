//! People's requests under a freeze: 50 active grants revoked once each, new asks and approvals
//! refused, a resource freeze that leaves other resources alone, and unfreeze restoring it all.

use super::{calls_per_key, webhook_setup};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::TestEngine;
use crate::support::fakes::receiver::Receiver;
use std::collections::HashSet;
use std::sync::Mutex;
use warden::chat::CardAction;
use warden::domain::{FreezeScope, RequestState};
use warden::store::Frozen;
use warden::workflow::{Handled, RevokeOutcome};

on_both_databases!(
    the_kill_switch_revokes_fifty_grants_once_each_and_stops_new_ones_until_lifted,
    a_resource_freeze_stops_that_resource_only,
    a_request_waiting_for_confirmation_is_refused_then_goes_ahead_after_unfreeze,
);

/// People of the example directory who have a console account and a manager.
const PEOPLE: [&str; 3] = ["alice", "bob", "gina"];

async fn grant_many(t: &TestEngine, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let who = PEOPLE[i % PEOPLE.len()];
        let ask = match i % 2 {
            0 => "/access request staging-db read for 2h because load test",
            _ => "/access request wiki edit for 2h because docs sprint",
        };
        // Boxed: the test's own future lives on the test thread's stack, and fifty engine
        // flows deep inside it (a grant call over HTTP, on PostgreSQL) need more than it has.
        let id = Box::pin(t.request(who, ask)).await;
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

async fn the_kill_switch_revokes_fifty_grants_once_each_and_stops_new_ones_until_lifted(
    db: TestDb,
) {
    let backend = Receiver::start("/grants").await;
    let t = TestEngine::start(db.clone(), webhook_setup(&backend)).await;
    let granted = grant_many(&t, 50).await;
    let pending = t
        .request("alice", "/access request prod-db read for 1h because INC-1")
        .await;
    assert_eq!(t.state(&pending).await, RequestState::PendingApproval);
    assert_eq!(calls_per_key(&backend, "grant").len(), 50);

    // Frozen on another instance of the same deployment: this one sees it at its next decision.
    let other = t.restart(webhook_setup(&backend)).await;
    let frozen = other
        .engine
        .freeze(
            &FreezeScope::Everything,
            &ops("admin:ops"),
            "INC-9 credential leak",
        )
        .await
        .unwrap();
    let Frozen::New(freeze) = frozen else {
        panic!("a new freeze: {frozen:?}")
    };
    let progress = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    let summary = other
        .engine
        .revoke_frozen(&freeze, "admin:ops", 8, &|p| {
            progress.lock().unwrap().push((p.done, p.total, p.outcome))
        })
        .await
        .unwrap();
    println!(
        "kill switch on {}: revoked {} of {} active grants in {:?} (8 at a time)",
        if db.schema().is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        summary.revoked,
        summary.total,
        started.elapsed()
    );
    assert_eq!((summary.total, summary.revoked), (50, 50), "{summary:?}");
    assert!(summary.still_active.is_empty(), "{summary:?}");
    let progress = progress.into_inner().unwrap();
    assert_eq!(
        progress.iter().map(|p| p.0).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>(),
        "progress counts every revoke once, in order"
    );
    assert!(
        progress
            .iter()
            .all(|p| p.1 == 50 && p.2 == RevokeOutcome::Revoked)
    );
    for id in &granted {
        assert_eq!(t.state(id).await, RequestState::Revoked, "{id}");
    }
    let revokes = calls_per_key(&backend, "revoke");
    let expected: HashSet<String> = granted.iter().map(|id| format!("{id}:revoke")).collect();
    assert_eq!(revokes.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(revokes.values().all(|n| *n == 1), "{revokes:?}");

    // Each revoke is in its request's log with the actor and the freeze's reference and reason.
    let log = t.store.log_entries(&granted[7]).await.unwrap();
    let revoke = log
        .iter()
        .find(|e| e.kind == "revoke_call")
        .expect("revoke logged");
    assert_eq!(revoke.actor, "admin:ops");
    let reason = revoke.payload.as_ref().unwrap()["reason"].as_str().unwrap();
    assert!(
        reason.contains(&freeze.id) && reason.contains("INC-9 credential leak"),
        "{reason}"
    );

    // New requests are answered "frozen" and nothing is stored; approvals cannot complete.
    let asked = t
        .say("bob", "/access request wiki edit for 1h because docs")
        .await;
    assert!(
        matches!(&asked, Handled::Refused(m) if m.contains("frozen") && m.contains(&freeze.id)),
        "{asked:?}"
    );
    assert!(
        !asked_text(&asked).contains("INC-9"),
        "the admin's reason stays out of chat"
    );
    let approve = t.click("dana", CardAction::Approve, &pending).await;
    assert!(
        matches!(&approve, Handled::Refused(m) if m.contains("can't be approved") && m.contains("frozen")),
        "{approve:?}"
    );
    assert_eq!(t.state(&pending).await, RequestState::PendingApproval);
    let refusals = t.store.log_entries(&pending).await.unwrap();
    assert!(
        refusals
            .iter()
            .any(|e| e.kind == "refusal" && e.actor == "dana")
    );

    // Freezing again finds the same freeze; revoking again has nothing left to revoke.
    let again = t
        .engine
        .freeze(&FreezeScope::Everything, &ops("admin:other"), "again")
        .await
        .unwrap();
    assert_eq!(again, Frozen::Existing(freeze.clone()));
    let second = t
        .engine
        .revoke_frozen(&freeze, "admin:ops", 8, &|_| {})
        .await
        .unwrap();
    assert_eq!(second.total, 0);

    // Lifted, explicitly and recorded: the approval and new requests go ahead again.
    let lifted = t
        .engine
        .unfreeze(&freeze.id, &ops("admin:ops"), "keys rotated")
        .await
        .unwrap()
        .expect("lifted");
    let lift = lifted.lifted.expect("lift recorded");
    assert_eq!(
        (lift.by.as_str(), lift.reason.as_str()),
        ("admin:ops", "keys rotated")
    );
    assert!(t.store.active_freezes().await.unwrap().is_empty());
    assert_eq!(
        t.click("dana", CardAction::Approve, &pending).await,
        Handled::Done
    );
    assert_eq!(t.state(&pending).await, RequestState::Active);
    let id = t
        .request("bob", "/access request wiki edit for 1h because docs")
        .await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert!(calls_per_key(&backend, "revoke").values().all(|n| *n == 1));
}

fn asked_text(h: &Handled) -> String {
    match h {
        Handled::Refused(m) => m.clone(),
        other => format!("{other:?}"),
    }
}

async fn a_resource_freeze_stops_that_resource_only(db: TestDb) {
    let backend = Receiver::start("/grants").await;
    let t = TestEngine::start(db, webhook_setup(&backend)).await;
    let granted = grant_many(&t, 4).await;
    let (staging, wiki): (Vec<_>, Vec<_>) =
        granted.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let unknown = t
        .engine
        .freeze(
            &FreezeScope::Resource("stagin-db".into()),
            &ops("admin:ops"),
            "typo",
        )
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("no resource 'stagin-db'"),
        "{unknown}"
    );
    let frozen = t
        .engine
        .freeze(
            &FreezeScope::Resource("staging-db".into()),
            &ops("admin:ops"),
            "migration gone wrong",
        )
        .await
        .unwrap();
    let summary = t
        .engine
        .revoke_frozen(frozen.freeze(), "admin:ops", 4, &|_| {})
        .await
        .unwrap();
    assert_eq!((summary.total, summary.revoked), (2, 2));
    for (_, id) in &staging {
        assert_eq!(t.state(id).await, RequestState::Revoked);
    }
    for (_, id) in &wiki {
        assert_eq!(
            t.state(id).await,
            RequestState::Active,
            "another resource is untouched"
        );
    }
    let refused = t
        .say(
            "alice",
            "/access request staging-db read for 1h because tests",
        )
        .await;
    assert!(
        matches!(&refused, Handled::Refused(m) if m.contains("resource staging-db")),
        "{refused:?}"
    );
    let id = t
        .request("alice", "/access request wiki edit for 1h because docs")
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "other resources go on"
    );
    // Extending access on the frozen resource is more access: refused too.
    let held = wiki[0].1;
    let expires = t.row(held).await.expires_at;
    t.engine
        .unfreeze(&frozen.freeze().id, &ops("admin:ops"), "done")
        .await
        .unwrap();
    t.engine
        .freeze(
            &FreezeScope::Resource("wiki".into()),
            &ops("admin:ops"),
            "wiki audit",
        )
        .await
        .unwrap();
    let extend = t.say("bob", &format!("extend {held} by 1h")).await;
    assert!(
        matches!(&extend, Handled::Refused(m) if m.contains("frozen")),
        "{extend:?}"
    );
    assert_eq!(t.row(held).await.expires_at, expires);
}

async fn a_request_waiting_for_confirmation_is_refused_then_goes_ahead_after_unfreeze(db: TestDb) {
    let backend = Receiver::start("/grants").await;
    let t = TestEngine::start(db, webhook_setup(&backend)).await;
    t.say("alice", "/access request wiki edit for 1h because docs")
        .await;
    let id = t.latest("alice").await;
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    let frozen = t
        .engine
        .freeze(
            &FreezeScope::Resource("wiki".into()),
            &ops("admin:ops"),
            "audit",
        )
        .await
        .unwrap();
    let submit = t.click("alice", CardAction::Submit, &id).await;
    assert!(
        matches!(&submit, Handled::Refused(m) if m.contains("frozen")),
        "{submit:?}"
    );
    assert_eq!(
        t.state(&id).await,
        RequestState::AwaitingConfirmation,
        "nothing is lost: it waits"
    );
    assert!(calls_per_key(&backend, "grant").is_empty());
    t.engine
        .unfreeze(&frozen.freeze().id, &ops("admin:ops"), "audit done")
        .await
        .unwrap()
        .expect("lifted");
    assert_eq!(
        t.click("alice", CardAction::Submit, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
}

fn ops(name: &str) -> warden::workflow::AdminActor {
    warden::workflow::AdminActor::new(name, None, warden::workflow::AdminVia::Api)
}
