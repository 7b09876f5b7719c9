//! Restarts and failures: a crash between approval and grant, overdue grants and lost expiry
//! jobs at start, redelivered events, failing revocations, two instances over one database.

use super::group_policy;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::wait::PATIENCE;
use crate::support::wait_until;
use std::sync::atomic::Ordering;
use warden::chat::CardAction;
use warden::domain::{Platform, RequestState};
use warden::workflow::{Handled, WorkflowOptions};

on_both_databases!(
    a_crash_between_approval_and_grant_grants_exactly_once_after_restart,
    a_restarted_engine_revokes_an_overdue_grant_exactly_once,
    a_grant_whose_expiry_job_was_lost_is_rearmed_and_revoked_on_start,
    a_redelivered_event_is_processed_once,
    a_failing_revocation_is_retried_with_an_alert_until_it_succeeds,
    a_grant_is_revoked_as_granted_after_its_resource_left_the_catalog,
    a_grant_call_that_applies_after_another_worker_failed_its_request_is_withdrawn,
    a_late_grant_of_shared_access_is_withdrawn_when_no_other_grant_holds_it,
);

/// The example catalog with the wiki's grant naming a group, so the revoke shows what it used.
fn catalog_with_wiki_group() -> std::sync::Arc<warden::domain::Catalog> {
    let text = warden::app::EXAMPLE_CATALOG.replace(
        "roles = [\"edit\"]\nrisk = \"low\"",
        "roles = [\"edit\"]\nrisk = \"low\"\ngrant = { backend = \"log\", group = \"wiki-editors\" }",
    );
    assert!(
        text.contains("wiki-editors"),
        "the example catalog changed shape"
    );
    std::sync::Arc::new(warden::domain::Catalog::from_toml(&text).unwrap())
}

/// The example catalog without the wiki at all.
pub(super) fn catalog_without_wiki() -> std::sync::Arc<warden::domain::Catalog> {
    let text = warden::app::EXAMPLE_CATALOG;
    let start = text.find("id = \"wiki\"").unwrap();
    let from = text[..start].rfind("[[resource]]").unwrap();
    let to = start + text[start..].find("[[resource]]").unwrap();
    let without = format!("{}{}", &text[..from], &text[to..]);
    let catalog = warden::domain::Catalog::from_toml(&without).unwrap();
    assert!(catalog.get("wiki").is_none());
    std::sync::Arc::new(catalog)
}

async fn a_grant_is_revoked_as_granted_after_its_resource_left_the_catalog(db: TestDb) {
    let t = TestEngine::start(
        db,
        Setup {
            catalog: catalog_with_wiki_group(),
            ..Setup::default()
        },
    )
    .await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    // The wiki leaves the catalog while the grant is live; a new engine starts with that catalog.
    let later = t
        .restart(Setup {
            catalog: catalog_without_wiki(),
            ..Setup::default()
        })
        .await;
    later.advance(61).await;
    assert_eq!(later.state(&id).await, RequestState::Expired);
    let calls = t.grantor.revoke_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "revoked once");
    assert_eq!(
        (
            calls[0].resource.as_str(),
            calls[0].role.as_str(),
            calls[0].params.get("group").and_then(|v| v.as_str())
        ),
        ("wiki", "edit", Some("wiki-editors")),
        "the revoke undoes what was granted, from the grant record"
    );
}

async fn a_crash_between_approval_and_grant_grants_exactly_once_after_restart(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let id = t.request("alice", "need read on staging db for 1h").await;
    t.approve_then_die("carol", &id).await;
    t.grantor
        .hang_grants
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(t.state(&id).await, RequestState::Approved);
    assert_eq!(t.grants(), 0);
    let restarted = t.restart(Setup::default()).await;
    // The dead worker's lease on the grant job runs out; the new engine takes it over.
    t.clock.advance(chrono::Duration::minutes(2));
    restarted.engine.recover().await.unwrap();
    assert_eq!(restarted.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
    restarted.engine.recover().await.unwrap();
    t.restart(Setup::default())
        .await
        .engine
        .recover()
        .await
        .unwrap();
    assert_eq!(t.grants(), 1, "granted exactly once");
    assert_eq!(
        t.grantor
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.ends_with(":grant"))
            .count(),
        1
    );
}

/// A grant call slower than its job's lease: another instance takes the job over and the
/// request fails (the backend refuses the retry, which is withdrawn); then the first call
/// applies. What it put in place must not stay with nothing to revoke it.
async fn a_grant_call_that_applies_after_another_worker_failed_its_request_is_withdrawn(
    db: TestDb,
) {
    grant_applies_after_another_worker_failed_it(db, None).await;
}

/// The same with shared access: the other worker's withdrawal already ended the request's hold,
/// so the late call's access has no holder left and is removed.
async fn a_late_grant_of_shared_access_is_withdrawn_when_no_other_grant_holds_it(db: TestDb) {
    grant_applies_after_another_worker_failed_it(db, Some("staging-readers")).await;
}

