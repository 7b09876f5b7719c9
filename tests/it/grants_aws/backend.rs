//! Grant, revoke, idempotency, throttling and refusals of the backend against the fake.

use super::{ALICE, call, catalog, grantor};
use crate::support::fakes::aws::{self, FakeAws, Fault};
use std::time::Duration;
use warden::grants::{GrantEffect, GrantError, GrantOp, Grantor, PriorAccess};

const BOB: &str = "9067642ac7-0000-bob";

/// A revoke of what `receipt` granted.
fn revoke_of(receipt: &warden::grants::GrantReceipt) -> warden::grants::GrantCall {
    let mut r = call(GrantOp::Revoke, None, None);
    r.grant = Some(receipt.clone());
    r
}

#[tokio::test]
async fn a_grant_creates_a_signed_assignment_and_waits_for_it_to_succeed() {
    let fake = FakeAws::start().await;
    fake.polls_before_done(2);
    let receipt = grantor(&fake)
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap();
    assert!(fake.holds(ALICE));
    assert_eq!(receipt.holder.as_deref(), Some(ALICE));
    assert_eq!(receipt.detail["status"], "SUCCEEDED");
    assert_eq!(receipt.detail["permission_set_arn"], aws::PERMISSION_SET);

    let calls = fake.calls();
    let ops: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "CreateAccountAssignment",
            "DescribeAccountAssignmentCreationStatus",
            "DescribeAccountAssignmentCreationStatus"
        ]
    );
    let create = &calls[0];
    let signed = create
        .signed
        .as_ref()
        .expect("the fake verified the signature");
    assert_eq!(
        (
            signed.access_key_id.as_str(),
            signed.region.as_str(),
            signed.service.as_str()
        ),
        (aws::ACCESS_KEY, aws::REGION, "sso")
    );
    for h in ["content-type", "host", "x-amz-date", "x-amz-target"] {
        assert!(signed.signed_headers.iter().any(|s| s == h), "{h} signed");
    }
    assert_eq!(
        create.body,
        serde_json::json!({
            "InstanceArn": aws::INSTANCE_ARN, "TargetId": aws::ACCOUNT, "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": aws::PERMISSION_SET, "PrincipalType": "USER", "PrincipalId": ALICE,
        })
    );
    let request_id = receipt.detail["aws_request_id"].as_str().unwrap();
    assert_eq!(
        calls[1].body["AccountAssignmentCreationRequestId"], request_id,
        "the status read names the creation request"
    );
    assert!(calls.iter().all(|c| c.status == 200));
}

#[tokio::test]
async fn a_person_without_an_aws_id_is_found_by_email_in_the_identity_store() {
    let fake = FakeAws::start().await;
    fake.user("alice@example.com", ALICE);
    let g = grantor(&fake);
    let receipt = g
        .grant(&call(GrantOp::Grant, Some("alice@example.com"), None))
        .await
        .unwrap();
    assert_eq!(receipt.holder.as_deref(), Some(ALICE));
    let lookup = &fake.calls()[0];
    assert_eq!(lookup.operation, "GetUserId");
    assert_eq!(lookup.signed.as_ref().unwrap().service, "identitystore");
    assert_eq!(
        lookup.body["AlternateIdentifier"]["UniqueAttribute"],
        serde_json::json!({ "AttributePath": "emails.value", "AttributeValue": "alice@example.com" })
    );
    let unknown = g
        .grant(&call(GrantOp::Grant, Some("nobody@example.com"), None))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, GrantError::Permanent(ref m) if m.contains("no IAM Identity Center user")),
        "{unknown:?}"
    );
    let nothing = g
        .grant(&call(GrantOp::Grant, None, None))
        .await
        .unwrap_err();
    assert!(matches!(nothing, GrantError::Permanent(_)), "{nothing:?}");
}

