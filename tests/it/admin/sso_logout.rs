//! Signing out at the OpenID provider ends the Warden session too (back-channel logout from the
//! real npm `oidc-provider`), and only that one; a forged logout token ends nothing. On SQLite
//! and PostgreSQL.

use super::sso::{sessions, setup, sign_in};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::wait::{PATIENCE, wait_until};

on_both_databases!(signing_out_at_the_provider_ends_the_warden_session);

async fn signing_out_at_the_provider_ends_the_warden_session(db: TestDb) {
    let Some(sso) = setup(db).await else { return };
    let (b, who) = sign_in(&sso, "idp-dana").await;
    assert_eq!(who, Ok("sso:dana · admin".to_string()));
    // A second Warden session of someone else is left alone.
    let (carol, who) = sign_in(&sso, "idp-carol").await;
    assert_eq!(who, Ok("sso:carol · viewer".to_string()));
    assert_eq!(
        sessions(&sso.app, "AND sso_sid IS NOT NULL AND ended_at IS NULL").await,
        2,
        "each session keeps its provider session id"
    );
    // RP-independent sign-out at the provider: its confirmation form, then the back-channel call.
    b.goto(&format!("{}/session/end", sso.idp.issuer)).await;
    b.click("button[name=logout]").await;
    wait_until(
        PATIENCE,
        "the provider's logout to reach Warden",
        || async {
            sessions(
                &sso.app,
                "AND sso_person = 'dana' AND end_reason = 'signed out at the identity provider'",
            )
            .await
                == 1
        },
    )
    .await;
    b.goto(&format!("{}/admin/requests", sso.app.base)).await;
    assert!(
        b.url().await.ends_with("/admin/sign-in"),
        "signed out of Warden"
    );
    carol
        .goto(&format!("{}/admin/requests", sso.app.base))
        .await;
    assert!(
        carol.url().await.ends_with("/admin/requests"),
        "carol still signed in"
    );
    b.quit().await;
    carol.quit().await;

    // A forged logout token (not signed by the provider) ends nothing.
    let forged = sso
        .app
        .http
        .post(format!("{}/admin/sso/backchannel-logout", sso.app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("logout_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJpZHAtY2Fyb2wifQ.")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert_eq!(
        sessions(&sso.app, "AND ended_at IS NULL").await,
        1,
        "carol's session stays"
    );
}
