//! The dead-letter list over HTTP: who may see it, who may retry, and what `/metrics` says.

use super::app::TestApp;
use super::pages::{Browser, csrf_in};
use serde_json::Value;

/// Seeds the app and leaves one dead job (a kind this build cannot run) on the wiki request.
async fn app_with_a_dead_job() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let job = format!("rotate_keys:{}", s.wiki);
    sqlx::query("INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts) VALUES ($1, 'rotate_keys', $2, 0, 0, 'pending', 0)")
        .bind(&job)
        .bind(&s.wiki)
        .execute(app.store().pool())
        .await
        .unwrap();
    app.engine().run_due_jobs().await.unwrap();
    (app, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_a_dead_job_in_the_api_page_and_metrics_and_retries_it_once() {
    let (app, job) = app_with_a_dead_job().await;
    let listed: Value = app.get_json("/api/v1/jobs", &app.tokens.viewer).await;
    let ids: Vec<&str> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![job.as_str()]);
    assert_eq!(listed["jobs"][0]["status"], "dead");

    let metrics = app
        .get("/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("warden_jobs{status=\"dead\"} 1"),
        "{metrics}"
    );

    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    let html = admin.page("/admin/jobs").await;
    assert!(html.contains(&job) && html.contains("Retry"), "{html}");

    let retry = |token: &str| {
        app.http
            .post(format!("{}/api/v1/jobs/{job}/retry", app.base))
            .bearer_auth(token.to_string())
            .send()
    };
    assert_eq!(retry(&app.tokens.viewer).await.unwrap().status(), 403);
    let form = admin
        .post(
            &format!("/admin/jobs/{job}/retry"),
            &[("csrf", &csrf_in(&html))],
        )
        .await;
    assert_eq!(form.status(), 303, "the page's Retry button");
    assert_eq!(
        app.store().job_status(&job).await.unwrap().unwrap(),
        ("pending".to_string(), 0)
    );
    assert_eq!(
        retry(&app.tokens.admin).await.unwrap().status(),
        409,
        "retried already"
    );
    let log = app
        .store()
        .log_entries(job.split_once(':').unwrap().1)
        .await
        .unwrap();
    assert!(
        log.iter().any(|e| e.actor == "admin:ops"),
        "the retry is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_token_cannot_list_jobs() {
    let (app, _) = app_with_a_dead_job().await;
    let resp = app
        .get("/api/v1/jobs", Some(&app.tokens.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let bad = app
        .get("/api/v1/jobs?status=exploded", Some(&app.tokens.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
