//! A commit is all or nothing and decided by its guards, on SQLite and PostgreSQL alike (where
//! it is one statement): of two commits racing on one copy one applies and the other is a
//! conflict that wrote nothing; a delivery recorded before is a duplicate that wrote nothing.

use crate::on_both_databases;
use crate::store_cards::{draft, note};
use crate::support::TestDb;
use warden::domain::{Request, RequestEvent, RequestState};
use warden::store::{Backend, Change, Committed, Store};

async fn created(store: &Store) -> Request {
    match store
        .create(
            &draft(1_000),
            Change::event(RequestEvent::IntentReady).log(note("created")),
        )
        .await
        .unwrap()
    {
        Committed::Applied(r) => *r,
        other => panic!("the create did not apply: {other:?}"),
    }
}

on_both_databases!(of_two_commits_racing_on_one_copy_one_applies_and_the_other_wrote_nothing);

async fn of_two_commits_racing_on_one_copy_one_applies_and_the_other_wrote_nothing(db: TestDb) {
    let store = Store::open(db.url(), 4).await.unwrap();
    for round in 0..20 {
        let seen = created(&store).await;
        let id = seen.id.to_string();
        let confirm = Change::event(RequestEvent::Confirm)
            .log(note("confirmed"))
            .delivery(Some(format!("confirm-{round}")));
        let cancel = Change::event(RequestEvent::Cancel)
            .log(note("cancelled"))
            .log(note("and said so"))
            .delivery(Some(format!("cancel-{round}")));
        let (a, b) = tokio::join!(
            store.commit(&seen, confirm, 2_000),
            store.commit(&seen, cancel, 2_000)
        );
        let (a, b) = (
            a.expect("a lost race is a conflict, not an error"),
            b.expect("same"),
        );
        let winner = match (&a, &b) {
            (Committed::Applied(r), Committed::Conflict)
            | (Committed::Conflict, Committed::Applied(r)) => r.clone(),
            other => panic!("round {round}: expected one applied and one conflict, got {other:?}"),
        };
        let stored = store.get_request(&id).await.unwrap().unwrap();
        assert_eq!(stored.state, winner.state);
        assert_eq!(stored.chain, winner.chain);
        let log = store.log_entries(&id).await.unwrap();
        assert_eq!(
            log.len() as i64,
            winner.chain.seq,
            "round {round}: only the winner's log"
        );
        let loser = match winner.state {
            RequestState::Submitted => format!("cancel-{round}"),
            _ => format!("confirm-{round}"),
        };
        assert!(
            !store.seen_delivery(&loser).await.unwrap(),
            "round {round}: the conflict recorded its delivery"
        );
    }
}

on_both_databases!(a_delivery_recorded_before_is_a_duplicate_that_changes_nothing);

async fn a_delivery_recorded_before_is_a_duplicate_that_changes_nothing(db: TestDb) {
    let store = Store::open(db.url(), 2).await.unwrap();
    let seen = created(&store).await;
    let id = seen.id.to_string();
    let first = Change::event(RequestEvent::Confirm)
        .log(note("confirmed"))
        .delivery(Some("click-1".into()));
    let Committed::Applied(after) = store.commit(&seen, first, 2_000).await.unwrap() else {
        panic!("the first delivery applies");
    };
    let again = Change::event(RequestEvent::PolicyAllow)
        .log(note("allowed"))
        .delivery(Some("click-1".into()));
    let before = store.stats();
    let replay = store.commit(&after, again, 3_000).await.unwrap();
    if store.backend() == Backend::Postgres {
        // The commit's four writes and its guards went as one statement, one round trip.
        assert_eq!(store.stats().since(before).statements, 1);
    }
    assert!(matches!(replay, Committed::Duplicate), "{replay:?}");
    let stored = store.get_request(&id).await.unwrap().unwrap();
    assert_eq!(stored.state, RequestState::Submitted);
    assert_eq!(stored.chain, after.chain);
    assert_eq!(
        store.log_entries(&id).await.unwrap().len() as i64,
        after.chain.seq
    );
}