async fn grant_applies_after_another_worker_failed_it(db: TestDb, shared: Option<&str>) {
    let t = TestEngine::start(db, group_policy(1)).await;
    *t.grantor.access_key.lock().unwrap() = shared.map(String::from);
    let id = t.request("alice", "need read on staging db for 1h").await;
    t.grantor.park_grants.store(1, Ordering::SeqCst);
    let click = {
        let engine = t.engine.clone();
        let event = t.click_event("carol", CardAction::Approve, &id, None);
        tokio::spawn(async move { engine.handle(event).await })
    };
    wait_until(PATIENCE, "the first grant call to be in flight", || async {
        t.grantor.parked.load(Ordering::SeqCst) == 1
    })
    .await;
    t.grantor.refuse_grants.store(1, Ordering::SeqCst);
    let other = t.restart(Setup::default()).await;
    t.clock.advance(chrono::Duration::minutes(2));
    other.engine.recover().await.unwrap();
    assert_eq!(other.state(&id).await, RequestState::Failed);
    t.grantor.unpark.notify_waiters();
    click
        .await
        .expect("the first worker's click ends")
        .expect("the first worker handles the click");
    wait_until(PATIENCE, "the late grant to be withdrawn", || async {
        !t.grantor.applied.lock().unwrap().contains(&id)
    })
    .await;
    assert_eq!(t.grants(), 1, "only the first call applied");
    let reasons: Vec<String> = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "revoke_call")
        .filter_map(|e| Some(e.payload?["reason"].as_str()?.to_string()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("after the request had moved on")),
        "the withdrawal is in the request's log: {reasons:?}"
    );
    assert_eq!(t.state(&id).await, RequestState::Failed);
}

async fn a_restarted_engine_revokes_an_overdue_grant_exactly_once(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    // The process stops; time passes beyond the expiry.
    t.clock.advance(chrono::Duration::hours(3));
    let restarted = t.restart(Setup::default()).await;
    restarted.engine.recover().await.unwrap();
    assert_eq!(restarted.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
    // A second start, and a third engine, find nothing left to do.
    restarted.engine.recover().await.unwrap();
    t.restart(Setup::default())
        .await
        .engine
        .recover()
        .await
        .unwrap();
    assert_eq!(t.revokes(), 1, "revoked exactly once");
    let grant = t.store.grant(&id).await.unwrap().unwrap();
    assert_eq!(grant.status, "revoked");
}

async fn a_grant_whose_expiry_job_was_lost_is_rearmed_and_revoked_on_start(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(format!("expire:{id}"))
        .execute(t.store.pool())
        .await
        .unwrap();
    t.clock.advance(chrono::Duration::hours(2));
    let restarted = t.restart(Setup::default()).await;
    restarted.engine.recover().await.unwrap();
    assert_eq!(restarted.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
}

async fn a_redelivered_event_is_processed_once(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let ev = warden::chat::ChatEvent {
        id: "Ev-same".into(),
        actor: warden::chat::console::ConsoleChat::user("alice"),
        scope: warden::chat::console::ConsoleChat::scope(crate::support::console::CHANNEL),
        kind: warden::chat::EventKind::Message {
            text: "need edit on the wiki for 1h".into(),
            message_id: "m1".into(),
        },
    };
    assert_eq!(t.engine.handle(ev.clone()).await.unwrap(), Handled::Done);
    for _ in 0..3 {
        assert_eq!(
            t.engine.handle(ev.clone()).await.unwrap(),
            Handled::Duplicate
        );
    }
    // Also across a restart.
    let again = t.restart(Setup::default()).await;
    assert_eq!(again.engine.handle(ev).await.unwrap(), Handled::Duplicate);
    let rows = t
        .store
        .list_requests(&warden::store::RequestFilter {
            requester_id: Some("alice".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

async fn a_failing_revocation_is_retried_with_an_alert_until_it_succeeds(db: TestDb) {
    let options = WorkflowOptions {
        security_channel: Some((Platform::Console, "security".into())),
        ..WorkflowOptions::default()
    };
    let t = TestEngine::start(
        db,
        Setup {
            options,
            ..Setup::default()
        },
    )
    .await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    t.grantor.fail_revokes.store(2, Ordering::SeqCst);
    t.advance(61).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "still active while the backend refuses"
    );
    assert!(
        t.console.text().contains("#security") && t.console.text().contains("failing"),
        "{}",
        t.console.text()
    );
    for _ in 0..5 {
        t.advance(10).await;
    }
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
    let alerts = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "alert")
        .count();
    assert_eq!(alerts, 2, "one alert per failed attempt");
}

/// Two engines over one PostgreSQL run the same due jobs: each job runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_one_postgres_run_each_due_job_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let a = TestEngine::start(db, Setup::default()).await;
    let b = a.restart(Setup::default()).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(a.request("alice", "need edit on the wiki for 1h").await);
    }
    a.clock.advance(chrono::Duration::hours(2));
    let (ra, rb) = tokio::join!(a.engine.run_due_jobs(), b.engine.run_due_jobs());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra + rb >= 12, "{ra} + {rb}");
    for id in &ids {
        assert_eq!(a.state(id).await, RequestState::Expired);
    }
    assert_eq!(
        a.revokes(),
        12,
        "each expiry revoked once across both instances"
    );
}
