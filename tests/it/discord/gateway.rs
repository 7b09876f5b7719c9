//! The gateway, proven against a fake one: serenity finds it through `GET /gateway` on the fake
//! REST API, says hello, identifies, heartbeats, gets READY; DMs and mentions dispatched as
//! MESSAGE_CREATE become requests; after a dropped connection serenity resumes with its last
//! seq and what was replayed is handled once; a message stored before a crash is handled by the
//! next server; an INTERACTION_CREATE is stored, acknowledged through its callback and answered.

use super::app::{Setup, TestApp};
use super::durable::AcceptOnly;
use crate::on_both_databases;
use crate::support::fakes::discord::gateway::{self as gw, FakeGateway};
use crate::support::fakes::discord::interactions::{
    self as fixtures, ALICE, APP_ID, CHANNEL, DANA, From, GUILD,
};
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use warden::domain::RequestState;

on_both_databases!(
    messages_over_the_gateway_become_requests_and_a_resume_replays_them_once,
    a_mention_starts_one_thread_even_when_replayed_and_a_mention_inside_it_continues_the_request,
    a_gateway_message_stored_before_a_crash_is_handled_by_the_next_server,
    an_interaction_over_the_gateway_is_acknowledged_by_callback_and_handled_once,
    a_zombied_connection_is_replaced_and_messages_after_it_are_handled,
);

const ASK: &str = "read on game servers for 2h, INC-4411";
const ALICE_DM: &str = "88001";
const DANA_DM: &str = "88002";

/// Waits until serenity has identified and the session is ready for dispatches.
async fn connected(gw: &FakeGateway) {
    wait_until(PATIENCE, "the gateway session to be ready", || async {
        gw.ready()
    })
    .await;
}

fn dm(id: &str, author: &str, channel: &str) -> serde_json::Value {
    gw::message_create(id, author, channel, None, ASK)
}

async fn inbox_drains(app: &TestApp) {
    wait_until(PATIENCE, "the inbox to drain", || async {
        app.store().inbox_depth().await.unwrap() == 0
    })
    .await;
}

/// Deliveries the server recognised as handled before (`warden_events_total{result="duplicate"}`).
fn duplicates(app: &TestApp) -> u64 {
    app.engine()
        .metrics()
        .counter("warden_events_total", "result=\"duplicate\"")
}

/// Drops the connection, has the resume replay everything from READY on, and waits until the
/// replayed event was recognised as handled.
async fn resume_replaying_all(gw: &FakeGateway, app: &TestApp) {
    let before = duplicates(app);
    gw.replay_next_resume_from(1);
    gw.drop_connection();
    wait_until(PATIENCE, "serenity to resume", || async {
        !gw.seen().resumes.is_empty() && gw.ready()
    })
    .await;
    wait_until(PATIENCE, "the replay recognised as handled", || async {
        duplicates(app) > before
    })
    .await;
}

/// Confirmation cards posted to a channel (not edits, not thread starts).
fn cards_in(app: &TestApp, channel: &str) -> usize {
    let path = format!("/channels/{channel}/messages");
    app.fake
        .find("POST", &path)
        .iter()
        .filter(|c| c.path == path && c.status == 200)
        .count()
}

