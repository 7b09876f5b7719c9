//! Unit tests and their tables, kept apart from the code they test.
use super::*;
use crate::domain::{Action, Intent, Platform, PlatformUser};
use crate::policy::{
    ApprovalStep, ApproverSpec, ChannelInput, INPUT_VERSION, RequestContextInput, RequesterInput,
    ResourceInput, SubjectInput,
};

fn input(risk: &str) -> PolicyInput {
    PolicyInput {
        version: INPUT_VERSION.to_string(),
        subject: SubjectInput::Person,
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
            duration_secs: Some(3600),
            justification: Some("INC-4411".into()),
            ticket: Some("INC-4411".into()),
            request_id: None,
            break_glass: false,
            notes: vec![],
            items: vec![],
        },
        resource: ResourceInput {
            id: "billing-db".into(),
            name: "Billing DB".into(),
            risk: risk.into(),
            owners: vec!["carol".into(), "dave".into()],
            max_duration_secs: 4 * 3600,
            break_glass: false,
            tags: vec!["prod".into()],
            services: vec!["billing".into()],
        },
        time: "2025-01-01T12:00:00Z".into(),
        channel: ChannelInput {
            platform: "slack".into(),
            workspace: "T0001".into(),
            channel: "C0001".into(),
            kind: "channel".into(),
        },
        context: RequestContextInput::default(),
        oncall: Default::default(),
    }
}

fn shipped() -> EmbeddedPolicy {
    EmbeddedPolicy::shipped().expect("the shipped policy loads")
}

fn manager() -> ApprovalStep {
    ApprovalStep {
        approvers: ApproverSpec::Manager,
        count: 1,
    }
}

fn owners() -> ApprovalStep {
    ApprovalStep {
        approvers: ApproverSpec::Owners,
        count: 1,
    }
}

fn steps(d: &Decision) -> Vec<ApprovalStep> {
    match d {
        Decision::RequireApproval { steps, .. } => steps.clone(),
        other => panic!("expected require_approval, got {other:?}"),
    }
}

#[test]
fn low_risk_is_allowed_without_approval() {
    let d = shipped().evaluate(&input("low"));
    assert_eq!(d.outcome(), "allow", "{d:?}");
    assert!(matches!(
        d,
        Decision::Allow {
            break_glass: false,
            ..
        }
    ));
}

#[test]
fn medium_risk_requires_one_manager_approval() {
    let d = shipped().evaluate(&input("medium"));
    assert_eq!(steps(&d), vec![manager()]);
}

#[test]
fn high_risk_requires_manager_approval_and_explains_why() {
    let d = shipped().evaluate(&input("high"));
    assert_eq!(steps(&d), vec![manager()]);
    assert!(
        d.reasons()
            .iter()
            .any(|r| r.contains("high-risk") && r.contains("Billing DB")),
        "{d:?}"
    );
}

#[test]
fn critical_requires_manager_then_owners_and_reasons_for_denial() {
    let d = shipped().evaluate(&input("critical"));
    assert_eq!(steps(&d), vec![manager(), owners()]);
    assert!(matches!(
        d,
        Decision::RequireApproval {
            deny_reason_required: true,
            ..
        }
    ));
}

#[test]
fn contractors_are_denied_high_and_critical_risk() {
    for risk in ["high", "critical"] {
        let mut i = input(risk);
        i.requester.groups = vec!["contractors".into()];
        let d = shipped().evaluate(&i);
        assert_eq!(d.outcome(), "deny", "{risk}: {d:?}");
        assert!(
            d.reasons().iter().any(|r| r.contains("contractors")),
            "{d:?}"
        );
    }
}

#[test]
fn a_duration_beyond_the_resource_maximum_is_denied() {
    let mut i = input("low");
    i.intent.duration_secs = Some(i.resource.max_duration_secs + 1);
    let d = shipped().evaluate(&i);
    assert_eq!(d.outcome(), "deny");
    assert!(
        d.reasons().iter().any(|r| r.contains("longer than")),
        "{d:?}"
    );
}

#[test]
fn actions_other_than_request_and_extend_are_denied() {
    for action in [Action::Revoke, Action::Cancel, Action::Status] {
        let mut i = input("low");
        i.intent.action = action;
        assert_eq!(shipped().evaluate(&i).outcome(), "deny", "{action:?}");
    }
}

#[test]
fn break_glass_by_oncall_on_an_enabled_resource_is_allowed_and_flagged() {
    let mut i = input("critical");
    i.intent.break_glass = true;
    i.resource.break_glass = true;
    i.requester.groups = vec!["oncall".into()];
    let d = shipped().evaluate(&i);
    assert!(
        matches!(
            d,
            Decision::Allow {
                break_glass: true,
                ..
            }
        ),
        "{d:?}"
    );
    assert!(d.reasons().iter().any(|r| r.contains("break-glass")));
}

