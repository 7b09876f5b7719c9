//! Several resources in one Discord ask: the manager gets one card for both items, its
//! "Approve all" row first and each item's buttons after, and one click approves both.

use super::app::TestApp;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::fakes::discord::dm_channel;
use crate::support::fakes::discord::interactions::{self as fixtures, ALICE, CHANNEL, DANA, From};
use warden::domain::RequestState;
use warden::store::RequestFilter;

on_both_databases!(one_card_for_both_items_and_approve_all_grants_each);

async fn one_card_for_both_items_and_approve_all_grants_each(db: TestDb) {
    let app = TestApp::start(db).await;
    let cmd = fixtures::slash(
        &From::guild(ALICE),
        "ask",
        &[(
            "text",
            "read on the game servers and the build farm for 2h because INC-4411",
        )],
    );
    assert_eq!(app.send(&cmd).await.status, 200);
    let card = app
        .calls("POST", &format!("/channels/{CHANNEL}/messages"), 1)
        .await
        .remove(0);
    let card_id = card.reply["id"].as_str().unwrap().to_string();
    let rows = app
        .store()
        .list_requests(&RequestFilter {
            requester_id: Some("alice".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let lead = rows
        .iter()
        .find(|r| r.leads_bundle())
        .expect("a bundle")
        .id
        .clone();
    let items = app.store().requests_in_bundle(&lead).await.unwrap();
    assert_eq!(items.len(), 2);
    let (a, b) = (items[0].id.to_string(), items[1].id.to_string());
    let ack = app
        .send(&fixtures::click(
            &From::guild(ALICE),
            &format!("warden:submit:{lead}"),
            CHANNEL,
            &card_id,
        ))
        .await;
    assert_eq!(ack.json["type"], 6);
    app.state_becomes(&a, RequestState::PendingApproval).await;
    app.state_becomes(&b, RequestState::PendingApproval).await;
    let dm = dm_channel(DANA);
    let posted = app
        .calls("POST", &format!("/channels/{dm}/messages"), 1)
        .await;
    assert_eq!(posted.len(), 1, "one card for dana: {posted:?}");
    let rows = posted[0].body["components"].as_array().unwrap().clone();
    let ids = |row: &serde_json::Value| -> Vec<String> {
        row["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["custom_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&rows[0]),
        [
            format!("warden:approve_all:{a},{b}"),
            format!("warden:deny_all:{a},{b}")
        ]
    );
    assert_eq!(
        ids(&rows[1]),
        [
            format!("warden:approve:{a}"),
            format!("warden:deny:{a}"),
            format!("warden:approve:{b}"),
            format!("warden:deny:{b}")
        ]
    );
    let message = posted[0].reply["id"].as_str().unwrap().to_string();
    let click = fixtures::click(
        &From::Dm { user: DANA },
        &format!("warden:approve_all:{a},{b}"),
        &dm,
        &message,
    );
    assert_eq!(app.send(&click).await.json["type"], 6);
    // Discord redelivers the same interaction: nothing is approved twice.
    app.send(&click).await;
    for id in [&a, &b] {
        app.state_becomes(id, RequestState::Active).await;
        let approvals = app.store().approvals(id).await.unwrap();
        assert_eq!(approvals.len(), 1, "{approvals:?}");
        assert_eq!(approvals[0].approver_id, "dana");
    }
}
