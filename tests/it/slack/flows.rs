//! Whole flows inside Slack: ask in a DM, confirm, approve or deny from the approver's DM,
//! every card updated, the requester told; refused forged clicks; a rate-limited update.

use super::app::{Posted, TestApp, cards_with_button};
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use crate::{on_both_databases, on_sqlite};
use serde_json::{Value, json};
use std::time::Duration;
use warden::domain::RequestState;

on_both_databases!(a_dm_request_is_confirmed_approved_granted_and_every_card_updated);
on_sqlite!(
    a_denial_with_a_reason_from_the_modal_is_recorded_and_shown,
    the_edit_button_opens_a_prefilled_form_whose_changes_come_back_for_confirmation,
    a_forged_click_from_a_non_approver_is_refused_and_changes_nothing,
    a_rate_limited_card_update_is_retried_after_retry_after_and_lands,
);

pub(super) const PROD_READ: &str = "need read on the prod billing db for 2h, INC-4411";

/// Waits for the one card with `action` for this request.
pub(crate) async fn card(app: &TestApp, action: &str, request: Option<&str>) -> Posted {
    app.wait_for(&format!("a card with {action}"), |_| {
        cards_with_button(app, action)
            .iter()
            .any(|c| request.is_none_or(|r| c.request_id == r))
    })
    .await;
    let posted = cards_with_button(app, action)
        .into_iter()
        .rev()
        .find(|c| request.is_none_or(|r| c.request_id == r))
        .expect("card");
    // A card is posted just before the step that stores it commits.
    app.stored(&posted.request_id).await;
    posted
}

/// The last `chat.update` of one posted message.
fn last_update(app: &TestApp, posted: &Posted) -> Option<Value> {
    app.slack
        .ok("chat.update")
        .into_iter()
        .rev()
        .find(|c| {
            c.body["ts"] == posted.ts.as_str() && c.body["channel"] == posted.channel.as_str()
        })
        .map(|c| c.body)
}

fn has_buttons(body: &Value) -> bool {
    body["blocks"]
        .as_array()
        .is_some_and(|b| b.iter().any(|b| b["type"] == "actions"))
}

