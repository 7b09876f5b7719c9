//! An agent's whole governed flow over real HTTP: token → create → policy → the owner's card in
//! Slack → approval → grant → active → release → revoked once; and the long poll on the way.

use super::app::{AgentApp, prod_read};
use crate::support::TestDb;
use crate::support::wait::PATIENCE;
use crate::support::wait_until;
use crate::{on_both_databases, on_sqlite};
use serde_json::Value;
use warden::domain::RequestState;

on_both_databases!(an_agent_request_is_approved_by_its_owner_in_chat_granted_and_released_once);
on_sqlite!(
    the_owner_is_reminded_in_their_dm_before_an_agent_request_lapses,
    critical_access_needs_the_owner_then_a_resource_owner_and_the_agent_cannot_skip_either,
);

async fn an_agent_request_is_approved_by_its_owner_in_chat_granted_and_released_once(db: TestDb) {
    let app = AgentApp::start(db).await;
    let token = app.token();

    let (status, created) = app.create(&token, &prod_read(), None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["task"]["status"], "pending");
    assert_eq!(created["request"]["state"], "pending_approval");
    assert_eq!(created["task"]["progress"]["awaiting"][0], "carol");
    assert!(
        created["next"].as_str().unwrap().contains("carol"),
        "{created}"
    );

    // The owner (carol), not the resource owner (erin), gets the card, in her DM.
    let (channel, ts) = app.approval_card(&id).await;
    assert_eq!(channel, "D0CAROL");
    let card = app
        .slack
        .ok("chat.postMessage")
        .into_iter()
        .find(|c| c.response["ts"] == ts.as_str())
        .unwrap()
        .body
        .to_string();
    assert!(
        card.contains(
            "requested by agent Billing migrations (ci-migrate) (owned by Carol Diaz) for task: run migration 42 dry-run checks"
        ),
        "{card}"
    );

    // A long poll started before the click returns once the state has moved on.
    let poll = {
        let url = app.url(&format!("/requests/{id}?wait=25"));
        let http = app.http.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    app.click("U0CAROL", "approve", &id, &channel, &ts).await;
    let (status, polled) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert_ne!(polled["request"]["state"], "pending_approval", "{polled}");

    app.wait_state(&id, RequestState::Active).await;
    let (_, active) = app.get(&token, &format!("/requests/{id}")).await;
    assert_eq!(active["task"]["status"], "approved");
    assert_eq!(active["request"]["grant"]["active"], true);
    assert_eq!(app.backend_calls(&id, "grant"), 1);

    let (status, released) = app.post(&token, &format!("/requests/{id}/release")).await;
    assert_eq!(status, 200, "{released}");
    app.wait_state(&id, RequestState::Revoked).await;
    // Releasing again is answered, and changes nothing.
    let (status, again) = app.post(&token, &format!("/requests/{id}/release")).await;
    assert_eq!(status, 200);
    assert_eq!(again["task"]["status"], "revoked");
    assert_eq!(app.backend_calls(&id, "grant"), 1);
    assert_eq!(app.backend_calls(&id, "revoke"), 1);
    let revoke = app
        .grants
        .calls()
        .into_iter()
        .find(|c| c.body["op"] == "revoke")
        .unwrap();
    assert_eq!(revoke.body["account"]["platform"], "agent");
    assert_eq!(revoke.body["account"]["user_id"], "ci-migrate");

    // The context log keeps the verified claims the identity was decided on, never the token.
    let log = app.store().log_entries(&id).await.unwrap();
    let asked = log
        .iter()
        .find(|e| e.kind == "agent_request")
        .expect("agent_request entry");
    let claims = &asked.payload.as_ref().unwrap()["claims"];
    assert_eq!(claims["repository"], "acme/billing");
    assert_eq!(claims["sub"], super::auth::SUBJECT);
    assert!(
        claims.get("actor").is_none(),
        "only the claims used: {claims}"
    );
    let input = log.iter().find(|e| e.kind == "policy_input").unwrap();
    let input = input.payload.as_ref().unwrap();
    assert_eq!(input["subject"]["type"], "agent");
    assert_eq!(input["subject"]["agent"]["owner"], "carol");
    let all = serde_json::to_string(&log.iter().map(|e| &e.payload).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(&token), "the token must never be logged");
    let approval = log.iter().find(|e| e.kind == "approval").unwrap();
    assert_eq!(approval.actor, "carol");
    wait_until(PATIENCE, "the release to be logged", || async {
        app.store()
            .log_entries(&id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "revoke_call")
    })
    .await;
}

async fn the_owner_is_reminded_in_their_dm_before_an_agent_request_lapses(db: TestDb) {
    // The reminder falls due a second after the request is pending.
    let app = AgentApp::start_with(db, |s| {
        s.workflow.pending_ttl = "10s".into();
        s.workflow.reminder_before = "9s".into();
    })
    .await;
    let (status, created) = app.create(&app.token(), &prod_read(), None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["task"]["id"].as_str().unwrap().to_string();
    app.approval_card(&id).await;
    let reminder = format!("Reminder: request {id}");
    wait_until(PATIENCE, "the owner to be reminded", || async {
        app.engine().run_due_jobs().await.unwrap();
        app.slack.ok("chat.postMessage").iter().any(|c| {
            c.body["text"]
                .as_str()
                .is_some_and(|t| t.contains(&reminder))
        })
    })
    .await;
    let log = app.store().log_entries(&id).await.unwrap();
    let reminded = log
        .iter()
        .filter_map(|e| e.payload.as_ref())
        .find_map(|p| p.get("reminder_to"))
        .expect("the reminder is logged");
    assert_eq!(reminded, &serde_json::json!(["carol"]));
}

async fn critical_access_needs_the_owner_then_a_resource_owner_and_the_agent_cannot_skip_either(
    db: TestDb,
) {
    // The two steps are the point here; passkey step-up is tested in admin::step_up.
    let app = AgentApp::start_with(db, |s| {
        s.policy.data_file = Some(crate::support::engine::NO_STEP_UP_FILE.into());
    })
    .await;
    let token = app.token();
    let ask = serde_json::json!({
        "resource": "prod-billing-db", "role": "write", "duration": "15m", "task": "apply migration 42",
    });
    let (status, created) = app.create(&token, &ask, None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["task"]["progress"]["total_steps"], 2);
    let (channel, ts) = app.approval_card(&id).await;
    assert_eq!(channel, "D0CAROL", "the owner first");
    // The resource owner cannot take the owner's step.
    app.click("U0ERIN", "approve", &id, &channel, &ts).await;
    app.click("U0CAROL", "approve", &id, &channel, &ts).await;
    app.wait_for("the resource owner's card", |_| {
        crate::slack::app::cards_with_button(&app, "approve")
            .iter()
            .any(|c| c.request_id == id && c.channel == "D0ERIN")
    })
    .await;
    let (_, pending) = app.get(&token, &format!("/requests/{id}")).await;
    assert_eq!(pending["task"]["status"], "pending");
    assert_eq!(pending["task"]["progress"]["current_step"], 2);
    assert_eq!(
        pending["task"]["progress"]["awaiting"],
        serde_json::json!(["erin"])
    );
    assert_eq!(
        app.backend_calls(&id, "grant"),
        0,
        "nothing before the last approval"
    );
    let erin = crate::slack::app::cards_with_button(&app, "approve")
        .into_iter()
        .find(|c| c.request_id == id && c.channel == "D0ERIN")
        .unwrap();
    app.click("U0ERIN", "approve", &id, &erin.channel, &erin.ts)
        .await;
    app.wait_state(&id, RequestState::Active).await;
    assert_eq!(app.backend_calls(&id, "grant"), 1);
    let approvers: Vec<String> = app
        .row(&id)
        .await
        .approvals
        .iter()
        .map(|a| a.approver_id.clone())
        .collect();
    assert_eq!(approvers, ["carol", "erin"]);
}
