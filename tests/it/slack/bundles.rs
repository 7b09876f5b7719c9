//! Several resources in one Slack ask: one confirmation card lists them, Submit decides each,
//! the low-risk item is granted at once, the other gets one approval card in the manager's DM.

use super::app::{TestApp, cards_with_button};
use super::flows::card;
use crate::on_both_databases;
use crate::support::TestDb;
use warden::domain::{RequestId, RequestState};

on_both_databases!(a_two_item_ask_in_a_dm_is_confirmed_once_and_each_item_decided_on_its_own);

async fn a_two_item_ask_in_a_dm_is_confirmed_once_and_each_item_decided_on_its_own(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    app.dm(
        "U0ALICE",
        "read on the billing db and staging db for 2h, INC-4411",
    )
    .await;
    let confirm = card(&app, "submit", None).await;
    let body = app
        .slack
        .ok("chat.postMessage")
        .into_iter()
        .find(|c| c.response["ts"] == confirm.ts.as_str())
        .expect("the confirmation card was posted")
        .body
        .to_string();
    assert!(
        body.contains("Items (2)")
            && body.contains("prod-billing-db")
            && body.contains("staging-db"),
        "{body}"
    );
    assert_eq!(
        cards_with_button(&app, "submit").len(),
        1,
        "one card for the ask"
    );
    let lead = RequestId::parse(&confirm.request_id).unwrap();
    let items = app.store().requests_in_bundle(&lead).await.unwrap();
    assert_eq!(items.len(), 2);
    let staging = items[1].id.to_string();
    assert_eq!(items[1].resource(), Some("staging-db"));
    app.click(
        "U0ALICE",
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    app.wait_state(&staging, RequestState::Active).await;
    let approval = card(&app, "approve", Some(&confirm.request_id)).await;
    app.wait_state(&confirm.request_id, RequestState::PendingApproval)
        .await;
    assert_eq!(approval.channel, "D0DANA");
    assert_eq!(
        cards_with_button(&app, "approve").len(),
        1,
        "only the billing db needs approval"
    );
    // Alice cannot approve her own item, whatever card she clicks from.
    app.click(
        "U0ALICE",
        "approve",
        &confirm.request_id,
        &approval.channel,
        &approval.ts,
    )
    .await;
    assert_eq!(
        app.row(&confirm.request_id).await.state,
        RequestState::PendingApproval
    );
    app.click(
        "U0DANA",
        "approve",
        &confirm.request_id,
        &approval.channel,
        &approval.ts,
    )
    .await;
    app.wait_state(&confirm.request_id, RequestState::Active)
        .await;
    let granted = app.row(&confirm.request_id).await;
    assert_eq!(granted.approvals.len(), 1);
    assert_eq!(granted.approvals[0].approver_id, "dana");
}