async fn messages_over_the_gateway_become_requests_and_a_resume_replays_them_once(db: TestDb) {
    let gw = FakeGateway::start().await;
    let app = TestApp::start_on(db, Setup::with_gateway(gw.url()).await).await;
    connected(&gw).await;
    let seen = gw.seen();
    assert_eq!(seen.identifies.len(), 1, "one Identify");
    assert!(
        seen.identifies[0].contains("test-bot-token"),
        "identified with the bot token"
    );

    gw.dispatch("MESSAGE_CREATE", dm("60001", ALICE, ALICE_DM));
    app.calls("POST", &format!("/channels/{ALICE_DM}/messages"), 1)
        .await;
    wait_until(PATIENCE, "a heartbeat acknowledged", || async {
        gw.seen().heartbeat_acks >= 1
    })
    .await;

    // The connection drops; a message arrives while it is down; the resume replays it, and
    // (a redelivery) the message handled before the drop too.
    let last_seq = gw.seen().delivered.last().map(|d| d.0).unwrap();
    gw.replay_next_resume_from(1);
    gw.drop_connection();
    gw.dispatch("MESSAGE_CREATE", dm("60002", DANA, DANA_DM));
    wait_until(PATIENCE, "serenity to resume", || async {
        !gw.seen().resumes.is_empty() && gw.ready()
    })
    .await;
    app.calls("POST", &format!("/channels/{DANA_DM}/messages"), 1)
        .await;
    wait_until(
        PATIENCE,
        "the replayed first message recognised",
        || async { duplicates(&app) >= 1 },
    )
    .await;
    inbox_drains(&app).await;
    app.settle().await;

    let seen = gw.seen();
    assert_eq!(
        (seen.identifies.len(), seen.resumes.clone()),
        (1, vec![last_seq]),
        "resumed with the last seq it saw, never identified again"
    );
    let replayed_first = seen
        .delivered
        .iter()
        .filter(|(_, t)| t == "MESSAGE_CREATE")
        .count();
    assert_eq!(replayed_first, 3, "the first message was delivered twice");
    assert_eq!(app.request_count().await, 2, "one request per message");
    assert_eq!(
        (cards_in(&app, ALICE_DM), cards_in(&app, DANA_DM)),
        (1, 1),
        "one confirmation card each"
    );
    let alice = app.latest_request("alice").await.expect("alice's request");
    assert_eq!(alice.origin.channel, ALICE_DM);
}

async fn a_mention_starts_one_thread_even_when_replayed_and_a_mention_inside_it_continues_the_request(
    db: TestDb,
) {
    let gw = FakeGateway::start().await;
    let app = TestApp::start_on(db, Setup::with_gateway(gw.url()).await).await;
    connected(&gw).await;
    let text = format!("<@{}> {ASK}", gw::BOT_USER);
    let mention = gw::message_create("61001", ALICE, fixtures::CHANNEL, Some(GUILD), &text);
    gw.dispatch("MESSAGE_CREATE", mention);
    // The card goes into the thread started from the message (its id is the message's).
    app.calls("POST", "/channels/61001/messages", 1).await;

    resume_replaying_all(&gw, &app).await;
    inbox_drains(&app).await;
    app.settle().await;
    let starts = app
        .fake
        .find("POST", "/channels/500/messages/61001/threads")
        .len();
    assert_eq!(starts, 1, "the replay starts no second thread");
    assert_eq!(app.request_count().await, 1, "one request");
    assert_eq!(cards_in(&app, "61001"), 1, "one confirmation card");

    // A mention inside the request's thread: serenity reads the channel (a thread of #500),
    // so the message continues that request (here: cancels it); no thread is started from it.
    let text = format!("<@{}> cancel", gw::BOT_USER);
    let inside = gw::message_create("61002", ALICE, "61001", Some(GUILD), &text);
    gw.dispatch("MESSAGE_CREATE", inside);
    let req = app.latest_request("alice").await.expect("the request");
    app.state_becomes(req.id.as_str(), RequestState::Cancelled)
        .await;
    app.call_with("POST", "/channels/61001/messages", "is cancelled")
        .await;
    assert!(
        app.fake
            .find("POST", "/channels/61001/messages/61002/threads")
            .is_empty(),
        "no thread started from a message in a thread"
    );
}

