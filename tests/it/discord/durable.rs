//! Nothing acknowledged is lost on Discord either: an interaction is stored, with what is needed
//! to answer it, before its deferred acknowledgement. A server that dies right after the
//! acknowledgement leaves it to the next one over the same database, which handles it and
//! completes the deferred response; an interaction delivered twice is handled once.

use super::app::{Setup, TestApp, send_signed};
use crate::on_both_databases;
use crate::support::fakes::discord::interactions::{
    self as fixtures, ALICE, APP_ID, CHANNEL, From,
};
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use std::sync::Arc;
use warden::app::Server;
use warden::clock::ManualClock;
use warden::server::AppState;

on_both_databases!(
    an_interaction_acknowledged_before_a_crash_is_handled_and_answered_by_the_next_server,
    an_interaction_delivered_twice_is_handled_once,
);

/// The server as `warden serve` builds it, answering HTTP but running no inbox worker: what a
/// process that dies right after acknowledging leaves behind, without a race against its own
/// worker.
pub(super) struct AcceptOnly {
    base: String,
    pub(super) state: AppState,
    http: reqwest::Client,
}

impl AcceptOnly {
    pub(super) async fn start(setup: &Setup, db: &TestDb) -> Self {
        warden::app::install_crypto();
        let mut s = setup.settings();
        s.database.url = db.url().to_string();
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let server = Server::build(&s, clock).await.expect("server builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = server.state.shutdown.clone();
        tokio::spawn(
            axum::serve(listener, server.router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .into_future(),
        );
        Self {
            base,
            state: server.state,
            http: reqwest::Client::new(),
        }
    }
}

fn request_command() -> serde_json::Value {
    fixtures::slash(
        &From::guild(ALICE),
        "request",
        &[
            ("resource", "game-servers"),
            ("role", "read"),
            ("duration", "2h"),
            ("reason", "INC-4411"),
        ],
    )
}

async fn inbox_drains(app: &TestApp) {
    wait_until(PATIENCE, "the inbox to drain", || async {
        app.store().inbox_depth().await.unwrap() == 0
    })
    .await;
}

async fn an_interaction_acknowledged_before_a_crash_is_handled_and_answered_by_the_next_server(
    db: TestDb,
) {
    let setup = Setup::new().await;
    let crashed = AcceptOnly::start(&setup, &db).await;
    let cmd = request_command();
    let token = cmd["token"].as_str().unwrap().to_string();
    let ack = send_signed(&crashed.http, &crashed.base, &setup.keys, &cmd).await;
    assert_eq!(
        (ack.status, ack.json["type"].as_u64()),
        (200, Some(5)),
        "deferred: {}",
        ack.json
    );
    assert_eq!(
        crashed.state.engine.store().inbox_depth().await.unwrap(),
        1,
        "the interaction is on disk once it is acknowledged"
    );
    crashed.state.shutdown.cancel();
    drop(crashed);

    // The next server over the same database handles it and answers the deferred response
    // on the interaction's own token.
    let app = TestApp::start_on(db.clone(), setup.clone()).await;
    let original = format!("/webhooks/{APP_ID}/{token}/messages/@original");
    let answer = app.call_with("PATCH", &original, "continues in").await;
    let req = app
        .latest_request("alice")
        .await
        .expect("the request was made");
    assert!(
        answer.body.to_string().contains(req.id.as_str()),
        "the answer names the request: {}",
        answer.body
    );
    app.calls("POST", &format!("/channels/{CHANNEL}/messages"), 1)
        .await;
    inbox_drains(&app).await;
    app.settle().await;
    assert_eq!(app.request_count().await, 1);
    assert_eq!(
        setup.fake.find("PATCH", &original).len(),
        1,
        "answered once"
    );
}

async fn an_interaction_delivered_twice_is_handled_once(db: TestDb) {
    let app = TestApp::start(db).await;
    let cmd = request_command();
    let token = cmd["token"].as_str().unwrap().to_string();
    // Twice at once (the first may still wait in the inbox), then once more after it was
    // handled.
    let (a, b) = tokio::join!(app.send(&cmd), app.send(&cmd));
    assert_eq!((a.status, b.status), (200, 200));
    let original = format!("/webhooks/{APP_ID}/{token}/messages/@original");
    app.call_with("PATCH", &original, "continues in").await;
    inbox_drains(&app).await;
    app.settle().await;
    let again = app.send(&cmd).await;
    assert_eq!(again.status, 200);
    app.call_with("PATCH", &original, "Already handled").await;
    inbox_drains(&app).await;
    app.settle().await;
    assert_eq!(app.request_count().await, 1, "one request");
    let cards = format!("/channels/{CHANNEL}/messages");
    let posted = app.fake.find("POST", &cards);
    assert_eq!(
        posted.iter().filter(|c| c.path == cards).count(),
        1,
        "one confirmation card"
    );
}
