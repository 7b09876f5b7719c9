//! The agents page and API over HTTP: each registered agent with its owner, binding, active
//! grants, last activity and freezes; agent requests' timelines open like any other request.

use super::app::TestApp;
use super::pages::Browser;
use crate::on_both_databases;
use crate::support::TestDb;
use serde_json::{Value, json};
use warden::domain::{AgentAsk, FreezeScope, RequestState};
use warden::workflow::{AgentCaller, AgentChannel};

on_both_databases!(
    the_agents_page_and_api_show_owner_binding_grants_activity_and_freezes,
    an_agent_request_s_timeline_opens_like_any_other,
);

const REGISTRY: &str = r#"
[[agent]]
id = "ci-migrate"
name = "CI migrations"
owner = "carol"
[agent.workload]
issuer = "https://token.actions.githubusercontent.com"
audience = "https://warden.test"
subject = "repo:acme/billing:ref:refs/heads/main"
claims = { repository = "acme/billing" }
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]

[[agent]]
id = "docs-bot"
name = "Docs bot"
owner = "dana"
[agent.workload]
issuer = "https://kubernetes.default.svc"
audience = "https://warden.test"
subject = "system:serviceaccount:docs:docs-bot"
[[agent.ceiling]]
resource = "wiki"
roles = ["edit"]
"#;

async fn app_with_agents(db: TestDb) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agents.toml");
    std::fs::write(&file, REGISTRY).unwrap();
    let app = TestApp::spawn_with(db, move |s| s.agents.file = Some(file)).await;
    (app, dir)
}

/// ci-migrate asks for read on staging-db through the engine's agent operation (low risk in
/// its ceiling: granted at once). Returns the request id.
async fn agent_grant(app: &TestApp) -> String {
    let engine = app.engine();
    let agent = engine.agents().get("ci-migrate").unwrap();
    let ask: AgentAsk = serde_json::from_value(
        json!({ "resource": "staging-db", "role": "read", "duration": 600, "task": "seed staging schema" }),
    )
    .unwrap();
    let claims = json!({ "iss": agent.workload.issuer, "sub": agent.workload.subject, "repository": "acme/billing" });
    let caller = AgentCaller {
        agent,
        claims: &claims,
        channel: AgentChannel::Api,
    };
    let (req, _) = engine.agent_create(caller, &ask, None).await.unwrap();
    assert_eq!(req.state, RequestState::Active);
    req.id.to_string()
}

fn by_id<'a>(listed: &'a Value, id: &str) -> &'a Value {
    listed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {listed}"))
}

async fn the_agents_page_and_api_show_owner_binding_grants_activity_and_freezes(db: TestDb) {
    let (app, _dir) = app_with_agents(db).await;
    agent_grant(&app).await;
    let frozen = app
        .engine()
        .freeze(
            &FreezeScope::Agent("docs-bot".into()),
            &warden::workflow::AdminActor::new("admin:ops", None, warden::workflow::AdminVia::Api),
            "leaked token",
        )
        .await
        .unwrap();
    let freeze_id = frozen.freeze().id.clone();

    let listed = app.get_json("/api/v1/agents", &app.tokens.viewer).await;
    assert_eq!(listed["agents"].as_array().unwrap().len(), 2, "{listed}");
    let ci = by_id(&listed, "ci-migrate");
    assert_eq!(ci["owner"], "carol");
    assert_eq!(
        ci["binding"]["issuer"],
        "https://token.actions.githubusercontent.com"
    );
    assert_eq!(
        ci["binding"]["subject"],
        "repo:acme/billing:ref:refs/heads/main"
    );
    assert_eq!(ci["binding"]["claims"]["repository"], "acme/billing");
    assert_eq!(ci["active_grants"], 1);
    assert!(ci["last_activity_at"].as_i64().is_some(), "{ci}");
    assert_eq!(ci["frozen"], false);
    let docs = by_id(&listed, "docs-bot");
    assert_eq!(docs["active_grants"], 0);
    assert_eq!(docs["last_activity_at"], Value::Null);
    assert_eq!(docs["frozen"], true);
    assert_eq!(docs["freezes"][0]["id"], freeze_id.as_str());

    // A resource freeze shows against the agents whose ceiling names it.
    app.engine()
        .freeze(
            &FreezeScope::Resource("staging-db".into()),
            &warden::workflow::AdminActor::new("admin:ops", None, warden::workflow::AdminVia::Api),
            "db audit",
        )
        .await
        .unwrap();
    let listed = app.get_json("/api/v1/agents", &app.tokens.admin).await;
    let ci = by_id(&listed, "ci-migrate");
    assert_eq!(ci["frozen"], false, "the agent itself is not frozen");
    assert_eq!(ci["frozen_resources"], json!(["staging-db"]));

    let resp = app
        .get("/api/v1/agents", Some(&app.tokens.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "requester tokens do not see agents");

    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let html = viewer.page("/admin/agents").await;
    for shown in [
        "ci-migrate",
        "CI migrations",
        "carol",
        "repo:acme/billing:ref:refs/heads/main",
        "repository: acme/billing",
        "system:serviceaccount:docs:docs-bot",
        freeze_id.as_str(),
        "resource staging-db frozen",
    ] {
        assert!(html.contains(shown), "{shown} not on the page: {html}");
    }
    let alice = Browser::signed_in(&app, &app.tokens.alice).await;
    assert_eq!(alice.get("/admin/agents").await.status(), 403);
    // The kill switch page offers the registered agents, so none is misspelt.
    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    let kill = admin.page("/admin/freezes").await;
    for id in ["ci-migrate", "docs-bot"] {
        assert!(
            kill.contains(&format!(r#"<option value="{id}">"#)),
            "{kill}"
        );
    }
}

async fn an_agent_request_s_timeline_opens_like_any_other(db: TestDb) {
    let (app, _dir) = app_with_agents(db).await;
    let id = agent_grant(&app).await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let html = viewer.page(&format!("/admin/requests/{id}")).await;
    for shown in [
        "ci-migrate",
        "seed staging schema",
        "staging-db",
        "acme/billing",
    ] {
        assert!(html.contains(shown), "{shown} not in the timeline: {html}");
    }
    let listed = viewer.page("/admin/requests?requester=ci-migrate").await;
    assert!(listed.contains(&id), "{listed}");
    let api = app
        .get_json(&format!("/api/v1/requests/{id}"), &app.tokens.viewer)
        .await;
    assert_eq!(api["request"]["requester_id"], "ci-migrate", "{api}");
}
