//! Answers about people's requests are private: in a public channel, `status` (a requester's
//! requests, an approver's queue) is shown only to the person who asked, never posted.

use super::app::TestApp;
use super::flows::{PROD_READ, ask_and_submit};
use crate::on_sqlite;
use crate::support::TestDb;
use crate::support::fakes::slack::Call;

on_sqlite!(
    status_in_a_public_channel_is_shown_only_to_the_asker,
    an_approvers_queue_in_a_public_channel_is_shown_only_to_the_approver,
);

const PUBLIC: &str = "C0PUBLIC";

/// Every successful call that carried `needle` into the public channel, by method.
fn in_public(app: &TestApp, needle: &str) -> Vec<Call> {
    app.slack
        .calls()
        .into_iter()
        .filter(|c| c.status == 200 && c.body["channel"] == PUBLIC)
        .filter(|c| c.body.to_string().contains(needle))
        .collect()
}

async fn status_in_a_public_channel_is_shown_only_to_the_asker(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let (id, _, _) = ask_and_submit(&app, PROD_READ).await;
    app.say_in_channel("U0ALICE", PUBLIC, "status").await;
    app.wait_for("Alice's status, privately", |_| {
        in_public(&app, &id)
            .iter()
            .any(|c| c.method == "chat.postEphemeral" && c.body["user"] == "U0ALICE")
    })
    .await;
    let posted: Vec<_> = in_public(&app, &id)
        .into_iter()
        .filter(|c| c.method != "chat.postEphemeral")
        .collect();
    assert!(posted.is_empty(), "posted for everyone: {posted:#?}");
}

async fn an_approvers_queue_in_a_public_channel_is_shown_only_to_the_approver(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let (id, _, _) = ask_and_submit(&app, PROD_READ).await;
    app.say_in_channel("U0DANA", PUBLIC, "status").await;
    app.wait_for("Dana's queue, privately", |_| {
        in_public(&app, &id).iter().any(|c| {
            c.method == "chat.postEphemeral"
                && c.body["user"] == "U0DANA"
                && c.body.to_string().contains("Waiting for your approval")
        })
    })
    .await;
    let posted: Vec<_> = in_public(&app, &id)
        .into_iter()
        .filter(|c| c.method != "chat.postEphemeral")
        .collect();
    assert!(posted.is_empty(), "posted for everyone: {posted:#?}");
}
