//! A reason is the policy's obligation (`reason_required`), not a rule in validation: with the
//! shipped policy a high-risk request without one is asked for it, not decided; a policy that
//! does not ask lets it through.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use std::sync::Arc;
use warden::chat::CardAction;
use warden::domain::{Obligation, RequestState};
use warden::policy::embedded::EmbeddedPolicy;
use warden::workflow::Handled;

on_both_databases!(
    the_shipped_policy_asks_for_a_reason_and_the_answer_is_submitted_again,
    a_policy_without_the_obligation_lets_high_risk_through_without_a_reason,
    a_reason_given_up_front_is_never_asked_for,
);

/// The kinds of this request's log entries, oldest first.
async fn kinds(t: &TestEngine, id: &str) -> Vec<String> {
    let entries = t.store.log_entries(id).await.unwrap();
    entries.into_iter().map(|e| e.kind).collect()
}

async fn the_shipped_policy_asks_for_a_reason_and_the_answer_is_submitted_again(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    // prod-billing-db is high-risk; no reason, no ticket.
    let id = t.request("alice", "need read on prod-db for 1h").await;
    let row = t.row(&id).await;
    assert_eq!(row.state, RequestState::Draft, "{}", t.console.text());
    assert!(
        row.decision
            .as_ref()
            .is_some_and(|d| d.requires(Obligation::ReasonRequired)),
        "the decision that asked is kept: {:?}",
        row.decision
    );
    assert!(
        t.console.text().contains("needs a reason"),
        "{}",
        t.console.text()
    );
    assert_eq!(t.grants(), 0);
    let log = kinds(&t, &id).await;
    assert!(
        log.contains(&"policy_decision".to_string()) && log.contains(&"clarification".to_string()),
        "{log:?}"
    );
    // The old card's Submit does nothing now: the request is not waiting for confirmation.
    let again = t.click("alice", CardAction::Submit, &id).await;
    assert!(matches!(again, Handled::Refused(_)), "{again:?}");
    assert_eq!(t.state(&id).await, RequestState::Draft);

    // The answer is the reason, and the request goes to policy again without another click.
    t.reply("alice", &id, "checking yesterday's refunds").await;
    let row = t.row(&id).await;
    assert_eq!(
        row.state,
        RequestState::PendingApproval,
        "{}",
        t.console.text()
    );
    assert_eq!(row.justification(), Some("checking yesterday's refunds"));
    let decisions = kinds(&t, &id)
        .await
        .into_iter()
        .filter(|k| k == "policy_decision")
        .count();
    assert_eq!(decisions, 2, "asked, then decided");
    // The manager (dana) approves as usual.
    assert_eq!(
        t.click("dana", CardAction::Approve, &id).await,
        Handled::Done
    );
    assert_eq!(t.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
}

async fn a_policy_without_the_obligation_lets_high_risk_through_without_a_reason(db: TestDb) {
    // The same shipped Rego, with the team's data saying no risk level needs a reason.
    let policy = EmbeddedPolicy::shipped()
        .unwrap()
        .with_data(serde_json::json!({"warden": {"config": {"reason_required_risks": []}}}))
        .unwrap();
    let t = TestEngine::start(
        db,
        Setup {
            policy: Arc::new(policy),
            ..Setup::default()
        },
    )
    .await;
    let id = t.request("alice", "need read on prod-db for 1h").await;
    let row = t.row(&id).await;
    assert_eq!(
        row.state,
        RequestState::PendingApproval,
        "{}",
        t.console.text()
    );
    assert_eq!(row.justification(), None);
    assert!(!t.console.text().contains("needs a reason"));
    assert!(!kinds(&t, &id).await.contains(&"clarification".to_string()));
}

async fn a_reason_given_up_front_is_never_asked_for(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t
        .request(
            "alice",
            "need read on prod-db for 1h because INC-42 refunds",
        )
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::PendingApproval,
        "{}",
        t.console.text()
    );
    assert!(!t.console.text().contains("needs a reason"));
}
