//! The kill switch for admins over HTTP and from the shell: `/api/v1/freezes`, the
//! `/admin/freezes` page with its CSRF-checked forms, and `warden freeze` / `warden unfreeze`.

use super::app::TestApp;
use super::pages::{Browser, csrf_in};
use crate::support::TestDb;
use crate::support::console::Drive;
use serde_json::{Value, json};
use warden::domain::RequestState;
use warden::workflow::Handled;

async fn post_json(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The shipped policy with lifting a freeze direct: for the tests of the kill switch itself.
const NO_ADMIN_STEP_UP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/policy/no-admin-step-up.json"
);

async fn without_admin_step_up() -> TestApp {
    TestApp::spawn_with(TestDb::sqlite(), |s| {
        s.policy.data_file = Some(NO_ADMIN_STEP_UP.into())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_freezes_a_resource_over_the_api_with_revoke_and_lifts_it() {
    let app = without_admin_step_up().await;
    let s = app.seed().await;
    let wiki =
        json!({ "scope": "resource", "target": "wiki", "reason": "wiki audit", "revoke": true });
    let (status, _) = post_json(&app, "/api/v1/freezes", &app.tokens.viewer, wiki.clone()).await;
    assert_eq!(status, 403, "a viewer cannot freeze");
    let (status, _) = post_json(&app, "/api/v1/freezes", &app.tokens.alice, wiki.clone()).await;
    assert_eq!(status, 403, "a requester cannot freeze");
    assert_eq!(
        app.state(&s.wiki).await,
        RequestState::Active,
        "nothing changed"
    );

    let (status, v) = post_json(&app, "/api/v1/freezes", &app.tokens.admin, wiki.clone()).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["created"], true);
    assert_eq!(
        (
            v["freeze"]["scope"].as_str(),
            v["freeze"]["target"].as_str()
        ),
        (Some("resource"), Some("wiki"))
    );
    assert_eq!(v["freeze"]["actor"], "admin:ops");
    assert_eq!(
        (
            v["revoke"]["total"].as_u64(),
            v["revoke"]["revoked"].as_u64()
        ),
        (Some(1), Some(1)),
        "{v}"
    );
    let id = v["freeze"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.state(&s.wiki).await, RequestState::Revoked);
    assert_eq!(
        app.state(&s.prod).await,
        RequestState::Active,
        "another resource is untouched"
    );

    let (status, again) = post_json(&app, "/api/v1/freezes", &app.tokens.admin, wiki).await;
    assert_eq!((status, again["created"].as_bool()), (200, Some(false)));
    assert_eq!(again["freeze"]["id"], id.as_str());
    for bad in [
        json!({ "scope": "people", "reason": "x" }),
        json!({ "scope": "resource", "target": "no-such-thing", "reason": "x" }),
        json!({ "scope": "agent", "target": "no-such-agent", "reason": "x" }),
        json!({ "scope": "everything", "reason": "  " }),
    ] {
        let (status, body) =
            post_json(&app, "/api/v1/freezes", &app.tokens.admin, bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }

    let listed = app.get_json("/api/v1/freezes", &app.tokens.viewer).await;
    let freezes = listed["freezes"].as_array().unwrap();
    assert_eq!(freezes.len(), 1, "{listed}");
    assert_eq!(freezes[0]["lifted"], Value::Null);
    let resp = app
        .get("/api/v1/freezes", Some(&app.tokens.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let asked = app
        .say(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    assert!(
        matches!(&asked, Handled::Refused(m) if m.contains("frozen")),
        "{asked:?}"
    );

    let path = format!("/api/v1/freezes/{id}/unfreeze");
    let (status, _) = post_json(&app, &path, &app.tokens.viewer, json!({ "reason": "done" })).await;
    assert_eq!(status, 403);
    let (status, v) = post_json(
        &app,
        &path,
        &app.tokens.admin,
        json!({ "reason": "audit done" }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["freeze"]["lifted"]["by"], "admin:ops");
    assert_eq!(v["freeze"]["lifted"]["reason"], "audit done");
    let (status, _) = post_json(&app, &path, &app.tokens.admin, json!({ "reason": "again" })).await;
    assert_eq!(status, 409, "lifted already");
    let id = app
        .request(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    assert_eq!(app.state(&id).await, RequestState::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_page_freezes_and_unfreezes_only_with_the_sessions_csrf_token() {
    let app = without_admin_step_up().await;
    let s = app.seed().await;
    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    let html = admin.page("/admin/freezes").await;
    assert!(
        html.contains("Nothing is frozen") && html.contains("freeze-form"),
        "{html}"
    );
    let form = [
        ("scope", "everything"),
        ("reason", "incident drill"),
        ("revoke", "on"),
    ];
    let forged = admin.post("/admin/freezes", &form).await;
    assert_eq!(forged.status(), 403, "no CSRF token");
    assert!(app.store().active_freezes().await.unwrap().is_empty());
    assert_eq!(app.state(&s.wiki).await, RequestState::Active);

    let csrf = csrf_in(&html);
    let mut with_csrf = form.to_vec();
    with_csrf.push(("csrf", &csrf));
    let done = admin.post("/admin/freezes", &with_csrf).await;
    assert_eq!(done.status(), 303);
    let to = done.headers()["location"].to_str().unwrap().to_string();
    let after = admin.page(&to).await;
    assert!(after.contains("Revoked 2 of 2 active grants"), "{after}");
    assert!(
        after.contains("in force") && after.contains("incident drill"),
        "{after}"
    );
    assert_eq!(app.state(&s.wiki).await, RequestState::Revoked);
    assert_eq!(app.state(&s.prod).await, RequestState::Revoked);

    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let seen = viewer.page("/admin/freezes").await;
    assert!(
        seen.contains("incident drill") && !seen.contains("freeze-form"),
        "{seen}"
    );
    assert!(
        !seen.contains("Unfreeze"),
        "a viewer gets no unfreeze button"
    );

    let id = app.store().active_freezes().await.unwrap()[0].id.clone();
    let path = format!("/admin/freezes/{id}/unfreeze");
    let forged = admin.post(&path, &[("reason", "over")]).await;
    assert_eq!(forged.status(), 403);
    let lifted = admin
        .post(&path, &[("reason", "over"), ("csrf", &csrf)])
        .await;
    assert_eq!(lifted.status(), 303);
    assert!(app.store().active_freezes().await.unwrap().is_empty());
    let page = admin.page("/admin/freezes").await;
    assert!(
        page.contains("lifted") && page.contains("admin:ops: over"),
        "{page}"
    );
}

fn warden(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env("WARDEN__DATABASE__URL", app.db.url())
        .output()
        .expect("warden runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_freezes_with_revoke_progress_lists_and_unfreezes() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let (ok, _, err) = warden(
        &app,
        &[
            "freeze",
            "--resource",
            "wiki",
            "--everything",
            "--reason",
            "x",
        ],
    );
    assert!(
        !ok && err.contains("cannot be used with"),
        "two scopes: {err}"
    );
    let (ok, _, err) = warden(&app, &["freeze", "--resource", "wiki"]);
    assert!(!ok && err.contains("--reason is required"), "{err}");
    // An agent id the registry lacks (this app registers none) is refused, nothing frozen.
    let (ok, _, err) = warden(
        &app,
        &["freeze", "--agent", "ghost-bot", "--reason", "drill"],
    );
    assert!(
        !ok && err.contains("no agent 'ghost-bot' in the agent registry"),
        "{err}"
    );
    assert!(app.store().active_freezes().await.unwrap().is_empty());

    let (ok, out, err) = warden(
        &app,
        &[
            "freeze",
            "--resource",
            "wiki",
            "--reason",
            "cli drill",
            "--revoke",
            "--actor",
            "sam",
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("Frozen: resource wiki"), "{out}");
    assert!(out.contains(&format!("[1/1] {} revoked", s.wiki)), "{out}");
    assert!(out.contains("Revoked 1 of 1 active grants"), "{out}");
    assert_eq!(app.state(&s.wiki).await, RequestState::Revoked);
    assert_eq!(app.state(&s.prod).await, RequestState::Active);
    let log = app.store().log_entries(&s.wiki).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == "revoke_call" && e.actor == "cli:sam")
    );

    let (ok, out, _) = warden(&app, &["freeze", "--list"]);
    assert!(
        ok && out.contains("ACTIVE") && out.contains("cli:sam") && out.contains("cli drill"),
        "{out}"
    );
    // The shipped policy requires a passkey to lift a freeze, which a shell cannot present:
    // refused, naming the web UI and the local override; nothing lifted.
    let unfreeze = [
        "unfreeze",
        "--resource",
        "wiki",
        "--reason",
        "drill over",
        "--actor",
        "sam",
    ];
    let (ok, out, err) = warden(&app, &unfreeze);
    assert!(
        !ok && err.contains("requires a passkey confirmation to unfreeze")
            && err.contains("/admin/freezes")
            && err.contains("--break-glass-local"),
        "{out}\n{err}"
    );
    assert_eq!(app.store().active_freezes().await.unwrap().len(), 1);
    // On the host, explicitly: lifted, and the override is on the freeze's record.
    let mut local = unfreeze.to_vec();
    local.push("--break-glass-local");
    let (ok, out, err) = warden(&app, &local);
    assert!(ok && out.contains("Lifted: resource wiki"), "{out}\n{err}");
    let lifted = app.store().list_freezes(10).await.unwrap();
    let lift = lifted[0].lifted.as_ref().expect("lifted");
    assert_eq!(lift.by, "cli:sam");
    assert!(
        matches!(
            &lift.confirmation,
            Some(warden::domain::Confirmation::LocalOverride { .. })
        ),
        "{lift:?}"
    );
    let (ok, _, err) = warden(
        &app,
        &["unfreeze", "--resource", "wiki", "--reason", "again"],
    );
    assert!(!ok && err.contains("not frozen"), "{err}");
    let (_, out, _) = warden(&app, &["freeze", "--list"]);
    assert!(
        out.contains("lifted") && out.contains("drill over"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_cannot_lift_a_freeze_the_policy_steps_up_and_freezing_stays_direct() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    // Freezing is direct under the shipped policy, over the API as from the page.
    let all = json!({ "scope": "everything", "reason": "incident", "revoke": false });
    let (status, v) = post_json(&app, "/api/v1/freezes", &app.tokens.admin, all).await;
    assert_eq!(status, 201, "{v}");
    let id = v["freeze"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["freeze"].get("confirmation"), None, "{v}");

    // Lifting it re-opens access: the policy wants a passkey, which a token cannot present.
    let path = format!("/api/v1/freezes/{id}/unfreeze");
    let (status, v) = post_json(&app, &path, &app.tokens.admin, json!({ "reason": "over" })).await;
    assert_eq!(status, 403, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("requires a passkey confirmation to unfreeze")
            && error.contains("admin web UI (/admin/freezes)"),
        "{error}"
    );
    // Nor can the admin page on a Warden without passkeys (no SSO here): it says so.
    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    let csrf = csrf_in(&admin.page("/admin/freezes").await);
    let page = admin
        .post(
            &format!("/admin/freezes/{id}/unfreeze"),
            &[("reason", "over"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status(), 400);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("requires a passkey confirmation to unfreeze, but passkeys are not set up"),
        "{text}"
    );
    // Nothing changed: still in force, and new access still refused.
    let active = app.store().active_freezes().await.unwrap();
    assert_eq!((active.len(), active[0].id.as_str()), (1, id.as_str()));
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM freeze_step_ups")
            .fetch_one(app.store().pool())
            .await
            .unwrap(),
        0,
        "no link for a token session"
    );
    let asked = app
        .say(
            "alice",
            "need edit on the wiki for 2h to fix the onboarding page",
        )
        .await;
    assert!(
        matches!(&asked, Handled::Refused(m) if m.contains("frozen")),
        "{asked:?}"
    );
    assert_eq!(
        app.state(&s.wiki).await,
        RequestState::Active,
        "not revoked"
    );
}
