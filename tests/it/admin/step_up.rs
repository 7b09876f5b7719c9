//! Passkey step-up for critical approvals, the whole path: a Slack Approve click on a critical
//! request (fake Slack) → a private link → SSO sign-in (real npm `oidc-provider`) → a passkey
//! assertion in headless Chromium (WebDriver virtual authenticator) → the approval counts once
//! → the grant. Refused, each changing nothing: the link reused, opened by another person, an
//! unregistered credential, no user verification, after expiry, the request already resolved.
//! Without SSO the click fails closed. On SQLite and PostgreSQL.

use super::passkeys::add_passkey;
use super::sso::{at_provider, outcome};
use super::webdriver::{self, Driver};
use crate::on_both_databases;
use crate::slack::app::TestApp;
use crate::slack::flows::card;
use crate::support::TestDb;
use crate::support::fakes::oidc_provider::{self, CLIENT_ID, CLIENT_SECRET, OidcProvider};
use crate::support::wait::{PATIENCE, wait_until};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use warden::clock::ManualClock;
use warden::domain::RequestState;

on_both_databases!(
    a_critical_slack_approval_counts_once_after_a_passkey_and_the_grant_follows,
    step_up_refusals_change_nothing,
    without_sso_a_step_up_approval_fails_closed,
    a_break_glass_activation_the_policy_steps_up_is_granted_after_the_requesters_passkey,
);

const CRITICAL: &str = "need write on the prod billing db for 1h, INC-4411";

pub(super) struct StepUpApp {
    pub(super) app: TestApp,
    pub(super) clock: Arc<ManualClock>,
    pub(super) web: String,
    _idp: OidcProvider,
    _dir: tempfile::TempDir,
}

/// The Slack test directory with dana and carol bound to their provider subjects.
fn directory() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/slack/directory.toml"
    ))
    .expect("directory");
    ["dana", "carol", "gina"].iter().fold(text, |t, id| {
        t.replacen(
            &format!("id = \"{id}\"\n"),
            &format!("id = \"{id}\"\nsso_subject = \"idp-{id}\"\n"),
            1,
        )
    })
}

/// Warden with Slack and SSO at `http://localhost:…`; `None` without a browser or node.
async fn setup(db: TestDb) -> Option<StepUpApp> {
    setup_with(db, None).await
}