fn context_line(body: &Value) -> String {
    body["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "context"))
        .map(|c| {
            c["elements"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

/// Alice asks for prod read in her DM and submits; returns the request id and both cards.
pub(super) async fn ask_and_submit(app: &TestApp, text: &str) -> (String, Posted, Posted) {
    let dm_ts = app.dm("U0ALICE", text).await;
    let confirm = card(app, "submit", None).await;
    let post = app
        .slack
        .ok("chat.postMessage")
        .into_iter()
        .find(|c| c.response["ts"] == confirm.ts.as_str())
        .expect("post");
    assert_eq!(
        post.body["thread_ts"],
        dm_ts.as_str(),
        "the confirmation card opens the request's thread under the DM"
    );
    app.click(
        "U0ALICE",
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    let approval = card(app, "approve", Some(&confirm.request_id)).await;
    app.wait_state(&confirm.request_id, RequestState::PendingApproval)
        .await;
    (confirm.request_id.clone(), confirm, approval)
}

async fn a_dm_request_is_confirmed_approved_granted_and_every_card_updated(db: TestDb) {
    let app = TestApp::start(db, 400).await;
    let (id, confirm, approval) = ask_and_submit(&app, PROD_READ).await;
    assert_eq!(confirm.channel, "D0ALICE");
    assert_eq!(
        approval.channel, "D0DANA",
        "the approval card goes to the manager's DM"
    );
    let opened = app.slack.ok("conversations.open");
    assert!(
        opened.iter().any(|c| c.body["users"] == json!(["U0DANA"])),
        "{opened:?}"
    );
    let approval_body = app
        .slack
        .ok("chat.postMessage")
        .into_iter()
        .find(|c| c.response["ts"] == approval.ts.as_str())
        .unwrap()
        .body;
    let shown = approval_body.to_string();
    for field in [
        "Requester: Alice Ng (alice)",
        "Production billing database (prod-billing-db)",
        "Duration: 2h",
        "Risk: high",
    ] {
        assert!(
            shown.contains(field),
            "approval card lacks {field}: {shown}"
        );
    }
    app.wait_state(&id, RequestState::PendingApproval).await;

    app.click("U0DANA", "approve", &id, &approval.channel, &approval.ts)
        .await;
    app.wait_state(&id, RequestState::Active).await;
    app.wait_for("both cards updated without buttons", |_| {
        [&confirm, &approval]
            .iter()
            .all(|p| last_update(&app, p).is_some_and(|u| !has_buttons(&u)))
    })
    .await;
    // The status line says who acted, then what followed.
    let approval_updates: Vec<String> = app
        .slack
        .ok("chat.update")
        .iter()
        .filter(|c| c.body["ts"] == approval.ts.as_str())
        .map(|c| context_line(&c.body))
        .collect();
    assert!(
        approval_updates
            .iter()
            .any(|l| l.starts_with("Approved by Dana Scully")),
        "{approval_updates:?}"
    );
    app.wait_for("the requester told in her thread", |s| {
        s.ok("chat.postMessage").iter().any(|c| {
            c.body["channel"] == "D0ALICE"
                && c.body["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Access granted"))
                && c.body["thread_ts"].is_string()
        })
    })
    .await;

    let calls = app.slack.calls();
    assert!(
        calls.iter().all(|c| c.authorized),
        "every Web API call carries the bot token"
    );
    let grant = app
        .store()
        .grant(&id)
        .await
        .unwrap()
        .expect("grant recorded");
    assert_eq!(grant.person_id, "alice");
    // Posts to one channel are paced: never two within the interval.
    let to_alice: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "chat.postMessage" && c.body["channel"] == "D0ALICE")
        .map(|c| c.at)
        .collect();
    assert!(to_alice.len() >= 3, "{}", to_alice.len());
    for pair in to_alice.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(400),
            "posts {:?} apart",
            pair[1] - pair[0]
        );
    }
}

async fn a_denial_with_a_reason_from_the_modal_is_recorded_and_shown(db: TestDb) {
    let app = TestApp::start(db, 50).await;
    let (id, _confirm, approval) = ask_and_submit(
        &app,
        "/access request prod-db write for 1h because INC-7 hotfix",
    )
    .await;
    app.click("U0DANA", "deny", &id, &approval.channel, &approval.ts)
        .await;
    app.wait_for("the deny modal", |s| !s.ok("views.open").is_empty())
        .await;
    let view = app.slack.ok("views.open")[0].body["view"].clone();
    assert_eq!(view["callback_id"], "warden_deny");
    assert_eq!(
        app.row(&id).await.state,
        RequestState::PendingApproval,
        "opening the modal changes nothing"
    );

    app.submit_view("U0DANA", &view, json!({ "reason": { "value": { "type": "plain_text_input", "value": "not during the freeze" } } })).await;
    app.wait_state(&id, RequestState::Denied).await;
    let denial = app
        .store()
        .approvals(&id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("a decision");
    assert_eq!(
        (
            denial.approver_id.as_str(),
            denial.verdict.as_str(),
            denial.reason.as_deref()
        ),
        ("dana", "deny", Some("not during the freeze"))
    );
    app.wait_for("the card says who denied and why", |_| {
        last_update(&app, &approval).is_some_and(|u| {
            !has_buttons(&u)
                && context_line(&u).starts_with("Denied by Dana Scully: not during the freeze")
        })
    })
    .await;
    app.wait_for("the requester told", |s| {
        s.ok("chat.postMessage").iter().any(|c| {
            c.body["channel"] == "D0ALICE"
                && c.body["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("denied") && t.contains("not during the freeze"))
        })
    })
    .await;
}

async fn the_edit_button_opens_a_prefilled_form_whose_changes_come_back_for_confirmation(
    db: TestDb,
) {
    let app = TestApp::start(db, 50).await;
    app.dm("U0ALICE", PROD_READ).await;
    let confirm = card(&app, "submit", None).await;
    // Someone else's Edit click opens nothing and is refused.
    app.click("U0GINA", "edit", &confirm.request_id, "D0GINA", &confirm.ts)
        .await;
    app.wait_for("gina refused", |s| {
        s.ok("chat.postEphemeral")
            .iter()
            .any(|c| c.body["user"] == "U0GINA")
    })
    .await;
    assert!(app.slack.ok("views.open").is_empty());

    app.click(
        "U0ALICE",
        "edit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    app.wait_for("the edit modal", |s| !s.ok("views.open").is_empty())
        .await;
    let view = app.slack.ok("views.open")[0].body["view"].clone();
    let initial = |block: &str| {
        view["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == block)
            .map(|b| b["element"]["initial_value"].clone())
            .unwrap()
    };
    assert_eq!(
        (initial("resource"), initial("role"), initial("duration")),
        (json!("prod-billing-db"), json!("read"), json!("2h"))
    );

    app.submit_view(
        "U0ALICE",
        &view,
        json!({ "duration": { "value": { "type": "plain_text_input", "value": "1h" } } }),
    )
    .await;
    wait_until(PATIENCE, "the edit to apply", || async {
        app.row(&confirm.request_id).await.duration_secs() == Some(3600)
    })
    .await;
    assert_eq!(
        app.row(&confirm.request_id).await.state,
        RequestState::AwaitingConfirmation
    );
}

async fn a_forged_click_from_a_non_approver_is_refused_and_changes_nothing(db: TestDb) {
    let app = TestApp::start(db, 50).await;
    let (id, _confirm, approval) = ask_and_submit(&app, PROD_READ).await;
    app.wait_state(&id, RequestState::PendingApproval).await;
    let updates_before = app.slack.ok("chat.update").len();
    // Gina is in the directory but not an approver; Mallory is not in the directory at all.
    app.click("U0GINA", "approve", &id, "D0GINA", &approval.ts)
        .await;
    app.click("U0MALLORY", "approve", &id, "D0MALLORY", &approval.ts)
        .await;
    app.click("U0ALICE", "approve", &id, &approval.channel, &approval.ts)
        .await;
    app.wait_for("three refusals", |s| {
        let e = s.ok("chat.postEphemeral");
        let said = |u: &str, what: &str| {
            e.iter().any(|c| {
                c.body["user"] == u && c.body["text"].as_str().is_some_and(|t| t.contains(what))
            })
        };
        said("U0GINA", "not an approver")
            && said("U0MALLORY", "directory")
            && said("U0ALICE", "your own request")
    })
    .await;
    let row = app.row(&id).await;
    assert_eq!(
        (row.state, row.current_step),
        (RequestState::PendingApproval, 0)
    );
    assert!(app.store().approvals(&id).await.unwrap().is_empty());
    assert_eq!(
        app.slack.ok("chat.update").len(),
        updates_before,
        "no card changed"
    );
}

async fn a_rate_limited_card_update_is_retried_after_retry_after_and_lands(db: TestDb) {
    let app = TestApp::start(db, 50).await;
    let (id, confirm, approval) = ask_and_submit(&app, PROD_READ).await;
    app.wait_state(&id, RequestState::PendingApproval).await;
    app.slack.throttle("chat.update", 1);
    app.click("U0DANA", "approve", &id, &approval.channel, &approval.ts)
        .await;
    app.wait_for("both cards updated", |_| {
        [&confirm, &approval]
            .iter()
            .all(|p| last_update(&app, p).is_some_and(|u| !has_buttons(&u)))
    })
    .await;
    let calls = app.slack.calls();
    let throttled = calls
        .iter()
        .find(|c| c.method == "chat.update" && c.status == 429)
        .expect("one update was throttled");
    let retried = calls
        .iter()
        .find(|c| {
            c.method == "chat.update"
                && c.status == 200
                && c.body["ts"] == throttled.body["ts"]
                && c.at > throttled.at
        })
        .expect("the throttled update was retried");
    assert!(
        retried.at - throttled.at >= Duration::from_millis(950),
        "retried {:?} after a Retry-After of 1s",
        retried.at - throttled.at
    );
    app.wait_state(&id, RequestState::Active).await;
}
