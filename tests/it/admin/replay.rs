//! Policy replay over HTTP: the report for the configured policy, a candidate pasted by an admin,
//! and who may do which.

use super::app::TestApp;
use super::pages::{Browser, csrf_in};
use crate::engine::replay::STRICT;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_replays_the_history_against_a_pasted_policy_and_sees_what_would_change() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;

    let same: Value = app
        .get_json("/api/v1/policy/replay?since=1d", &app.tokens.viewer)
        .await;
    assert_eq!(same["report"]["decisions"], 3, "{same}");
    assert_eq!(same["report"]["unchanged"], 3, "{same}");
    let resp = app
        .get("/api/v1/policy/replay", Some(&app.tokens.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        403,
        "a requester sees no one else's decisions"
    );

    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    let html = admin.page("/admin/policy/replay?since=1d").await;
    assert!(html.contains("No decision would change"), "{html}");
    let resp = admin
        .post(
            "/admin/policy/replay",
            &[
                ("csrf", &csrf_in(&html)),
                ("since", "1d"),
                ("policy", STRICT),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let report = resp.text().await.unwrap();
    assert!(report.contains("allow → approval"), "{report}");
    assert!(
        report.contains(&s.wiki) && report.contains(&s.denied),
        "{report}"
    );

    // A policy that does not parse is a clear error; without the form's token, nothing runs.
    let bad = admin
        .post(
            "/admin/policy/replay",
            &[
                ("csrf", &csrf_in(&html)),
                ("policy", "package access\ndecision := {"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("does not parse"));
    let forged = admin
        .post(
            "/admin/policy/replay",
            &[("csrf", "forged"), ("policy", STRICT)],
        )
        .await;
    assert_eq!(forged.status(), 403);

    // A viewer reads the report but may not run pasted code.
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let html = viewer.page("/admin/policy/replay").await;
    assert!(!html.contains("Try a candidate policy"), "{html}");
    let resp = viewer
        .post(
            "/admin/policy/replay",
            &[("csrf", &csrf_in(&html)), ("policy", STRICT)],
        )
        .await;
    assert_eq!(resp.status(), 403);
}
