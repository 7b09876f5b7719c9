//! The HTTP policy decision points (OPA and AuthZEN) against fake servers over real HTTP.
//! Every fault must deny.

use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;
use warden::domain::{Action, Intent, Platform, PlatformUser};
use warden::policy::authzen::AuthzenPolicy;
use warden::policy::opa::OpaPolicy;
use warden::policy::{
    ApprovalStep, ApproverSpec, ChannelInput, Decision, INPUT_VERSION, PolicyEngine, PolicyInput,
    RequestContextInput, RequesterInput, ResourceInput,
};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPA_PATH: &str = "/v1/data/access/decision";
const AUTHZEN_PATH: &str = "/access/v1/evaluation";
const TIMEOUT: Duration = Duration::from_millis(200);

fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn input() -> PolicyInput {
    PolicyInput {
        version: INPUT_VERSION.to_string(),
        requester: RequesterInput {
            id: "alice".into(),
            display_name: "Alice Example".into(),
            groups: vec!["engineering".into()],
            manager: Some("bob".into()),
            account: PlatformUser::new(Platform::Slack, "T0001", "U0ALICE"),
        },
        intent: Intent {
            action: Action::Request,
            resource: Some("billing-db".into()),
            role: Some("read".into()),
            duration_secs: Some(7200),
            justification: Some("INC-4411".into()),
            ticket: Some("INC-4411".into()),
            request_id: None,
            break_glass: false,
            notes: vec![],
        },
        resource: ResourceInput {
            id: "billing-db".into(),
            name: "Billing DB".into(),
            risk: "high".into(),
            owners: vec!["carol".into()],
            max_duration_secs: 14400,
            break_glass: false,
            tags: vec!["prod".into()],
        },
        time: "2025-01-01T12:00:00Z".into(),
        channel: ChannelInput {
            platform: "slack".into(),
            workspace: "T0001".into(),
            channel: "C0001".into(),
            kind: "channel".into(),
        },
        context: RequestContextInput {
            is_extension: false,
            extensions_so_far: 0,
        },
    }
}

fn doc(outcome: &str) -> Value {
    json!({"outcome": outcome, "reasons": [format!("because {outcome}")], "approvals": [], "break_glass": false, "deny_reason_required": false})
}

async fn opa_answering(template: ResponseTemplate) -> (MockServer, OpaPolicy) {
    crypto();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(OPA_PATH))
        .respond_with(template)
        .mount(&server)
        .await;
    let pdp = OpaPolicy::new(
        Url::parse(&server.uri()).unwrap(),
        "access/decision",
        TIMEOUT,
    )
    .unwrap();
    (server, pdp)
}

async fn authzen_answering(template: ResponseTemplate) -> (MockServer, AuthzenPolicy) {
    crypto();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHZEN_PATH))
        .respond_with(template)
        .mount(&server)
        .await;
    let pdp = AuthzenPolicy::new(Url::parse(&server.uri()).unwrap(), None, TIMEOUT).unwrap();
    (server, pdp)
}

/// An address nothing listens on (wiremock pools its servers, so a dropped one may still answer).
fn closed_port_url() -> Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
}

fn assert_fault(d: &Decision) {
    assert_eq!(d.outcome(), "deny", "{d:?}");
    assert!(
        d.reasons().iter().any(|r| r.starts_with("policy error:")),
        "{d:?}"
    );
}

// ---- OPA ------------------------------------------------------------------------------------

#[tokio::test]
async fn opa_allow_is_an_allow() {
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"result": doc("allow")})))
            .await;
    let d = pdp.decide(&input()).await;
    assert_eq!(
        d,
        Decision::Allow {
            decision_id: None,
            reasons: vec!["because allow".into()],
            break_glass: false
        }
    );
}

#[tokio::test]
async fn opa_require_approval_keeps_the_ordered_steps() {
    let result = json!({"outcome": "require_approval", "reasons": ["critical"], "approvals": [{"from": "manager", "count": 1}, {"from": "owners", "count": 1}], "break_glass": false, "deny_reason_required": true});
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"result": result}))).await;
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
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"result": doc("deny")})))
            .await;
    let d = pdp.decide(&input()).await;
    assert_eq!(
        d,
        Decision::Deny {
            decision_id: None,
            reasons: vec!["because deny".into()]
        }
    );
}

