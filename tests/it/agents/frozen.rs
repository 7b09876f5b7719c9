//! Agents and the kill switch over the agent API: a create into a frozen scope is a 423
//! `frozen` problem that stores and grants nothing; an unregistered agent cannot be frozen.

use super::app::{AgentApp, staging_read};
use crate::on_both_databases;
use crate::support::TestDb;
use warden::domain::FreezeScope;
use warden::store::RequestFilter;
use warden::workflow::UserError;

on_both_databases!(
    an_agent_asking_into_a_frozen_scope_gets_a_frozen_problem_and_nothing_is_stored,
    freezing_an_agent_the_registry_lacks_is_refused_and_nothing_is_frozen,
);

async fn stored_requests(app: &AgentApp) -> usize {
    app.store()
        .list_requests(&RequestFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

async fn an_agent_asking_into_a_frozen_scope_gets_a_frozen_problem_and_nothing_is_stored(
    db: TestDb,
) {
    let app = AgentApp::start(db).await;
    let frozen = app
        .engine()
        .freeze(
            &FreezeScope::Agent("ci-migrate".into()),
            &ops("admin:ops"),
            "runaway job",
        )
        .await
        .unwrap();
    let freeze_id = frozen.freeze().id.clone();

    // With and without an idempotency key: the same answer, nothing stored or granted.
    for key in [None, Some("run-1")] {
        let (status, problem) = app.create(&app.token(), &staging_read(), key).await;
        assert_eq!(status, 423, "{problem}");
        assert_eq!(problem["code"], "frozen");
        assert_eq!(problem["type"], "urn:warden:agent:error:frozen");
        assert_eq!(problem["freeze"], freeze_id.as_str());
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("frozen") && detail.contains(&freeze_id),
            "{detail}"
        );
    }
    assert_eq!(stored_requests(&app).await, 0);
    assert!(app.grants.calls().is_empty(), "no backend call");

    // Another agent is not in that scope; a resource freeze covers it.
    let (status, ok) = app.create(&app.other_token(), &staging_read(), None).await;
    assert_eq!(status, 201, "{ok}");
    app.engine()
        .freeze(
            &FreezeScope::Resource("staging-db".into()),
            &ops("admin:ops"),
            "db audit",
        )
        .await
        .unwrap();
    let (status, problem) = app.create(&app.other_token(), &staging_read(), None).await;
    assert_eq!((status, problem["code"].as_str()), (423, Some("frozen")));
    assert_eq!(stored_requests(&app).await, 1);

    // Lifted: the frozen agent's ask goes through again.
    for f in app.store().active_freezes().await.unwrap() {
        app.engine()
            .unfreeze_locally(&f.id, &ops("admin:ops"), "all clear", "test-host")
            .await
            .unwrap()
            .unwrap();
    }
    let (status, body) = app.create(&app.token(), &staging_read(), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["task"]["status"], "approved");
}

async fn freezing_an_agent_the_registry_lacks_is_refused_and_nothing_is_frozen(db: TestDb) {
    let app = AgentApp::start(db).await;
    let refused = app
        .engine()
        .freeze(
            &FreezeScope::Agent("ci-migrat".into()),
            &ops("admin:ops"),
            "typo",
        )
        .await
        .unwrap_err();
    let shown = refused
        .downcast_ref::<UserError>()
        .expect("a refusal for the operator");
    assert!(shown.0.contains("no agent 'ci-migrat'"), "{}", shown.0);
    assert!(app.store().active_freezes().await.unwrap().is_empty());
    // A registered one is frozen.
    app.engine()
        .freeze(
            &FreezeScope::Agent("ci-migrate".into()),
            &ops("admin:ops"),
            "drill",
        )
        .await
        .unwrap();
    assert_eq!(app.store().active_freezes().await.unwrap().len(), 1);
}

fn ops(name: &str) -> warden::workflow::AdminActor {
    warden::workflow::AdminActor::new(name, None, warden::workflow::AdminVia::Api)
}
