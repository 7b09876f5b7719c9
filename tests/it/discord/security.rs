//! What reaches the engine: only signed, fresh interactions, each acted on once.

use super::app::TestApp;
use crate::support::TestDb;
use crate::support::fakes::discord::interactions::{
    self as fixtures, ALICE, CHANNEL, DANA, From, Keys,
};
use warden::domain::RequestState;

fn request_cmd() -> serde_json::Value {
    fixtures::slash(
        &From::guild(ALICE),
        "request",
        &[
            ("resource", "game-servers"),
            ("role", "read"),
            ("duration", "1h"),
            ("reason", "INC-1"),
        ],
    )
}

/// Nothing stored and nothing sent to Discord.
async fn untouched(app: &TestApp) {
    app.settle().await;
    assert_eq!(app.request_count().await, 0);
    assert!(app.fake.calls().is_empty(), "{:?}", app.fake.calls());
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let answer = app.send(&fixtures::ping()).await;
    assert_eq!(
        (answer.status, answer.json["type"].as_u64()),
        (200, Some(1))
    );
}

#[tokio::test]
async fn a_signature_from_another_key_is_rejected_and_nothing_is_stored() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let body = serde_json::to_vec(&request_cmd()).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let forged = Keys::generate().sign(&ts, &body);
    assert_eq!(app.post_raw(body.clone(), &ts, &forged).await.status, 401);
    assert_eq!(app.post_raw(body, &ts, "not-hex").await.status, 401);
    untouched(&app).await;
}

#[tokio::test]
async fn a_tampered_body_is_rejected_and_nothing_is_stored() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let body = serde_json::to_vec(&request_cmd()).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = app.keys.sign(&ts, &body);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("\"read\"", "\"admin\"")
        .into_bytes();
    assert_eq!(app.post_raw(tampered, &ts, &sig).await.status, 401);
    untouched(&app).await;
}

#[tokio::test]
async fn a_stale_timestamp_is_rejected_even_when_correctly_signed() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let body = serde_json::to_vec(&request_cmd()).unwrap();
    let stale = (chrono::Utc::now().timestamp() - 6 * 60).to_string();
    let sig = app.keys.sign(&stale, &body);
    assert_eq!(app.post_raw(body.clone(), &stale, &sig).await.status, 401);
    let future = (chrono::Utc::now().timestamp() + 6 * 60).to_string();
    let sig = app.keys.sign(&future, &body);
    assert_eq!(app.post_raw(body, &future, &sig).await.status, 401);
    untouched(&app).await;
}

#[tokio::test]
async fn missing_signature_headers_are_rejected() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let resp = app
        .http
        .post(format!("{}/discord/interactions", app.base))
        .body(serde_json::to_vec(&fixtures::ping()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_interaction_has_no_second_effect() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let body = serde_json::to_vec(&request_cmd()).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = app.keys.sign(&ts, &body);
    assert_eq!(app.post_raw(body.clone(), &ts, &sig).await.status, 200);
    app.calls(
        "POST",
        &format!("/channels/{}/messages", fixtures::CHANNEL),
        1,
    )
    .await;
    app.settle().await;
    let before = app.fake.calls().len();
    assert_eq!(
        app.post_raw(body, &ts, &sig).await.status,
        200,
        "a replay within the window is acknowledged"
    );
    app.settle().await;
    assert_eq!(app.request_count().await, 1, "one request");
    let cards = app
        .fake
        .find("POST", &format!("/channels/{}/messages", fixtures::CHANNEL))
        .iter()
        .filter(|c| c.path.ends_with("/messages"))
        .count();
    assert_eq!(cards, 1, "one card");
    let after: Vec<_> = app.fake.calls().into_iter().skip(before).collect();
    assert!(
        after.iter().all(|c| c.path.starts_with("/webhooks/")),
        "the replay only closed its own deferred reply: {after:?}"
    );
}

/// Only the requester may edit; anyone else's click must not reveal the request in a form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_edit_click_gets_an_ephemeral_refusal_and_no_prefilled_form() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (id, card) = super::flow::ask(&app).await;
    // Dana is Alice's manager and approver; editing Alice's request is still not hers to do.
    let answer = app
        .send(&fixtures::click(
            &From::guild(DANA),
            &format!("warden:edit:{id}"),
            CHANNEL,
            &card,
        ))
        .await;
    assert_eq!(answer.status, 200);
    assert_ne!(answer.json["type"], 9, "no modal: {}", answer.json);
    assert_eq!(
        (
            answer.json["type"].as_u64(),
            answer.json["data"]["flags"].as_u64()
        ),
        (Some(4), Some(64)),
        "a message only Dana sees: {}",
        answer.json
    );
    let shown = answer.json.to_string();
    assert!(
        shown.contains("can't find")
            && !shown.contains("game-servers")
            && !shown.contains("INC-4411"),
        "a refusal that shows nothing of Alice's request: {shown}"
    );
    app.settle().await;
    let row = app.store().get_request(&id).await.unwrap().unwrap();
    assert_eq!(row.state, RequestState::AwaitingConfirmation);
    assert_eq!(row.duration_secs(), Some(2 * 3600));
}
