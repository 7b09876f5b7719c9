//! Passkey step-up for the kill switch in headless Chromium (virtual authenticator), with SSO
//! against the real npm `oidc-provider`: under the shipped policy lifting a freeze commits only
//! after the admin's passkey, and the freeze keeps which credential confirmed it; without the
//! assertion nothing changes; freezing stays direct. A policy that steps up freezing instead
//! (and not lifting) is honoured the other way round. On SQLite and PostgreSQL.

use super::step_up::{StepUpApp, approver, setup_with};
use super::webdriver::Driver;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::wait::{PATIENCE, wait_until};
use serde_json::json;
use warden::domain::{Confirmation, Freeze, FreezeScope};

on_both_databases!(
    lifting_a_freeze_needs_the_admins_passkey_and_the_freeze_keeps_the_proof,
    a_policy_that_steps_up_freezing_and_not_lifting_is_honoured,
);

/// Freezes everything from the page's form; returns where the browser landed.
async fn freeze_from_page(s: &StepUpApp, b: &Driver, reason: &str) -> String {
    b.goto(&format!("{}/admin/freezes", s.web)).await;
    b.run_async(
        "document.querySelector('#freeze-form select[name=scope]').value = 'everything'; arguments[0](true);",
    )
    .await;
    b.type_into("#freeze-form input[name=reason]", reason).await;
    b.click("#freeze-form button[type=submit]").await;
    b.url().await
}

/// Presses Unfreeze on the (only) active freeze with `reason`; returns where the browser landed.
async fn unfreeze_from_page(s: &StepUpApp, b: &Driver, reason: &str) -> String {
    b.goto(&format!("{}/admin/freezes", s.web)).await;
    b.type_into("#freeze-list input[name=reason]", reason).await;
    b.click("#freeze-list button[type=submit]").await;
    b.url().await
}

/// Presses "Confirm with a passkey" on the step-up page the browser is on; the verdict.
async fn confirm_here(b: &Driver) -> String {
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

async fn freezes(s: &StepUpApp) -> Vec<Freeze> {
    s.app.store().list_freezes(10).await.unwrap()
}

async fn lifting_a_freeze_needs_the_admins_passkey_and_the_freeze_keeps_the_proof(db: TestDb) {
    let Some(s) = setup_with(db, None).await else {
        return;
    };
    let (dana, authenticator) = approver(&s, "idp-dana").await;

    // Freezing is direct: no passkey, no link, nothing recorded beyond the freeze.
    let landed = freeze_from_page(&s, &dana, "INC-7 credential leak").await;
    assert!(landed.contains("/admin/freezes?done=frozen"), "{landed}");
    let all = freezes(&s).await;
    assert_eq!(all.len(), 1);
    assert!(all[0].is_active() && all[0].confirmation.is_none());
    assert_eq!(all[0].scope, FreezeScope::Everything);
    assert_eq!(all[0].actor, "admin:sso:dana");

    // Unfreeze sends her to the step-up page; leaving it there changes nothing.
    let landed = unfreeze_from_page(&s, &dana, "keys rotated").await;
    assert!(landed.contains("/admin/freezes/step-up/"), "{landed}");
    assert!(dana.text("#step-up-freeze").await.contains(&all[0].id));
    assert!(freezes(&s).await[0].is_active(), "no assertion, no lift");

    // An assertion without user verification is refused; the freeze stays in force.
    dana.set_user_verified(&authenticator, false).await;
    let refused = confirm_here(&dana).await;
    assert!(refused.starts_with("Not confirmed"), "{refused}");
    assert!(freezes(&s).await[0].is_active());
    dana.set_user_verified(&authenticator, true).await;

    // Someone else signed in (a viewer) cannot use her link.
    let (gina, _) = approver(&s, "idp-gina").await;
    gina.goto(&landed).await;
    let other = gina.text("#step-up-error").await;
    assert!(other.contains("nothing was changed"), "{other}");
    assert!(freezes(&s).await[0].is_active());
    gina.quit().await;

    // Her passkey lifts it, and the freeze's record keeps who, which credential, the result.
    dana.goto(&landed).await;
    assert_eq!(
        confirm_here(&dana).await,
        "Confirmed with your passkey. You can close this page."
    );
    let f = freezes(&s).await.remove(0);
    let lift = f.lifted.expect("lifted");
    assert_eq!(
        (lift.by.as_str(), lift.reason.as_str()),
        ("admin:sso:dana", "keys rotated")
    );
    let key = s.app.store().list_passkeys(Some("dana")).await.unwrap();
    assert_eq!(
        lift.confirmation,
        Some(Confirmation::Passkey {
            person: "dana".into(),
            credential_id: key[0].credential_id.clone(),
            user_verified: true,
        })
    );
    let page = {
        dana.goto(&format!("{}/admin/freezes", s.web)).await;
        dana.text("#freeze-list").await
    };
    assert!(
        page.contains(&format!(
            "confirmed by dana with passkey {}",
            key[0].credential_id
        )),
        "{page}"
    );

    // The link works once.
    dana.goto(&landed).await;
    let again = confirm_here(&dana).await;
    assert!(
        again.contains("used already") || again.contains("no longer in force"),
        "{again}"
    );

    // A second freeze, lifted by a link that expired: refused, still in force.
    freeze_from_page(&s, &dana, "drill").await;
    let landed = unfreeze_from_page(&s, &dana, "drill over").await;
    s.clock.advance(chrono::Duration::minutes(11));
    dana.goto(&landed).await;
    let expired = confirm_here(&dana).await;
    assert!(expired.contains("expired"), "{expired}");
    assert_eq!(
        s.app.store().active_freezes().await.unwrap().len(),
        1,
        "still in force"
    );
    dana.quit().await;
}

async fn a_policy_that_steps_up_freezing_and_not_lifting_is_honoured(db: TestDb) {
    let data = json!({ "warden": { "config": { "step_up_admin_actions": ["freeze"] } } });
    let Some(s) = setup_with(db, Some(data)).await else {
        return;
    };
    let (dana, _) = approver(&s, "idp-dana").await;

    // Freezing now waits for her passkey: nothing frozen until it verifies.
    let landed = freeze_from_page(&s, &dana, "INC-8").await;
    assert!(landed.contains("/admin/freezes/step-up/"), "{landed}");
    assert!(freezes(&s).await.is_empty(), "nothing frozen yet");
    assert_eq!(
        confirm_here(&dana).await,
        "Confirmed with your passkey. You can close this page."
    );
    let f = freezes(&s).await.remove(0);
    assert!(f.is_active());
    assert!(
        matches!(&f.confirmation, Some(Confirmation::Passkey { person, user_verified: true, .. }) if person == "dana"),
        "{f:?}"
    );

    // Lifting is direct under this policy: straight back to the list, lifted, no proof asked.
    let landed = unfreeze_from_page(&s, &dana, "over").await;
    assert!(landed.contains("/admin/freezes?done=lifted"), "{landed}");
    let f = freezes(&s).await.remove(0);
    let lift = f.lifted.expect("lifted");
    assert_eq!(lift.confirmation, None);
    dana.quit().await;
}
