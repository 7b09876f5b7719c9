//! A `postgres` grant through the whole engine, with Warden's store on SQLite and PostgreSQL:
//! the login reaches the requester once and privately, never the log or the store, ends at
//! expiry, and a crash between CREATE ROLE and recording the grant leaves no orphan.

use super::catalog;
use super::pg_target::{PgTarget, grantor};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::wait::{PATIENCE, wait_until};
use async_trait::async_trait;
use std::sync::Arc;
use warden::chat::CardAction;
use warden::domain::RequestState;
use warden::grants::{GrantCall, GrantError, GrantReceipt, Grantor};

on_both_databases!(
    a_login_is_handed_over_once_privately_and_never_stored_or_logged,
    an_extension_moves_the_logins_valid_until,
    a_crash_between_create_role_and_recording_the_grant_leaves_no_orphan,
);

fn setup(t: &PgTarget, g: Arc<dyn Grantor>) -> Setup {
    Setup {
        catalog: Arc::new(catalog("postgres", &t.params())),
        grantors: vec![g],
        ..Setup::default()
    }
}

/// The value after `label: ` on the transcript's lines, each occurrence.
fn shown(transcript: &str, label: &str) -> Vec<String> {
    transcript
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(label))
        .map(str::to_string)
        .collect()
}

async fn everything_stored(t: &TestEngine, id: &str) -> String {
    let entries = t.store.log_entries(id).await.unwrap();
    let log: Vec<String> = entries.iter().map(|e| format!("{:?}", e.payload)).collect();
    let row = t.row(id).await;
    format!("{}\n{:?}", log.join("\n"), row)
}

async fn a_login_is_handed_over_once_privately_and_never_stored_or_logged(db: TestDb) {
    let mut target = PgTarget::new().await;
    let t = TestEngine::start(db, setup(&target, Arc::new(grantor()))).await;
    let id = t.request("alice", "need read on the test db for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    let transcript = t.transcript();
    let passwords = shown(&transcript, "password: ");
    assert_eq!(passwords.len(), 1, "handed over exactly once: {transcript}");
    let connection = shown(&transcript, "connection: ").remove(0);
    assert_eq!(target.read(&connection, "granted_t").await, Ok(42));
    assert!(target.read(&connection, "secret_t").await.is_err());

    let stored = everything_stored(&t, &id).await;
    assert!(
        !stored.contains(&passwords[0]),
        "the password is in the store: {stored}"
    );
    let fingerprint = warden::domain::credential::fingerprint(&passwords[0]);
    assert!(
        stored.contains(&fingerprint),
        "the log keeps the fingerprint"
    );
    let login = warden::grants::database::login_name(&id);
    assert!(stored.contains(&login), "the log keeps the login");
    assert!(target.role_exists(&login).await);

    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert!(!target.role_exists(&login).await, "dropped at expiry");
    assert!(target.read(&connection, "granted_t").await.is_err());
    target.cleanup(&[]).await;
}

/// Applies the grant, then never answers: the process "dies" with the role created and
/// nothing recorded.
struct DiesAfterApplying(Arc<dyn Grantor>);

#[async_trait]
impl Grantor for DiesAfterApplying {
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.0.grant(call).await?;
        std::future::pending().await
    }
    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.0.revoke(call).await
    }
}

async fn a_crash_between_create_role_and_recording_the_grant_leaves_no_orphan(db: TestDb) {
    let mut target = PgTarget::new().await;
    let dying = Arc::new(DiesAfterApplying(Arc::new(grantor())));
    let t = TestEngine::start(db, setup(&target, dying)).await;
    t.say("alice", "need read on the test db for 1h").await;
    let id = t.latest("alice").await;
    let login = warden::grants::database::login_name(&id);
    let submit = {
        let engine = t.engine.clone();
        let event = t.click_event("alice", CardAction::Submit, &id, None);
        tokio::spawn(async move { engine.handle(event).await })
    };
    let probe = PgTarget::probe();
    wait_until(PATIENCE, "the role to be created", || {
        let (probe, login) = (probe.clone(), login.clone());
        async move { PgTarget::exists(&probe, &login).await }
    })
    .await;
    submit.abort();
    let _ = submit.await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Approved,
        "nothing recorded"
    );

    // A new process takes the abandoned grant job over once its lease has run out.
    let t2 = t.restart(setup(&target, Arc::new(grantor()))).await;
    t2.advance(2).await;
    assert_eq!(
        t2.state(&id).await,
        RequestState::Active,
        "{}",
        t2.transcript()
    );
    let record = t2.row(&id).await.grant.unwrap();
    assert_eq!(record.receipt.as_ref().unwrap().detail["retried"], true);
    let connection = shown(&t2.transcript(), "connection: ");
    assert_eq!(connection.len(), 1, "{}", t2.transcript());
    assert_eq!(target.read(&connection[0], "granted_t").await, Ok(42));
    let logins: i64 = PgTarget::count_like(&probe, &login).await;
    assert_eq!(logins, 1, "one login, found again rather than made twice");

    t2.advance(61).await;
    assert_eq!(t2.state(&id).await, RequestState::Expired);
    assert!(!target.role_exists(&login).await, "no orphan");
    target.cleanup(&[]).await;
}

async fn an_extension_moves_the_logins_valid_until(db: TestDb) {
    let target = PgTarget::new().await;
    let t = TestEngine::start(db, setup(&target, Arc::new(grantor()))).await;
    let id = t.request("alice", "need read on the test db for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    let login = warden::grants::database::login_name(&id);
    t.say("alice", &format!("extend {id} by 1h")).await;
    let expires = t.row(&id).await.expires_at.expect("an expiry");
    let until = PgTarget::valid_until(&PgTarget::probe(), &login).await;
    assert_eq!(
        until.timestamp_millis() / 1000,
        expires / 1000,
        "{}",
        t.transcript()
    );
    let entries = t.store.log_entries(&id).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| format!("{:?}", e.payload).contains(":extend:1")),
        "the extend call is in the log"
    );
    target.cleanup(&[&login]).await;
}
