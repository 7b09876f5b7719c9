//! The `/api/v1` JSON API: authentication, roles, filters and paging, chain status, revocation.

use super::app::TestApp;
use crate::support::console::Drive;
use serde_json::Value;
use std::collections::HashSet;
use warden::domain::RequestState;

fn ids(v: &Value) -> Vec<String> {
    v["requests"]
        .as_array()
        .expect("requests array")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_call_without_a_valid_token_is_refused_with_401() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    for path in [
        "/api/v1/requests".to_string(),
        format!("/api/v1/requests/{}", s.prod),
        "/api/v1/grants".into(),
    ] {
        for token in [None, Some("wdn_not-a-real-token")] {
            let resp = app.get(&path, token).send().await.unwrap();
            assert_eq!(resp.status(), 401, "{path} with {token:?}");
            assert!(resp.headers().contains_key("www-authenticate"));
        }
    }
    let resp = app
        .http
        .post(format!("{}/api/v1/grants/{}/revoke", app.base, s.prod))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        app.state(&s.prod).await,
        RequestState::Active,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_a_request_with_its_whole_log_the_policy_decision_and_the_approval() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let v = app
        .get_json(&format!("/api/v1/requests/{}", s.prod), &app.tokens.viewer)
        .await;
    assert_eq!(v["request"]["id"], s.prod.as_str());
    assert_eq!(v["chain"]["status"], "intact");
    let log = v["log"].as_array().unwrap();
    assert_eq!(v["chain"]["entries"].as_i64().unwrap(), log.len() as i64);
    let seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=log.len() as i64).collect::<Vec<_>>(),
        "entries in order"
    );
    let kinds: Vec<&str> = log.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "message_in",
        "intake_run",
        "intent_proposed",
        "intent_confirmed",
        "policy_input",
        "policy_decision",
        "approval",
        "grant_call",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let decision = log.iter().find(|e| e["kind"] == "policy_decision").unwrap();
    assert_eq!(decision["payload"]["outcome"], "require_approval");
    assert_eq!(
        decision["payload"]["decision_id"],
        v["request"]["decision_id"]
    );
    assert_eq!(v["approvals"][0]["approver_id"], "dana");
    assert_eq!(v["approvals"][0]["decision"], "approve");
    assert_eq!(v["grant"]["status"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_revoke_a_grant() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let resp = app
        .http
        .post(format!("{}/api/v1/grants/{}/revoke", app.base, s.prod))
        .bearer_auth(&app.tokens.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.state(&s.prod).await, RequestState::Active);
    assert_eq!(
        app.store().grant(&s.prod).await.unwrap().unwrap().status,
        "active"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_a_grant_and_the_revocation_is_logged_with_the_admin_as_actor() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let url = format!("{}/api/v1/grants/{}/revoke", app.base, s.prod);
    let resp = app
        .http
        .post(&url)
        .bearer_auth(&app.tokens.admin)
        .json(&serde_json::json!({ "reason": "offboarding" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["state"], "revoked");
    let grant = app.store().grant(&s.prod).await.unwrap().unwrap();
    assert_eq!(
        (grant.status.as_str(), grant.revoke_reason.as_deref()),
        ("revoked", Some("offboarding"))
    );
    let log = app.store().log_entries(&s.prod).await.unwrap();
    let revoke = log
        .iter()
        .find(|e| e.kind == "revoke_call")
        .expect("revoke call logged");
    assert_eq!(revoke.actor, "admin:ops");
    assert_eq!(revoke.payload.as_ref().unwrap()["outcome"], "ok");
    assert_eq!(
        app.store().verify_chain(&s.prod).await.unwrap(),
        warden::store::ChainStatus::Intact {
            entries: log.len() as i64
        }
    );
    let again = app
        .http
        .post(&url)
        .bearer_auth(&app.tokens.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "nothing left to revoke");
    let active: Value = app.get_json("/api/v1/grants", &app.tokens.admin).await;
    let active_ids: Vec<&str> = active["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(active_ids, vec![s.wiki.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_sees_only_their_own_requests_and_grants() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let bobs = app
        .get_json("/api/v1/requests?requester=alice", &app.tokens.bob)
        .await;
    assert_eq!(
        ids(&bobs),
        vec![s.denied.clone()],
        "pinned to bob whatever the filter says"
    );
    let resp = app
        .get(
            &format!("/api/v1/requests/{}", s.prod),
            Some(&app.tokens.bob),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "another person's request is not found");
    let grants = app.get_json("/api/v1/grants", &app.tokens.bob).await;
    assert_eq!(grants["grants"].as_array().unwrap().len(), 0);
    let alices = app
        .get_json(&format!("/api/v1/requests/{}", s.prod), &app.tokens.alice)
        .await;
    assert_eq!(alices["request"]["requester_id"], "alice");
    let resp = app
        .http
        .post(format!("{}/api/v1/grants/{}/revoke", app.base, s.prod))
        .bearer_auth(&app.tokens.alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "requesters revoke in chat, not here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_and_pages_by_cursor_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let mut more = Vec::new();
    for i in 0..4 {
        more.push(
            app.request(
                "carol",
                &format!("need read on grafana for 1h to look at dashboard {i}"),
            )
            .await,
        );
    }
    let all = ids(&app
        .get_json("/api/v1/requests?limit=200", &app.tokens.viewer)
        .await);
    assert_eq!(all.len(), 7);
    let mut seen = Vec::new();
    let mut path = "/api/v1/requests?limit=2".to_string();
    loop {
        let page = app.get_json(&path, &app.tokens.viewer).await;
        let got = ids(&page);
        assert!(got.len() <= 2);
        seen.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/requests?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, all, "paging walks the same list, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
    assert_eq!(
        ids(&app
            .get_json("/api/v1/requests?resource=wiki", &app.tokens.viewer)
            .await),
        vec![s.wiki.clone()]
    );
    assert_eq!(
        ids(&app
            .get_json("/api/v1/requests?state=denied", &app.tokens.viewer)
            .await),
        vec![s.denied.clone()]
    );
    assert_eq!(
        ids(&app
            .get_json(
                "/api/v1/requests?requester=carol&limit=10",
                &app.tokens.viewer
            )
            .await)
        .len(),
        4
    );
    assert_eq!(
        ids(&app
            .get_json("/api/v1/requests?platform=slack", &app.tokens.viewer)
            .await)
        .len(),
        0
    );
    assert_eq!(
        ids(&app
            .get_json("/api/v1/requests?break_glass=true", &app.tokens.viewer)
            .await)
        .len(),
        0
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        ids(&app
            .get_json(
                &format!("/api/v1/requests?from={today}&to={today}&limit=200"),
                &app.tokens.viewer
            )
            .await)
        .len(),
        7
    );
    assert_eq!(
        ids(&app
            .get_json("/api/v1/requests?to=2000-01-01", &app.tokens.viewer)
            .await)
        .len(),
        0
    );
    let bad = app
        .get("/api/v1/requests?state=sideways", Some(&app.tokens.viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_me_lists_the_requests_that_await_the_token_holders_approval() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let pending = app
        .request("alice", "need read on the prod billing db for 1h, INC-5000")
        .await;
    assert_eq!(app.state(&pending).await, RequestState::PendingApproval);
    // The admin token stands for dana, alice's manager.
    assert_eq!(
        ids(&app
            .get_json("/api/v1/requests?waiting_on_me=1", &app.tokens.admin)
            .await),
        vec![pending.clone()]
    );
    // The viewer token names nobody: nothing waits on it.
    assert!(
        ids(&app
            .get_json("/api/v1/requests?waiting_on_me=1", &app.tokens.viewer)
            .await)
        .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_entry_shows_the_chain_broken_at_that_entry() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    app.tamper(&s.prod, 3).await;
    let v = app
        .get_json(&format!("/api/v1/requests/{}", s.prod), &app.tokens.viewer)
        .await;
    assert_eq!(v["chain"]["status"], "broken");
    assert_eq!(v["chain"]["at_seq"], 3);
    let other = app
        .get_json(&format!("/api/v1/requests/{}", s.wiki), &app.tokens.viewer)
        .await;
    assert_eq!(
        other["chain"]["status"], "intact",
        "one request's tampering says nothing about another's"
    );
}

#[test]
fn the_cli_prints_a_token_once_and_the_lines_that_admit_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "admin", "token", "create", "--name", "ci", "--role", "viewer",
        ])
        .output()
        .expect("warden runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("wdn_"))
        .expect("the token is printed")
        .to_string();
    let entry = &text[text.find("[[token]]").expect("the file lines are printed")..];
    let set = warden::admin::TokenSet::from_toml(entry).expect("the printed lines parse");
    assert_eq!(
        set.authenticate(&token).map(|p| p.role),
        Some(warden::admin::Role::Viewer)
    );
    assert!(!entry.contains(&token), "the file lines hold only the hash");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "admin",
            "token",
            "create",
            "--name",
            "x",
            "--role",
            "requester",
        ])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a requester token needs --person"
    );
}
