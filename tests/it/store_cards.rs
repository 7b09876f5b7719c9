//! A request's posted cards travel on the aggregate: read with it, kept by each commit, and a
//! copy that missed a card recorded meanwhile cannot commit, on SQLite and PostgreSQL.

use crate::on_both_databases;
use crate::support::TestDb;
use warden::domain::{
    CardKind, Entry, Evidence, Origin, Platform, PostedCard, Request, RequestEvent, RequestId,
    ScopeKind,
};
use warden::store::{Change, Committed, Store};

fn card(message_id: &str, kind: CardKind) -> PostedCard {
    PostedCard {
        platform: Platform::Console,
        channel: "c1".into(),
        message_id: message_id.into(),
        kind,
    }
}

/// A new console request of alice's (shared with `store_commit`).
pub(crate) fn draft(now: i64) -> Request {
    Request::draft(
        RequestId::generate(),
        Origin {
            platform: Platform::Console,
            workspace: "local".into(),
            channel: "c1".into(),
            thread: Some("t1".into()),
            kind: ScopeKind::Console,
        },
        "alice".into(),
        "alice".into(),
        now,
    )
}

pub(crate) fn note(text: &str) -> Entry {
    Entry::warden(Evidence::MessageOut { text: text.into() })
}

fn applied(c: Committed) -> Request {
    match c {
        Committed::Applied(r) => *r,
        other => panic!("expected the change to apply, got {other:?}"),
    }
}

on_both_databases!(a_request_is_read_with_its_cards_and_each_commit_keeps_them);

async fn a_request_is_read_with_its_cards_and_each_commit_keeps_them(db: TestDb) {
    let store = Store::open(db.url(), 2).await.unwrap();
    let confirmation = card("m1", CardKind::Confirmation);
    let created = applied(
        store
            .create(
                &draft(1_000),
                Change::event(RequestEvent::IntentReady)
                    .log(note("created"))
                    .card(confirmation.clone()),
            )
            .await
            .unwrap(),
    );
    assert_eq!(created.cards, Some(vec![confirmation.clone()]));
    let read = store
        .get_request(created.id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read, created,
        "the create returns what a read finds, cards too"
    );

    let approval = card("m2", CardKind::Approval);
    let next = applied(
        store
            .commit(
                &read,
                Change::none().log(note("second")).card(approval.clone()),
                2_000,
            )
            .await
            .unwrap(),
    );
    assert_eq!(
        next.cards,
        Some(vec![confirmation.clone(), approval.clone()])
    );
    let again = store
        .get_request(created.id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.cards, next.cards);
    assert_eq!(
        store.cards(created.id.as_str()).await.unwrap(),
        vec![confirmation, approval],
        "the cards table agrees"
    );
    // A request without cards reads as an empty list, not as unknown.
    let bare = applied(
        store
            .create(&draft(3_000), Change::event(RequestEvent::IntentReady))
            .await
            .unwrap(),
    );
    let bare = store.get_request(bare.id.as_str()).await.unwrap().unwrap();
    assert_eq!(bare.cards, Some(vec![]));
}

on_both_databases!(a_copy_read_before_a_card_was_recorded_conflicts_and_a_fresh_read_has_it);

async fn a_copy_read_before_a_card_was_recorded_conflicts_and_a_fresh_read_has_it(db: TestDb) {
    let store = Store::open(db.url(), 2).await.unwrap();
    let created = applied(
        store
            .create(
                &draft(1_000),
                Change::event(RequestEvent::IntentReady).card(card("m1", CardKind::Confirmation)),
            )
            .await
            .unwrap(),
    );
    let stale = store
        .get_request(created.id.as_str())
        .await
        .unwrap()
        .unwrap();
    // An approval card posted after a change and recorded on its own, in the same millisecond.
    let alert = card("m2", CardKind::Alert);
    store
        .record_cards(&created.id, std::slice::from_ref(&alert), stale.updated_at)
        .await
        .unwrap();
    let outcome = store
        .commit(&stale, Change::none().log(note("from a stale copy")), 2_000)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Committed::Conflict),
        "a copy without the recorded card must not commit (its refresh would miss the card), got {outcome:?}"
    );
    let fresh = store
        .get_request(created.id.as_str())
        .await
        .unwrap()
        .unwrap();
    assert!(fresh.cards.as_ref().unwrap().contains(&alert));
    let next = applied(
        store
            .commit(&fresh, Change::none().log(note("from a fresh copy")), 2_000)
            .await
            .unwrap(),
    );
    assert!(next.cards.unwrap().contains(&alert));
}

on_both_databases!(a_stored_request_that_does_not_decode_is_an_error_naming_its_column);

/// Reads are strict on either read path (rusqlite on SQLite, sqlx on PostgreSQL): a row with
/// a value no type holds fails the read and names the request and the column, never a default.
async fn a_stored_request_that_does_not_decode_is_an_error_naming_its_column(db: TestDb) {
    let store = Store::open(db.url(), 2).await.unwrap();
    let created = applied(
        store
            .create(
                &draft(1_000),
                Change::event(RequestEvent::IntentReady).log(note("created")),
            )
            .await
            .unwrap(),
    );
    let id = created.id.to_string();
    assert!(store.get_request(&id).await.unwrap().is_some());
    sqlx::query("UPDATE requests SET state = 'mislaid' WHERE id = $1")
        .bind(&id)
        .execute(store.pool())
        .await
        .unwrap();
    let err = store
        .get_request(&id)
        .await
        .expect_err("a bad state fails the read");
    let chain = format!("{err:#}");
    assert!(
        chain.contains(&id) && chain.contains("'state'") && chain.contains("mislaid"),
        "{chain}"
    );
    let listed = store
        .requests_of("alice", &[warden::domain::RequestState::Denied])
        .await;
    assert!(
        listed.is_ok(),
        "a filter that leaves the row out still reads"
    );
    sqlx::query("UPDATE requests SET state = $1, current_step = -1 WHERE id = $2")
        .bind(created.state.as_str())
        .bind(&id)
        .execute(store.pool())
        .await
        .unwrap();
    let chain = format!(
        "{:#}",
        store.get_request(&id).await.expect_err("a negative step")
    );
    assert!(
        chain.contains("'current_step'") && chain.contains("out of range"),
        "{chain}"
    );
}