#[tokio::test]
async fn granting_what_is_there_and_revoking_what_is_gone_are_successes() {
    let fake = FakeAws::start().await;
    fake.assign("USER", ALICE);
    let g = grantor(&fake);
    let grant = call(GrantOp::Grant, None, Some(ALICE));
    assert_eq!(g.observe(&grant).await.unwrap(), Some(PriorAccess::Held));
    let receipt = g.grant(&grant).await.unwrap();
    assert!(fake.holds(ALICE));

    let first = g.revoke(&revoke_of(&receipt)).await.unwrap();
    assert_eq!(first.effect, GrantEffect::Applied);
    assert!(!fake.holds(ALICE));
    // Again (a retried revoke job): AWS reports the deletion FAILED; the listing shows it gone.
    let again = g.revoke(&revoke_of(&receipt)).await.unwrap();
    assert_eq!(again.effect, GrantEffect::AlreadyHeld);
    assert_eq!(again.detail["status"], "ALREADY_REMOVED");
    assert_eq!(g.observe(&grant).await.unwrap(), Some(PriorAccess::Absent));
}

#[tokio::test]
async fn throttling_is_retried_after_the_servers_retry_after() {
    let fake = FakeAws::start().await;
    fake.fault("CreateAccountAssignment", Fault::Throttle(Some(1)));
    fake.fault("CreateAccountAssignment", Fault::Throttle(None));
    grantor(&fake)
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap();
    let creates: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.operation == "CreateAccountAssignment")
        .collect();
    assert_eq!(
        creates.iter().map(|c| c.status).collect::<Vec<_>>(),
        [400, 400, 200]
    );
    let waited = creates[1].at - creates[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After honoured: {waited:?}"
    );
    assert!(fake.holds(ALICE));
}

#[tokio::test]
async fn throttling_that_outlasts_the_attempts_is_transient() {
    let fake = FakeAws::start().await;
    for _ in 0..4 {
        fake.fault("CreateAccountAssignment", Fault::Throttle(None));
    }
    let err = grantor(&fake)
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GrantError::Transient(ref m) if m.contains("ThrottlingException")),
        "{err:?}"
    );
    assert_eq!(fake.count("CreateAccountAssignment"), 4);
    assert!(!fake.holds(ALICE));
}

#[tokio::test]
async fn access_denied_and_validation_are_permanent_and_not_retried() {
    for code in ["AccessDeniedException", "ValidationException"] {
        let fake = FakeAws::start().await;
        fake.fault("CreateAccountAssignment", Fault::Refuse(code));
        let err = grantor(&fake)
            .grant(&call(GrantOp::Grant, None, Some(ALICE)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GrantError::Permanent(ref m) if m.contains(code)),
            "{err:?}"
        );
        assert_eq!(fake.count("CreateAccountAssignment"), 1);
    }
}

#[tokio::test]
async fn a_refusal_after_a_server_error_may_have_applied() {
    let fake = FakeAws::start().await;
    fake.fault("CreateAccountAssignment", Fault::Internal);
    fake.fault(
        "CreateAccountAssignment",
        Fault::Refuse("ValidationException"),
    );
    let err = grantor(&fake)
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(matches!(err, GrantError::Uncertain(_)), "{err:?}");
    assert!(err.may_have_applied());
}

#[tokio::test]
async fn a_conflict_is_success_when_the_assignment_is_in_place_and_retried_when_not() {
    let fake = FakeAws::start().await;
    let g = grantor(&fake);
    fake.fault(
        "CreateAccountAssignment",
        Fault::Refuse("ConflictException"),
    );
    let err = g
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(matches!(err, GrantError::Transient(_)), "{err:?}");
    fake.assign("USER", ALICE);
    fake.fault(
        "CreateAccountAssignment",
        Fault::Refuse("ConflictException"),
    );
    let receipt = g
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap();
    assert_eq!(receipt.detail["status"], "ALREADY_ASSIGNED");
}

#[tokio::test]
async fn an_assignment_that_fails_asynchronously_is_a_permanent_failure() {
    let fake = FakeAws::start().await;
    fake.fault(
        "CreateAccountAssignment",
        Fault::FailAsync("Request failed: the account reached its IAM roles quota"),
    );
    let err = grantor(&fake)
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GrantError::Permanent(ref m) if m.contains("IAM roles quota")),
        "{err:?}"
    );
    assert!(!fake.holds(ALICE));
}

