//! Unit tests of the AuthZEN answer mapping and the client's secret handling.

use super::*;
use crate::policy::ApproverSpec;

fn map(v: Value) -> Decision {
    map_response(&v, None)
}

#[test]
fn true_without_context_allows_and_false_denies() {
    assert!(matches!(
        map(json!({"decision": true})),
        Decision::Allow {
            break_glass: false,
            ..
        }
    ));
    assert!(matches!(
        map(json!({"decision": true, "context": {}})),
        Decision::Allow { .. }
    ));
    let d = map(json!({"decision": false}));
    assert_eq!(d.outcome(), "deny");
    assert_eq!(d.reasons(), ["denied by the AuthZEN policy decision point"]);
}

#[test]
fn deny_reasons_come_from_reason_user_and_reasons() {
    let d = map(
        json!({"decision": false, "context": {"reasons": ["not on call"], "reason_user": {"en-403": "Insufficient privileges"}, "reason_admin": {"en": "rule C076"}}}),
    );
    assert_eq!(d.reasons(), ["not on call", "Insufficient privileges"]);
}

#[test]
fn approvals_in_the_context_require_approval() {
    let d = map(
        json!({"decision": true, "context": {"approvals": [{"from": "manager"}, {"from": "group", "group": "dba", "count": 2}], "deny_reason_required": true}}),
    );
    match d {
        Decision::RequireApproval {
            steps,
            deny_reason_required,
            ..
        } => {
            assert_eq!(steps[0].approvers, ApproverSpec::Manager);
            assert_eq!(
                steps[1],
                ApprovalStep {
                    approvers: ApproverSpec::Group {
                        group: "dba".into()
                    },
                    count: 2
                }
            );
            assert!(deny_reason_required);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn break_glass_in_the_context_allows_flagged() {
    assert!(matches!(
        map(json!({"decision": true, "context": {"break_glass": true}})),
        Decision::Allow {
            break_glass: true,
            ..
        }
    ));
}

#[test]
fn anything_not_understood_denies() {
    for answer in [
        json!({"decision": true, "context": {"obligations": [{"id": "mfa"}]}}),
        json!({"decision": true, "context": {"mfa_required": true}}),
        json!({"decision": "true"}),
        json!({"decision": 1}),
        json!({"context": {}}),
        json!([true]),
        json!({"decision": true, "context": "ok"}),
        json!({"decision": true, "context": {"approvals": [{"from": "manager", "when": "now"}]}}),
        json!({"decision": true, "context": {"approvals": [{"from": "nobody"}]}}),
        json!({"decision": true, "context": {"approvals": [{"from": "manager", "count": 0}]}}),
        json!({"decision": true, "context": {"approvals": "manager"}}),
        json!({"decision": true, "context": {"break_glass": "yes"}}),
        json!({"decision": true, "context": {"reasons": [1]}}),
        json!({"decision": true, "context": {"break_glass": true, "approvals": [{"from": "manager"}]}}),
        json!({"decision": true, "evaluations": []}),
    ] {
        let d = map(answer.clone());
        assert_eq!(d.outcome(), "deny", "{answer}");
        assert!(d.fault_info().is_some(), "{answer}: {d:?}");
    }
    let d = map(json!({"decision": true, "context": {"obligations": [{"id": "mfa"}]}}));
    assert!(
        d.fault_info()
            .is_some_and(|f| f.detail.contains("unknown obligation 'mfa'")),
        "{d:?}"
    );
    let d = map(json!({"decision": true, "context": {"obligations": {"id": "step_up"}}}));
    assert!(d.fault_info().is_some(), "{d:?}");
}

#[test]
fn known_obligations_are_carried_on_the_decision() {
    let d = map(json!({"decision": true, "context": {
        "obligations": [{"id": "step_up"}, {"id": "reason_required"}],
        "approvals": [{"from": "owners"}]
    }}));
    assert_eq!(
        d.obligations(),
        [
            crate::domain::decision::Obligation::StepUp,
            crate::domain::decision::Obligation::ReasonRequired
        ]
    );
    let d = map(json!({"decision": true, "context": {"obligations": []}}));
    assert_eq!(d.outcome(), "allow");
    assert!(d.obligations().is_empty());
}

#[test]
fn the_decision_id_prefers_the_context_then_the_header() {
    let d = map_response(
        &json!({"decision": true, "context": {"decision_id": "ctx-1"}}),
        Some("hdr-1".into()),
    );
    assert_eq!(d.decision_id(), Some("ctx-1"));
    let d = map_response(
        &json!({"decision": true, "context": {"id": "ctx-2"}}),
        Some("hdr-1".into()),
    );
    assert_eq!(d.decision_id(), Some("ctx-2"));
    let d = map_response(&json!({"decision": false}), Some("hdr-1".into()));
    assert_eq!(d.decision_id(), Some("hdr-1"));
    let d = map_response(
        &json!({"decision": true, "context": {"obligations": 1}}),
        Some("hdr-2".into()),
    );
    assert_eq!((d.outcome(), d.decision_id()), ("deny", Some("hdr-2")));
}

#[test]
fn the_token_never_shows_in_debug_output() {
    let p = AuthzenPolicy::with_endpoint(
        Url::parse("https://pdp.example/access/v1/evaluation").unwrap(),
        Some(SecretString::from("tok-s3cret")),
        Duration::from_secs(1),
    )
    .unwrap();
    let shown = format!("{p:?}");
    assert!(
        !shown.contains("tok-s3cret") && shown.contains("redacted"),
        "{shown}"
    );
    assert_eq!(p.endpoint(), "https://pdp.example/access/v1/evaluation");
}

fn input_with_subject(subject: Value) -> PolicyInput {
    serde_json::from_value(json!({
        "version": crate::policy::INPUT_VERSION,
        "subject": subject,
        "requester": {"id": "ci-migrate", "display_name": "Billing migrations", "groups": [], "manager": null,
                      "account": {"platform": "agent", "workspace": "agents", "user_id": "ci-migrate"}},
        "intent": {"action": "request", "resource": "billing-db", "role": "read", "duration_secs": 600,
                   "justification": "migration 42", "ticket": null, "request_id": null, "break_glass": false, "notes": []},
        "resource": {"id": "billing-db", "name": "Billing DB", "risk": "high", "owners": ["erin"],
                     "max_duration_secs": 3600, "break_glass": false, "tags": []},
        "time": "2026-01-01T00:00:00Z",
        "channel": {"platform": "agent", "workspace": "agents", "channel": "api", "kind": "api"},
    }))
    .unwrap()
}

#[test]
fn an_agent_is_an_agent_subject_with_its_owner_bounds_and_claims() {
    let agent = json!({"type": "agent", "agent": {
        "id": "ci-migrate", "name": "Billing migrations", "owner": "carol", "max_duration_secs": 1800,
        "max_concurrent_grants": 1, "ceiling": [{"resource": "billing-db", "roles": ["read"]}],
        "within_ceiling": true, "claims": {"iss": "https://issuer.test", "sub": "repo:acme/billing"},
    }});
    let body = request_body(&input_with_subject(agent));
    assert_eq!(body["subject"]["type"], "agent");
    assert_eq!(body["subject"]["id"], "ci-migrate");
    let a = &body["subject"]["properties"]["agent"];
    assert_eq!(a["owner"], "carol");
    assert_eq!(a["within_ceiling"], true);
    assert_eq!(a["claims"]["sub"], "repo:acme/billing");
    assert_eq!(
        body["context"]["input_version"],
        crate::policy::INPUT_VERSION
    );
    // A person is a `user` with no agent properties, as before.
    let person = request_body(&input_with_subject(json!({"type": "person"})));
    assert_eq!(person["subject"]["type"], "user");
    assert!(person["subject"]["properties"].get("agent").is_none());
}

#[test]
fn the_oncall_signal_and_the_resources_services_reach_the_authzen_pdp() {
    let mut input = input_with_subject(json!({"type": "person"}));
    input.resource.services = vec!["billing".into()];
    input.oncall = crate::policy::OnCallInput {
        known: true,
        on_call: true,
        services: vec!["billing".into()],
        source: Some("opsgenie".into()),
    };
    let body = request_body(&input);
    assert_eq!(
        body["subject"]["properties"]["oncall"],
        json!({"known": true, "on_call": true, "services": ["billing"], "source": "opsgenie"})
    );
    assert_eq!(
        body["resource"]["properties"]["services"],
        json!(["billing"])
    );
    // An input recorded before v4 reads as "not known", never as on call.
    let old = input_with_subject(json!({"type": "person"}));
    assert_eq!(
        request_body(&old)["subject"]["properties"]["oncall"]["known"],
        false
    );
}

#[test]
fn a_kill_switch_action_is_asked_as_an_admin_acting_on_a_warden_freeze() {
    use crate::policy::admin::*;
    let input = AdminActionInput {
        version: ADMIN_INPUT_VERSION.into(),
        action: crate::domain::AdminAction::Unfreeze,
        actor: AdminActorInput {
            name: "admin:ops".into(),
            person: None,
            via: "api".into(),
        },
        freeze: FreezeInput::new(
            Some("FZ-12345678"),
            &crate::domain::FreezeScope::Resource("wiki".into()),
        ),
        time: "2026-12-01T07:00:00Z".into(),
    };
    let body = admin_request_body(&input);
    assert_eq!(body["action"]["name"], "unfreeze");
    assert_eq!(body["subject"]["type"], "admin");
    assert_eq!(body["subject"]["properties"]["via"], "api");
    assert_eq!(body["resource"]["type"], "warden_freeze");
    assert_eq!(body["resource"]["id"], "FZ-12345678");
    assert_eq!(body["resource"]["properties"]["target"], "wiki");
    assert_eq!(body["context"]["input_version"], ADMIN_INPUT_VERSION);
    // The answer is read like any other: `true` with the step_up obligation asks for a passkey.
    let d = map(json!({"decision": true, "context": {"obligations": [{"id": "step_up"}]}}));
    assert_eq!(
        crate::domain::AdminGate::from_decision(input.action, &d),
        crate::domain::AdminGate::StepUp
    );
}
