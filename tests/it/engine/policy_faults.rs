//! A policy decision point that fails (a broken Rego policy, a PDP answering 500, an obligation
//! Warden does not know) denies; the requester reads a short line with a reference, and the
//! internals — Rego locations, HTTP statuses, obligation names — are in the log under it.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::pdp::{AUTHZEN_PATH, FakePdp};
use crate::support::fakes::scripted::Reply;
use crate::support::logs::CapturedLogs;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use warden::chat::CardAction;
use warden::domain::RequestState;
use warden::policy::PolicyEngine;
use warden::policy::authzen::AuthzenPolicy;
use warden::policy::embedded::EmbeddedPolicy;
use warden::policy::opa::OpaPolicy;

on_both_databases!(
    a_broken_rego_policy_shows_a_reference_not_its_error,
    a_pdp_answering_500_shows_a_reference_not_the_status,
    an_unknown_obligation_shows_a_reference_not_its_name,
);

/// Asks and submits with `policy`; returns what the requester was told and what was logged.
async fn submit_under(db: TestDb, policy: Arc<dyn PolicyEngine>) -> (String, String) {
    let t = TestEngine::start(
        db,
        Setup {
            policy,
            ..Setup::default()
        },
    )
    .await;
    let logs = CapturedLogs::default();
    let id = logs
        .run(async {
            t.say("alice", "need edit on the wiki for 2h").await;
            let id = t.latest("alice").await;
            t.click("alice", CardAction::Submit, &id).await;
            id
        })
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Denied,
        "{}",
        t.console.text()
    );
    (t.console.text(), logs.text())
}

/// The chat has none of `internals` and a reference that the log has, next to the internals.
fn assert_referenced(chat: &str, log: &str, internals: &[&str]) {
    for secret in internals {
        assert!(!chat.contains(secret), "chat shows {secret:?}: {chat}");
    }
    let reference = chat
        .split("ref ")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .next()
        })
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| panic!("no reference in the chat: {chat}"));
    let line = log
        .lines()
        .find(|l| l.contains(reference))
        .unwrap_or_else(|| panic!("reference {reference} not in the log: {log}"));
    assert!(
        internals.iter().any(|i| line.contains(i)),
        "the logged line names the cause: {line}"
    );
}

async fn a_broken_rego_policy_shows_a_reference_not_its_error(db: TestDb) {
    // Division by zero is an evaluation error in regorus, reported with its location.
    let rego = "package access\ndecision := {\"outcome\": \"allow\", \"reasons\": [sprintf(\"%v\", [1 / input.context.extensions_so_far])]}\n";
    let policy = Arc::new(EmbeddedPolicy::from_source("broken.rego", rego).unwrap());
    let (chat, log) = submit_under(db, policy).await;
    assert_referenced(&chat, &log, &["broken.rego", "divide by zero"]);
}

async fn a_pdp_answering_500_shows_a_reference_not_the_status(db: TestDb) {
    let fake = FakePdp::opa(Reply::json(500, json!({"code": "internal_error"}))).await;
    let policy =
        Arc::new(OpaPolicy::new(fake.url(), "access/decision", Duration::from_secs(2)).unwrap());
    let (chat, log) = submit_under(db, policy).await;
    assert_referenced(&chat, &log, &["HTTP 500", "500"]);
}

async fn an_unknown_obligation_shows_a_reference_not_its_name(db: TestDb) {
    let answer = json!({"decision": true, "context": {"require_mfa_step_up": true}});
    let fake = FakePdp::authzen(Reply::ok(answer)).await;
    let endpoint = fake.url().join(AUTHZEN_PATH).unwrap();
    let policy =
        Arc::new(AuthzenPolicy::with_endpoint(endpoint, None, Duration::from_secs(2)).unwrap());
    let (chat, log) = submit_under(db, policy).await;
    assert_referenced(&chat, &log, &["require_mfa_step_up"]);
}