#[test]
fn the_typed_oncall_signal_reaches_the_shipped_policy() {
    let mut i = input("high");
    i.intent.duration_secs = Some(2 * 3600);
    i.oncall = crate::policy::OnCallInput {
        known: true,
        on_call: true,
        services: vec!["billing".into()],
        source: Some("pagerduty".into()),
    };
    let d = shipped().evaluate(&i);
    assert!(
        matches!(
            d,
            Decision::Allow {
                break_glass: false,
                ..
            }
        ),
        "{d:?}"
    );
    // The same person on call when the source could not answer: the normal approval.
    i.oncall.known = false;
    let d = shipped().evaluate(&i);
    assert!(matches!(d, Decision::RequireApproval { .. }), "{d:?}");
}

#[test]
fn break_glass_is_denied_to_non_oncall_and_on_resources_without_it() {
    let mut not_oncall = input("critical");
    not_oncall.intent.break_glass = true;
    not_oncall.resource.break_glass = true;
    let d = shipped().evaluate(&not_oncall);
    assert_eq!(d.outcome(), "deny");
    assert!(!d.reasons().is_empty());

    let mut not_enabled = input("critical");
    not_enabled.intent.break_glass = true;
    not_enabled.requester.groups = vec!["oncall".into()];
    let d = shipped().evaluate(&not_enabled);
    assert_eq!(d.outcome(), "deny");
    assert!(
        d.reasons().iter().any(|r| r.contains("not enabled")),
        "{d:?}"
    );
}

#[test]
fn a_third_extension_is_denied() {
    let mut i = input("low");
    i.intent.action = Action::Extend;
    i.context = RequestContextInput {
        is_extension: true,
        extensions_so_far: 2,
    };
    assert_eq!(shipped().evaluate(&i).outcome(), "deny");
}

#[test]
fn extensions_of_medium_and_high_risk_need_the_manager_again() {
    for risk in ["medium", "high"] {
        let mut i = input(risk);
        i.intent.action = Action::Extend;
        i.context = RequestContextInput {
            is_extension: true,
            extensions_so_far: 1,
        };
        let d = shipped().evaluate(&i);
        assert_eq!(steps(&d), vec![manager()], "{risk}");
        assert!(
            d.reasons().iter().any(|r| r.contains("extension 2")),
            "{d:?}"
        );
    }
}

#[test]
fn an_unknown_risk_level_is_denied() {
    assert_eq!(shipped().evaluate(&input("catastrophic")).outcome(), "deny");
}

#[test]
fn configuration_data_overrides_the_policy_defaults() {
    let mut i = input("low");
    i.intent.action = Action::Extend;
    i.context = RequestContextInput {
        is_extension: true,
        extensions_so_far: 2,
    };
    let configured = shipped()
        .with_data(serde_json::json!({"warden": {"config": {"max_extensions": 5}}}))
        .unwrap();
    assert_eq!(configured.evaluate(&i).outcome(), "allow");
    assert_eq!(shipped().evaluate(&i).outcome(), "deny");
}

#[test]
fn every_evaluation_gets_its_own_decision_id() {
    let p = shipped();
    let a = p.evaluate(&input("low"));
    let b = p.evaluate(&input("low"));
    let (a, b) = (a.decision_id().unwrap(), b.decision_id().unwrap());
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(a).is_ok());
}

#[tokio::test]
async fn decide_through_the_port_matches_evaluate() {
    let p: Box<dyn PolicyEngine> = Box::new(shipped());
    assert_eq!(p.name(), "embedded");
    assert_eq!(
        p.decide(&input("medium")).await.outcome(),
        "require_approval"
    );
}

#[test]
fn an_undefined_decision_denies() {
    let p = EmbeddedPolicy::from_source(
        "t.rego",
        "package access\ndecision := {\"outcome\": \"allow\"} if input.nope == true\n",
    )
    .unwrap();
    let d = p.evaluate(&input("low"));
    assert_eq!(d.outcome(), "deny");
    assert!(detail(&d).contains("undefined result"), "{d:?}");
    assert!(d.decision_id().is_some());
}

#[test]
fn a_decision_with_an_unknown_field_denies() {
    let p = EmbeddedPolicy::from_source(
        "t.rego",
        "package access\ndecision := {\"outcome\": \"allow\", \"obligations\": [\"mfa\"]}\n",
    )
    .unwrap();
    let d = p.evaluate(&input("low"));
    assert_eq!(d.outcome(), "deny");
    assert!(detail(&d).starts_with("malformed result"), "{d:?}");
}

