//! An approver's queue asked for in a guild channel comes back as the interaction's ephemeral
//! answer, never as a message in the channel.

use super::app::TestApp;
use super::flow::{ask, submit};
use crate::on_sqlite;
use crate::support::TestDb;
use crate::support::fakes::discord::interactions::{self as fixtures, APP_ID, DANA, From};

on_sqlite!(an_approvers_queue_asked_in_a_guild_channel_is_answered_ephemerally);

async fn an_approvers_queue_asked_in_a_guild_channel_is_answered_ephemerally(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    submit(&app, &id, &card).await;
    let cmd = fixtures::slash(&From::guild(DANA), "status", &[]);
    let ack = app.send(&cmd).await;
    assert_eq!(
        ack.json["data"]["flags"].as_u64(),
        Some(64),
        "deferred as ephemeral: {}",
        ack.json
    );
    let token = cmd["token"].as_str().unwrap();
    app.call_with(
        "PATCH",
        &format!("/webhooks/{APP_ID}/{token}/messages/@original"),
        "Waiting for your approval",
    )
    .await;
    app.settle().await;
    let public: Vec<_> = app
        .fake
        .find("POST", "/channels/")
        .into_iter()
        .filter(|c| c.body.to_string().contains("Waiting for your approval"))
        .collect();
    assert!(public.is_empty(), "posted in a channel: {public:#?}");
}
