//! The agent API's rules over real HTTP: idempotent create, only one's own requests, the ceiling,
//! refused tokens create nothing, bounds refused before anything is stored.

use super::app::{AgentApp, prod_read, staging_read};
use crate::support::TestDb;
use crate::{on_both_databases, on_sqlite};
use serde_json::json;
use warden::store::RequestFilter;

on_both_databases!(
    a_retried_create_with_the_same_idempotency_key_returns_the_same_request,
    an_agent_sees_and_acts_on_its_own_requests_only,
    creates_at_once_never_take_an_agent_past_its_concurrent_limit,
);
on_sqlite!(
    a_request_outside_the_ceiling_is_denied_and_nothing_is_granted,
    a_refused_token_creates_nothing,
    a_low_risk_request_in_the_ceiling_is_granted_at_once_within_the_agent_s_bounds,
    a_long_poll_on_an_unchanged_request_answers_when_its_wait_runs_out,
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

async fn a_retried_create_with_the_same_idempotency_key_returns_the_same_request(db: TestDb) {
    let app = AgentApp::start(db).await;
    let token = app.token();
    let (first_status, first) = app.create(&token, &prod_read(), Some("run-77")).await;
    assert_eq!(first_status, 201, "{first}");
    let (again_status, again) = app.create(&token, &prod_read(), Some("run-77")).await;
    assert_eq!(again_status, 200, "{again}");
    assert_eq!(first["task"]["id"], again["task"]["id"]);
    assert_eq!(stored_requests(&app).await, 1);
    // The same key for another ask is refused, as AuthZEN's duplicate_request.
    let mut other = prod_read();
    other["duration"] = json!("25m");
    let (status, problem) = app.create(&token, &other, Some("run-77")).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["type"],
        "urn:openid:authzen:access-request:error:duplicate_request"
    );
    // Another agent's same key is its own.
    let (status, theirs) = app
        .create(&app.other_token(), &staging_read(), Some("run-77"))
        .await;
    assert_eq!(status, 201, "{theirs}");
    assert_ne!(theirs["task"]["id"], first["task"]["id"]);
    assert_eq!(stored_requests(&app).await, 2);
}

async fn an_agent_sees_and_acts_on_its_own_requests_only(db: TestDb) {
    let app = AgentApp::start(db).await;
    let (_, mine) = app.create(&app.token(), &prod_read(), None).await;
    let id = mine["task"]["id"].as_str().unwrap().to_string();
    let other = app.other_token();
    for (status, body) in [
        app.get(&other, &format!("/requests/{id}")).await,
        app.post(&other, &format!("/requests/{id}/cancel")).await,
        app.post(&other, &format!("/requests/{id}/release")).await,
        app.get(&other, "/requests/AR-00000000").await,
        app.get(&other, "/requests/not-an-id").await,
    ] {
        assert_eq!(status, 404, "{body}");
        assert_eq!(
            body["type"],
            "urn:openid:authzen:access-request:error:unknown_task"
        );
    }
    let (_, listed) = app.get(&other, "/requests").await;
    assert_eq!(listed["requests"], json!([]));
    let (_, listed) = app.get(&app.token(), "/requests").await;
    assert_eq!(listed["requests"][0]["task"]["id"], id.as_str());
    // Still pending: the other agent changed nothing. Its owner's agent can cancel it.
    let (status, cancelled) = app
        .post(&app.token(), &format!("/requests/{id}/cancel"))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["task"]["status"], "cancelled");
    let (status, _) = app
        .post(&app.token(), &format!("/requests/{id}/cancel"))
        .await;
    assert_eq!(status, 200, "cancelling twice is answered, not an error");
}

async fn a_request_outside_the_ceiling_is_denied_and_nothing_is_granted(db: TestDb) {
    let app = AgentApp::start(db).await;
    let ask = json!({ "resource": "grafana", "role": "viewer", "duration": "5m", "task": "look" });
    let (status, denied) = app.create(&app.token(), &ask, None).await;
    assert_eq!(status, 201, "{denied}");
    assert_eq!(denied["task"]["status"], "denied");
    let reasons = denied["request"]["reasons"].to_string();
    assert!(
        reasons.contains("outside what agent ci-migrate may ever ask for"),
        "{reasons}"
    );
    assert!(app.grants.calls().is_empty());
    assert!(
        app.slack.ok("chat.postMessage").is_empty(),
        "nobody is asked"
    );
}

