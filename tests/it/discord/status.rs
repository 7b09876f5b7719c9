//! `/access status` on Discord: the person's home as the command's ephemeral answer, with the
//! cards' own buttons, which act through the cards' handlers.

use super::app::TestApp;
use super::flow::{ask, submit};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::fakes::discord::interactions::{
    self as fixtures, ALICE, APP_ID, CHANNEL, DANA, From,
};
use serde_json::Value;
use warden::domain::RequestState;

on_both_databases!(status_answers_privately_with_the_buttons_that_approve_and_then_extend);

/// Asks `/access status` as `user`; returns the ephemeral answer that replaced "thinking…".
async fn status(app: &TestApp, user: &'static str, expect: &str) -> Value {
    let cmd = fixtures::slash(&From::guild(user), "status", &[]);
    let ack = app.send(&cmd).await;
    assert_eq!(ack.json["data"]["flags"].as_u64(), Some(64), "{}", ack.json);
    let token = cmd["token"].as_str().unwrap();
    app.call_with(
        "PATCH",
        &format!("/webhooks/{APP_ID}/{token}/messages/@original"),
        expect,
    )
    .await
    .body
}

fn custom_ids(answer: &Value) -> Vec<Vec<String>> {
    answer["components"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|row| {
            row["components"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|b| b["custom_id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect()
}

async fn status_answers_privately_with_the_buttons_that_approve_and_then_extend(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    submit(&app, &id, &card).await;

    let dana = status(&app, DANA, "Waiting for your approval").await;
    assert_eq!(
        custom_ids(&dana),
        [[format!("warden:approve:{id}"), format!("warden:deny:{id}")]]
    );
    let content = dana["content"].as_str().unwrap();
    assert!(
        content.contains(&id) && content.contains("You have no active access."),
        "{content}"
    );

    // Approve from the status answer: the same handler as the card's, once.
    let approve = fixtures::click(
        &From::guild(DANA),
        &format!("warden:approve:{id}"),
        CHANNEL,
        "910000000000000001",
    );
    app.send(&approve).await;
    app.state_becomes(&id, RequestState::Active).await;
    app.send(&approve).await;
    app.settle().await;
    assert_eq!(app.store().approvals(&id).await.unwrap().len(), 1);

    let alice = status(&app, ALICE, "Active access").await;
    assert_eq!(
        custom_ids(&alice),
        [[format!("warden:extend:{id}"), format!("warden:revoke:{id}")]]
    );
    let content = alice["content"].as_str().unwrap();
    assert!(
        content.contains("from now"),
        "time left is shown: {content}"
    );
    let after = status(&app, DANA, "Your recent decisions").await;
    assert!(
        custom_ids(&after).is_empty(),
        "nothing waits for Dana any more"
    );
}
