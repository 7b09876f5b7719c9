//! The wire: retries and their cap, timeouts, the three output modes, Azure-style deployments.

use super::app::{API_KEY, LlmTest};
use crate::support::console::Drive;
use crate::support::fakes::llm::{Prompts, Reply, completion, intent, tool_call};
use serde_json::json;
use std::time::Duration;
use warden::domain::RequestState;

fn wiki_answer() -> String {
    intent(json!({ "resource": "wiki", "role": "edit", "duration": "3h", "justification": "docs" }))
}

const RATE_LIMITED: &str =
    r#"{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}}"#;

#[tokio::test]
async fn a_429_with_a_huge_retry_after_is_retried_after_the_capped_wait_and_then_succeeds() {
    let t = LlmTest::start().await;
    t.fake
        .push(Reply::status(429, RATE_LIMITED).with_header("retry-after", "3600"));
    t.fake.push(Reply::ok(completion(&wiki_answer())));
    // llm.max_retry_after_secs = 1: an uncapped client would sleep for an hour here.
    let id = tokio::time::timeout(
        Duration::from_secs(20),
        t.say("alice", "wiki edit for 3h, docs"),
    )
    .await
    .expect("the Retry-After wait is capped");
    assert_eq!(t.fake.calls().len(), 2, "one retry");
    assert_eq!(
        t.traces(&id).await[0]["source"],
        "llm:test-model",
        "the model's answer was used, no fallback"
    );
    t.submit("alice", &id).await;
    let inputs = t.policy_inputs();
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        (
            inputs[0].intent.resource.as_deref(),
            inputs[0].intent.duration_secs
        ),
        (Some("wiki"), Some(3 * 3600))
    );
}

#[tokio::test]
async fn a_model_that_times_out_hands_the_message_to_the_parser() {
    let t = LlmTest::start_with(|s| s.timeout_secs = 1).await;
    t.fake
        .push(Reply::ok(completion(&wiki_answer())).after(Duration::from_secs(4)));
    let id = t
        .say(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    assert_eq!(
        t.fake.calls().len(),
        1,
        "a timeout is not retried: the requester already waited"
    );
    assert!(
        t.console
            .text()
            .contains("language assistant is unavailable"),
        "{}",
        t.console.text()
    );
    let trace = &t.traces(&id).await[0];
    assert_eq!(trace["source"], "parser");
    assert!(
        trace["fallback_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("did not answer"),
        "{trace}"
    );
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    t.submit("alice", &id).await;
    let inputs = t.policy_inputs();
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0].requester.id, "alice");
    assert_eq!(
        (
            inputs[0].intent.resource.as_deref(),
            inputs[0].intent.duration_secs
        ),
        (Some("wiki"), Some(7200))
    );
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_limit_then_the_parser_takes_over() {
    let t = LlmTest::start_with(|s| s.max_retries = 2).await;
    for _ in 0..3 {
        t.fake.push(Reply::status(
            503,
            r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#,
        ));
    }
    let id = t
        .say(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    assert_eq!(t.fake.calls().len(), 3, "first attempt plus two retries");
    assert_eq!(t.traces(&id).await[0]["source"], "parser");
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
}

#[tokio::test]
async fn json_schema_mode_asks_for_strict_structured_output() {
    let t = LlmTest::start().await;
    t.fake.push(Reply::ok(completion(&wiki_answer())));
    t.say("alice", "wiki edit for 3h, docs").await;
    let body = &t.fake.calls()[0].body;
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["response_format"]["type"], "json_schema");
    let schema = &body["response_format"]["json_schema"];
    assert_eq!(
        (schema["name"].as_str(), schema["strict"].as_bool()),
        (Some("propose_intent"), Some(true))
    );
    assert_eq!(schema["schema"]["additionalProperties"], false);
    let required: Vec<&str> = schema["schema"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        required.contains(&"action")
            && !required
                .iter()
                .any(|r| r.contains("requester") || r.contains("behalf")),
        "{required:?}"
    );
    assert!(body.get("tools").is_none());
}

#[tokio::test]
async fn tool_mode_forces_a_propose_intent_call_and_reads_its_arguments() {
    let t = LlmTest::start_with(|s| s.output = "tool".into()).await;
    t.fake
        .push(Reply::ok(tool_call("propose_intent", &wiki_answer())));
    let id = t.say("alice", "wiki edit for 3h, docs").await;
    let body = &t.fake.calls()[0].body;
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "propose_intent");
    assert_eq!(
        body["tools"][0]["function"]["parameters"]["additionalProperties"],
        false
    );
    assert_eq!(body["tool_choice"], "required");
    assert!(body.get("response_format").is_none());
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    assert_eq!(t.traces(&id).await[0]["source"], "llm:test-model");
}

#[tokio::test]
async fn tool_mode_rejects_a_call_to_any_other_tool() {
    let t = LlmTest::start_with(|s| s.output = "tool".into()).await;
    t.fake
        .push(Reply::ok(tool_call("approve_request", &wiki_answer())));
    let id = t
        .say(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    assert_eq!(t.traces(&id).await[0]["source"], "parser");
}

#[tokio::test]
async fn json_object_mode_asks_for_json_and_describes_the_schema_in_the_prompt() {
    let t = LlmTest::start_with(|s| s.output = "json_object".into()).await;
    t.fake.push(Reply::ok(completion(&format!(
        "```json\n{}\n```",
        wiki_answer()
    ))));
    let id = t.say("alice", "wiki edit for 3h, docs").await;
    let call = &t.fake.calls()[0];
    assert_eq!(call.body["response_format"]["type"], "json_object");
    assert!(
        call.system_prompt()
            .contains("\"additionalProperties\":false")
    );
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
}

#[tokio::test]
async fn an_azure_style_deployment_gets_the_api_version_and_an_api_key_header() {
    let t = LlmTest::start_with(|s| s.api_version = Some("2024-10-21".into())).await;
    t.fake.push(Reply::ok(completion(&wiki_answer())));
    t.say("alice", "wiki edit for 3h, docs").await;
    let call = &t.fake.calls()[0];
    assert!(
        call.uri
            .ends_with("/chat/completions?api-version=2024-10-21"),
        "{}",
        call.uri
    );
    assert_eq!(
        call.headers.get("api-key").and_then(|v| v.to_str().ok()),
        Some(API_KEY)
    );
    assert!(call.headers.get("authorization").is_none());
}