#[tokio::test]
async fn opa_keeps_the_decision_id_from_the_response() {
    let (_s, pdp) = opa_answering(ResponseTemplate::new(200).set_body_json(
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
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(500).set_body_json(json!({"result": doc("allow")})))
            .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("HTTP 500"), "{d:?}");
}

#[tokio::test]
async fn opa_timeout_denies() {
    let (_s, pdp) = opa_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"result": doc("allow")}))
            .set_delay(Duration::from_millis(1500)),
    )
    .await;
    let started = std::time::Instant::now();
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("timed out"), "{d:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "the client timeout did not apply"
    );
}

#[tokio::test]
async fn opa_garbage_json_denies() {
    let (_s, pdp) = opa_answering(
        ResponseTemplate::new(200)
            .set_body_raw("{\"result\": {\"outcome\": \"allow\"", "application/json"),
    )
    .await;
    assert_fault(&pdp.decide(&input()).await);
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_string("<html>allow</html>")).await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn opa_200_without_result_denies_as_undefined() {
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"decision_id": "d-1"})))
            .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("undefined result"), "{d:?}");
    assert_eq!(d.decision_id(), Some("d-1"));
}

#[tokio::test]
async fn opa_result_with_unknown_fields_or_outcome_denies() {
    let mut extra = doc("allow");
    extra["obligations"] = json!(["mfa"]);
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"result": extra}))).await;
    assert_fault(&pdp.decide(&input()).await);
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"result": doc("maybe")})))
            .await;
    assert_fault(&pdp.decide(&input()).await);
    let (_s, pdp) =
        opa_answering(ResponseTemplate::new(200).set_body_json(json!({"result": true}))).await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn opa_unreachable_server_denies() {
    crypto();
    let pdp = OpaPolicy::new(closed_port_url(), "access/decision", TIMEOUT).unwrap();
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("connection failed"), "{d:?}");
}

#[tokio::test]
async fn opa_receives_the_versioned_input_document() {
    crypto();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(OPA_PATH))
        .and(body_partial_json(json!({"input": {"version": INPUT_VERSION, "requester": {"id": "alice"}, "resource": {"id": "billing-db", "risk": "high"}}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": doc("allow")})))
        .expect(1)
        .mount(&server)
        .await;
    let pdp = OpaPolicy::new(
        Url::parse(&server.uri()).unwrap(),
        "access/decision",
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(pdp.decide(&input()).await.outcome(), "allow");
    let sent: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(sent["input"]["intent"]["duration_secs"], 7200);
    assert_eq!(sent["input"]["requester"]["account"]["user_id"], "U0ALICE");
}

#[tokio::test]
async fn opa_credentials_in_the_url_are_sent_but_never_shown() {
    crypto();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(OPA_PATH))
        .and(header("authorization", "Basic d2FyZGVuOnMzY3JldA=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": doc("allow")})))
        .mount(&server)
        .await;
    let mut url = Url::parse(&server.uri()).unwrap();
    url.set_username("warden").unwrap();
    url.set_password(Some("s3cret")).unwrap();
    let pdp = OpaPolicy::new(url, "access/decision", TIMEOUT).unwrap();
    assert!(!pdp.endpoint().contains("s3cret"));
    assert!(!format!("{pdp:?}").contains("s3cret"), "{pdp:?}");
    assert_eq!(pdp.decide(&input()).await.outcome(), "allow");

    let mut unreachable = closed_port_url();
    unreachable.set_username("warden").unwrap();
    unreachable.set_password(Some("s3cret")).unwrap();
    let pdp = OpaPolicy::new(unreachable, "access/decision", TIMEOUT).unwrap();
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(
        d.reasons()
            .iter()
            .all(|r| !r.contains("s3cret") && !r.contains("127.0.0.1")),
        "{d:?}"
    );
}

// ---- AuthZEN --------------------------------------------------------------------------------

#[tokio::test]
async fn authzen_true_without_context_allows() {
    let (_s, pdp) =
        authzen_answering(ResponseTemplate::new(200).set_body_json(json!({"decision": true})))
            .await;
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
    let (_s, pdp) = authzen_answering(ResponseTemplate::new(200).set_body_json(json!({"decision": false, "context": {"reason_user": {"en-403": "Not on the billing team"}}}))).await;
    let d = pdp.decide(&input()).await;
    assert_eq!(d.outcome(), "deny");
    assert_eq!(d.reasons(), ["Not on the billing team"]);
}

#[tokio::test]
async fn authzen_approvals_in_the_context_require_approval() {
    let answer = json!({"decision": true, "context": {"approvals": [{"from": "manager", "count": 1}, {"from": "users", "users": ["carol", "dave"], "count": 2}], "reasons": ["high risk"]}});
    let (_s, pdp) = authzen_answering(ResponseTemplate::new(200).set_body_json(answer)).await;
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
    let (_s, pdp) = authzen_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"decision": true, "context": {"obligations": [{"id": "mfa"}]}})),
    )
    .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("unknown obligation"), "{d:?}");
}

