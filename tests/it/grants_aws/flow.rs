//! An `aws_identity_center` grant through the whole engine, with Warden's store on SQLite and
//! PostgreSQL: assigned on approval, removed at expiry, a refusal failing the request with an
//! admin told, and a person Identity Center cannot know refused before approval.

use super::{ALICE, catalog, grantor, grantor_with, settings, static_keys};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::aws::{FakeAws, Fault};
use std::sync::Arc;
use warden::domain::RequestState;
use warden::grants::Grantor;

on_both_databases!(
    a_grant_assigns_the_permission_set_and_expiry_removes_it,
    a_refused_assignment_fails_the_request_and_tells_an_admin,
    a_person_identity_center_cannot_know_is_refused_before_approval,
);

fn setup(g: Arc<dyn Grantor>) -> Setup {
    Setup {
        catalog: Arc::new(catalog()),
        grantors: vec![g],
        ..Setup::default()
    }
}

const ASK: &str = "need read on the aws sandbox for 1h";

async fn a_grant_assigns_the_permission_set_and_expiry_removes_it(db: TestDb) {
    let fake = FakeAws::start().await;
    fake.user("alice@example.com", ALICE);
    let t = TestEngine::start(db, setup(Arc::new(grantor(&fake)))).await;
    let id = t.request("alice", ASK).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert!(fake.holds(ALICE));
    let record = t.row(&id).await.grant.expect("a grant record");
    let receipt = record.receipt.expect("a receipt");
    assert_eq!(receipt.holder.as_deref(), Some(ALICE));
    assert_eq!(fake.count("CreateAccountAssignment"), 1);
    let lookups = fake.count("GetUserId");
    assert!(lookups >= 1);

    t.advance(61).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert!(!fake.holds(ALICE), "removed at expiry");
    assert_eq!(fake.count("DeleteAccountAssignment"), 1);
    let deleted = fake
        .calls()
        .into_iter()
        .find(|c| c.operation == "DeleteAccountAssignment")
        .unwrap();
    assert_eq!(
        deleted.body["PrincipalId"], ALICE,
        "the recorded user, not a new lookup"
    );
    assert_eq!(fake.count("GetUserId"), lookups, "no lookup at revoke");
}

async fn a_refused_assignment_fails_the_request_and_tells_an_admin(db: TestDb) {
    let fake = FakeAws::start().await;
    fake.user("alice@example.com", ALICE);
    fake.fault(
        "CreateAccountAssignment",
        Fault::Refuse("AccessDeniedException"),
    );
    let t = TestEngine::start(db, setup(Arc::new(grantor(&fake)))).await;
    let id = t.request("alice", ASK).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Failed,
        "{}",
        t.transcript()
    );
    assert!(
        t.transcript().contains("granting the access failed"),
        "{}",
        t.transcript()
    );
    let log = t.store.log_entries(&id).await.unwrap();
    let logged: String = log.iter().map(|e| format!("{:?}\n", e.payload)).collect();
    assert!(logged.contains("AccessDeniedException"), "{logged}");
    assert_eq!(fake.count("CreateAccountAssignment"), 1, "not retried");
    assert!(!fake.holds(ALICE));
}

async fn a_person_identity_center_cannot_know_is_refused_before_approval(db: TestDb) {
    let fake = FakeAws::start().await;
    let no_store = super::AwsSettings {
        identity_store_id: None,
        ..settings(&fake)
    };
    let g = Arc::new(grantor_with(&no_store, static_keys()));
    let t = TestEngine::start(db, setup(g)).await;
    t.say("alice", ASK).await;
    let id = t.latest("alice").await;
    t.click("alice", warden::chat::CardAction::Submit, &id)
        .await;
    assert!(
        t.transcript().contains("no AWS IAM Identity Center user"),
        "{}",
        t.transcript()
    );
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    assert!(fake.calls().is_empty(), "AWS was never called");
}
