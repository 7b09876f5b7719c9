//! Single sign-on against a real OpenID provider (npm `oidc-provider`) in headless Chromium:
//! groups map to roles, subjects to directory people, and a wrong `state`, a wrong `nonce`, an
//! answer from another issuer and an expired ID token each sign nobody in. On SQLite and
//! PostgreSQL.

use super::app::TestApp;
use super::webdriver::{self, Driver};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::fakes::oidc_provider::{self, CLIENT_ID, CLIENT_SECRET, OidcProvider};
use crate::support::logs;
use crate::support::wait::{PATIENCE, wait_until};
use reqwest::header::{LOCATION, SET_COOKIE};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::store::PendingLogin;

on_both_databases!(
    sso_maps_groups_to_roles_and_subjects_to_people_and_refuses_the_rest,
    a_wrong_state_nonce_or_issuer_or_an_expired_id_token_signs_nobody_in,
    a_begun_sign_in_is_taken_once_in_its_own_browser_before_it_expires,
);

fn accounts() -> Value {
    let who = |email: &str, group: &str| json!({ "email": email, "email_verified": true, "groups": [group] });
    json!({
        "idp-dana": who("dana@example.com", "warden-admins"),
        "idp-carol": who("carol@example.com", "warden-auditors"),
        "idp-erin": who("erin@example.com", "staff"),
        // In the admins' group, but bound to nobody in the directory.
        "idp-stranger": who("stranger@example.com", "warden-admins"),
    })
}

/// The example directory with dana, carol and erin bound to their provider subjects.
fn directory_with_subjects() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/directory.example.toml"
    ))
    .expect("example directory");
    ["dana", "carol", "erin"].iter().fold(text, |t, id| {
        t.replacen(
            &format!("id = \"{id}\"\n"),
            &format!("id = \"{id}\"\nsso_subject = \"idp-{id}\"\n"),
            1,
        )
    })
}

pub(super) struct Sso {
    pub app: TestApp,
    pub idp: OidcProvider,
    /// Warden as the browser reaches it (`http://127.0.0.1:…` or `http://localhost:…`).
    pub web: String,
    redirect: String,
    _dir: tempfile::TempDir,
}

/// Warden with SSO to a fresh provider; `None` (skipped) without a browser or node.
pub(super) async fn setup(db: TestDb) -> Option<Sso> {
    setup_at(db, "127.0.0.1").await
}

/// Like `setup`, with the browser reaching Warden at `host` (passkeys need `localhost`, a
/// domain and a secure context, where an IP address is neither).
pub(super) async fn setup_at(db: TestDb, host: &str) -> Option<Sso> {
    if !webdriver::available() || !oidc_provider::available() {
        return None;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web = format!("http://{host}:{}", listener.local_addr().unwrap().port());
    let redirect = format!("{web}/admin/sso/callback");
    let idp_port = oidc_provider::free_port();
    let dir = tempfile::tempdir().unwrap();
    let directory = dir.path().join("directory.toml");
    std::fs::write(&directory, directory_with_subjects()).unwrap();
    let app = TestApp::spawn_on_listener(db, listener, |s| {
        s.directory.file = Some(directory);
        s.sso.issuer = Some(format!("http://127.0.0.1:{idp_port}"));
        s.sso.client_id = Some(CLIENT_ID.into());
        s.sso.client_secret = Some(SecretString::from(CLIENT_SECRET));
        s.sso.redirect_url = Some(redirect.clone());
        s.sso.admin_groups = vec!["warden-admins".into()];
        s.sso.viewer_groups = vec!["warden-auditors".into()];
        assert_eq!(s.problems(), Vec::<String>::new());
    })
    .await;
    let idp = OidcProvider::start(idp_port, &redirect, &accounts()).await;
    Some(Sso {
        app,
        idp,
        web,
        redirect,
        _dir: dir,
    })
}

/// Fills the provider's login form, unless this browser is signed in there already.
pub(super) async fn at_provider(b: &Driver, base: &str, login: &str) {
    let asked = wait_until(PATIENCE, "the provider's login form, or Warden", || async {
        if b.count("input[name=login]").await > 0 {
            Some(true)
        } else {
            b.url().await.starts_with(base).then_some(false)
        }
    })
    .await;
    if asked {
        b.type_into("input[name=login]", login).await;
        b.type_into("input[name=password]", "any password").await;
        b.click("button[type=submit]").await;
    }
}

/// Who Warden's header says is signed in, or the sign-in page's error.
pub(super) async fn outcome(b: &Driver) -> Result<String, String> {
    let signed_in = wait_until(PATIENCE, "Warden to sign in or refuse", || async {
        if b.count("#signin-error").await > 0 {
            Some(false)
        } else {
            (b.url().await.ends_with("/admin/requests") && b.count(".who").await > 0)
                .then_some(true)
        }
    })
    .await;
    if signed_in {
        Ok(b.text(".who").await)
    } else {
        Err(b.text("#signin-error").await)
    }
}

/// Signs in through the sign-in page's SSO link in a fresh browser.
pub(super) async fn sign_in(sso: &Sso, login: &str) -> (Driver, Result<String, String>) {
    let b = Driver::start().await;
    b.goto(&format!("{}/admin/requests", sso.web)).await;
    assert!(b.url().await.ends_with("/admin/sign-in"));
    b.click("#sso-sign-in").await;
    at_provider(&b, &sso.web, login).await;
    let result = outcome(&b).await;
    (b, result)
}

pub(super) async fn sessions(app: &TestApp, filter: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM admin_sessions WHERE sso_subject IS NOT NULL {filter}"
    )))
    .fetch_one(app.store().pool())
    .await
    .unwrap()
}