#[tokio::test]
async fn an_assignment_still_in_progress_after_the_polls_is_transient() {
    let fake = FakeAws::start().await;
    fake.polls_before_done(1000);
    let err = grantor(&fake)
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GrantError::Transient(ref m) if m.contains("in progress")),
        "{err:?}"
    );
    assert_eq!(
        fake.count("DescribeAccountAssignmentCreationStatus"),
        20,
        "bounded"
    );
}

#[tokio::test]
async fn a_revoke_without_a_recorded_user_refuses_rather_than_guess() {
    let fake = FakeAws::start().await;
    let err = grantor(&fake)
        .revoke(&call(
            GrantOp::Revoke,
            Some("alice@example.com"),
            Some(ALICE),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, GrantError::Permanent(_)), "{err:?}");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn holders_are_the_users_assigned_across_every_page() {
    let fake = FakeAws::start().await;
    for id in [ALICE, BOB, "u-3", "u-4", "u-5"] {
        fake.assign("USER", id);
    }
    fake.assign("GROUP", "g-admins");
    let cat = catalog();
    let holders = grantor(&fake)
        .holders(cat.get("aws-sandbox").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut want = vec![ALICE, BOB, "u-3", "u-4", "u-5"];
    want.sort();
    assert_eq!(holders, want);
    assert_eq!(fake.count("ListAccountAssignments"), 3, "two per page");
}

#[tokio::test]
async fn a_person_with_neither_an_aws_id_nor_a_findable_email_is_refused_before_approval() {
    let fake = FakeAws::start().await;
    let cat = catalog();
    let resource = cat.get("aws-sandbox").unwrap();
    let mut alice = warden::domain::Person {
        id: "alice".into(),
        display_name: "Alice".into(),
        email: Some("alice@example.com".into()),
        manager: None,
        groups: vec![],
        accounts: vec![],
        sso_subject: None,
        target_ids: Default::default(),
        active: true,
    };
    assert!(
        grantor(&fake).check_person(&alice, resource).is_ok(),
        "by email"
    );
    let no_store = super::AwsSettings {
        identity_store_id: None,
        ..super::settings(&fake)
    };
    let g = super::grantor_with(&no_store, super::static_keys());
    let refusal = g.check_person(&alice, resource).unwrap_err();
    assert!(refusal.contains("AWS IAM Identity Center"), "{refusal}");
    alice.target_ids.insert("aws".into(), ALICE.into());
    assert!(g.check_person(&alice, resource).is_ok(), "by explicit id");
}

#[tokio::test]
async fn a_request_signed_with_the_wrong_secret_is_refused_by_the_fake_as_aws_would() {
    let fake = FakeAws::start().await;
    let wrong = warden::grants::aws::credentials::CredentialSource::Static(
        warden::grants::aws::credentials::Credentials {
            access_key_id: aws::ACCESS_KEY.into(),
            secret_access_key: secrecy::SecretString::from("not-the-secret".to_string()),
            session_token: None,
            expires_at: None,
        },
    );
    let g = super::grantor_with(&super::settings(&fake), wrong);
    let err = g
        .grant(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GrantError::Permanent(ref m) if m.contains("InvalidSignatureException")),
        "{err:?}"
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 403);
    assert_eq!(
        calls[0].signed,
        Err("the signature does not match".to_string())
    );
    assert!(!fake.holds(ALICE));
}

#[tokio::test]
async fn a_refusal_after_a_server_error_on_a_read_changed_nothing() {
    let fake = FakeAws::start().await;
    fake.fault("ListAccountAssignments", Fault::Internal);
    fake.fault(
        "ListAccountAssignments",
        Fault::Refuse("AccessDeniedException"),
    );
    let err = grantor(&fake)
        .observe(&call(GrantOp::Grant, None, Some(ALICE)))
        .await
        .unwrap_err();
    assert!(matches!(err, GrantError::Permanent(_)), "{err:?}");
    assert_eq!(fake.count("ListAccountAssignments"), 2);
}
