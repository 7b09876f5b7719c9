//! The inbound edge: signatures checked before anything is read, redeliveries processed once,
//! slash commands and thread replies scoped to their request.

use super::app::{TestApp, cards_with_button, now_ts, sign, sign_with};
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use crate::{on_both_databases, on_sqlite};
use serde_json::json;
use warden::domain::RequestState;

on_both_databases!(the_same_event_delivered_four_times_makes_one_request_and_one_intake_run);
on_sqlite!(
    requests_with_a_bad_stale_missing_or_altered_signature_get_401_and_leave_nothing,
    url_verification_is_answered_with_the_challenge,
    a_slash_command_request_lives_in_the_thread_its_first_card_starts,
);

async fn stored_events(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM processed_events")
        .fetch_one(app.store().pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

async fn requests_with_a_bad_stale_missing_or_altered_signature_get_401_and_leave_nothing(
    db: TestDb,
) {
    let app = TestApp::start(db, 50).await;
    let (body, _) = app.dm_body("U0ALICE", "need read on staging db for 1h");
    let url = format!("{}/slack/events", app.base);
    let ts = now_ts();
    let stale = (chrono::Utc::now().timestamp() - 301).to_string();
    let mut forged = sign_with("not-the-secret", &body, &ts);
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, String);
    let cases: Vec<Case> = vec![
        (
            "wrong secret",
            vec![
                ("x-slack-request-timestamp", ts.clone()),
                ("x-slack-signature", std::mem::take(&mut forged)),
            ],
            body.clone(),
        ),
        (
            "stale timestamp, correctly signed",
            vec![
                ("x-slack-request-timestamp", stale.clone()),
                ("x-slack-signature", sign(&body, &stale)),
            ],
            body.clone(),
        ),
        ("no headers", vec![], body.clone()),
        (
            "no timestamp",
            vec![("x-slack-signature", sign(&body, &ts))],
            body.clone(),
        ),
        (
            "no signature",
            vec![("x-slack-request-timestamp", ts.clone())],
            body.clone(),
        ),
        (
            "body altered after signing",
            vec![
                ("x-slack-request-timestamp", ts.clone()),
                ("x-slack-signature", sign(&body, &ts)),
            ],
            body.replace("staging db for 1h", "prod db for 8h"),
        ),
        (
            "signature of another timestamp",
            vec![
                (
                    "x-slack-request-timestamp",
                    (ts.parse::<i64>().unwrap() - 1).to_string(),
                ),
                ("x-slack-signature", sign(&body, &ts)),
            ],
            body.clone(),
        ),
    ];
    for (name, headers, sent) in cases {
        let mut req = app
            .http
            .post(&url)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.body(sent).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        assert!(
            resp.text().await.unwrap().is_empty(),
            "{name}: a 401 says nothing"
        );
    }
    for path in ["/slack/commands", "/slack/interactions"] {
        let resp = app
            .http
            .post(format!("{}{path}", app.base))
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", "v0=00")
            .body("payload=%7B%7D")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
    }
    assert!(app.requests().await.is_empty(), "no request stored");
    assert_eq!(stored_events(&app).await, 0, "no delivery recorded");
    assert!(app.slack.calls().is_empty(), "nothing sent to Slack");
}

async fn url_verification_is_answered_with_the_challenge(db: TestDb) {
    let app = TestApp::start(db, 50).await;
    let body = json!({ "token": "ignored", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }).to_string();
    let resp = app
        .post_signed("/slack/events", "application/json", &body, &[])
        .await;
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

async fn the_same_event_delivered_four_times_makes_one_request_and_one_intake_run(db: TestDb) {
    let app = TestApp::start(db, 50).await;
    let (body, _) = app.dm_body(
        "U0ALICE",
        "need read on the prod billing db for 2h, INC-4411",
    );
    let deliveries = ["0", "1", "2", "3"].map(|n| {
        let extra: Vec<(&str, &str)> = if n == "0" {
            vec![]
        } else {
            vec![
                ("x-slack-retry-num", n),
                ("x-slack-retry-reason", "http_timeout"),
            ]
        };
        let app = &app;
        let body = body.clone();
        async move {
            app.post_signed("/slack/events", "application/json", &body, &extra)
                .await
                .status()
        }
    });
    for status in futures::future::join_all(deliveries).await {
        assert_eq!(status, 200, "every delivery is acknowledged");
    }
    let engine = app.state.engine.clone();
    app.wait_for("three duplicates recognised", |_| {
        engine
            .metrics()
            .counter("warden_events_total", "result=\"duplicate\"")
            == 3
    })
    .await;
    app.wait_for("the confirmation card", |_| {
        !cards_with_button(&app, "submit").is_empty()
    })
    .await;
    // The card is posted just before the step that stores the request commits.
    app.wait_for("the first delivery handled", |_| {
        engine
            .metrics()
            .counter("warden_events_total", "result=\"ok\"")
            == 1
    })
    .await;
    let requests = app.requests().await;
    assert_eq!(requests.len(), 1, "one request");
    let log = app.store().log_entries(&requests[0].id).await.unwrap();
    assert_eq!(
        log.iter().filter(|e| e.kind == "intake_run").count(),
        1,
        "the intake ran once"
    );
    assert_eq!(
        cards_with_button(&app, "submit").len(),
        1,
        "one confirmation card"
    );
}

async fn a_slash_command_request_lives_in_the_thread_its_first_card_starts(db: TestDb) {
    let app = TestApp::start(db, 50).await;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("token", "ignored"),
            ("team_id", "T0WARDEN"),
            ("team_domain", "warden-test"),
            ("channel_id", "C0ACCESS"),
            ("channel_name", "access-requests"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/access"),
            ("text", "request prod-db read for 2h because INC-4411"),
            ("api_app_id", "A0WARDEN"),
            ("is_enterprise_install", "false"),
            (
                "response_url",
                "https://hooks.slack.com/commands/T0WARDEN/1/abc",
            ),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
        ])
        .finish();
    let started = std::time::Instant::now();
    let resp = app
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &form,
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "acknowledged within Slack's deadline"
    );
    app.wait_for("the confirmation card", |_| {
        !cards_with_button(&app, "submit").is_empty()
    })
    .await;
    let card = cards_with_button(&app, "submit").remove(0);
    assert_eq!(card.channel, "C0ACCESS");
    // The card is posted, then the commit that records its thread follows: wait for it.
    crate::support::wait_until(
        crate::support::wait::PATIENCE,
        "the card's thread recorded",
        || async { app.stored(&card.request_id).await.origin.thread.is_some() },
    )
    .await;
    let row = app.stored(&card.request_id).await;
    assert_eq!(
        row.origin.thread.as_deref(),
        Some(card.ts.as_str()),
        "the first card starts the request's thread"
    );

    // A reply in that thread is the request's context; one in another thread is not Warden's.
    let reply = |ts: &str, thread: &str, text: &str| {
        let event = json!({ "type": "message", "channel": "C0ACCESS", "channel_type": "channel", "user": "U0ALICE", "text": text, "ts": ts, "thread_ts": thread, "event_ts": ts, "team": "T0WARDEN" });
        app.event_body(&format!("Ev-reply-{ts}"), event)
    };
    let other = app
        .post_signed(
            "/slack/events",
            "application/json",
            &reply(
                "1710000500.000001",
                "1710000400.000001",
                "need read on staging db for 1h",
            ),
            &[],
        )
        .await;
    assert_eq!(other.status(), 200);
    let ours = app
        .post_signed(
            "/slack/events",
            "application/json",
            &reply(
                "1710000600.000001",
                &card.ts,
                "thanks, INC-4411 is the incident",
            ),
            &[],
        )
        .await;
    assert_eq!(ours.status(), 200);
    wait_until(
        PATIENCE,
        "the thread reply to reach its request",
        || async {
            let log = app.store().log_entries(&card.request_id).await.unwrap();
            log.iter().any(|e| {
                e.kind == "message_in"
                    && e.payload
                        .as_ref()
                        .is_some_and(|p| p.to_string().contains("thanks, INC-4411"))
            })
        },
    )
    .await;
    assert_eq!(
        app.requests().await.len(),
        1,
        "a reply in an unrelated thread starts nothing"
    );
    assert_eq!(
        app.row(&card.request_id).await.state,
        RequestState::AwaitingConfirmation
    );
}
