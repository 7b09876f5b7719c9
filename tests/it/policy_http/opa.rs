//! OPA's data API: its answers, its faults, what it is sent.

use super::{
    TIMEOUT, assert_fault, assert_json_includes, closed_port_url, doc, input, opa_answering,
};
use crate::support::fakes::pdp::FakePdp;
use crate::support::fakes::scripted::Reply;
use serde_json::json;
use std::time::Duration;
use warden::policy::opa::OpaPolicy;
use warden::policy::{ApprovalStep, ApproverSpec, Decision, INPUT_VERSION, PolicyEngine};

#[tokio::test]
async fn opa_allow_is_an_allow() {
    let (_s, pdp) = opa_answering(Reply::ok(json!({"result": doc("allow")}))).await;
    let d = pdp.decide(&input()).await;
    assert_eq!(
        d,
        Decision::Allow {
            decision_id: None,
            reasons: vec!["because allow".into()],
            break_glass: false,
            obligations: vec![],
        }
    );
}

#[tokio::test]
async fn opa_require_approval_keeps_the_ordered_steps() {
    let result = json!({"outcome": "require_approval", "reasons": ["critical"], "approvals": [{"from": "manager", "count": 1}, {"from": "owners", "count": 1}], "break_glass": false, "deny_reason_required": true});
    let (_s, pdp) = opa_answering(Reply::ok(json!({"result": result}))).await;
    match pdp.decide(&input()).await {
        Decision::RequireApproval {
            steps,
            deny_reason_required,
            ..
        } => {
            assert_eq!(
                steps,
                vec![
                    ApprovalStep {
                        approvers: ApproverSpec::Manager,
                        count: 1
                    },
                    ApprovalStep {
                        approvers: ApproverSpec::Owners,
                        count: 1
                    }
                ]
            );
            assert!(deny_reason_required);
        }
        other => panic!("expected require_approval, got {other:?}"),
    }
}

#[tokio::test]
async fn opa_deny_is_a_deny_with_its_reasons() {
    let (_s, pdp) = opa_answering(Reply::ok(json!({"result": doc("deny")}))).await;
    let d = pdp.decide(&input()).await;
    assert_eq!(
        d,
        Decision::Deny {
            decision_id: None,
            reasons: vec!["because deny".into()],
            fault: None,
        }
    );
}

#[tokio::test]
async fn opa_keeps_the_decision_id_from_the_response() {
    let (_s, pdp) = opa_answering(Reply::ok(
        json!({"result": doc("allow"), "decision_id": "4ca636c1-55e4-417a-b1d8-4aceb67960d1"}),
    ))
    .await;
    let d = pdp.decide(&input()).await;
    assert_eq!(d.outcome(), "allow");
    assert_eq!(
        d.decision_id(),
        Some("4ca636c1-55e4-417a-b1d8-4aceb67960d1")
    );
}

#[tokio::test]
async fn opa_http_500_denies() {
    let (_s, pdp) = opa_answering(Reply::json(500, json!({"result": doc("allow")}))).await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("HTTP 500"), "{d:?}");
}

#[tokio::test]
async fn opa_timeout_denies() {
    let (_s, pdp) = opa_answering(
        Reply::ok(json!({"result": doc("allow")})).after(Duration::from_millis(1500)),
    )
    .await;
    let started = std::time::Instant::now();
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("timed out"), "{d:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "the client timeout did not apply"
    );
}

#[tokio::test]
async fn opa_garbage_json_denies() {
    let (_s, pdp) = opa_answering(Reply::raw(
        200,
        "{\"result\": {\"outcome\": \"allow\"",
        "application/json",
    ))
    .await;
    assert_fault(&pdp.decide(&input()).await);
    let (_s, pdp) = opa_answering(Reply::raw(200, "<html>allow</html>", "text/plain")).await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn opa_200_without_result_denies_as_undefined() {
    let (_s, pdp) = opa_answering(Reply::ok(json!({"decision_id": "d-1"}))).await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("undefined result"), "{d:?}");
    assert_eq!(d.decision_id(), Some("d-1"));
}

#[tokio::test]
async fn opa_result_with_unknown_fields_or_outcome_denies() {
    let mut extra = doc("allow");
    extra["obligations"] = json!(["mfa"]);
    let (_s, pdp) = opa_answering(Reply::ok(json!({"result": extra}))).await;
    assert_fault(&pdp.decide(&input()).await);
    let (_s, pdp) = opa_answering(Reply::ok(json!({"result": doc("maybe")}))).await;
    assert_fault(&pdp.decide(&input()).await);
    let (_s, pdp) = opa_answering(Reply::ok(json!({"result": true}))).await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn opa_unreachable_server_denies() {
    warden::app::install_crypto();
    let pdp = OpaPolicy::new(closed_port_url(), "access/decision", TIMEOUT).unwrap();
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(super::detail(&d).contains("connection failed"), "{d:?}");
}

#[tokio::test]
async fn opa_receives_the_versioned_input_document() {
    let (fake, pdp) = opa_answering(Reply::ok(json!({"result": doc("allow")}))).await;
    assert_eq!(pdp.decide(&input()).await.outcome(), "allow");
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_json_includes(
        &calls[0].body,
        &json!({"input": {"version": INPUT_VERSION, "requester": {"id": "alice"}, "resource": {"id": "billing-db", "risk": "high"}}}),
    );
    let sent = &calls[0].body;
    assert_eq!(sent["input"]["intent"]["duration_secs"], 7200);
    assert_eq!(sent["input"]["requester"]["account"]["user_id"], "U0ALICE");
    // The on-call fact and the resource's services travel as they are (input v4).
    assert_eq!(
        sent["input"]["oncall"],
        json!({"known": false, "on_call": false, "services": [], "source": null})
    );
    assert_eq!(sent["input"]["resource"]["services"], json!(["billing"]));
}

#[tokio::test]
async fn opa_credentials_in_the_url_are_sent_but_never_shown() {
    warden::app::install_crypto();
    let fake = FakePdp::opa(Reply::ok(json!({"result": doc("allow")}))).await;
    let mut url = fake.url();
    url.set_username("warden").unwrap();
    url.set_password(Some("s3cret")).unwrap();
    let pdp = OpaPolicy::new(url, "access/decision", TIMEOUT).unwrap();
    assert!(!pdp.endpoint().contains("s3cret"));
    assert!(!format!("{pdp:?}").contains("s3cret"), "{pdp:?}");
    assert_eq!(pdp.decide(&input()).await.outcome(), "allow");
    assert_eq!(
        fake.calls()[0].header("authorization"),
        Some("Basic d2FyZGVuOnMzY3JldA==")
    );

    let mut unreachable = closed_port_url();
    unreachable.set_username("warden").unwrap();
    unreachable.set_password(Some("s3cret")).unwrap();
    let pdp = OpaPolicy::new(unreachable, "access/decision", TIMEOUT).unwrap();
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(
        !super::detail(&d).contains("s3cret") && !super::detail(&d).contains("127.0.0.1"),
        "{d:?}"
    );
}
