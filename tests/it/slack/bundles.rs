//! Several resources in one Slack ask: one confirmation card lists them, Submit decides each,
//! the low-risk item is granted at once, the other gets one approval card in the manager's DM.

use super::app::{TestApp, cards_with_button};
use super::flows::card;
use crate::on_both_databases;
use crate::support::TestDb;
use serde_json::json;
use warden::domain::{RequestId, RequestState};

on_both_databases!(a_two_item_ask_in_a_dm_is_confirmed_once_and_each_item_decided_on_its_own);

async fn a_two_item_ask_in_a_dm_is_confirmed_once_and_each_item_decided_on_its_own(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    app.dm(
        "U0ALICE",
        "read on the billing db and staging db for 2h, INC-4411",
    )
    .await;
    let confirm = card(&app, "submit", None).await;
    let body = app
        .slack
        .ok("chat.postMessage")
        .into_iter()
        .find(|c| c.response["ts"] == confirm.ts.as_str())
        .expect("the confirmation card was posted")
        .body
        .to_string();
    assert!(
        body.contains("Items (2)")
            && body.contains("prod-billing-db")
            && body.contains("staging-db"),
        "{body}"
    );
    assert_eq!(
        cards_with_button(&app, "submit").len(),
        1,
        "one card for the ask"
    );
    let lead = RequestId::parse(&confirm.request_id).unwrap();
    let items = app.store().requests_in_bundle(&lead).await.unwrap();
    assert_eq!(items.len(), 2);
    let staging = items[1].id.to_string();
    assert_eq!(items[1].resource(), Some("staging-db"));
    app.click(
        "U0ALICE",
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    app.wait_state(&staging, RequestState::Active).await;
    let approval = card(&app, "approve", Some(&confirm.request_id)).await;
    app.wait_state(&confirm.request_id, RequestState::PendingApproval)
        .await;
    assert_eq!(approval.channel, "D0DANA");
    assert_eq!(
        cards_with_button(&app, "approve").len(),
        1,
        "only the billing db needs approval"
    );
    // Alice cannot approve her own item, whatever card she clicks from.
    app.click(
        "U0ALICE",
        "approve",
        &confirm.request_id,
        &approval.channel,
        &approval.ts,
    )
    .await;
    assert_eq!(
        app.row(&confirm.request_id).await.state,
        RequestState::PendingApproval
    );
    app.click(
        "U0DANA",
        "approve",
        &confirm.request_id,
        &approval.channel,
        &approval.ts,
    )
    .await;
    app.wait_state(&confirm.request_id, RequestState::Active)
        .await;
    let granted = app.row(&confirm.request_id).await;
    assert_eq!(granted.approvals.len(), 1);
    assert_eq!(granted.approvals[0].approver_id, "dana");
}

on_both_databases!(
    two_items_for_the_same_approver_share_one_card_and_one_click_approves_both,
    an_item_is_denied_on_its_own_from_the_shared_card,
    deny_all_asks_one_reason_and_denies_every_listed_item,
    items_for_different_approvers_get_different_cards,
    a_double_or_replayed_approve_all_acts_once,
    a_bundle_item_sent_back_for_a_reason_moves_on_once_the_reason_is_given,
);

/// Billing db (high) and billing repo (medium) need alice's manager dana; staging is allowed.
const THREE: &str = "read on prod-db, staging and the billing repo for 2h because INC-4411";

/// Cards posted to `channel` with a button `action` anywhere on them: (ts, body).
fn posted_with(app: &TestApp, channel: &str, action: &str) -> Vec<(String, serde_json::Value)> {
    let want = format!("warden_{action}");
    app.slack
        .ok("chat.postMessage")
        .into_iter()
        .filter(|c| c.response["channel"] == channel)
        .filter(|c| c.body.to_string().contains(&format!("\"{want}\"")))
        .map(|c| (c.response["ts"].as_str().unwrap().to_string(), c.body))
        .collect()
}

/// The value of the button `action` on a card body (the last such button).
fn value_of(body: &serde_json::Value, action: &str) -> Vec<String> {
    let want = format!("warden_{action}");
    body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .filter(|e| e["action_id"] == want.as_str())
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect()
}

/// alice asks for three, confirms once; returns the items (lead first) once the bundle card is out.
async fn three_asked(app: &TestApp, text: &str, user: &str) -> Vec<warden::domain::Request> {
    app.dm(user, text).await;
    let confirm = card(app, "submit", None).await;
    app.click(
        user,
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    let lead = RequestId::parse(&confirm.request_id).unwrap();
    let items = app.store().requests_in_bundle(&lead).await.unwrap();
    assert_eq!(items.len(), 3);
    items
}

async fn two_items_for_the_same_approver_share_one_card_and_one_click_approves_both(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let items = three_asked(&app, THREE, "U0ALICE").await;
    let (billing, staging, repo) = (&items[0].id, &items[1].id, &items[2].id);
    app.wait_state(staging.as_str(), RequestState::Active).await;
    app.wait_for("dana's bundle card", |_| {
        !posted_with(&app, "D0DANA", "approve_all").is_empty()
    })
    .await;
    let cards = posted_with(&app, "D0DANA", "approve");
    assert_eq!(cards.len(), 1, "one card for dana: {cards:?}");
    let (ts, body) = &cards[0];
    assert_eq!(
        value_of(body, "approve_all"),
        vec![format!("{billing},{repo}")],
        "{body}"
    );
    assert_eq!(
        value_of(body, "approve"),
        vec![billing.to_string(), repo.to_string()]
    );
    assert!(
        !body.to_string().contains(staging.as_str()),
        "the allowed item is not asked"
    );
    app.click(
        "U0DANA",
        "approve_all",
        &format!("{billing},{repo}"),
        "D0DANA",
        ts,
    )
    .await;
    app.wait_state(billing.as_str(), RequestState::Active).await;
    app.wait_state(repo.as_str(), RequestState::Active).await;
    for id in [billing, repo] {
        let approvals = app.store().approvals(id.as_str()).await.unwrap();
        assert_eq!(approvals.len(), 1, "{approvals:?}");
        assert_eq!(approvals[0].approver_id, "dana");
        let log = app.store().log_entries(id.as_str()).await.unwrap();
        assert_eq!(
            log.iter().filter(|e| e.kind == "approval").count(),
            1,
            "its own entry"
        );
    }
    // The card shows both outcomes and no buttons once both are decided.
    app.wait_for("the card refreshed", |s| {
        s.ok("chat.update")
            .iter()
            .rev()
            .find(|c| c.body["ts"] == ts.as_str())
            .is_some_and(|c| {
                let t = c.body.to_string();
                !t.contains("warden_approve") && t.matches("now active").count() == 2
            })
    })
    .await;
}

async fn an_item_is_denied_on_its_own_from_the_shared_card(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let items = three_asked(&app, THREE, "U0ALICE").await;
    let (billing, repo) = (&items[0].id, &items[2].id);
    app.wait_for("dana's bundle card", |_| {
        !posted_with(&app, "D0DANA", "approve_all").is_empty()
    })
    .await;
    let (ts, _) = posted_with(&app, "D0DANA", "approve_all").remove(0);
    app.click("U0DANA", "deny", repo.as_str(), "D0DANA", &ts)
        .await;
    app.wait_for("the deny modal", |s| !s.ok("views.open").is_empty())
        .await;
    let view = app.slack.ok("views.open")[0].body["view"].clone();
    app.submit_view("U0DANA", &view, json!({ "reason": { "value": { "type": "plain_text_input", "value": "use the read replica" } } })).await;
    app.wait_state(repo.as_str(), RequestState::Denied).await;
    assert_eq!(
        app.row(billing.as_str()).await.state,
        RequestState::PendingApproval
    );
    // The card now offers only the billing db, for one or for all.
    app.wait_for("the card refreshed", |s| {
        s.ok("chat.update")
            .iter()
            .rev()
            .find(|c| c.body["ts"] == ts.as_str())
            .is_some_and(|c| {
                value_of(&c.body, "approve_all") == vec![billing.to_string()]
                    && c.body.to_string().contains("Denied by Dana Scully")
            })
    })
    .await;
    app.click("U0DANA", "approve_all", billing.as_str(), "D0DANA", &ts)
        .await;
    app.wait_state(billing.as_str(), RequestState::Active).await;
    assert_eq!(app.row(repo.as_str()).await.state, RequestState::Denied);
}

async fn items_for_different_approvers_get_different_cards(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    // frank has no manager: owners approve. The billing db is carol's; the repo carol's and dana's.
    let items = three_asked(&app, THREE, "U0FRANK").await;
    let (billing, repo) = (&items[0].id, &items[2].id);
    app.wait_for("carol's and dana's cards", |_| {
        !posted_with(&app, "D0CAROL", "approve_all").is_empty()
            && !posted_with(&app, "D0DANA", "approve").is_empty()
    })
    .await;
    let carol = posted_with(&app, "D0CAROL", "approve");
    assert_eq!(carol.len(), 1, "one card for carol");
    assert_eq!(
        value_of(&carol[0].1, "approve_all"),
        vec![format!("{billing},{repo}")]
    );
    let dana = posted_with(&app, "D0DANA", "approve");
    assert_eq!(dana.len(), 1, "one card for dana");
    assert!(
        value_of(&dana[0].1, "approve_all").is_empty(),
        "an ordinary card: {}",
        dana[0].1
    );
    assert_eq!(value_of(&dana[0].1, "approve"), vec![repo.to_string()]);
    // dana approves the repo on her card; carol's card shows it decided.
    app.click("U0DANA", "approve", repo.as_str(), "D0DANA", &dana[0].0)
        .await;
    app.wait_state(repo.as_str(), RequestState::Active).await;
    let ts = carol[0].0.clone();
    app.wait_for("carol's card shows the repo decided", |s| {
        s.ok("chat.update")
            .iter()
            .rev()
            .find(|c| c.body["ts"] == ts.as_str())
            .is_some_and(|c| value_of(&c.body, "approve_all") == vec![billing.to_string()])
    })
    .await;
}

async fn a_double_or_replayed_approve_all_acts_once(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let items = three_asked(&app, THREE, "U0ALICE").await;
    let (billing, repo) = (&items[0].id, &items[2].id);
    app.wait_for("dana's bundle card", |_| {
        !posted_with(&app, "D0DANA", "approve_all").is_empty()
    })
    .await;
    let (ts, _) = posted_with(&app, "D0DANA", "approve_all").remove(0);
    let both = format!("{billing},{repo}");
    let body = app.click_body("U0DANA", "approve_all", &both, "D0DANA", &ts);
    for _ in 0..2 {
        let resp = app
            .post_signed(
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                &body,
                &[],
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    app.click("U0DANA", "approve_all", &both, "D0DANA", &ts)
        .await;
    app.wait_state(billing.as_str(), RequestState::Active).await;
    app.wait_state(repo.as_str(), RequestState::Active).await;
    // Let the later deliveries finish before counting.
    app.wait_for("the second click answered", |s| {
        !s.ok("chat.postEphemeral").is_empty()
    })
    .await;
    for id in [billing, repo] {
        assert_eq!(app.store().approvals(id.as_str()).await.unwrap().len(), 1);
        let log = app.store().log_entries(id.as_str()).await.unwrap();
        assert_eq!(log.iter().filter(|e| e.kind == "approval").count(), 1);
        assert_eq!(
            log.iter().filter(|e| e.kind == "grant_call").count(),
            1,
            "{log:?}"
        );
    }
}

async fn a_bundle_item_sent_back_for_a_reason_moves_on_once_the_reason_is_given(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    // No reason: the billing db (high risk) needs one before the policy decides it.
    let items = three_asked(
        &app,
        "read on prod-db, staging and the billing repo for 2h",
        "U0ALICE",
    )
    .await;
    let (billing, staging, repo) = (&items[0].id, &items[1].id, &items[2].id);
    app.wait_state(staging.as_str(), RequestState::Active).await;
    app.wait_state(repo.as_str(), RequestState::PendingApproval)
        .await;
    app.wait_state(billing.as_str(), RequestState::Draft).await;
    let asked = |s: &crate::support::fakes::slack::FakeSlack| {
        s.ok("chat.postMessage")
            .iter()
            .filter(|c| c.body.to_string().contains("needs a reason"))
            .count()
    };
    app.wait_for("the question", |s| asked(s) >= 1).await;
    assert_eq!(asked(&app.slack), 1, "asked once");
    // alice answers in the ask's thread.
    let thread = items[0].origin.thread.clone().expect("the ask's thread");
    let ts = format!("1710099{:03}.000042", 1);
    let event = json!({
        "type": "message", "channel": "D0ALICE", "user": "U0ALICE", "text": "refund reconciliation for INC-4411",
        "ts": ts, "thread_ts": thread, "event_ts": ts, "channel_type": "im", "team": "T0WARDEN",
    });
    let body = app.event_body("EvREASON01", event);
    let resp = app
        .post_signed("/slack/events", "application/json", &body, &[])
        .await;
    assert_eq!(resp.status(), 200);
    app.wait_state(billing.as_str(), RequestState::PendingApproval)
        .await;
    let row = app.row(billing.as_str()).await;
    assert_eq!(
        row.justification(),
        Some("refund reconciliation for INC-4411"),
        "the reply is the reason"
    );
    app.wait_for("dana asked about the billing db", |_| {
        posted_with(&app, "D0DANA", "approve")
            .iter()
            .any(|(_, b)| value_of(b, "approve").contains(&billing.to_string()))
    })
    .await;
}

async fn deny_all_asks_one_reason_and_denies_every_listed_item(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let items = three_asked(&app, THREE, "U0ALICE").await;
    let (billing, repo) = (&items[0].id, &items[2].id);
    app.wait_for("dana's bundle card", |_| {
        !posted_with(&app, "D0DANA", "approve_all").is_empty()
    })
    .await;
    let (ts, _) = posted_with(&app, "D0DANA", "deny_all").remove(0);
    app.click(
        "U0DANA",
        "deny_all",
        &format!("{billing},{repo}"),
        "D0DANA",
        &ts,
    )
    .await;
    app.wait_for("the deny modal", |s| !s.ok("views.open").is_empty())
        .await;
    let view = app.slack.ok("views.open")[0].body["view"].clone();
    assert_eq!(view["callback_id"], "warden_deny_all");
    assert_eq!(
        app.row(billing.as_str()).await.state,
        RequestState::PendingApproval
    );
    app.submit_view(
        "U0DANA",
        &view,
        json!({ "reason": { "value": { "type": "plain_text_input", "value": "not this week" } } }),
    )
    .await;
    for id in [billing, repo] {
        app.wait_state(id.as_str(), RequestState::Denied).await;
        let approvals = app.store().approvals(id.as_str()).await.unwrap();
        assert_eq!(approvals.len(), 1);
        assert_eq!(approvals[0].reason.as_deref(), Some("not this week"));
    }
}
