//! Agents' requests under a freeze: one agent, all agents, and a grant job stopped on one
//! instance by a freeze set on another. Agent requests are made directly through the store as
//! the agent API makes them (origin `agent`), then granted by the engine's grant job.

use super::{calls_per_key, webhook_setup};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::TestEngine;
use crate::support::fakes::receiver::Receiver;
use crate::support::fakes::scripted::Reply;
use crate::support::wait::{PATIENCE, wait_until};
use std::time::Duration;
use warden::clock::Clock;
use warden::domain::{
    Action, FreezeScope, Intent, Job, Origin, Patch, Platform, Request, RequestEvent, RequestId,
    RequestState, ScopeKind,
};
use warden::store::{Change, Committed};

on_both_databases!(
    one_agent_frozen_loses_its_grants_while_other_agents_and_people_keep_theirs,
    all_agents_frozen_leaves_people_alone,
    a_grant_job_does_not_grant_once_another_instance_froze_the_agent,
    a_grant_in_flight_when_the_freeze_lands_is_revoked_by_its_own_job,
);

/// An agent's request, approved with its grant job due now (what the agent API commits for an
/// auto-approved ask). Returns it as stored.
async fn approved_agent_request(t: &TestEngine, agent: &str, resource: &str, role: &str) -> String {
    let now = t.clock.now_ms();
    let origin = Origin {
        platform: Platform::Agent,
        workspace: "agents".into(),
        channel: "api".into(),
        thread: None,
        kind: ScopeKind::Dm,
    };
    let draft = Request::draft(
        RequestId::generate(),
        origin,
        agent.into(),
        agent.into(),
        now,
    );
    let intent = Intent {
        action: Action::Request,
        resource: Some(resource.into()),
        role: Some(role.into()),
        duration_secs: Some(900),
        justification: Some("migration task".into()),
        ticket: None,
        request_id: None,
        break_glass: false,
        notes: vec![],
        items: vec![],
    };
    let created = t
        .store
        .create(
            &draft,
            Change::event(RequestEvent::IntentReady).patch(Patch {
                intent: Some(intent),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let Committed::Applied(req) = created else {
        panic!("{created:?}")
    };
    let approved = t
        .store
        .commit(
            &req,
            Change::event(RequestEvent::Confirm)
                .then(RequestEvent::PolicyAllow)
                .schedule(Job::Grant, now),
            now,
        )
        .await
        .unwrap();
    assert!(matches!(approved, Committed::Applied(_)), "{approved:?}");
    req.id.to_string()
}

async fn active_agent_request(t: &TestEngine, agent: &str) -> String {
    let id = approved_agent_request(t, agent, "staging-db", "read").await;
    t.engine.run_due_jobs().await.unwrap();
    assert_eq!(t.state(&id).await, RequestState::Active);
    id
}

async fn one_agent_frozen_loses_its_grants_while_other_agents_and_people_keep_theirs(db: TestDb) {
    let backend = Receiver::start("/grants").await;
    let t = TestEngine::start(db, webhook_setup(&backend)).await;
    let ci = [
        active_agent_request(&t, "ci-migrate").await,
        active_agent_request(&t, "ci-migrate").await,
    ];
    let docs = active_agent_request(&t, "docs-bot").await;
    let alice = t
        .request(
            "alice",
            "/access request staging-db read for 1h because tests",
        )
        .await;
    assert_eq!(t.state(&alice).await, RequestState::Active);

    let frozen = t
        .engine
        .freeze(
            &FreezeScope::Agent("ci-migrate".into()),
            &ops("admin:ops"),
            "runaway job",
        )
        .await
        .unwrap();
    let summary = t
        .engine
        .revoke_frozen(frozen.freeze(), "admin:ops", 4, &|_| {})
        .await
        .unwrap();
    assert_eq!((summary.total, summary.revoked), (2, 2));
    for id in &ci {
        assert_eq!(t.state(id).await, RequestState::Revoked);
    }
    assert_eq!(t.state(&docs).await, RequestState::Active);
    assert_eq!(t.state(&alice).await, RequestState::Active);
    let revokes = calls_per_key(&backend, "revoke");
    assert_eq!(revokes.len(), 2);
    assert!(revokes.values().all(|n| *n == 1));

    // The frozen agent's next approved request is not granted; another agent's is.
    let blocked = approved_agent_request(&t, "ci-migrate", "staging-db", "read").await;
    let other = approved_agent_request(&t, "docs-bot", "wiki", "edit").await;
    t.engine.run_due_jobs().await.unwrap();
    assert_eq!(t.state(&blocked).await, RequestState::Failed);
    assert_eq!(t.state(&other).await, RequestState::Active);
    assert!(!calls_per_key(&backend, "grant").contains_key(&format!("{blocked}:grant")));
}

async fn all_agents_frozen_leaves_people_alone(db: TestDb) {
    let backend = Receiver::start("/grants").await;
    let t = TestEngine::start(db, webhook_setup(&backend)).await;
    let agents = [
        active_agent_request(&t, "ci-migrate").await,
        active_agent_request(&t, "docs-bot").await,
    ];
    let alice = t
        .request("alice", "/access request wiki edit for 1h because docs")
        .await;
    let frozen = t
        .engine
        .freeze(
            &FreezeScope::AllAgents,
            &ops("admin:ops"),
            "agent platform incident",
        )
        .await
        .unwrap();
    let summary = t
        .engine
        .revoke_frozen(frozen.freeze(), "admin:ops", 4, &|_| {})
        .await
        .unwrap();
    assert_eq!((summary.total, summary.revoked), (2, 2));
    for id in &agents {
        assert_eq!(t.state(id).await, RequestState::Revoked);
    }
    assert_eq!(t.state(&alice).await, RequestState::Active);
    let more = t
        .request("bob", "/access request wiki edit for 1h because docs")
        .await;
    assert_eq!(t.state(&more).await, RequestState::Active, "people go on");
}

async fn a_grant_job_does_not_grant_once_another_instance_froze_the_agent(db: TestDb) {
    let backend = Receiver::start("/grants").await;
    let a = TestEngine::start(db, webhook_setup(&backend)).await;
    let b = a.restart(webhook_setup(&backend)).await;
    let id = approved_agent_request(&a, "ci-migrate", "staging-db", "read").await;
    b.engine
        .freeze(
            &FreezeScope::Agent("ci-migrate".into()),
            &ops("admin:ops"),
            "stop it",
        )
        .await
        .unwrap();
    a.engine.run_due_jobs().await.unwrap();
    assert_eq!(a.state(&id).await, RequestState::Failed);
    assert!(
        calls_per_key(&backend, "grant").is_empty(),
        "no grant call was made"
    );
    let log = a.store.log_entries(&id).await.unwrap();
    let refusal = log
        .iter()
        .find(|e| e.kind == "refusal")
        .expect("the refusal is logged");
    let why = refusal.payload.as_ref().unwrap()["why"].as_str().unwrap();
    assert!(why.contains("stop it"), "{why}");
}

async fn a_grant_in_flight_when_the_freeze_lands_is_revoked_by_its_own_job(db: TestDb) {
    let backend = Receiver::start("/grants").await;
    let t = TestEngine::start(db, webhook_setup(&backend)).await;
    let id = approved_agent_request(&t, "ci-migrate", "staging-db", "read").await;
    // The backend takes a while to answer the grant: the freeze and its revoke pass happen
    // while the call is in flight, when the request is not yet active.
    backend.push(Reply::empty(200).after(Duration::from_millis(800)));
    let engine = t.engine.clone();
    let job = tokio::spawn(async move { engine.run_due_jobs().await });
    wait_until(PATIENCE, "the grant call to reach the backend", || async {
        !calls_per_key(&backend, "grant").is_empty()
    })
    .await;
    let frozen = t
        .engine
        .freeze(
            &FreezeScope::AllAgents,
            &ops("admin:ops"),
            "agents misbehaving",
        )
        .await
        .unwrap();
    let summary = t
        .engine
        .revoke_frozen(frozen.freeze(), "admin:ops", 4, &|_| {})
        .await
        .unwrap();
    assert_eq!(summary.total, 0, "not active yet when the pass ran");
    job.await.unwrap().unwrap();
    assert_eq!(
        t.state(&id).await,
        RequestState::Revoked,
        "a grant completed into a frozen scope is taken back at once"
    );
    assert_eq!(
        calls_per_key(&backend, "revoke").get(&format!("{id}:revoke")),
        Some(&1)
    );
}

fn ops(name: &str) -> warden::workflow::AdminActor {
    warden::workflow::AdminActor::new(name, None, warden::workflow::AdminVia::Api)
}
