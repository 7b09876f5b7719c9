//! The `/admin` pages over plain HTTP: sign-in, cookies, CSRF, roles, escaping.

use super::app::TestApp;
use crate::support::console::Drive;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use warden::domain::RequestState;

/// reqwest is built without its `form` feature; this is the same thing.
pub trait FormExt {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormExt for reqwest::RequestBuilder {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
    }
}

/// The value of `name="csrf"` in a page.
pub fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("page has a CSRF field")
        + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

fn set_cookie_named(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string()
}

/// Signs in through the form; returns the whole `Set-Cookie` of the session.
pub async fn sign_in(app: &TestApp, token: &str, https: bool) -> String {
    let page = app.get("/admin/sign-in", None).send().await.unwrap();
    let nonce = cookie_value(&set_cookie_named(&page, "warden_signin").expect("sign-in cookie"));
    let csrf = csrf_in(&page.text().await.unwrap());
    let mut rb = app
        .http
        .post(format!("{}/admin/sign-in", app.base))
        .header(COOKIE, format!("warden_signin={nonce}"))
        .form_pairs(&[("token", token), ("csrf", &csrf)]);
    if https {
        rb = rb.header("x-forwarded-proto", "https");
    }
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 303, "signed in");
    assert_eq!(resp.headers()[LOCATION], "/admin/requests");
    set_cookie_named(&resp, "warden_session").expect("session cookie")
}

pub struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
}

impl<'a> Browser<'a> {
    pub async fn signed_in(app: &'a TestApp, token: &str) -> Self {
        let set = sign_in(app, token, false).await;
        Self {
            app,
            cookie: format!("warden_session={}", cookie_value(&set)),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .get(path, None)
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.text().await.unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .http
            .post(format!("{}{path}", self.app.base))
            .header(COOKIE, &self.cookie)
            .form_pairs(form)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_a_session_redirect_to_sign_in() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    for path in [
        "/admin/requests".to_string(),
        format!("/admin/requests/{}", s.prod),
        "/admin/grants".into(),
    ] {
        let resp = app.get(&path, None).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()[LOCATION], "/admin/sign-in");
    }
    let forged = app
        .get("/admin/requests", None)
        .header(COOKIE, "warden_session=eyJuYW1lIjoib3BzIn0.c2lnbmF0dXJl")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303, "a forged cookie is not a session");
    let post = app
        .http
        .post(format!("{}/admin/grants/{}/revoke", app.base, s.prod))
        .form_pairs(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 303);
    assert_eq!(app.state(&s.prod).await, RequestState::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_an_httponly_strict_session_cookie_secure_behind_https() {
    let app = TestApp::spawn().await;
    let plain = sign_in(&app, &app.tokens.viewer, false).await;
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=28800",
    ] {
        assert!(plain.contains(attr), "{attr} missing: {plain}");
    }
    assert!(
        !plain.contains("Secure"),
        "plain http cannot keep a Secure cookie: {plain}"
    );
    let https = sign_in(&app, &app.tokens.viewer, true).await;
    assert!(https.contains("; Secure"), "{https}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_or_a_sign_in_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let page = app.get("/admin/sign-in", None).send().await.unwrap();
    let nonce = cookie_value(&set_cookie_named(&page, "warden_signin").unwrap());
    let csrf = csrf_in(&page.text().await.unwrap());
    let url = format!("{}/admin/sign-in", app.base);
    let no_csrf = app
        .http
        .post(&url)
        .header(COOKIE, format!("warden_signin={nonce}"))
        .form_pairs(&[("token", app.tokens.admin.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    assert!(set_cookie_named(&no_csrf, "warden_session").is_none());
    let no_cookie = app
        .http
        .post(&url)
        .form_pairs(&[("token", app.tokens.admin.as_str()), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_cookie.status(), 403);
    let wrong = app
        .http
        .post(&url)
        .header(COOKIE, format!("warden_signin={nonce}"))
        .form_pairs(&[("token", "wdn_guess"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie_named(&wrong, "warden_session").is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That token is not valid.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_form_posted_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let admin = Browser::signed_in(&app, &app.tokens.admin).await;
    let other = Browser::signed_in(&app, &app.tokens.admin).await;
    let html = admin.page(&format!("/admin/requests/{}", s.prod)).await;
    assert!(html.contains("Revoke now"));
    let mine = csrf_in(&html);
    let theirs = csrf_in(&other.page("/admin/requests").await);
    assert_ne!(mine, theirs, "CSRF tokens are bound to the session");
    let path = format!("/admin/grants/{}/revoke", s.prod);
    for form in [
        vec![("reason", "x")],
        vec![("csrf", ""), ("reason", "x")],
        vec![("csrf", theirs.as_str()), ("reason", "x")],
    ] {
        let resp = admin.post(&path, &form).await;
        assert_eq!(resp.status(), 403, "{form:?}");
        assert_eq!(app.state(&s.prod).await, RequestState::Active);
    }
    let ok = admin
        .post(
            &path,
            &[("csrf", mine.as_str()), ("reason", "left the team")],
        )
        .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(app.state(&s.prod).await, RequestState::Revoked);
    let after = admin.page(&format!("/admin/requests/{}", s.prod)).await;
    assert!(
        after.contains("id=\"grant-status\">revoked<"),
        "the page shows the grant revoked"
    );
    assert!(
        after.contains("Revoke call by admin:ops: ok (left the team)"),
        "the timeline shows who revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_gets_no_revoke_button_and_a_forged_post_is_forbidden() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let html = viewer.page(&format!("/admin/requests/{}", s.prod)).await;
    assert!(!html.contains("Revoke now"));
    let csrf = csrf_in(&html);
    let resp = viewer
        .post(
            &format!("/admin/grants/{}/revoke", s.prod),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(app.state(&s.prod).await, RequestState::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_session_lists_only_their_requests_and_cannot_open_anothers() {
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let bob = Browser::signed_in(&app, &app.tokens.bob).await;
    let list = bob.page("/admin/requests").await;
    assert!(list.contains(&s.denied) && !list.contains(&s.prod) && !list.contains(&s.wiki));
    assert_eq!(
        bob.get(&format!("/admin/requests/{}", s.prod))
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_escapes_what_people_wrote_and_sets_strict_headers() {
    let app = TestApp::spawn().await;
    app.say(
        "alice",
        "need edit on the wiki for 2h <script>alert('x')</script>",
    )
    .await;
    let id = app.latest("alice").await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let resp = viewer.get(&format!("/admin/requests/{id}")).await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("&lt;script&gt;alert("), "escaped");
    assert!(!html.contains("<script>alert("), "never raw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_needs_the_csrf_token_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let viewer = Browser::signed_in(&app, &app.tokens.viewer).await;
    let csrf = csrf_in(&viewer.page("/admin/requests").await);
    assert_eq!(viewer.post("/admin/sign-out", &[]).await.status(), 403);
    let out = viewer
        .post("/admin/sign-out", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(out.status(), 303);
    let cleared = set_cookie_named(&out, "warden_session").unwrap();
    assert!(
        cleared.starts_with("warden_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}
