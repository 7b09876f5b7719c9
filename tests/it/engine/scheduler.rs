//! The scheduler under trouble: revocations never wait behind other work, and jobs that cannot
//! run end in a dead-letter state an admin sees and can retry, with an alert.

use super::group_policy;
use super::recovery::catalog_without_wiki;
use crate::on_both_databases;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use warden::chat::CardAction;
use warden::domain::JobStatus;
use warden::domain::{Platform, RequestState};
use warden::workflow::WorkflowOptions;

on_both_databases!(
    a_slow_grant_in_the_scheduler_never_delays_a_due_revocation,
    a_job_of_an_unknown_kind_is_dead_lettered_with_an_alert,
    a_grant_job_whose_resource_is_gone_is_dead_lettered_and_an_admin_retry_runs_it,
);

fn with_security_channel(mut setup: Setup) -> Setup {
    setup.options = WorkflowOptions {
        security_channel: Some((Platform::Console, "security".into())),
        ..setup.options
    };
    setup
}

async fn job_status(t: &TestEngine, id: &str) -> String {
    t.store
        .job_status(id)
        .await
        .unwrap()
        .expect("the job exists")
        .0
}

async fn a_slow_grant_in_the_scheduler_never_delays_a_due_revocation(db: TestDb) {
    let t = TestEngine::start(db, group_policy(1)).await;
    let active = t.request("alice", "need edit on the wiki for 1h").await;
    // The test policy sends the wiki to approval too; approve it while grants still return.
    t.click("carol", CardAction::Approve, &active).await;
    assert_eq!(t.state(&active).await, RequestState::Active);

    // A second request is approved, and its grant call hangs (a backend that never answers).
    let slow = t.request("alice", "need read on staging db for 1h").await;
    t.approve_then_die("carol", &slow).await;

    // The handler's lease runs out; the scheduler takes the grant job over, and it hangs there.
    t.clock.advance(chrono::Duration::minutes(2));
    let stop = CancellationToken::new();
    let scheduler = tokio::spawn(
        t.engine
            .clone()
            .run_scheduler(Duration::from_millis(20), stop.clone()),
    );
    let grant_job = format!("grant:{slow}");
    wait_until(PATIENCE, "the scheduler to take the grant job", || async {
        t.store
            .job_status(&grant_job)
            .await
            .unwrap()
            .is_some_and(|(status, attempts)| status == "running" && attempts >= 2)
    })
    .await;

    // The first grant's expiry falls due while the slow grant is still in the backend.
    t.clock.advance(chrono::Duration::minutes(60));
    wait_until(PATIENCE, "the due revocation to run", || async {
        t.state(&active).await == RequestState::Expired
    })
    .await;
    assert_eq!(t.revokes(), 1);
    assert_eq!(
        t.state(&slow).await,
        RequestState::Approved,
        "still granting"
    );
    stop.cancel();
    scheduler.abort();
    let _ = scheduler.await;
}

async fn a_job_of_an_unknown_kind_is_dead_lettered_with_an_alert(db: TestDb) {
    let setup = with_security_channel(Setup::default());
    let metrics = setup.metrics.clone();
    let t = TestEngine::start(db, setup).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    // A job written by a newer (or broken) build: this one cannot run it.
    sqlx::query("INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts) VALUES ($1, 'rotate_keys', $2, 0, 0, 'pending', 0)")
        .bind(format!("rotate_keys:{id}"))
        .bind(&id)
        .execute(t.store.pool())
        .await
        .unwrap();
    t.engine.run_due_jobs().await.unwrap();
    assert_eq!(job_status(&t, &format!("rotate_keys:{id}")).await, "dead");
    // Not claimed again: it waits for an admin, in plain sight.
    t.advance(30).await;
    assert_eq!(job_status(&t, &format!("rotate_keys:{id}")).await, "dead");
    let dead = t.store.jobs_in(JobStatus::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("rotate_keys"),
        "{dead:?}"
    );
    assert!(
        t.console.text().contains("#security") && t.console.text().contains("needs an admin"),
        "{}",
        t.console.text()
    );
    let alerts = t.store.log_entries(&id).await.unwrap();
    assert!(
        alerts.iter().any(|e| e.kind == "alert"),
        "the request's log says so"
    );
    assert_eq!(
        metrics.counter("warden_jobs_dead_lettered_total", "kind=\"unknown\""),
        1
    );
}

async fn a_grant_job_whose_resource_is_gone_is_dead_lettered_and_an_admin_retry_runs_it(
    db: TestDb,
) {
    let t = TestEngine::start(db, with_security_channel(group_policy(1))).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    t.approve_then_die("carol", &id).await;
    t.grantor.hang_grants.store(false, Ordering::SeqCst);

    // It restarts with the wiki gone from the catalog: retrying cannot help.
    let mut setup = with_security_channel(group_policy(1));
    setup.catalog = catalog_without_wiki();
    let without = t.restart(setup).await;
    t.clock.advance(chrono::Duration::minutes(2));
    without.engine.run_due_jobs().await.unwrap();
    let job = format!("grant:{id}");
    assert_eq!(job_status(&t, &job).await, "dead", "not retried forever");
    assert!(without.console.text().contains("needs an admin"));
    assert_eq!(t.grants(), 0);

    // An admin puts the wiki back and retries the job: it runs, once.
    let fixed = t.restart(group_policy(1)).await;
    let retried = fixed
        .engine
        .retry_dead_job(&job, "admin:ops")
        .await
        .unwrap();
    assert!(retried.is_some());
    assert!(
        fixed
            .engine
            .retry_dead_job(&job, "admin:ops")
            .await
            .unwrap()
            .is_none(),
        "a job is retried once per dead-letter"
    );
    fixed.engine.run_due_jobs().await.unwrap();
    assert_eq!(fixed.state(&id).await, RequestState::Active);
    assert_eq!(t.grants(), 1);
    let log = t.store.log_entries(&id).await.unwrap();
    assert!(
        log.iter().any(|e| e.actor == "admin:ops"),
        "the retry is in the request's log"
    );
}