async fn sso_maps_groups_to_roles_and_subjects_to_people_and_refuses_the_rest(db: TestDb) {
    let Some(sso) = setup(db).await else { return };
    logs::global();
    let s = sso.app.seed().await;

    let (dana, who) = sign_in(&sso, "idp-dana").await;
    assert_eq!(who, Ok("sso:dana · admin".to_string()));
    assert!(dana.text("#request-list").await.contains(&s.prod));
    assert_eq!(
        sessions(&sso.app, "AND sso_person = 'dana' AND ended_at IS NULL").await,
        1
    );
    // Sign-out ends the session in the store.
    dana.click("form.signout button").await;
    assert!(dana.url().await.ends_with("/admin/sign-in"));
    assert_eq!(sessions(&sso.app, "AND ended_at IS NOT NULL").await, 1);
    dana.goto(&format!("{}/admin/requests", sso.app.base)).await;
    assert!(dana.url().await.ends_with("/admin/sign-in"), "signed out");
    dana.quit().await;

    let (carol, who) = sign_in(&sso, "idp-carol").await;
    assert_eq!(who, Ok("sso:carol · viewer".to_string()));
    carol
        .goto(&format!("{}/admin/requests/{}", sso.app.base, s.prod))
        .await;
    assert_eq!(
        carol.count("#revoke-now").await,
        0,
        "a viewer cannot revoke"
    );
    carol.quit().await;

    let (erin, refused) = sign_in(&sso, "idp-erin").await;
    let msg = refused.expect_err("no group maps to a role");
    assert!(msg.contains("in no group that may use"), "{msg}");
    assert!(cause(&msg).contains("no groups claim maps"));
    erin.quit().await;
    let (stranger, refused) = sign_in(&sso, "idp-stranger").await;
    let msg = refused.expect_err("a subject bound to nobody");
    assert!(msg.contains("not linked to anyone"), "{msg}");
    assert!(cause(&msg).contains("no directory person"));
    stranger.quit().await;
    assert_eq!(
        sessions(&sso.app, "").await,
        2,
        "only dana and carol got sessions"
    );
}

/// Starts a sign-in over HTTP, gives the browser its binding cookie, and sends the browser to
/// the provider with the authorization request changed by `tamper`.
async fn tampered(sso: &Sso, b: &Driver, tamper: impl FnOnce(url::Url) -> url::Url) {
    let resp = sso
        .app
        .http
        .get(format!("{}/admin/sso/start", sso.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = url::Url::parse(resp.headers()[LOCATION].to_str().unwrap()).unwrap();
    let binding = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("warden_sso="))
        .and_then(|c| c.split(';').next())
        .expect("binding cookie")
        .to_string();
    b.goto(&format!("{}/admin/sign-in", sso.app.base)).await;
    b.add_cookie("warden_sso", &binding, "/admin/sso").await;
    b.goto(tamper(location).as_str()).await;
    at_provider(b, &sso.app.base, "idp-dana").await;
}

/// The logged cause of a refusal shown with `(ref …)`: the person sees only the reference.
fn cause(shown: &str) -> String {
    let reference = shown
        .split("(ref ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no reference in {shown:?}"));
    let text = logs::global().text();
    text.lines()
        .find(|l| l.contains("SSO sign-in refused") && l.contains(reference))
        .unwrap_or_else(|| {
            panic!(
                "no log line for ref {reference}: {}",
                &text[text.len().saturating_sub(3000)..]
            )
        })
        .to_string()
}

