//! The MCP server at `/mcp` driven by the official TypeScript MCP client over real HTTP: list
//! tools, request (granted at once, and approved by the owner in Slack), poll, release; and the
//! resource-server side of MCP authorization (401 + resource metadata, audience separation).

use super::app::AgentApp;
use super::auth::good_claims;
use crate::support::TestDb;
use crate::support::mcp_client::{self, McpClient};
use crate::{on_both_databases, on_sqlite};
use serde_json::{Value, json};
use warden::domain::RequestState;

/// The MCP resource the tests configure: tokens at `/mcp` must carry it as their audience.
const RESOURCE: &str = "https://warden.test/mcp";
const METADATA: &str = "https://warden.test/.well-known/oauth-protected-resource";

on_both_databases!(an_mcp_client_asks_polls_and_releases_through_the_governed_flow);
on_sqlite!(
    mcp_calls_without_a_token_for_the_mcp_resource_get_401_pointing_at_the_metadata,
    without_an_mcp_resource_there_is_no_mcp_server,
);

async fn start(db: TestDb) -> AgentApp {
    AgentApp::start_with(db, |s| s.agents.mcp_resource = Some(RESOURCE.into())).await
}

impl AgentApp {
    /// A valid ci-migrate token for the MCP resource.
    fn mcp_token(&self) -> String {
        let mut c = good_claims(&self.issuer.issuer());
        c["aud"] = json!(RESOURCE);
        self.key.sign(&c)
    }

    fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }
}

/// A successful tool answer's structured content.
fn ok(result: &Value) -> &Value {
    assert_ne!(result["isError"], true, "the tool refused: {result}");
    &result["structuredContent"]
}

