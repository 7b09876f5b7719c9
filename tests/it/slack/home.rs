//! The App Home tab: opened → published (`views.publish`) with the person's requests, access
//! and approvals waiting; its buttons go through the cards' handlers; a change republishes the
//! homes it is on, paced per person and retried after a 429's Retry-After.

use super::app::{Posted, TEAM, TestApp, cards_with_button, form_payload};
use super::flows::{PROD_READ, ask_and_submit};
use super::socket::{acked, socket_app};
use crate::support::TestDb;
use crate::{on_both_databases, on_sqlite};
use serde_json::{Value, json};
use std::time::Duration;
use warden::domain::RequestState;

on_both_databases!(
    opening_the_home_tab_shows_open_requests_active_access_and_approvals_waiting,
    a_home_button_acts_once_through_the_cards_handler_and_both_homes_follow,
);
on_sqlite!(
    opening_the_home_tab_over_socket_mode_publishes_it,
    a_rate_limited_home_publish_waits_out_retry_after,
    opens_in_a_burst_are_merged_into_one_paced_publish,
);

const WIKI_EDIT: &str = "need edit on the wiki for 1h";

/// Slack's `app_home_opened` callback for the Home tab.
fn home_opened(app: &TestApp, user: &str) -> String {
    let event = json!({
        "type": "app_home_opened", "user": user, "channel": format!("D{}", &user[1..]),
        "event_ts": format!("{}.000100", chrono::Utc::now().timestamp()), "tab": "home",
    });
    let id = format!("EvHOME{}", uuid::Uuid::new_v4().simple());
    app.event_body(&id, event)
}

/// The Home tab opened, as the Events API delivers it.
async fn open_home(app: &TestApp, user: &str) {
    let body = home_opened(app, user);
    let resp = app
        .post_signed("/slack/events", "application/json", &body, &[])
        .await;
    assert_eq!(resp.status(), 200);
}

/// A button pressed on the Home tab: a `view` container, no channel.
async fn click_on_home(app: &TestApp, user: &str, action: &str, request_id: &str) {
    let payload = json!({
        "type": "block_actions", "user": { "id": user, "username": user.to_lowercase(), "team_id": TEAM },
        "api_app_id": "A0WARDEN", "token": "ignored", "team": { "id": TEAM, "domain": "warden-test" },
        "container": { "type": "view", "view_id": format!("VH{user}") },
        "trigger_id": format!("{}.1.{}", 7_000_000, uuid::Uuid::new_v4().simple()),
        "view": { "id": format!("VH{user}"), "team_id": TEAM, "type": "home", "blocks": [], "private_metadata": "",
                  "callback_id": "", "state": { "values": {} }, "hash": "1.abc", "app_id": "A0WARDEN", "bot_id": "B0WARDEN" },
        "actions": [{ "action_id": format!("warden_{action}"), "block_id": format!("warden_home:x:{request_id}"),
                      "text": { "type": "plain_text", "text": action }, "value": request_id, "type": "button",
                      "action_ts": format!("{}.000300", chrono::Utc::now().timestamp()) }],
    });
    let resp = app
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            &form_payload(&payload),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
}

/// Waits until the newest home published for `user` satisfies `ok`, and returns it.
async fn home_where(app: &TestApp, user: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    app.wait_for(what, |s| s.homes(user).last().is_some_and(&ok))
        .await;
    app.slack.homes(user).pop().expect("a home")
}

