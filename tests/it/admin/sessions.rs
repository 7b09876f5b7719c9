//! Admin sessions live in the store: signing out ends one, and removing or rotating its token in
//! the tokens file ends it at the next request, without a restart. Over real HTTP, on SQLite
//! and PostgreSQL.

use super::app::TestApp;
use super::pages::{Browser, csrf_in};
use crate::on_both_databases;
use crate::support::TestDb;
use reqwest::header::LOCATION;
use warden::admin::tokens::{Role, file_entry, generate};

on_both_databases!(
    a_signed_out_session_cookie_no_longer_signs_anyone_in,
    removing_a_token_ends_its_sessions_and_its_api_access_at_once,
    rotating_a_token_ends_its_sessions_at_once_and_the_new_token_signs_in,
);

/// The tokens file without the entry named `name`.
fn without(file: &str, name: &str) -> String {
    file.split("[[token]]")
        .filter(|block| {
            !block.trim().is_empty() && !block.contains(&format!("name = \"{name}\"\n"))
        })
        .map(|block| format!("[[token]]{block}"))
        .collect()
}

async fn refused(app: &TestApp, browser: &Browser<'_>) {
    let resp = browser.get("/admin/requests").await;
    assert_eq!(resp.status(), 303, "the old session is over");
    assert_eq!(resp.headers()[LOCATION], "/admin/sign-in");
    let _ = app;
}

async fn a_signed_out_session_cookie_no_longer_signs_anyone_in(db: TestDb) {
    let app = TestApp::spawn_on(db).await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let other = Browser::signed_in(&app, &app.tokens.viewer).await;
    let csrf = csrf_in(&viewer.page("/admin/requests").await);
    let out = viewer
        .post("/admin/sign-out", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(out.status(), 303);
    // The browser was told to forget the cookie; a copy of it (a stolen one) is still refused.
    refused(&app, &viewer).await;
    assert_eq!(
        other.get("/admin/requests").await.status(),
        200,
        "another session of the same token goes on"
    );
}

async fn removing_a_token_ends_its_sessions_and_its_api_access_at_once(db: TestDb) {
    let app = TestApp::spawn_on(db).await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    viewer.page("/admin/requests").await;
    let file = std::fs::read_to_string(&app.tokens_file).unwrap();
    std::fs::write(&app.tokens_file, without(&file, "auditor")).unwrap();
    refused(&app, &viewer).await;
    let api = app
        .get("/api/v1/requests", Some(&app.tokens.viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.status(),
        401,
        "the removed token no longer calls the API"
    );
    admin.page("/admin/requests").await;
    // Putting the same entry back does not revive a session that ended.
    std::fs::write(&app.tokens_file, file).unwrap();
    refused(&app, &viewer).await;
}

async fn rotating_a_token_ends_its_sessions_at_once_and_the_new_token_signs_in(db: TestDb) {
    let app = TestApp::spawn_on(db).await;
    let ops = Browser::signed_in(&app, &app.tokens.admin).await;
    ops.page("/admin/grants").await;
    let (new_secret, new_hash) = generate();
    let file = std::fs::read_to_string(&app.tokens_file).unwrap();
    let rotated = format!(
        "{}{}",
        without(&file, "ops"),
        file_entry("ops", Role::Admin, Some("dana"), &new_hash)
    );
    std::fs::write(&app.tokens_file, rotated).unwrap();
    refused(&app, &ops).await;
    let old = app
        .get("/api/v1/requests", Some(&app.tokens.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "the old secret is dead");
    let again = Browser::signed_in(&app, &new_secret).await;
    again.page("/admin/grants").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_tokens_file_admits_nobody_but_ends_no_session() {
    let app = TestApp::spawn().await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let file = std::fs::read_to_string(&app.tokens_file).unwrap();
    std::fs::write(&app.tokens_file, "[[token]\nname = ").unwrap();
    refused(&app, &viewer).await;
    let api = app
        .get("/api/v1/requests", Some(&app.tokens.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401, "fail closed");
    std::fs::write(&app.tokens_file, file).unwrap();
    assert_eq!(
        viewer.get("/admin/requests").await.status(),
        200,
        "a half-written file says nothing about which tokens went"
    );
}