async fn a_refused_token_creates_nothing(db: TestDb) {
    let app = AgentApp::start(db).await;
    let url = app.url("/requests");
    let none = app.http.post(&url).json(&prod_read()).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()
            .get("www-authenticate")
            .is_some_and(|h| h.to_str().unwrap().starts_with("Bearer"))
    );
    assert_eq!(
        none.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let mut wrong_aud = super::auth::good_claims(&app.issuer.issuer());
    wrong_aud["aud"] = json!("https://elsewhere.test");
    let (status, _) = app
        .create(&app.key.sign(&wrong_aud), &prod_read(), None)
        .await;
    assert_eq!(status, 401);
    let mut wrong_repo = super::auth::good_claims(&app.issuer.issuer());
    wrong_repo["repository"] = json!("mallory/fork");
    let (status, problem) = app
        .create(&app.key.sign(&wrong_repo), &prod_read(), None)
        .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        !problem.to_string().contains("mallory"),
        "claim values are never echoed"
    );
    let (status, _) = app.create("not.a.jwt", &prod_read(), None).await;
    assert_eq!(status, 401);
    assert_eq!(stored_requests(&app).await, 0);
    assert!(app.grants.calls().is_empty());
}

async fn a_low_risk_request_in_the_ceiling_is_granted_at_once_within_the_agent_s_bounds(
    db: TestDb,
) {
    let app = AgentApp::start(db).await;
    let token = app.token();
    // Longer than the agent's 30 minutes: refused, not clamped, and nothing stored.
    let mut long = staging_read();
    long["duration"] = json!("31m");
    let (status, problem) = app.create(&token, &long, None).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "duration_above_agent_max");
    let (status, _) = app
        .create(
            &token,
            &json!({ "resource": "staging-db", "role": "read", "duration": 60 }),
            None,
        )
        .await;
    assert_eq!(status, 400, "the task is required");
    assert_eq!(stored_requests(&app).await, 0);

    let (status, active) = app.create(&token, &staging_read(), None).await;
    assert_eq!(status, 201, "{active}");
    assert_eq!(active["task"]["status"], "approved", "{active}");
    assert_eq!(active["request"]["grant"]["active"], true);
    let id = active["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.backend_calls(&id, "grant"), 1);
    let (status, problem) = app.post(&token, &format!("/requests/{id}/cancel")).await;
    assert_eq!(
        status, 409,
        "an active grant is released, not cancelled: {problem}"
    );
    // Two unfinished requests is this agent's maximum; a third is refused and not stored.
    let (status, _) = app.create(&token, &staging_read(), None).await;
    assert_eq!(status, 201);
    let (status, problem) = app.create(&token, &staging_read(), None).await;
    assert_eq!(status, 429, "{problem}");
    assert_eq!(stored_requests(&app).await, 2);
    let (status, released) = app.post(&token, &format!("/requests/{id}/release")).await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["task"]["status"], "revoked");
    assert_eq!(app.backend_calls(&id, "revoke"), 1);
}

async fn a_long_poll_on_an_unchanged_request_answers_when_its_wait_runs_out(db: TestDb) {
    let app = AgentApp::start(db).await;
    let token = app.token();
    let (_, created) = app.create(&token, &prod_read(), None).await;
    let id = created["task"]["id"].as_str().unwrap().to_string();
    let (status, polled) = app.get(&token, &format!("/requests/{id}?wait=1")).await;
    assert_eq!(status, 200, "{polled}");
    assert_eq!(polled["request"]["state"], "pending_approval");
    for bad in ["?wait=soon", "?wait=-1", "?since=1"] {
        let (status, problem) = app.get(&token, &format!("/requests/{id}{bad}")).await;
        assert_eq!(status, 400, "{bad}: {problem}");
    }
    let (status, _) = app.get(&token, "/requests?state=bogus").await;
    assert_eq!(status, 400);
    let (_, pending) = app.get(&token, "/requests?state=pending_approval").await;
    assert_eq!(pending["requests"][0]["task"]["id"], id.as_str());
}

async fn creates_at_once_never_take_an_agent_past_its_concurrent_limit(db: TestDb) {
    let app = AgentApp::start(db).await;
    let token = app.token();
    // Eight asks at once that wait for the owner (so each stays unfinished); ci-migrate may
    // have two unfinished requests. The bound is counted where the request is stored.
    let ask = prod_read();
    let asks = (0..8).map(|_| app.create(&token, &ask, None));
    let answers = futures::future::join_all(asks).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(created, 2, "{answers:?}");
    assert_eq!(refused.len(), 6, "{answers:?}");
    assert!(
        refused.iter().all(|(_, p)| p["code"] == "concurrent_limit"),
        "{refused:?}"
    );
    assert_eq!(stored_requests(&app).await, 2);
}
