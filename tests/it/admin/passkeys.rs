//! Passkey registration in headless Chromium with a WebDriver virtual authenticator, after a
//! real SSO sign-in on `http://localhost` (a secure context): registered with user verification,
//! refused without it, a finish with no open registration refused; a registered passkey checked
//! (an assertion with user verification), refused without verification or once removed; admins
//! list and remove passkeys on the page and through the API. On SQLite and PostgreSQL.

use super::sso::{setup_at, sign_in};
use super::webdriver::Driver;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::wait::{PATIENCE, wait_until};
use serde_json::Value;

on_both_databases!(
    a_person_registers_a_passkey_with_user_verification_and_admins_list_and_remove_it,
    an_authenticator_without_user_verification_registers_nothing,
);

/// Clicks "Add a passkey" and waits for the page's verdict: `Ok` after the reload that lists
/// the new passkey, `Err(status text)` when it was not added.
pub(super) async fn add_passkey(b: &Driver, listed_before: usize) -> Result<(), String> {
    b.click("#add-passkey").await;
    let added = wait_until(PATIENCE, "the passkey to be added or refused", || async {
        if b.count("#passkey-status.error").await > 0 {
            Some(false)
        } else {
            (b.count("#my-passkeys td.mono").await > listed_before).then_some(true)
        }
    })
    .await;
    if added {
        Ok(())
    } else {
        Err(b.text("#passkey-status").await)
    }
}

/// Clicks "Check a passkey" and returns the page's verdict text.
async fn check_passkey(b: &Driver) -> String {
    b.click("#check-passkey").await;
    wait_until(PATIENCE, "the passkey check to finish", || async {
        (b.count("#passkey-status.ok").await + b.count("#passkey-status.error").await > 0)
            .then_some(())
    })
    .await;
    b.text("#passkey-status").await
}

/// POSTs `body` to a passkey endpoint from the page, with its CSRF token; (status, JSON).
async fn post_from_page(b: &Driver, path: &str, body: &str) -> (u64, Value) {
    let v = b
        .run_async(&format!(
            r#"const done = arguments[0];
               const csrf = document.getElementById("add-passkey").dataset.csrf;
               fetch("{path}", {{ method: "POST", headers: {{ "content-type": "application/json", "x-csrf-token": csrf }}, body: {body:?} }})
                 .then(async r => done([r.status, await r.json()]));"#
        ))
        .await;
    (v[0].as_u64().unwrap_or_default(), v[1].clone())
}

async fn a_person_registers_a_passkey_with_user_verification_and_admins_list_and_remove_it(
    db: TestDb,
) {
    let Some(sso) = setup_at(db, "localhost").await else {
        return;
    };
    let store = sso.app.store().clone();
    let (dana, who) = sign_in(&sso, "idp-dana").await;
    assert_eq!(who, Ok("sso:dana · admin".to_string()));
    let authenticator = dana.add_authenticator(true).await;
    dana.goto(&format!("{}/admin/passkeys", sso.web)).await;
    assert_eq!(dana.count("#my-passkeys td.mono").await, 0);

    add_passkey(&dana, 0).await.expect("registered");
    let held = dana.credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "the authenticator made one credential");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "resident key preferred"
    );
    let stored = store.list_passkeys(Some("dana")).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].credential_id,
        held[0]["credentialId"].as_str().unwrap(),
        "the stored id is the authenticator's credential"
    );
    assert_eq!(
        dana.text("#my-passkeys td.mono").await,
        stored[0].credential_id
    );

    // The registration was taken by its finish: sending it again finds none, and adds nothing.
    let (status, body) = post_from_page(&dana, "/admin/passkeys/register/finish", "{}").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no passkey registration is open"),
        "{body}"
    );
    // A well-formed begin, then a malformed answer: refused, and the registration is spent.
    let (status, _) = post_from_page(&dana, "/admin/passkeys/register/begin", "{}").await;
    assert_eq!(status, 200);
    let (status, body) =
        post_from_page(&dana, "/admin/passkeys/register/finish", r#"{"id":"x"}"#).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(store.list_passkeys(None).await.unwrap().len(), 1);

    // The passkey checks out, with user verification; its use is recorded.
    assert_eq!(check_passkey(&dana).await, "Passkey verified.");
    let used = store
        .passkey(&stored[0].credential_id)
        .await
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some());
    // Without user verification the check fails and records nothing.
    dana.set_user_verified(&authenticator, false).await;
    let refused = check_passkey(&dana).await;
    assert!(refused.starts_with("Not verified"), "{refused}");
    assert_eq!(
        store.passkey(&used.credential_id).await.unwrap(),
        Some(used.clone())
    );
    dana.set_user_verified(&authenticator, true).await;

    // Admins see everyone's passkeys; the API lists them for viewers and removes for admins.
    assert_eq!(dana.count("#all-passkeys td.mono").await, 1);
    let listed = sso
        .app
        .get_json("/api/v1/passkeys?person=dana", &sso.app.tokens.viewer)
        .await;
    assert_eq!(
        listed["passkeys"][0]["credential_id"],
        stored[0].credential_id
    );
    assert!(
        listed["passkeys"][0].get("static_state").is_none(),
        "no key material"
    );
    let url = format!(
        "{}/api/v1/passkeys/{}",
        sso.app.base, stored[0].credential_id
    );
    let by_viewer = sso
        .app
        .http
        .delete(&url)
        .bearer_auth(&sso.app.tokens.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(by_viewer.status(), 403);
    assert_eq!(
        store.list_passkeys(None).await.unwrap().len(),
        1,
        "a viewer removes nothing"
    );

    // Removed from the admin list on the page.
    dana.click("#all-passkeys button").await;
    assert_eq!(dana.text("#notice").await, "The passkey is removed.");
    assert!(store.list_passkeys(None).await.unwrap().is_empty());
    // The authenticator still holds it, but Warden no longer accepts it.
    let refused = check_passkey(&dana).await;
    assert_eq!(
        refused,
        "Not verified: that passkey is not registered to you"
    );
    let again = sso
        .app
        .http
        .delete(&url)
        .bearer_auth(&sso.app.tokens.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "already removed");
    dana.quit().await;
}

async fn an_authenticator_without_user_verification_registers_nothing(db: TestDb) {
    let Some(sso) = setup_at(db, "localhost").await else {
        return;
    };
    let (carol, who) = sign_in(&sso, "idp-carol").await;
    assert_eq!(who, Ok("sso:carol · viewer".to_string()));
    carol.add_authenticator(false).await;
    carol.goto(&format!("{}/admin/passkeys", sso.web)).await;
    assert_eq!(
        carol.count("#all-passkeys").await,
        0,
        "only admins see everyone's"
    );
    let refused = add_passkey(&carol, 0)
        .await
        .expect_err("no user verification");
    assert!(refused.starts_with("Not added"), "{refused}");
    assert!(
        sso.app
            .store()
            .list_passkeys(None)
            .await
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
    carol.quit().await;
}