/// The lines of one section (by its title) of a published home.
fn lines(view: &Value, title: &str) -> Vec<String> {
    let blocks = view["blocks"].as_array().expect("blocks");
    let text = |b: &Value| {
        b["text"]["text"]
            .as_str()
            .or(b["elements"][0]["text"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    blocks
        .iter()
        .skip_while(|b| !(b["type"] == "section" && text(b) == title))
        .skip(1)
        .take_while(|b| b["type"] != "divider")
        .filter(|b| b["type"] == "section" || b["type"] == "context")
        .map(text)
        .collect()
}

/// The action ids of the buttons for one request on a published home.
fn buttons(view: &Value, request_id: &str) -> Vec<String> {
    view["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["value"] == request_id)
        .map(|e| e["action_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits for a newly posted card with `action` for a request not in `known`.
async fn new_card(app: &TestApp, action: &str, known: &[&str]) -> Posted {
    let fresh = |app: &TestApp| {
        cards_with_button(app, action)
            .into_iter()
            .find(|c| !known.contains(&c.request_id.as_str()))
    };
    app.wait_for(&format!("a new card with {action}"), |_| {
        fresh(app).is_some()
    })
    .await;
    let card = fresh(app).expect("card");
    app.stored(&card.request_id).await;
    card
}

/// Alice asks for wiki edit (policy allows it) and submits; returns the active request's id.
async fn wiki_access(app: &TestApp, known: &[&str]) -> String {
    app.dm("U0ALICE", WIKI_EDIT).await;
    let confirm = new_card(app, "submit", known).await;
    app.click(
        "U0ALICE",
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    app.wait_state(&confirm.request_id, RequestState::Active)
        .await;
    confirm.request_id
}

async fn opening_the_home_tab_shows_open_requests_active_access_and_approvals_waiting(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let (pending, _, _) = ask_and_submit(&app, PROD_READ).await;
    let active = wiki_access(&app, &[&pending]).await;

    open_home(&app, "U0ALICE").await;
    let alice = home_where(&app, "U0ALICE", "Alice's home", |_| true).await;
    assert_eq!(alice["type"], "home");
    let lines_active = lines(&alice, "Active access");
    assert_eq!(lines_active.len(), 1, "{alice:#}");
    assert!(
        lines_active[0].contains(&active)
            && lines_active[0].contains("edit on wiki")
            && lines_active[0].contains("from now"),
        "the grant with its time left: {lines_active:?}"
    );
    assert_eq!(buttons(&alice, &active), ["warden_extend", "warden_revoke"]);
    let open = lines(&alice, "Open requests");
    assert!(
        open.len() == 1 && open[0].contains(&pending) && open[0].contains("waiting for approval"),
        "{open:?}"
    );
    assert!(
        buttons(&alice, &pending).is_empty(),
        "no approving one's own"
    );
    assert_eq!(
        lines(&alice, "Waiting for your approval"),
        ["Nothing waits for your approval."]
    );

    open_home(&app, "U0DANA").await;
    let dana = home_where(&app, "U0DANA", "Dana's home", |_| true).await;
    let waiting = lines(&dana, "Waiting for your approval");
    assert!(
        waiting.len() == 1
            && waiting[0].contains(&pending)
            && waiting[0].contains("alice wants read"),
        "{waiting:?}"
    );
    assert_eq!(buttons(&dana, &pending), ["warden_approve", "warden_deny"]);
    assert_eq!(
        lines(&dana, "Active access"),
        ["You have no active access."]
    );
    let shown = dana.to_string();
    assert!(!shown.contains(&active), "Alice's wiki access is hers only");
}

async fn a_home_button_acts_once_through_the_cards_handler_and_both_homes_follow(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    open_home(&app, "U0ALICE").await;
    open_home(&app, "U0DANA").await;
    home_where(&app, "U0DANA", "Dana's first home", |_| true).await;
    home_where(&app, "U0ALICE", "Alice's first home", |_| true).await;

    let (id, _, _) = ask_and_submit(&app, PROD_READ).await;
    // The submit republished Dana's home with the request waiting for her.
    let dana = home_where(&app, "U0DANA", "Dana's home with the request", |v| {
        !buttons(v, &id).is_empty()
    })
    .await;
    assert_eq!(buttons(&dana, &id), ["warden_approve", "warden_deny"]);

    // Alice's own Approve (a forged button on her home) is refused by the same rule as a card's.
    click_on_home(&app, "U0ALICE", "approve", &id).await;
    app.wait_for("Alice told she can't approve her own", |s| {
        s.ok("chat.postMessage").iter().any(|c| {
            c.body["channel"] == "D0ALICE"
                && c.body["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("can't approve your own request"))
        })
    })
    .await;
    assert_eq!(app.row(&id).await.state, RequestState::PendingApproval);

    // Dana double-clicks Approve on her home: one approval, one grant.
    click_on_home(&app, "U0DANA", "approve", &id).await;
    click_on_home(&app, "U0DANA", "approve", &id).await;
    app.wait_state(&id, RequestState::Active).await;
    let row = app.row(&id).await;
    assert_eq!(row.approvals.len(), 1, "{:?}", row.approvals);
    assert_eq!(row.approvals[0].approver_id, "dana");
    assert_eq!(app.store().count_grants(&id).await.unwrap(), 1);

    let dana = home_where(&app, "U0DANA", "Dana's home after approving", |v| {
        buttons(v, &id).is_empty()
            && lines(v, "Your recent decisions")
                .iter()
                .any(|l| l.contains(&id))
    })
    .await;
    let decided = lines(&dana, "Your recent decisions");
    assert!(
        decided[0].contains("you approved alice's read on"),
        "{decided:?}"
    );
    let alice = home_where(&app, "U0ALICE", "Alice's home with the grant", |v| {
        lines(v, "Active access").iter().any(|l| l.contains(&id))
    })
    .await;
    assert_eq!(buttons(&alice, &id), ["warden_extend", "warden_revoke"]);
    // Nobody who never opened the Home tab got one.
    let published: Vec<String> = app
        .slack
        .ok("views.publish")
        .iter()
        .map(|c| c.body["user_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        published.iter().all(|u| u == "U0ALICE" || u == "U0DANA"),
        "{published:?}"
    );
}

async fn opening_the_home_tab_over_socket_mode_publishes_it(db: TestDb) {
    let (app, socket) = socket_app(db).await;
    let body: Value = serde_json::from_str(&home_opened(&app, "U0DANA")).unwrap();
    let env = socket.send("events_api", body);
    assert_eq!(acked(&socket, &env).await, json!({ "envelope_id": env }));
    let dana = home_where(&app, "U0DANA", "Dana's home over Socket Mode", |_| true).await;
    assert_eq!(
        lines(&dana, "Active access"),
        ["You have no active access."]
    );
}

async fn a_rate_limited_home_publish_waits_out_retry_after(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    app.slack.throttle("views.publish", 1);
    open_home(&app, "U0DANA").await;
    home_where(&app, "U0DANA", "Dana's home after the 429", |_| true).await;
    let calls: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "views.publish")
        .collect();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200],
        "retried once"
    );
    let waited = calls[1].at - calls[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited {waited:?}, Retry-After said 1 s"
    );
}

async fn opens_in_a_burst_are_merged_into_one_paced_publish(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    open_home(&app, "U0DANA").await;
    home_where(&app, "U0DANA", "Dana's first home", |_| true).await;
    // Three more opens right after: within the person's 1 s interval, so they wait and merge.
    for _ in 0..3 {
        open_home(&app, "U0DANA").await;
    }
    app.wait_for("a second publish", |s| s.homes("U0DANA").len() >= 2)
        .await;
    // Longer than the interval: a third publish would have gone out by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let calls = app.slack.ok("views.publish");
    assert_eq!(calls.len(), 2, "the first, then the rest merged into one");
    let gap = calls[1].at - calls[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "a second publish for one person waits the interval: {gap:?}"
    );
}
