//! The on-call signal: PagerDuty, Opsgenie and a schedule file feeding `oncall` in the policy
//! input, through the real server with signed Slack requests, and the provider clients alone.

mod clients;
mod flows;

use crate::slack::app::{TestApp, cards_with_button};
use crate::slack::flows::card;
use serde_json::Value;
use warden::domain::RequestState;

/// Asks in a DM as `user`, submits the confirmation card, and waits for the request to settle
/// (granted, or waiting for an approver); returns its id.
async fn ask(app: &TestApp, user: &str, text: &str) -> String {
    let before = cards_with_button(app, "submit").len();
    app.dm(user, text).await;
    app.wait_for("a confirmation card", |_| {
        cards_with_button(app, "submit").len() > before
    })
    .await;
    let confirm = cards_with_button(app, "submit").pop().expect("card");
    let confirm = card(app, "submit", Some(&confirm.request_id)).await;
    app.click(
        user,
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    let id = confirm.request_id.clone();
    crate::support::wait_until(
        crate::support::wait::PATIENCE,
        "the request to settle",
        || async {
            matches!(
                app.stored(&id).await.state,
                RequestState::Active | RequestState::PendingApproval
            )
        },
    )
    .await;
    id
}

/// The `oncall` fact of the request's recorded policy input.
async fn recorded_oncall(app: &TestApp, id: &str) -> Value {
    let log = app.store().log_entries(id).await.unwrap();
    let input = log
        .iter()
        .find(|e| e.kind == "policy_input")
        .and_then(|e| e.payload.clone())
        .expect("the policy input is logged");
    assert_eq!(input["version"], warden::policy::INPUT_VERSION);
    input["oncall"].clone()
}

/// Whether an approval card was posted for the request (so far).
fn approval_asked(app: &TestApp, id: &str) -> bool {
    cards_with_button(app, "approve")
        .iter()
        .any(|c| c.request_id == id)
}

/// Waits for the request's approval card: it is posted just after the decision commits.
async fn expect_approval(app: &TestApp, id: &str) {
    app.wait_for(format!("an approval card for {id}").as_str(), |_| {
        approval_asked(app, id)
    })
    .await;
}
