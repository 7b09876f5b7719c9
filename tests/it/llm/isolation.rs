//! The model sees one request's thread and nothing else: not another request of the same
//! person in the same channel, not the requester's email or manager, not the whole catalog.

use super::app::LlmTest;
use crate::support::console::Drive;
use crate::support::fakes::llm::{Prompts, Reply, completion, intent};
use serde_json::json;
use warden::chat::CardAction;
use warden::domain::RequestState;

#[tokio::test]
async fn the_prompt_for_request_b_contains_nothing_from_request_a() {
    let t = LlmTest::start().await;
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "resource": "github-billing", "role": "maintain", "duration": "3d" }),
    ))));
    let a = t
        .say(
            "alice",
            "maintain on the billing repo for 3 days, codename blueheron",
        )
        .await;
    // Request A is asked for a reason at submit (maintain is high risk: the policy's
    // `reason_required`; neither the model nor the parser found one); the answer stays in A's
    // thread.
    t.click("alice", CardAction::Submit, &a).await;
    assert_eq!(t.state(&a).await, RequestState::Draft);
    t.fake.push(Reply::ok(completion(&intent(json!({ "resource": "github-billing", "role": "maintain", "duration": "3d", "justification": "migrate CI for BLUEHERON" })))));
    t.reply("alice", &a, "migrating the CI secrets for BLUEHERON-7731")
        .await;
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "resource": "staging-db", "role": "read", "duration": "1h" }),
    ))));
    let b = t.say("alice", "read on staging db for 1h").await;
    assert_ne!(a, b);
    let calls = t.fake.calls();
    assert_eq!(calls.len(), 3);
    let prompt_b = calls[2].user_prompt();
    // (Catalog words such as "billing repo" may appear as candidates; words only A used may not.)
    for leaked in [
        "BLUEHERON",
        "blueheron",
        "7731",
        "CI secrets",
        "3 days",
        "maintain on",
        &a,
    ] {
        assert!(
            !prompt_b.contains(leaked),
            "request B's prompt contains \"{leaked}\" from request A:\n{prompt_b}"
        );
    }
    assert!(prompt_b.contains("read on staging db for 1h"));
    assert!(
        !prompt_b.contains("alice@") && !prompt_b.contains("\"manager\""),
        "only display name and groups: {prompt_b}"
    );
    // And A's follow-up prompt held A's own thread, with Warden's question, in order.
    let prompt_a2 = calls[1].user_prompt();
    let first = prompt_a2.find("codename blueheron\"").unwrap_or(usize::MAX);
    let answer = prompt_a2.find("migrating the CI secrets").unwrap_or(0);
    assert!(first < answer, "oldest first: {prompt_a2}");
    assert!(
        prompt_a2.contains("Warden's last question"),
        "the clarification prompt is used: {prompt_a2}"
    );
    // The answer was the reason: submitted again, now waiting for the manager.
    assert_eq!(t.state(&a).await, RequestState::PendingApproval);
}

#[tokio::test]
async fn a_large_catalog_is_never_sent_whole() {
    let t = LlmTest::start_with(|s| s.max_candidates = 3).await;
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "resource": "grafana", "role": "viewer" }),
    ))));
    t.say("alice", "viewer on grafana dashboards for the afternoon")
        .await;
    let prompt = t.fake.calls()[0].user_prompt();
    let shown = [
        "prod-billing-db",
        "staging-db",
        "grafana",
        "github-billing",
        "k8s-prod",
        "aws-prod",
        "wiki",
        "vpn",
    ]
    .iter()
    .filter(|id| prompt.contains(&format!("\"id\":\"{id}\"")))
    .count();
    assert!(
        (1..=3).contains(&shown),
        "{shown} candidates shown:\n{prompt}"
    );
    assert!(prompt.contains("\"id\":\"grafana\""));
}

#[tokio::test]
async fn an_old_long_thread_is_cut_from_the_oldest_end() {
    let t = LlmTest::start_with(|s| s.max_thread_chars = 300).await;
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "resource": "staging-db" }),
    ))));
    let id = t
        .say(
            "alice",
            &format!("OLDEST-MARKER staging db access {}", "context ".repeat(30)),
        )
        .await;
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "resource": "staging-db", "role": "read" }),
    ))));
    t.reply("alice", &id, "read please, NEWEST-MARKER").await;
    let prompt = t.fake.calls()[1].user_prompt();
    assert!(
        prompt.contains("NEWEST-MARKER") && !prompt.contains("OLDEST-MARKER"),
        "{prompt}"
    );
}