async fn a_gateway_message_stored_before_a_crash_is_handled_by_the_next_server(db: TestDb) {
    let gw = FakeGateway::start().await;
    let setup = Setup::with_gateway(gw.url()).await;
    // A server that stores what the gateway delivers but dies before handling it.
    let crashed = AcceptOnly::start(&setup, &db).await;
    connected(&gw).await;
    gw.dispatch("MESSAGE_CREATE", dm("62001", ALICE, ALICE_DM));
    wait_until(PATIENCE, "the message to be stored", || async {
        crashed.state.engine.store().inbox_depth().await.unwrap() == 1
    })
    .await;
    crashed.state.shutdown.cancel();
    drop(crashed);
    assert_eq!(cards_in_fake(&setup, ALICE_DM), 0, "nothing handled yet");

    // The next server opens a new session (Discord does not send the message again) and
    // handles the stored one.
    let app = TestApp::start_on(db.clone(), setup.clone()).await;
    app.calls("POST", &format!("/channels/{ALICE_DM}/messages"), 1)
        .await;
    inbox_drains(&app).await;
    app.settle().await;
    assert_eq!(app.request_count().await, 1);
    assert_eq!(cards_in(&app, ALICE_DM), 1, "handled once");
}

fn cards_in_fake(setup: &Setup, channel: &str) -> usize {
    let path = format!("/channels/{channel}/messages");
    setup
        .fake
        .find("POST", &path)
        .iter()
        .filter(|c| c.path == path)
        .count()
}

async fn an_interaction_over_the_gateway_is_acknowledged_by_callback_and_handled_once(db: TestDb) {
    let gw = FakeGateway::start().await;
    let app = TestApp::start_on(db, Setup::with_gateway(gw.url()).await).await;
    connected(&gw).await;
    let cmd = fixtures::slash(
        &From::guild(ALICE),
        "request",
        &[
            ("resource", "game-servers"),
            ("role", "read"),
            ("duration", "2h"),
            ("reason", "INC-4411"),
        ],
    );
    let (id, token) = (
        cmd["id"].as_str().unwrap().to_string(),
        cmd["token"].as_str().unwrap().to_string(),
    );
    gw.dispatch("INTERACTION_CREATE", cmd);
    let callback = format!("/interactions/{id}/{token}/callback");
    let acks = app.calls("POST", &callback, 1).await;
    assert_eq!(
        (
            acks[0].body["type"].as_u64(),
            acks[0].body["data"]["flags"].as_u64()
        ),
        (Some(5), Some(64)),
        "deferred, ephemeral: {}",
        acks[0].body
    );
    let original = format!("/webhooks/{APP_ID}/{token}/messages/@original");
    app.call_with("PATCH", &original, "continues in").await;

    resume_replaying_all(&gw, &app).await;
    assert_eq!(
        app.fake.find("POST", &callback).len(),
        1,
        "a replay is not acknowledged again"
    );
    inbox_drains(&app).await;
    app.settle().await;
    assert_eq!(app.request_count().await, 1, "one request");
    assert_eq!(cards_in(&app, CHANNEL), 1, "one confirmation card");
    assert_eq!(app.fake.find("PATCH", &original).len(), 1, "answered once");
}

async fn a_zombied_connection_is_replaced_and_messages_after_it_are_handled(db: TestDb) {
    let gw = FakeGateway::start().await;
    let app = TestApp::start_on(db, Setup::with_gateway(gw.url()).await).await;
    connected(&gw).await;
    gw.dispatch("MESSAGE_CREATE", dm("63001", ALICE, ALICE_DM));
    app.calls("POST", &format!("/channels/{ALICE_DM}/messages"), 1)
        .await;

    // Heartbeats stop being acknowledged: serenity gives the connection up and opens another
    // (its shard queue waits 5 s between shard starts, hence the longer patience).
    gw.stop_acking_heartbeats();
    let patience = std::time::Duration::from_secs(30);
    wait_until(patience, "a new connection after the zombie", || async {
        gw.seen().connections >= 2 && gw.ready()
    })
    .await;
    gw.dispatch("MESSAGE_CREATE", dm("63002", DANA, DANA_DM));
    app.calls("POST", &format!("/channels/{DANA_DM}/messages"), 1)
        .await;
    inbox_drains(&app).await;
    app.settle().await;
    assert_eq!(app.request_count().await, 2);
    let seen = gw.seen();
    // serenity 0.12 starts a new session here (Identify), where Discord asks for a Resume.
    assert_eq!(
        (seen.identifies.len(), seen.resumes.len()),
        (2, 0),
        "a new session"
    );
}
