//! Drift findings over HTTP: `/api/v1/drift`, the admin page, `/metrics`, and who may see them.

use super::app::TestApp;
use super::pages::Browser;
use serde_json::Value;
use warden::domain::DriftKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_drift_is_listed_in_the_api_the_page_and_metrics_but_not_to_requesters() {
    let app = TestApp::spawn().await;
    let store = app.store();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .sight_drift(
            "prod-db",
            "postgres",
            DriftKind::Unmanaged,
            "warden_ar_x",
            now,
        )
        .await
        .unwrap();
    let gone = store
        .sight_drift("wiki", "slack_usergroup", DriftKind::Missing, "S1:U2", now)
        .await
        .unwrap();
    store.resolve_drift("wiki", &[], now + 1).await.unwrap();

    let open: Value = app.get_json("/api/v1/drift", &app.tokens.viewer).await;
    let found = open["findings"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{open}");
    assert_eq!(
        (
            &found[0]["resource"],
            &found[0]["kind"],
            &found[0]["holder"],
            &found[0]["action"]
        ),
        (
            &"prod-db".into(),
            &"unmanaged".into(),
            &"warden_ar_x".into(),
            &"reported".into()
        )
    );
    let all: Value = app
        .get_json("/api/v1/drift?open=false&resource=wiki", &app.tokens.admin)
        .await;
    assert_eq!(all["findings"][0]["id"], gone.id.as_str(), "{all}");
    assert!(all["findings"][0]["resolved_at"].is_i64(), "{all}");

    let metrics = app
        .get("/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("warden_drift_findings{resource=\"prod-db\",kind=\"unmanaged\"} 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("resource=\"wiki\""),
        "resolved drift is not open: {metrics}"
    );

    let page = Browser::signed_in(&app, &app.tokens.viewer)
        .await
        .page("/admin/drift")
        .await;
    assert!(
        page.contains("warden_ar_x") && page.contains("S1:U2"),
        "{page}"
    );
    let refused = app
        .get("/api/v1/drift", Some(&app.tokens.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}