#[test]
fn an_inconsistent_or_non_object_decision_denies() {
    let p = EmbeddedPolicy::from_source(
        "t.rego",
        "package access\ndecision := {\"outcome\": \"require_approval\"}\n",
    )
    .unwrap();
    assert_eq!(p.evaluate(&input("low")).outcome(), "deny");
    let p = EmbeddedPolicy::from_source("t.rego", "package access\ndecision := true\n").unwrap();
    assert_eq!(p.evaluate(&input("low")).outcome(), "deny");
}

#[test]
fn an_evaluation_error_denies_with_a_short_reason() {
    // Division by zero is an error in regorus.
    let p = EmbeddedPolicy::from_source("t.rego", "package access\ndecision := {\"outcome\": \"allow\", \"reasons\": [sprintf(\"%v\", [1 / input.context.extensions_so_far])]}\n").unwrap();
    let d = p.evaluate(&input("low"));
    assert_eq!(d.outcome(), "deny", "{d:?}");
    assert!(detail(&d).contains("divide by zero at t.rego:2"), "{d:?}");
    assert!(
        detail(&d).len() < 200 && !detail(&d).contains('\n'),
        "{d:?}"
    );
}

#[test]
fn construction_fails_clearly_on_bad_policies() {
    let err =
        EmbeddedPolicy::from_source("broken.rego", "package access\ndecision := {").unwrap_err();
    assert!(err.to_string().contains("broken.rego"), "{err}");
    let err = EmbeddedPolicy::from_source("other.rego", "package other\nx := 1\n").unwrap_err();
    assert!(err.to_string().contains(DECISION_RULE), "{err}");
    assert!(EmbeddedPolicy::from_file("/nonexistent/policy.rego").is_err());
}

#[test]
fn the_shipped_rego_tests_all_pass() {
    let results = run_rego_tests(SHIPPED_POLICY, SHIPPED_POLICY_TESTS).unwrap();
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(failed.is_empty(), "failing Rego tests: {failed:?}");
    assert!(
        results.len() >= 8,
        "only {} Rego tests found",
        results.len()
    );
}

#[test]
fn a_failing_rego_test_is_reported_as_failed() {
    let tests = "package access_test\n\ntest_passes if true\n\ntest_fails if {\n\tdata.access.decision.outcome == \"allow\"\n}\n";
    let results = run_rego_tests(SHIPPED_POLICY, tests).unwrap();
    assert_eq!(
        results,
        vec![
            ("test_passes".to_string(), true),
            ("test_fails".to_string(), false)
        ]
    );
}

/// What a fault says for the log (empty when it is no fault).
fn detail(d: &Decision) -> &str {
    d.fault_info()
        .map(|f| f.detail.as_str())
        .unwrap_or_default()
}

fn admin_input(action: crate::domain::AdminAction) -> crate::policy::admin::AdminActionInput {
    use crate::policy::admin::*;
    AdminActionInput {
        version: ADMIN_INPUT_VERSION.into(),
        action,
        actor: AdminActorInput {
            name: "admin:sso:dana".into(),
            person: Some("dana".into()),
            via: "web".into(),
        },
        freeze: FreezeInput::new(Some("FZ-12345678"), &crate::domain::FreezeScope::Everything),
        time: "2026-12-01T07:00:00Z".into(),
    }
}

#[test]
fn the_shipped_policy_steps_up_lifting_a_freeze_and_not_setting_one() {
    use crate::domain::{AdminAction, AdminGate};
    let policy = EmbeddedPolicy::shipped().unwrap();
    let lift = policy.evaluate_admin(&admin_input(AdminAction::Unfreeze));
    assert!(lift.requires(crate::domain::Obligation::StepUp), "{lift:?}");
    assert_eq!(
        AdminGate::from_decision(AdminAction::Unfreeze, &lift),
        AdminGate::StepUp
    );
    let set = policy.evaluate_admin(&admin_input(AdminAction::Freeze));
    assert_eq!(
        AdminGate::from_decision(AdminAction::Freeze, &set),
        AdminGate::Direct,
        "{set:?}"
    );
}

#[test]
fn a_policy_without_the_admin_rule_faults_and_lifting_then_needs_a_passkey() {
    use crate::domain::{AdminAction, AdminGate};
    let text =
        "package access\nimport rego.v1\ndecision := {\"outcome\": \"deny\", \"reasons\": []}\n";
    let policy = EmbeddedPolicy::from_source("custom.rego", text).unwrap();
    let lift = policy.evaluate_admin(&admin_input(AdminAction::Unfreeze));
    assert!(lift.fault_info().is_some(), "{lift:?}");
    assert_eq!(
        AdminGate::from_decision(AdminAction::Unfreeze, &lift),
        AdminGate::StepUp
    );
    let set = policy.evaluate_admin(&admin_input(AdminAction::Freeze));
    assert_eq!(
        AdminGate::from_decision(AdminAction::Freeze, &set),
        AdminGate::Direct
    );
}