fn with_param(mut url: url::Url, name: &str, value: &str) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

async fn a_wrong_state_nonce_or_issuer_or_an_expired_id_token_signs_nobody_in(db: TestDb) {
    let Some(sso) = setup(db).await else { return };
    // A second provider with the same client registration: a different issuer.
    let other = OidcProvider::start(oidc_provider::free_port(), &sso.redirect, &accounts()).await;
    let b = Driver::start().await;
    let not_verified = "could not be verified";
    logs::global();

    tampered(&sso, &b, |u| {
        with_param(u, "state", "a-state-warden-never-sent")
    })
    .await;
    let msg = outcome(&b).await.expect_err("unknown state");
    assert!(msg.contains("did not start in this browser"), "{msg}");
    assert!(cause(&msg).contains("unknown, reused or expired state"));
    assert_eq!(sessions(&sso.app, "").await, 0);

    tampered(&sso, &b, |u| {
        with_param(u, "nonce", "a-nonce-warden-never-sent")
    })
    .await;
    let msg = outcome(&b).await.expect_err("wrong nonce");
    assert!(msg.contains(not_verified), "{msg}");
    assert!(cause(&msg).contains("token nonce does not match this sign-in"));
    assert_eq!(sessions(&sso.app, "").await, 0);

    let other_issuer = url::Url::parse(&other.issuer).unwrap();
    tampered(&sso, &b, |mut u| {
        u.set_port(other_issuer.port()).unwrap();
        u
    })
    .await;
    let msg = outcome(&b).await.expect_err("another issuer");
    assert!(msg.contains(not_verified), "{msg}");
    assert!(cause(&msg).contains("names another issuer"));
    assert_eq!(sessions(&sso.app, "").await, 0);

    // The same path untampered signs in: the refusals above were the tampering's doing.
    tampered(&sso, &b, |u| u).await;
    assert_eq!(outcome(&b).await, Ok("sso:dana · admin".to_string()));
    assert_eq!(sessions(&sso.app, "").await, 1);

    // Two hours on by Warden's clock, the provider's one-hour ID token has expired.
    sso.app.clock.advance(chrono::Duration::hours(2));
    tampered(&sso, &b, |u| u).await;
    let msg = outcome(&b).await.expect_err("expired ID token");
    assert!(msg.contains(not_verified), "{msg}");
    assert!(cause(&msg).contains("token expired"));
    assert_eq!(sessions(&sso.app, "").await, 1, "no second session");
    b.quit().await;
    drop(other);
    let _ = &sso.idp;
}

async fn a_begun_sign_in_is_taken_once_in_its_own_browser_before_it_expires(db: TestDb) {
    let app = TestApp::spawn_on(db).await;
    let store = app.store();
    let pending = |state: &str| PendingLogin {
        state_hash: state.into(),
        binding_hash: "browser".into(),
        nonce: "n".into(),
        verifier: "v".into(),
        expires_at: 10_000,
    };
    store.begin_sso_login(&pending("s1"), 1_000).await.unwrap();
    store.begin_sso_login(&pending("s2"), 1_000).await.unwrap();
    assert_eq!(
        store
            .take_sso_login("s1", "another browser", 2_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.take_sso_login("s2", "browser", 10_000).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_sso_login("s1", "browser", 2_000).await.unwrap(),
        Some(pending("s1"))
    );
    assert_eq!(
        store.take_sso_login("s1", "browser", 2_001).await.unwrap(),
        None,
        "used"
    );
    // Two racing callbacks for one state: one of them gets it.
    store.begin_sso_login(&pending("s3"), 1_000).await.unwrap();
    let (a, b) = tokio::join!(
        store.take_sso_login("s3", "browser", 2_000),
        store.take_sso_login("s3", "browser", 2_000)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|t| t.is_some())
            .count(),
        1
    );
}