async fn an_mcp_client_asks_polls_and_releases_through_the_governed_flow(db: TestDb) {
    if !mcp_client::available() {
        return;
    }
    let app = start(db).await;
    let mut mcp = McpClient::connect(&app.mcp_url(), Some(&app.mcp_token())).await;
    assert_eq!(mcp.connected["ok"], true, "{}", mcp.connected);
    assert_eq!(mcp.connected["server"]["name"], "warden");

    let tools = mcp.list_tools().await;
    let mut names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "check_access",
            "list_access",
            "release_access",
            "request_access"
        ]
    );
    let ask_schema = &tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "request_access")
        .unwrap()["inputSchema"];
    for field in ["resource", "role", "duration", "task"] {
        assert!(
            ask_schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{ask_schema}"
        );
    }

    // Low risk and inside the ceiling: granted at once, and the answer says until when.
    let staging = mcp
        .call(
            "request_access",
            json!({ "resource": "staging-db", "role": "read", "duration": "10m",
                    "task": "seed staging", "idempotency_key": "seed-1" }),
        )
        .await;
    let staging = ok(&staging).clone();
    let staging_id = staging["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(staging["task"]["status"], "approved", "{staging}");
    assert_eq!(staging["request"]["state"], "active");
    assert_eq!(staging["created"], true);
    let next = staging["next"].as_str().unwrap();
    assert!(
        next.contains("until") && next.contains("release_access"),
        "{next}"
    );
    // The same key and ask again: the same request, not a second grant.
    let again = mcp
        .call(
            "request_access",
            json!({ "resource": "staging-db", "role": "read", "duration": "10m",
                    "task": "seed staging", "idempotency_key": "seed-1" }),
        )
        .await;
    assert_eq!(ok(&again)["task"]["id"], staging_id.as_str());
    assert_eq!(ok(&again)["created"], false);
    assert_eq!(app.backend_calls(&staging_id, "grant"), 1);

    // High risk: pending on the owner, and the answer says who and how to follow it.
    let prod = mcp
        .call(
            "request_access",
            json!({ "resource": "prod-billing-db", "role": "read", "duration": "20m",
                    "task": "run migration 42 dry-run checks", "ticket": "INC-42" }),
        )
        .await;
    let prod = ok(&prod).clone();
    let id = prod["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(prod["task"]["status"], "pending", "{prod}");
    assert_eq!(prod["task"]["progress"]["awaiting"][0], "carol");
    let next = prod["next"].as_str().unwrap();
    assert!(
        next.contains("carol") && next.contains("check_access"),
        "{next}"
    );

    let (channel, ts) = app.approval_card(&id).await;
    assert_eq!(channel, "D0CAROL");
    app.click("U0CAROL", "approve", &id, &channel, &ts).await;
    let mut state = String::new();
    for _ in 0..5 {
        let checked = mcp
            .call("check_access", json!({ "id": id, "wait_secs": 20 }))
            .await;
        state = ok(&checked)["request"]["state"].as_str().unwrap().into();
        if state == "active" {
            assert_eq!(ok(&checked)["task"]["status"], "approved");
            break;
        }
    }
    assert_eq!(state, "active");

    let listed = mcp.call("list_access", json!({ "state": "active" })).await;
    let listed = ok(&listed)["requests"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "{listed:?}");

    for rid in [&id, &staging_id] {
        let released = mcp.call("release_access", json!({ "id": rid })).await;
        assert_eq!(ok(&released)["task"]["id"], rid.as_str());
        app.wait_state(rid, RequestState::Revoked).await;
        assert_eq!(app.backend_calls(rid, "grant"), 1);
        assert_eq!(app.backend_calls(rid, "revoke"), 1);
    }
    // A repeated release answers and changes nothing.
    let again = mcp.call("release_access", json!({ "id": id })).await;
    assert_eq!(ok(&again)["task"]["status"], "revoked");
    assert_eq!(app.backend_calls(&id, "revoke"), 1);

    // Outside the ceiling: denied, with the reasons and no invitation to retry.
    let denied = mcp
        .call(
            "request_access",
            json!({ "resource": "grafana", "role": "viewer", "duration": "10m", "task": "look" }),
        )
        .await;
    let denied = ok(&denied);
    assert_eq!(denied["task"]["status"], "denied", "{denied}");
    assert!(!denied["request"]["reasons"].as_array().unwrap().is_empty());
    assert!(denied["next"].as_str().unwrap().contains("Do not retry"));
    let denied_id = denied["task"]["id"].as_str().unwrap();
    assert_eq!(app.backend_calls(denied_id, "grant"), 0);

    // A refusal is a tool error with a code and what to do, and stores nothing.
    let refused = mcp
        .call(
            "request_access",
            json!({ "resource": "no-such-db", "role": "read", "duration": "10m", "task": "x" }),
        )
        .await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(
        refused["structuredContent"]["error"]["code"],
        "unknown_resource"
    );
    assert!(refused["structuredContent"]["next"].is_string());
    let unknown = mcp
        .call("check_access", json!({ "id": "not-a-request" }))
        .await;
    assert_eq!(
        unknown["structuredContent"]["error"]["code"],
        "unknown_task"
    );

    // Warden's side: the requests came in over MCP, with the verified claims and never the token.
    let log = app.store().log_entries(&id).await.unwrap();
    let asked = log.iter().find(|e| e.kind == "agent_request").unwrap();
    let asked = asked.payload.as_ref().unwrap();
    assert_eq!(asked["channel"], "mcp", "{asked}");
    assert_eq!(asked["claims"]["aud"], RESOURCE);
    let all = serde_json::to_string(&log.iter().map(|e| &e.payload).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(&app.mcp_token()[..40]));
}

async fn mcp_calls_without_a_token_for_the_mcp_resource_get_401_pointing_at_the_metadata(
    db: TestDb,
) {
    let app = start(db).await;
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "raw", "version": "1" } },
    });
    let post = |token: Option<String>| {
        let mut r = app
            .http
            .post(app.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };

    let none = post(None).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        format!("Bearer resource_metadata=\"{METADATA}\"").as_str()
    );

    // A token for the agent API's audience is not one for the MCP server (RFC 8707 audience).
    let api_token = app.token();
    let wrong = post(Some(api_token.clone())).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let challenge = wrong.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!("resource_metadata=\"{METADATA}\""))
            && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    // Nor the other way round.
    let (status, _) = app.get(&app.mcp_token(), "/requests").await;
    assert_eq!(status, 401);
    let (status, _) = app.get(&api_token, "/requests").await;
    assert_eq!(status, 200);

    // With the right token the same call is answered.
    let good = post(Some(app.mcp_token())).await.unwrap();
    assert_eq!(good.status(), 200);

    // The metadata, at the root and at the path RFC 9728 derives from the resource URL.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let meta: Value = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["resource"], RESOURCE, "{path}");
        assert_eq!(meta["authorization_servers"], json!([app.issuer.issuer()]));
        assert_eq!(meta["bearer_methods_supported"], json!(["header"]));
    }

    // The real client without a token fails to connect on the 401.
    if mcp_client::available() {
        let mcp = McpClient::connect(&app.mcp_url(), None).await;
        assert_eq!(mcp.connected["ok"], false, "{}", mcp.connected);
    }
}

async fn without_an_mcp_resource_there_is_no_mcp_server(db: TestDb) {
    let app = AgentApp::start(db).await;
    let mcp = app.http.post(app.mcp_url()).send().await.unwrap();
    assert_eq!(mcp.status(), 404);
    let meta = app
        .http
        .get(format!("{}/.well-known/oauth-protected-resource", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(meta.status(), 404);
}
