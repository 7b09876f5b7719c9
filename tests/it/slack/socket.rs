//! Socket Mode, proven against a fake Socket Mode server: with only an app token (no signing
//! secret, no HTTP routes) Warden opens the connection through `apps.connections.open`;
//! `events_api`, `interactive` and `slash_commands` envelopes are acknowledged and handled; a
//! `disconnect` is followed by a new connection, and an event delivered again (a retry after a
//! lost acknowledgement, or Slack resending it) is handled once; an event that cannot be stored
//! is not acknowledged, so Slack's retry brings it back.

use super::app::{TEAM, TestApp, cards_with_button};
use super::flows::{PROD_READ, card};
use crate::on_both_databases;
use crate::support::fakes::slack::{APP_TOKEN, FakeSlack};
use crate::support::fakes::slack_socket::FakeSocketMode;
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::domain::RequestState;

on_both_databases!(
    each_envelope_type_is_acknowledged_and_handled,
    after_a_refresh_the_client_reconnects_and_an_event_sent_again_is_handled_once,
    an_envelope_whose_acknowledgement_was_lost_is_redelivered_and_handled_once,
    an_event_that_cannot_be_stored_is_not_acknowledged_and_is_handled_when_sent_again,
);

/// A server that takes Slack only over Socket Mode, connected to the fake.
pub(super) async fn socket_app(db: TestDb) -> (TestApp, FakeSocketMode) {
    let socket = FakeSocketMode::start().await;
    let (slack, api_url) = FakeSlack::start().await;
    slack.set_socket_url(socket.url());
    let app = TestApp::start_on_fake(db, slack, &api_url, 50, |s| {
        s.slack.app_token = Some(SecretString::from(APP_TOKEN));
        s.slack.signing_secret = None;
    })
    .await;
    connected(&socket, 1).await;
    (app, socket)
}

/// Waits until the client has opened `n` connections and one is open.
async fn connected(socket: &FakeSocketMode, n: u32) {
    wait_until(PATIENCE, format!("Socket Mode connection {n}"), || async {
        socket.connections() >= n && socket.open_connections() >= 1
    })
    .await;
}

pub(super) async fn acked(socket: &FakeSocketMode, envelope_id: &str) -> Value {
    wait_until(PATIENCE, format!("{envelope_id} acknowledged"), || async {
        socket.ack(envelope_id)
    })
    .await
}

fn event(app: &TestApp, user: &str, text: &str) -> Value {
    serde_json::from_str(&app.dm_body(user, text).0).unwrap()
}

/// Everything stored is handled and the work it started has finished.
async fn drained(app: &TestApp) {
    wait_until(PATIENCE, "the inbox to drain", || async {
        app.store().inbox_depth().await.unwrap() == 0 && app.state.tasks.is_empty()
    })
    .await;
}

fn submit_cards(app: &TestApp) -> usize {
    cards_with_button(app, "submit").len()
}

async fn each_envelope_type_is_acknowledged_and_handled(db: TestDb) {
    let (app, socket) = socket_app(db).await;
    let opened = app.slack.ok("apps.connections.open");
    assert!(
        !opened.is_empty(),
        "the address came from apps.connections.open"
    );

    let dm = event(&app, "U0ALICE", PROD_READ);
    let env = socket.send("events_api", dm.clone());
    assert_eq!(acked(&socket, &env).await, json!({ "envelope_id": env }));
    let confirm = card(&app, "submit", None).await;
    assert_eq!(confirm.channel, "D0ALICE");

    let click = app.click_payload(
        "U0ALICE",
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    );
    let env = socket.send("interactive", click.clone());
    assert_eq!(acked(&socket, &env).await, json!({ "envelope_id": env }));
    app.wait_state(&confirm.request_id, RequestState::PendingApproval)
        .await;
    card(&app, "approve", Some(&confirm.request_id)).await;

    let cmd = command("U0BOB", "request wiki edit for 1h");
    let env = socket.send("slash_commands", cmd.clone());
    let ack = acked(&socket, &env).await;
    assert_eq!(ack["envelope_id"], env.as_str());
    assert_eq!(
        ack["payload"]["text"], "On it.",
        "the command is answered in its ack"
    );
    wait_until(PATIENCE, "bob's request", || async {
        app.requests().await.iter().any(|r| r.requester_id == "bob")
    })
    .await;
    drained(&app).await;

    // After a refresh, Slack sends all three again in new envelopes: acknowledged, and
    // handled once (no second request, confirmation or approval card).
    let before = socket.connections();
    socket.disconnect("refresh_requested");
    connected(&socket, before + 1).await;
    for (kind, payload) in [
        ("events_api", dm),
        ("interactive", click),
        ("slash_commands", cmd),
    ] {
        let env = socket.send(kind, payload);
        acked(&socket, &env).await;
    }
    drained(&app).await;
    assert_eq!(app.requests().await.len(), 2, "alice's and bob's");
    assert_eq!(
        (submit_cards(&app), cards_with_button(&app, "approve").len()),
        (2, 1),
        "one confirmation card per request, one approval card"
    );
    assert_eq!(
        app.row(&confirm.request_id).await.state,
        RequestState::PendingApproval
    );
}