/// As `setup`, with policy data (`policy.data_file`) when given.
pub(super) async fn setup_with(db: TestDb, policy_data: Option<Value>) -> Option<StepUpApp> {
    if !webdriver::available() || !oidc_provider::available() {
        return None;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let redirect = format!("{web}/admin/sso/callback");
    let idp_port = oidc_provider::free_port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("directory.toml");
    std::fs::write(&file, directory()).unwrap();
    let data = policy_data.map(|d| {
        let path = dir.path().join("policy-data.json");
        std::fs::write(&path, d.to_string()).unwrap();
        path
    });
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::start_on_listener(db, listener, clock.clone(), |s| {
        s.directory.file = Some(file);
        s.policy.data_file = data;
        s.sso.issuer = Some(format!("http://127.0.0.1:{idp_port}"));
        s.sso.client_id = Some(CLIENT_ID.into());
        s.sso.client_secret = Some(SecretString::from(CLIENT_SECRET));
        s.sso.redirect_url = Some(redirect.clone());
        s.sso.admin_groups = vec!["warden-admins".into()];
        s.sso.viewer_groups = vec!["warden-auditors".into()];
    })
    .await;
    let who = |email: &str, group: &str| json!({ "email": email, "email_verified": true, "groups": [group] });
    let accounts = json!({
        "idp-dana": who("dana@example.com", "warden-admins"),
        "idp-carol": who("carol@example.com", "warden-auditors"),
        "idp-gina": who("gina@example.com", "warden-auditors"),
    });
    let idp = OidcProvider::start(idp_port, &redirect, &accounts).await;
    Some(StepUpApp {
        app,
        clock,
        web,
        _idp: idp,
        _dir: dir,
    })
}

/// A fresh browser signed in by SSO as `login`, with a registered passkey on its authenticator.
pub(super) async fn approver(s: &StepUpApp, login: &str) -> (Driver, String) {
    let b = Driver::start().await;
    b.goto(&format!("{}/admin/sso/start", s.web)).await;
    at_provider(&b, &s.web, login).await;
    outcome(&b).await.expect("signed in");
    let authenticator = b.add_authenticator(true).await;
    b.goto(&format!("{}/admin/passkeys", s.web)).await;
    add_passkey(&b, 0).await.expect("passkey registered");
    (b, authenticator)
}

/// Alice asks for critical access and submits; returns the request id.
async fn critical_request(app: &TestApp) -> String {
    let id = ask(app, "U0ALICE", CRITICAL).await;
    app.wait_state(&id, RequestState::PendingApproval).await;
    id
}

/// `user` asks in their DM and presses Submit on the confirmation card; the request id.
async fn ask(app: &TestApp, user: &str, text: &str) -> String {
    let before = crate::slack::app::cards_with_button(app, "submit").len();
    app.dm(user, text).await;
    app.wait_for("a new confirmation card", |_| {
        crate::slack::app::cards_with_button(app, "submit").len() > before
    })
    .await;
    let confirm = crate::slack::app::cards_with_button(app, "submit")
        .pop()
        .unwrap();
    app.click(
        user,
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    confirm.request_id
}

/// Everything Warden said privately to a Slack user's DM or as an ephemeral reply.
fn said_to(app: &TestApp, channel: &str, user: &str) -> Vec<String> {
    let mut out = Vec::new();
    for method in ["chat.postMessage", "chat.postEphemeral"] {
        for c in app.slack.ok(method) {
            let to_them = c.body["channel"] == channel
                && (method == "chat.postMessage" || c.body["user"] == user);
            if to_them && let Some(t) = c.body["text"].as_str() {
                out.push(t.to_string());
            }
        }
    }
    out
}

/// Clicks Approve as `user` on the request's card and waits for the step-up link; its URL.
async fn click_for_link(app: &TestApp, user: &str, id: &str) -> String {
    let approval = card(app, "approve", Some(id)).await;
    let dm = format!("D{}", &user[1..]);
    let before = links_to(app, &dm, user, id);
    app.click(user, "approve", id, &approval.channel, &approval.ts)
        .await;
    wait_for_link(app, &dm, user, id, before).await
}

fn links_to(app: &TestApp, dm: &str, user: &str, id: &str) -> usize {
    said_to(app, dm, user)
        .into_iter()
        .filter(|t| t.contains(id) && t.contains("/admin/step-up/"))
        .count()
}

/// Waits for a step-up link after `before` of them; its URL.
async fn wait_for_link(app: &TestApp, dm: &str, user: &str, id: &str, before: usize) -> String {
    app.wait_for("the step-up link", |_| links_to(app, dm, user, id) > before)
        .await;
    let text = said_to(app, dm, user)
        .into_iter()
        .rfind(|t| t.contains(id) && t.contains("/admin/step-up/"))
        .unwrap();
    let start = text.find("http").unwrap();
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// Opens a link and presses "Confirm with a passkey"; the page's verdict, or its refusal.
async fn confirm(b: &Driver, link: &str) -> String {
    b.goto(link).await;
    if b.count("#step-up-error").await > 0 {
        return b.text("#step-up-error").await;
    }
    b.click("#confirm-step-up").await;
    wait_until(PATIENCE, "the step-up to finish", || async {
        (b.count("#step-up-status.ok").await + b.count("#step-up-status.error").await > 0)
            .then_some(())
    })
    .await;
    b.text("#step-up-status").await
}

async fn log_of(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    app.store()
        .log_entries(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.payload.unwrap_or_default()))
        .collect()
}

/// What a refusal must leave as it was: the state, the step, the approvals and the log (but
/// for the refusals it records).
async fn snapshot(app: &TestApp, id: &str) -> (RequestState, u32, usize, usize) {
    let r = app.row(id).await;
    let log = log_of(app, id).await;
    (
        r.state,
        r.current_step,
        r.approvals.len(),
        log.iter().filter(|(k, p)| !refusal_entry(k, p)).count(),
    )
}

fn refusal_entry(kind: &str, payload: &Value) -> bool {
    kind == "step_up" && payload.get("refused").is_some()
}

/// The step-up refusals recorded in the request's log: (who tried, why), in order.
async fn refusals(app: &TestApp, id: &str) -> Vec<(String, String)> {
    app.store()
        .log_entries(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| refusal_entry(&e.kind, e.payload.as_ref().unwrap_or(&Value::Null)))
        .map(|e| {
            let why = e.payload.unwrap()["why"].as_str().unwrap().to_string();
            (e.actor, why)
        })
        .collect()
}

async fn a_critical_slack_approval_counts_once_after_a_passkey_and_the_grant_follows(db: TestDb) {
    let Some(s) = setup(db).await else { return };
    let app = &s.app;
    let (dana, _) = approver(&s, "idp-dana").await;
    let (carol, _) = approver(&s, "idp-carol").await;
    let id = critical_request(app).await;

    // Dana's click does not count yet: she gets a private link, logged without the link.
    let link = click_for_link(app, "U0DANA", &id).await;
    assert!(
        link.starts_with(&format!("{}/admin/step-up/", s.web)),
        "{link}"
    );
    let row = app.row(&id).await;
    assert_eq!(
        (row.state, row.approvals.len()),
        (RequestState::PendingApproval, 0)
    );
    let log = log_of(app, &id).await;
    let asked = log
        .iter()
        .find(|(k, p)| k == "step_up" && p["asked"] == "approve");
    assert!(asked.is_some_and(|(_, p)| p["step"] == 0), "{log:?}");
    assert!(
        !format!("{log:?}").contains(link.rsplit('/').next().unwrap()),
        "no token in the log"
    );
    // Only the token's hash is stored.
    let token = link.rsplit('/').next().unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM step_up_links")
        .fetch_all(app.store().pool())
        .await
        .unwrap();
    assert_eq!(stored, vec![warden::domain::step_up::hash_token(token)]);

    // Carol opening Dana's link is refused, and changes nothing.
    let before = snapshot(app, &id).await;
    let refused = confirm(&carol, &link).await;
    assert!(refused.contains("sent to someone else"), "{refused}");
    assert_eq!(snapshot(app, &id).await, before);
    assert_eq!(
        refusals(app, &id).await,
        vec![("carol".to_string(), "other_person".to_string())],
        "the refusal is in the request's log"
    );

    // Dana confirms with her passkey: the approval counts, marked as such, with its evidence.
    assert_eq!(
        confirm(&dana, &link).await,
        "Confirmed with your passkey. You can close this page."
    );
    let row = app.row(&id).await;
    assert_eq!((row.current_step, row.approvals.len()), (1, 1));
    assert_eq!(row.approvals[0].approver_id, "dana");
    assert_eq!(row.approvals[0].approver_account, "slack:T0WARDEN:U0DANA");
    assert_eq!(
        row.card_status.as_deref(),
        Some("Step 1 approved by Dana Scully with a passkey")
    );
    let dana_key = app.store().list_passkeys(Some("dana")).await.unwrap();
    let log = log_of(app, &id).await;
    let verified: Vec<_> = log
        .iter()
        .filter(|(k, p)| k == "step_up" && p.get("credential_id").is_some())
        .collect();
    assert_eq!(verified.len(), 1, "{log:?}");
    assert_eq!(
        verified[0].1["credential_id"],
        dana_key[0].credential_id.as_str()
    );
    assert_eq!(verified[0].1["user_verified"], true);
    assert!(
        verified[0].1.get("signature").is_none()
            && verified[0].1.get("authenticatorData").is_none()
    );

    // The link works once.
    let before = snapshot(app, &id).await;
    let again = confirm(&dana, &link).await;
    assert!(again.contains("used already"), "{again}");
    assert_eq!(snapshot(app, &id).await, before);
    assert_eq!(
        refusals(app, &id).await.last(),
        Some(&("dana".to_string(), "link_used".to_string()))
    );
    assert!(
        !format!("{:?}", log_of(app, &id).await).contains(token),
        "no token in the log"
    );

    // The owners' step needs a passkey too; Carol's confirmation approves, and the grant runs.
    let carols = click_for_link(app, "U0CAROL", &id).await;
    assert_eq!(
        app.row(&id).await.approvals.len(),
        1,
        "a click alone counts nothing"
    );
    assert_eq!(
        confirm(&carol, &carols).await,
        "Confirmed with your passkey. You can close this page."
    );
    app.wait_state(&id, RequestState::Active).await;
    let row = app.row(&id).await;
    assert_eq!(row.approvals.len(), 2, "each approval counted once");
    assert!(row.grant.is_some());
    let log = log_of(app, &id).await;
    let grants = log
        .iter()
        .filter(|(k, p)| k == "grant_call" && p["outcome"] == "ok")
        .count();
    assert_eq!(grants, 1, "one grant call");
    dana.quit().await;
    carol.quit().await;
}

async fn step_up_refusals_change_nothing(db: TestDb) {
    let Some(s) = setup(db).await else { return };
    let app = &s.app;
    let (dana, authenticator) = approver(&s, "idp-dana").await;
    let id = critical_request(app).await;
    let link = click_for_link(app, "U0DANA", &id).await;
    let before = snapshot(app, &id).await;
    let token = warden::domain::step_up::hash_token(link.rsplit('/').next().unwrap());
    let unused = || async {
        app.store()
            .step_up_link(&token)
            .await
            .unwrap()
            .unwrap()
            .used_at
            .is_none()
    };

    // No user verification: refused; the link stays usable.
    dana.set_user_verified(&authenticator, false).await;
    let refused = confirm(&dana, &link).await;
    assert!(refused.starts_with("Not confirmed"), "{refused}");
    assert_eq!(snapshot(app, &id).await, before);
    assert!(unused().await);
    // Chromium refuses to make an assertion without the required user verification, so the
    // page reports the unanswered challenge and Warden records it.
    assert_eq!(
        refusals(app, &id).await,
        vec![("dana".to_string(), "not_completed".to_string())],
        "{refused}"
    );
    dana.set_user_verified(&authenticator, true).await;

    // A credential Warden does not know (removed by an admin; the authenticator still has it).
    let key = app.store().list_passkeys(Some("dana")).await.unwrap();
    app.store()
        .remove_passkey(&key[0].credential_id)
        .await
        .unwrap();
    let refused = confirm(&dana, &link).await;
    assert_eq!(
        refused,
        "Not confirmed: that passkey is not registered to you"
    );
    assert_eq!(snapshot(app, &id).await, before);
    assert!(unused().await);
    assert_eq!(
        refusals(app, &id).await.last(),
        Some(&("dana".to_string(), "unknown_credential".to_string()))
    );

    // The request resolved meanwhile (Alice cancelled it): the link counts nothing.
    app.dm("U0ALICE", &format!("cancel {id}")).await;
    app.wait_state(&id, RequestState::Cancelled).await;
    let resolved = snapshot(app, &id).await;
    let refused = confirm(&dana, &link).await;
    assert!(refused.contains("already resolved"), "{refused}");
    assert_eq!(snapshot(app, &id).await, resolved);
    assert_eq!(
        refusals(app, &id).await.last(),
        Some(&("dana".to_string(), "request_resolved".to_string()))
    );

    // After ten minutes a fresh link has expired.
    let second = critical_request(app).await;
    let link = click_for_link(app, "U0DANA", &second).await;
    let before = snapshot(app, &second).await;
    s.clock.advance(chrono::Duration::minutes(11));
    let refused = confirm(&dana, &link).await;
    assert!(refused.contains("expired"), "{refused}");
    assert_eq!(snapshot(app, &second).await, before);
    assert_eq!(
        refusals(app, &second).await,
        vec![("dana".to_string(), "expired".to_string())]
    );
    dana.quit().await;
}

async fn without_sso_a_step_up_approval_fails_closed(db: TestDb) {
    let app = TestApp::start(db, 0).await;
    let logs = crate::support::logs::global();
    let id = critical_request(&app).await;
    let approval = card(&app, "approve", Some(&id)).await;
    app.click("U0DANA", "approve", &id, &approval.channel, &approval.ts)
        .await;
    app.wait_for("the refusal", |_| {
        said_to(&app, "D0DANA", "U0DANA")
            .iter()
            .any(|t| t.contains("passkey sign-in is not set up"))
    })
    .await;
    let row = app.row(&id).await;
    assert_eq!(
        (row.state, row.approvals.len()),
        (RequestState::PendingApproval, 0)
    );
    let log = log_of(&app, &id).await;
    assert!(
        log.iter().any(|(k, p)| k == "refusal"
            && p["why"]
                .as_str()
                .is_some_and(|w| w.contains("passkeys are not configured"))),
        "{log:?}"
    );
    assert!(
        logs.text()
            .contains("single sign-on with passkeys is not configured")
    );
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM step_up_links")
            .fetch_one(app.store().pool())
            .await
            .unwrap(),
        0,
        "no link was made"
    );
}

async fn a_break_glass_activation_the_policy_steps_up_is_granted_after_the_requesters_passkey(
    db: TestDb,
) {
    let data = json!({ "warden": { "config": { "step_up_break_glass": true } } });
    let Some(s) = setup_with(db, Some(data)).await else {
        return;
    };
    let app = &s.app;
    let (gina, _) = approver(&s, "idp-gina").await;
    // Gina is on call; prod-billing-db allows break-glass. Her Submit sends her a link instead.
    let id = ask(
        app,
        "U0GINA",
        "break-glass prod-db read for 1h because SEV1 billing outage",
    )
    .await;
    let link = wait_for_link(app, "D0GINA", "U0GINA", &id, 0).await;
    let row = app.row(&id).await;
    assert_eq!(
        row.state,
        RequestState::AwaitingConfirmation,
        "nothing granted yet"
    );
    assert!(row.grant.is_none());
    assert_eq!(
        confirm(&gina, &link).await,
        "Confirmed with your passkey. You can close this page."
    );
    app.wait_state(&id, RequestState::Active).await;
    let row = app.row(&id).await;
    assert!(row.break_glass && row.review_open);
    let log = log_of(app, &id).await;
    assert!(
        log.iter().any(|(k, p)| k == "step_up"
            && p["verified"] == "break_glass"
            && p["user_verified"] == true),
        "{log:?}"
    );
    // Spent: the same link grants nothing again.
    let again = confirm(&gina, &link).await;
    assert!(again.contains("used already"), "{again}");
    gina.quit().await;
}
