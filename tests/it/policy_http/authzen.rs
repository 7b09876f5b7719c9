//! AuthZEN's evaluation API: its answers, its faults, what it is sent.

use super::{TIMEOUT, assert_fault, assert_json_includes, authzen_answering, input};
use crate::support::fakes::pdp::FakePdp;
use crate::support::fakes::scripted::Reply;
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use warden::policy::authzen::AuthzenPolicy;
use warden::policy::{ApprovalStep, ApproverSpec, Decision, INPUT_VERSION, PolicyEngine};

#[tokio::test]
async fn authzen_true_without_context_allows() {
    let (_s, pdp) = authzen_answering(Reply::ok(json!({"decision": true}))).await;
    assert!(matches!(
        pdp.decide(&input()).await,
        Decision::Allow {
            break_glass: false,
            ..
        }
    ));
}

#[tokio::test]
async fn authzen_false_denies_with_the_user_reason() {
    let (_s, pdp) = authzen_answering(Reply::ok(json!({"decision": false, "context": {"reason_user": {"en-403": "Not on the billing team"}}}))).await;
    let d = pdp.decide(&input()).await;
    assert_eq!(d.outcome(), "deny");
    assert_eq!(d.reasons(), ["Not on the billing team"]);
}

#[tokio::test]
async fn authzen_approvals_in_the_context_require_approval() {
    let answer = json!({"decision": true, "context": {"approvals": [{"from": "manager", "count": 1}, {"from": "users", "users": ["carol", "dave"], "count": 2}], "reasons": ["high risk"]}});
    let (_s, pdp) = authzen_answering(Reply::ok(answer)).await;
    match pdp.decide(&input()).await {
        Decision::RequireApproval {
            steps,
            reasons,
            deny_reason_required,
            ..
        } => {
            assert_eq!(
                steps[0],
                ApprovalStep {
                    approvers: ApproverSpec::Manager,
                    count: 1
                }
            );
            assert_eq!(
                steps[1],
                ApprovalStep {
                    approvers: ApproverSpec::Users {
                        users: vec!["carol".into(), "dave".into()]
                    },
                    count: 2
                }
            );
            assert_eq!(reasons, vec!["high risk".to_string()]);
            assert!(!deny_reason_required);
        }
        other => panic!("expected require_approval, got {other:?}"),
    }
}

#[tokio::test]
async fn authzen_true_with_an_unknown_obligation_denies() {
    let (_s, pdp) = authzen_answering(Reply::ok(
        json!({"decision": true, "context": {"obligations": [{"id": "mfa"}]}}),
    ))
    .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("unknown obligation"), "{d:?}");
}

#[tokio::test]
async fn authzen_non_boolean_decision_denies() {
    let (_s, pdp) = authzen_answering(Reply::ok(json!({"decision": "true"}))).await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn authzen_http_500_denies() {
    let (_s, pdp) = authzen_answering(Reply::json(500, json!({"decision": true}))).await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("HTTP 500"), "{d:?}");
}

#[tokio::test]
async fn authzen_timeout_denies() {
    let (_s, pdp) =
        authzen_answering(Reply::ok(json!({"decision": true})).after(Duration::from_millis(1500)))
            .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("timed out"), "{d:?}");
}

#[tokio::test]
async fn authzen_garbage_json_denies() {
    let (_s, pdp) =
        authzen_answering(Reply::raw(200, "{\"decision\": tru", "application/json")).await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn authzen_decision_id_comes_from_the_request_id_header() {
    let (_s, pdp) = authzen_answering(
        Reply::ok(json!({"decision": true})).with_header("X-Request-ID", "pdp-req-42"),
    )
    .await;
    assert_eq!(pdp.decide(&input()).await.decision_id(), Some("pdp-req-42"));
}

#[tokio::test]
async fn authzen_request_carries_subject_resource_action_context_and_the_bearer_token() {
    warden::app::install_crypto();
    let fake = FakePdp::authzen(Reply::ok(json!({"decision": true}))).await;
    let pdp = AuthzenPolicy::with_endpoint(
        fake.evaluation_url(),
        Some(SecretString::from("tok-123")),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(pdp.decide(&input()).await.outcome(), "allow");
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header("authorization"), Some("Bearer tok-123"));
    assert_json_includes(
        &calls[0].body,
        &json!({
            "subject": {"type": "user", "id": "alice", "properties": {"groups": ["engineering"], "manager": "bob"}},
            "resource": {"type": "resource", "id": "billing-db", "properties": {"risk": "high", "owners": ["carol"]}},
            "action": {"name": "request", "properties": {"role": "read", "duration_secs": 7200, "break_glass": false}},
            "context": {"input_version": INPUT_VERSION, "is_extension": false, "extensions_so_far": 0, "ticket": "INC-4411"},
        }),
    );
    let sent = &calls[0].body;
    assert_eq!(sent["subject"]["id"], "alice");
    assert_eq!(sent["context"]["input_version"], INPUT_VERSION);
    assert!(calls[0].header("x-request-id").is_some());
}