async fn after_a_refresh_the_client_reconnects_and_an_event_sent_again_is_handled_once(db: TestDb) {
    let (app, socket) = socket_app(db).await;
    let first = event(&app, "U0ALICE", PROD_READ);
    let env = socket.send("events_api", first.clone());
    acked(&socket, &env).await;
    card(&app, "submit", None).await;

    let before = socket.connections();
    socket.disconnect("refresh_requested");
    connected(&socket, before + 1).await;
    // Slack sends the same event again in a new envelope on the new connection.
    let again = socket.send("events_api", first);
    acked(&socket, &again).await;
    // And what happens next is not lost.
    let next = socket.send("events_api", event(&app, "U0DANA", PROD_READ));
    acked(&socket, &next).await;
    wait_until(PATIENCE, "dana's card", || async {
        submit_cards(&app) >= 2
    })
    .await;
    drained(&app).await;

    let envelopes = socket.envelopes();
    assert_ne!(
        envelopes[0].sent_on, envelopes[1].sent_on,
        "sent again on another connection"
    );
    assert_eq!(app.requests().await.len(), 2, "one request per event");
    assert_eq!(submit_cards(&app), 2, "one confirmation card per event");
}

async fn an_envelope_whose_acknowledgement_was_lost_is_redelivered_and_handled_once(db: TestDb) {
    let (app, socket) = socket_app(db).await;
    socket.lose_next_ack();
    let env = socket.send("events_api", event(&app, "U0ALICE", PROD_READ));
    acked(&socket, &env).await;
    let delivered = socket.envelopes().remove(0);
    assert_eq!(
        (delivered.retry_attempt, delivered.sent_on.len()),
        (1, 2),
        "delivered again after the connection dropped"
    );
    card(&app, "submit", None).await;

    // A `warning` disconnect: the client moves to a new connection; nothing is lost.
    let before = socket.connections();
    socket.disconnect("warning");
    connected(&socket, before + 1).await;
    let next = socket.send("events_api", event(&app, "U0DANA", PROD_READ));
    acked(&socket, &next).await;
    wait_until(PATIENCE, "dana's card", || async {
        submit_cards(&app) >= 2
    })
    .await;
    drained(&app).await;
    assert_eq!(app.requests().await.len(), 2, "one request per event");
    assert_eq!(submit_cards(&app), 2, "one confirmation card per event");
}

/// A slash command as Socket Mode carries it (the form fields as a JSON object).
fn command(user: &str, text: &str) -> Value {
    json!({
        "token": "ignored", "team_id": TEAM, "team_domain": "warden-test", "channel_id": "C0ACCESS",
        "channel_name": "access-requests", "user_id": user, "user_name": user.to_lowercase(),
        "command": "/access", "text": text, "api_app_id": "A0WARDEN", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0WARDEN/1/abc",
        "trigger_id": format!("13345224609.738474920.{}", uuid::Uuid::new_v4().simple()),
    })
}

/// Makes every write to the inbox fail (`down`) or work again, as a store outage would.
async fn inbox_down(app: &TestApp, db: &TestDb, down: bool) {
    let statements: &[&str] = match (db.schema().is_some(), down) {
        (false, true) => &[
            "CREATE TRIGGER inbox_down BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'inbox down for the test'); END",
        ],
        (false, false) => &["DROP TRIGGER inbox_down"],
        (true, true) => &[
            "CREATE FUNCTION inbox_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'inbox down for the test'; END $$",
            "CREATE TRIGGER inbox_down BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION inbox_down()",
        ],
        (true, false) => &["DROP TRIGGER inbox_down ON inbox"],
    };
    for sql in statements {
        sqlx::query(*sql)
            .execute(app.store().pool())
            .await
            .expect("the test changes the inbox");
    }
}

async fn an_event_that_cannot_be_stored_is_not_acknowledged_and_is_handled_when_sent_again(
    db: TestDb,
) {
    let (app, socket) = socket_app(db.clone()).await;
    inbox_down(&app, &db, true).await;
    let lost = socket.send("events_api", event(&app, "U0ALICE", PROD_READ));
    // Warden's own message is acknowledged without being stored; the client works through one
    // connection's envelopes in order, so once this one is acknowledged the first was decided.
    let mut echo = event(&app, "U0ALICE", "a card");
    echo["event"]["bot_id"] = json!("B0WARDEN");
    let marker = socket.send("events_api", echo);
    acked(&socket, &marker).await;
    assert_eq!(socket.ack(&lost), None, "not stored, so not acknowledged");
    assert!(app.requests().await.is_empty());

    inbox_down(&app, &db, false).await;
    socket.retry_unacked();
    acked(&socket, &lost).await;
    card(&app, "submit", None).await;
    drained(&app).await;
    assert_eq!(app.requests().await.len(), 1);
    assert_eq!(submit_cards(&app), 1);
}
