//! Okta and GitHub grants through the whole engine, with Warden's store on SQLite and
//! PostgreSQL: the membership is added, recorded with its holder and removed at expiry; a
//! refusal fails the request with an alert; a person with no account is refused before anyone
//! is asked to approve.

use super::catalog;
use super::github::github_catalog;
use super::okta::by_token;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::github::FakeGitHub;
use crate::support::fakes::okta::{FakeOkta, error};
use crate::support::fakes::saas::Fault;
use axum::http::Method;
use std::sync::Arc;
use warden::chat::CardAction;
use warden::domain::{Platform, RequestState};
use warden::workflow::WorkflowOptions;

on_both_databases!(
    an_okta_membership_is_granted_recorded_and_removed_at_expiry,
    an_okta_refusal_fails_the_request_and_alerts,
    a_person_without_a_github_login_is_refused_before_approval,
    an_unconfirmed_okta_grant_is_withdrawn_from_the_account_the_directory_names,
);

const GROUP: &str = "00gflow";

async fn okta() -> FakeOkta {
    let f = FakeOkta::start().await;
    f.user("00ualice", "alice@example.com");
    f.user("00ubob", "bob@example.com");
    f.group(GROUP, &["00ubob"]);
    f
}

fn setup(f: &FakeOkta) -> Setup {
    Setup {
        catalog: Arc::new(catalog(&format!(
            r#"{{ backend = "okta", group_id = "{GROUP}" }}"#
        ))),
        grantors: vec![Arc::new(by_token(f))],
        ..Setup::default()
    }
}

async fn an_okta_membership_is_granted_recorded_and_removed_at_expiry(db: TestDb) {
    let f = okta().await;
    let t = TestEngine::start(db, setup(&f)).await;
    let id = t.request("alice", "need read on the saas app for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert_eq!(f.members(GROUP), ["00ualice", "00ubob"]);
    let record = t.row(&id).await.grant.expect("grant recorded");
    assert_eq!(record.backend, "okta");
    assert_eq!(record.receipt.unwrap().holder.as_deref(), Some("00ualice"));

    t.advance(61).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert_eq!(
        f.members(GROUP),
        ["00ubob"],
        "exactly what was granted is removed"
    );
    let deletes = f
        .common()
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .count();
    assert_eq!(deletes, 1);
}

async fn an_okta_refusal_fails_the_request_and_alerts(db: TestDb) {
    let f = okta().await;
    f.fault(Fault::on(
        Some(Method::PUT),
        "/api/v1/groups/",
        403,
        error(
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
    ));
    let options = WorkflowOptions {
        security_channel: Some((Platform::Console, "security".into())),
        ..WorkflowOptions::default()
    };
    let t = TestEngine::start(
        db,
        Setup {
            options,
            ..setup(&f)
        },
    )
    .await;
    let id = t.request("alice", "need read on the saas app for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Failed,
        "{}",
        t.transcript()
    );
    let said = t.transcript();
    assert!(said.contains("granting the access failed"), "{said}");
    assert!(
        said.lines()
            .any(|l| l.contains("#security") && l.contains("E0000006")),
        "the security channel hears of it: {said}"
    );
    assert_eq!(f.members(GROUP), ["00ubob"]);
    t.advance(60).await;
    let puts = f
        .common()
        .calls()
        .iter()
        .filter(|c| c.method == "PUT")
        .count();
    assert_eq!(puts, 1, "a permanent refusal is not retried");
}

async fn a_person_without_a_github_login_is_refused_before_approval(db: TestDb) {
    let f = FakeGitHub::start().await;
    let setup = Setup {
        catalog: Arc::new(github_catalog()),
        grantors: vec![Arc::new(super::github::grantor(&f))],
        ..Setup::default()
    };
    let t = TestEngine::start(db, setup).await;
    t.say("alice", "need read on the saas app for 1h").await;
    let id = t.latest("alice").await;
    t.click("alice", CardAction::Submit, &id).await;
    let said = t.transcript();
    assert!(said.contains("no GitHub account on record"), "{said}");
    assert!(
        !matches!(
            t.state(&id).await,
            RequestState::Approved | RequestState::PendingApproval | RequestState::Active
        ),
        "{said}"
    );
    assert!(f.common().calls().is_empty(), "GitHub was never called");
}

/// A 500 (which may have applied) then a refusal: the grant's outcome is unknown and its receipt
/// names no account, so the compensating revoke finds the person's Okta user from the directory.
async fn an_unconfirmed_okta_grant_is_withdrawn_from_the_account_the_directory_names(db: TestDb) {
    let f = okta().await;
    f.group(GROUP, &["00ualice", "00ubob"]);
    f.fault(Fault::on(
        Some(Method::GET),
        "/users/00ualice/groups",
        200,
        serde_json::json!([]),
    ));
    f.fault(Fault::on(
        Some(Method::PUT),
        "/api/v1/groups/",
        500,
        error("E0000009", "Internal Server Error"),
    ));
    f.fault(Fault::on(
        Some(Method::PUT),
        "/api/v1/groups/",
        400,
        error("E0000001", "Api validation failed"),
    ));
    let t = TestEngine::start(db, setup(&f)).await;
    let id = t.request("alice", "need read on the saas app for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Failed,
        "{}",
        t.transcript()
    );
    let said = t.transcript();
    assert!(said.contains("withdrawn"), "{said}");
    assert_eq!(
        f.members(GROUP),
        ["00ubob"],
        "the membership that may have applied is gone"
    );
    let grant = t.store.grant(&id).await.unwrap().expect("on record");
    assert_eq!(grant.status, "revoked");
}
