//! Several resources in one ask: one card to confirm, a decision, grant and expiry per item,
//! one approval card for the item that needs it, and nothing stored when one item is invalid.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::doubles::InterleavedPolicy;
use crate::support::engine::{Setup, TestEngine};
use std::sync::Arc;
use warden::chat::CardAction;
use warden::chat::console::Shown;
use warden::clock::Clock;
use warden::domain::{CardKind, Patch, Request, RequestId, RequestState};
use warden::store::{Change, Committed, RequestFilter};
use warden::workflow::Handled;

on_both_databases!(
    a_two_item_ask_grants_the_low_risk_item_and_sends_the_other_for_approval,
    each_item_expires_on_its_own,
    an_invalid_item_refuses_the_whole_ask,
    the_requester_cannot_approve_an_item_of_their_own_bundle,
    cancel_on_the_bundle_card_cancels_every_item,
    an_item_changed_while_the_policy_decides_it_is_decided_on_what_it_became,
    the_items_are_listed_in_the_order_asked_when_the_clock_has_not_moved,
);

const ASK: &str = "read on the billing db and staging db for 2h because INC-4411";

/// Every request of `person`, oldest first.
async fn requests_of(t: &TestEngine, person: &str) -> Vec<Request> {
    let mut rows = t
        .store
        .list_requests(&RequestFilter {
            requester_id: Some(person.into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    rows.reverse();
    rows
}

/// The items of `person`'s one bundle, lead first.
async fn bundle(t: &TestEngine, person: &str) -> Vec<Request> {
    let all = requests_of(t, person).await;
    let lead = all
        .iter()
        .find(|r| r.leads_bundle())
        .unwrap_or_else(|| panic!("no bundle: {}", t.console.text()));
    t.store.requests_in_bundle(&lead.id).await.unwrap()
}

fn cards_of(t: &TestEngine, kind: CardKind) -> Vec<(String, RequestId)> {
    t.console
        .transcript()
        .into_iter()
        .filter_map(|s| match s {
            Shown::Card { to, card, .. } if card.kind == kind => Some((to, card.request_id)),
            _ => None,
        })
        .collect()
}

/// alice asks for the billing db (high: her manager dana approves) and the staging db (low:
/// allowed) in one message and confirms once.
async fn ask_and_confirm(t: &TestEngine) -> (Request, Request) {
    t.say("alice", ASK).await;
    let items = bundle(t, "alice").await;
    assert_eq!(items.len(), 2, "{}", t.console.text());
    assert!(
        items
            .iter()
            .all(|i| i.state == RequestState::AwaitingConfirmation)
    );
    let confirmations = cards_of(t, CardKind::Confirmation);
    assert_eq!(confirmations.len(), 1, "one card for the whole ask");
    assert_eq!(confirmations[0].1, items[0].id, "on the lead");
    let text = t.console.text();
    assert!(
        text.contains("Items (2)")
            && text.contains("prod-billing-db")
            && text.contains("staging-db"),
        "{text}"
    );
    let submitted = t
        .click("alice", CardAction::Submit, items[0].id.as_str())
        .await;
    assert_eq!(submitted, Handled::Done, "{}", t.console.text());
    let (billing, staging) = (
        t.row(items[0].id.as_str()).await,
        t.row(items[1].id.as_str()).await,
    );
    assert_eq!(billing.resource(), Some("prod-billing-db"));
    assert_eq!(staging.resource(), Some("staging-db"));
    (billing, staging)
}

async fn a_two_item_ask_grants_the_low_risk_item_and_sends_the_other_for_approval(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let (billing, staging) = ask_and_confirm(&t).await;
    assert_eq!(staging.state, RequestState::Active, "{}", t.console.text());
    assert_eq!(billing.state, RequestState::PendingApproval);
    assert_eq!(t.grants(), 1, "only the staging db so far");
    // The policy decided each item with the whole ask in view.
    let input = billing.intent.as_ref().unwrap();
    assert_eq!(input.items.len(), 2);
    let approvals = cards_of(&t, CardKind::Approval);
    assert_eq!(
        approvals.len(),
        1,
        "one approval card, to dana, for the billing db: {approvals:?}"
    );
    assert_eq!(approvals[0].1, billing.id);
    assert!(
        t.console
            .text()
            .contains(&format!("{}, one of 2 items", billing.id)),
        "{}",
        t.console.text()
    );
    let summary = t.console.text();
    assert!(
        summary.contains("(2 items)") && summary.contains("waiting for approval"),
        "one summary for the requester: {summary}"
    );
    assert_eq!(
        t.click("dana", CardAction::Approve, billing.id.as_str())
            .await,
        Handled::Done
    );
    assert_eq!(t.state(billing.id.as_str()).await, RequestState::Active);
    assert_eq!(t.grants(), 2);
    // A second click on the bundle's Submit changes nothing.
    t.click("alice", CardAction::Submit, billing.id.as_str())
        .await;
    assert_eq!(t.grants(), 2);
}

async fn each_item_expires_on_its_own(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let (billing, staging) = ask_and_confirm(&t).await;
    t.advance(60).await;
    t.click("dana", CardAction::Approve, billing.id.as_str())
        .await;
    assert_eq!(t.state(billing.id.as_str()).await, RequestState::Active);
    // Two hours after the staging grant: it expires; the billing grant has an hour left.
    t.advance(61).await;
    assert_eq!(t.state(staging.id.as_str()).await, RequestState::Expired);
    assert_eq!(t.state(billing.id.as_str()).await, RequestState::Active);
    assert_eq!(t.revokes(), 1);
    t.advance(60).await;
    assert_eq!(t.state(billing.id.as_str()).await, RequestState::Expired);
    assert_eq!(t.revokes(), 2);
}

async fn an_invalid_item_refuses_the_whole_ask(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.say(
        "alice",
        "read on the billing db and mainframe for 2h because INC-4411",
    )
    .await;
    let rows = requests_of(&t, "alice").await;
    assert_eq!(rows.len(), 1, "one draft, no items: {rows:?}");
    assert_eq!(rows[0].state, RequestState::Draft);
    assert_eq!(rows[0].bundle_id, None);
    assert!(cards_of(&t, CardKind::Confirmation).is_empty());
    assert!(
        t.console.text().contains("mainframe"),
        "the question names the item: {}",
        t.console.text()
    );
    assert_eq!(t.grants(), 0);
}

async fn the_requester_cannot_approve_an_item_of_their_own_bundle(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let (billing, _) = ask_and_confirm(&t).await;
    let own = t
        .click("alice", CardAction::Approve, billing.id.as_str())
        .await;
    assert!(matches!(own, Handled::Refused(_)), "{own:?}");
    assert_eq!(
        t.state(billing.id.as_str()).await,
        RequestState::PendingApproval
    );
    assert_eq!(t.grants(), 1, "only the staging item, allowed by policy");
}

async fn cancel_on_the_bundle_card_cancels_every_item(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.say("alice", ASK).await;
    let items = bundle(&t, "alice").await;
    t.click("alice", CardAction::Cancel, items[0].id.as_str())
        .await;
    for item in &items {
        assert_eq!(t.state(item.id.as_str()).await, RequestState::Cancelled);
    }
    let edit = t
        .click("alice", CardAction::Edit, items[0].id.as_str())
        .await;
    assert!(matches!(edit, Handled::Refused(_)), "{edit:?}");
    assert_eq!(t.grants(), 0);
}

/// Submit reads every item, asks the policy about each, then commits each guarded by what it
/// read. Another writer may change an item in between: on Discord the slash command's card moves
/// the items into its thread right after it is posted, so a quick Submit met that move. The
/// item was refused as "changed while you were clicking" and left awaiting a confirmation its
/// card no longer offered; it is now read again and decided on what it became.
async fn an_item_changed_while_the_policy_decides_it_is_decided_on_what_it_became(db: TestDb) {
    let policy = Arc::new(InterleavedPolicy::shipped());
    let t = TestEngine::start(
        db,
        Setup {
            policy: policy.clone(),
            ..Setup::default()
        },
    )
    .await;
    t.say("alice", ASK).await;
    let items = bundle(&t, "alice").await;
    let (lead, staging) = (items[0].clone(), items[1].clone());
    assert_eq!(staging.resource(), Some("staging-db"));
    let (store, now) = (t.store.clone(), t.clock.now_ms());
    let moved = staging.clone();
    policy.before(
        "staging-db",
        Box::pin(async move {
            let change = Change::none().patch(Patch {
                thread: Some("T-moved".into()),
                ..Default::default()
            });
            let done = store.commit(&moved, change, now).await.unwrap();
            assert!(matches!(done, Committed::Applied(_)), "the move commits");
        }),
    );
    let submitted = t.click("alice", CardAction::Submit, lead.id.as_str()).await;
    assert_eq!(submitted, Handled::Done, "{}", t.console.text());
    let staging = t.row(staging.id.as_str()).await;
    assert_eq!(staging.state, RequestState::Active, "{}", t.console.text());
    assert_eq!(staging.origin.thread.as_deref(), Some("T-moved"));
    assert_eq!(
        t.state(lead.id.as_str()).await,
        RequestState::PendingApproval
    );
    assert_eq!(t.grants(), 1, "the staging db, once");
    assert!(
        !t.console.text().contains("changed while you were clicking"),
        "{}",
        t.console.text()
    );
}

/// The test clock stands still while the ask is stored, as a fast machine's does within one
/// millisecond: the items still list in the order asked, not in their (random) ids' order.
async fn the_items_are_listed_in_the_order_asked_when_the_clock_has_not_moved(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    t.say(
        "alice",
        "read on prod-db, staging and the billing repo for 2h because INC-4411",
    )
    .await;
    let items = bundle(&t, "alice").await;
    let asked: Vec<Option<&str>> = items.iter().map(|i| i.resource()).collect();
    assert_eq!(
        asked,
        vec![
            Some("prod-billing-db"),
            Some("staging-db"),
            Some("github-billing")
        ],
        "{}",
        t.console.text()
    );
    assert!(
        items.windows(2).all(|w| w[0].created_at < w[1].created_at),
        "each item is created after the one before"
    );
}