#[tokio::test]
async fn authzen_non_boolean_decision_denies() {
    let (_s, pdp) =
        authzen_answering(ResponseTemplate::new(200).set_body_json(json!({"decision": "true"})))
            .await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn authzen_http_500_denies() {
    let (_s, pdp) =
        authzen_answering(ResponseTemplate::new(500).set_body_json(json!({"decision": true})))
            .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("HTTP 500"), "{d:?}");
}

#[tokio::test]
async fn authzen_timeout_denies() {
    let (_s, pdp) = authzen_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"decision": true}))
            .set_delay(Duration::from_millis(1500)),
    )
    .await;
    let d = pdp.decide(&input()).await;
    assert_fault(&d);
    assert!(d.reasons()[0].contains("timed out"), "{d:?}");
}

#[tokio::test]
async fn authzen_garbage_json_denies() {
    let (_s, pdp) = authzen_answering(
        ResponseTemplate::new(200).set_body_raw("{\"decision\": tru", "application/json"),
    )
    .await;
    assert_fault(&pdp.decide(&input()).await);
}

#[tokio::test]
async fn authzen_decision_id_comes_from_the_request_id_header() {
    let (_s, pdp) = authzen_answering(
        ResponseTemplate::new(200)
            .insert_header("X-Request-ID", "pdp-req-42")
            .set_body_json(json!({"decision": true})),
    )
    .await;
    assert_eq!(pdp.decide(&input()).await.decision_id(), Some("pdp-req-42"));
}

#[tokio::test]
async fn authzen_request_carries_subject_resource_action_context_and_the_bearer_token() {
    crypto();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(AUTHZEN_PATH))
        .and(header("authorization", "Bearer tok-123"))
        .and(body_partial_json(json!({
            "subject": {"type": "user", "id": "alice", "properties": {"groups": ["engineering"], "manager": "bob"}},
            "resource": {"type": "resource", "id": "billing-db", "properties": {"risk": "high", "owners": ["carol"]}},
            "action": {"name": "request", "properties": {"role": "read", "duration_secs": 7200, "break_glass": false}},
            "context": {"input_version": INPUT_VERSION, "is_extension": false, "extensions_so_far": 0, "ticket": "INC-4411"},
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"decision": true})))
        .expect(1)
        .mount(&server)
        .await;
    let pdp = AuthzenPolicy::new(
        Url::parse(&server.uri()).unwrap(),
        Some(SecretString::from("tok-123")),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(pdp.decide(&input()).await.outcome(), "allow");
    let requests = server.received_requests().await.unwrap();
    let sent: Value = requests[0].body_json().unwrap();
    assert_eq!(sent["subject"]["id"], "alice");
    assert_eq!(sent["context"]["input_version"], INPUT_VERSION);
    assert!(requests[0].headers.get("x-request-id").is_some());
}
