//! The `okta` backend against the fake Okta org: API token and OAuth service app.

use super::{catalog, grant_call, identity, request_id, revoke_call};
use crate::support::fakes::okta::{API_TOKEN, CLIENT_ID, FakeOkta, error};
use crate::support::fakes::saas::{Fault, PRIVATE_KEY};
use axum::http::Method;
use std::time::{Duration, Instant};
use warden::domain::{Catalog, GrantEffect, PriorAccess};
use warden::grants::saas::okta::OktaGrantor;
use warden::grants::{GrantError, Grantor};

const GROUP: &str = "00gwardenapp";

fn okta_catalog() -> Catalog {
    catalog(&format!(r#"{{ backend = "okta", group_id = "{GROUP}" }}"#))
}

async fn fake() -> FakeOkta {
    let f = FakeOkta::start().await;
    f.user("00ualice", "alice@example.com");
    f.user("00ubob", "bob@example.com");
    f.group(GROUP, &["00ubob"]);
    f
}

/// The backend as `[grants.okta]` builds it, with an API token.
pub fn by_token(f: &FakeOkta) -> OktaGrantor {
    warden::app::install_crypto();
    let s = toml::from_str(&format!(
        "org_url = \"{}\"\napi_token = \"{API_TOKEN}\"\nmax_retry_wait_secs = 5\ntimeout_ms = 2000",
        f.url()
    ))
    .unwrap();
    warden::grants::saas::setup::okta(&s, &[]).unwrap()
}

/// With an OAuth service app (private_key_jwt).
fn by_service_app(f: &FakeOkta) -> OktaGrantor {
    warden::app::install_crypto();
    let mut s: warden::config::OktaSettings = toml::from_str(&format!(
        "org_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nkey_id = \"k1\"",
        f.url()
    ))
    .unwrap();
    s.private_key = Some(PRIVATE_KEY.to_string().into());
    warden::grants::saas::setup::okta(&s, &[]).unwrap()
}

fn alice() -> warden::grants::TargetIdentity {
    identity(Some("alice@example.com"), &[])
}

#[tokio::test]
async fn a_grant_adds_the_user_found_by_email_and_the_revoke_removes_exactly_that_user() {
    let f = fake().await;
    let g = by_token(&f);
    let cat = okta_catalog();
    let call = grant_call(&cat, &request_id(), alice());
    assert_eq!(g.observe(&call).await.unwrap(), Some(PriorAccess::Absent));
    let receipt = g.grant(&call).await.unwrap();
    assert_eq!(receipt.holder.as_deref(), Some("00ualice"));
    assert_eq!(f.members(GROUP), ["00ualice", "00ubob"]);
    let put = f
        .common()
        .calls()
        .into_iter()
        .find(|c| c.method == "PUT")
        .unwrap();
    assert_eq!(put.uri, format!("/api/v1/groups/{GROUP}/users/00ualice"));
    assert_eq!(
        put.authorization.as_deref(),
        Some(format!("SSWS {API_TOKEN}").as_str())
    );
    assert_eq!(
        g.holders(cat.get("app").unwrap()).await.unwrap().unwrap(),
        ["00ualice", "00ubob"]
    );

    // The directory may say something else by now: the revoke takes the recorded holder.
    let revoke = revoke_call(&call, &receipt);
    let undone = g.revoke(&revoke).await.unwrap();
    assert_eq!(undone.effect, GrantEffect::Applied);
    assert_eq!(
        f.members(GROUP),
        ["00ubob"],
        "only the granted user is removed"
    );
}

#[tokio::test]
async fn adding_a_member_twice_and_removing_one_gone_both_succeed() {
    let f = fake().await;
    let g = by_token(&f);
    let cat = okta_catalog();
    let call = grant_call(&cat, &request_id(), alice());
    let first = g.grant(&call).await.unwrap();
    let again = g.grant(&call).await.unwrap();
    assert_eq!(first.holder, again.holder);
    assert_eq!(f.members(GROUP), ["00ualice", "00ubob"]);
    let revoke = revoke_call(&call, &first);
    g.revoke(&revoke).await.unwrap();
    g.revoke(&revoke)
        .await
        .expect("removing what is gone succeeds");
    assert_eq!(f.members(GROUP), ["00ubob"]);
    // A member before Warden is seen as such, so the workflow leaves them in place.
    let bob = grant_call(&cat, &request_id(), identity(Some("bob@example.com"), &[]));
    assert_eq!(g.observe(&bob).await.unwrap(), Some(PriorAccess::Held));
}

#[tokio::test]
async fn a_throttled_call_waits_for_the_rate_limit_reset_then_succeeds() {
    let f = fake().await;
    let g = by_token(&f);
    let call = grant_call(&okta_catalog(), &request_id(), alice());
    f.throttle(1, 1);
    let started = Instant::now();
    g.grant(&call).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = f.common().calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 200, 204]);

    // A reset further off than the bound: transient at once, for the job to retry later.
    f.throttle(1, 120);
    let started = Instant::now();
    let e = g.grant(&call).await.unwrap_err();
    assert!(matches!(e, GrantError::Transient(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_refusal_is_permanent_and_an_unknown_user_too() {
    let f = fake().await;
    let g = by_token(&f);
    let cat = okta_catalog();
    f.fault(Fault::on(
        Some(Method::PUT),
        "/api/v1/groups/",
        403,
        error(
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
    ));
    let e = g
        .grant(&grant_call(&cat, &request_id(), alice()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, GrantError::Permanent(m) if m.contains("E0000006")),
        "{e:?}"
    );
    let nobody = grant_call(
        &cat,
        &request_id(),
        identity(Some("nobody@example.com"), &[]),
    );
    let e = g.grant(&nobody).await.unwrap_err();
    assert!(matches!(e, GrantError::Permanent(_)), "{e:?}");
    assert_eq!(f.members(GROUP), ["00ubob"]);
}

#[tokio::test]
async fn a_refusal_after_a_server_error_is_uncertain() {
    let f = fake().await;
    let g = by_token(&f);
    f.fault(Fault::on(
        Some(Method::PUT),
        "/api/v1/groups/",
        500,
        error("E0000009", "Internal Server Error"),
    ));
    f.fault(Fault::on(
        Some(Method::PUT),
        "/api/v1/groups/",
        400,
        error("E0000001", "Api validation failed"),
    ));
    let e = g
        .grant(&grant_call(&okta_catalog(), &request_id(), alice()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, GrantError::Uncertain(_)),
        "the 500 may have applied: {e:?}"
    );
}

#[tokio::test]
async fn the_service_app_token_is_cached_then_refreshed_when_refused_or_near_expiry() {
    let f = fake().await;
    let g = by_service_app(&f);
    let cat = okta_catalog();
    let call = grant_call(&cat, &request_id(), alice());
    g.grant(&call).await.unwrap();
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 1, "one token serves many calls");
    let used = f
        .common()
        .calls()
        .into_iter()
        .find(|c| c.method == "PUT")
        .unwrap();
    assert!(used.authorization.unwrap().starts_with("Bearer okta-at-"));

    f.common().expire_tokens();
    g.grant(&call)
        .await
        .expect("a refused token is replaced and the call retried");
    assert_eq!(f.common().issued(), 2);

    f.common().expire_tokens();
    f.token_lifetime(Duration::from_secs(2));
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 3);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 4, "refreshed before it expired");
    let refused = f
        .common()
        .calls()
        .iter()
        .filter(|c| c.status == 401)
        .count();
    assert_eq!(refused, 2, "only the two revoked tokens were ever refused");
}

#[tokio::test]
async fn holders_are_read_across_pages() {
    let f = fake().await;
    for i in 0..5 {
        f.user(&format!("00um{i}"), &format!("m{i}@example.com"));
    }
    f.group(GROUP, &["00um0", "00um1", "00um2", "00um3", "00um4"]);
    f.page_size(2);
    let g = by_token(&f);
    let cat = okta_catalog();
    let holders = g.holders(cat.get("app").unwrap()).await.unwrap().unwrap();
    assert_eq!(holders, ["00um0", "00um1", "00um2", "00um3", "00um4"]);
    let lists = f
        .common()
        .calls()
        .iter()
        .filter(|c| c.uri.contains("/users?"))
        .count();
    assert_eq!(lists, 3);
}

#[tokio::test]
async fn a_person_with_no_email_and_no_okta_id_is_refused_before_approval() {
    let f = fake().await;
    let g = by_token(&f);
    let cat = okta_catalog();
    let dir = warden::directory::file::FileDirectory::from_toml(
        r#"
[[person]]
id = "zed"
display_name = "Zed"
accounts = []

[[person]]
id = "yan"
display_name = "Yan"
target_ids = { okta = "yan.login" }
accounts = []
"#,
    )
    .unwrap();
    let people: Vec<_> = dir.people().cloned().collect();
    let zed = people.iter().find(|p| p.id == "zed").unwrap();
    let yan = people.iter().find(|p| p.id == "yan").unwrap();
    let refused = g.check_person(zed, cat.get("app").unwrap()).unwrap_err();
    assert!(refused.contains("Okta"), "{refused}");
    g.check_person(yan, cat.get("app").unwrap())
        .expect("an explicit Okta login is enough");
}
