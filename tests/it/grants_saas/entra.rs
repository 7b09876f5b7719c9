//! The `entra` backend against the fake Microsoft identity platform and Graph.

use super::{catalog, grant_call, identity, request_id, revoke_call};
use crate::support::fakes::entra::{CLIENT_ID, CLIENT_SECRET, FakeEntra, TENANT, error};
use crate::support::fakes::saas::Fault;
use axum::http::Method;
use std::time::{Duration, Instant};
use warden::domain::{Catalog, GrantEffect, PriorAccess};
use warden::grants::saas::entra::EntraGrantor;
use warden::grants::{GrantError, Grantor};

const GROUP: &str = "02bd9fd6-8f93-4758-87c3-1fb73740a315";
const ALICE: &str = "6e7b768e-07e2-4810-8459-485f84f8f204";
const BOB: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";

fn entra_catalog() -> Catalog {
    catalog(&format!(r#"{{ backend = "entra", group_id = "{GROUP}" }}"#))
}

async fn fake() -> FakeEntra {
    let f = FakeEntra::start().await;
    f.user(ALICE, "alice@contoso.onmicrosoft.com", "alice@example.com");
    f.user(BOB, "bob@example.com", "bob@example.com");
    f.group(GROUP, &[BOB]);
    f
}

pub fn grantor_with(f: &FakeEntra, secret: &str) -> EntraGrantor {
    warden::app::install_crypto();
    let s = toml::from_str(&format!(
        "tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{secret}\"\n\
         login_url = \"{0}\"\ngraph_url = \"{0}\"\nmax_retry_wait_secs = 5\ntimeout_ms = 2000",
        f.url()
    ))
    .unwrap();
    warden::grants::saas::setup::entra(&s, &[]).unwrap()
}

pub fn grantor(f: &FakeEntra) -> EntraGrantor {
    grantor_with(f, CLIENT_SECRET)
}

fn alice() -> warden::grants::TargetIdentity {
    identity(Some("alice@example.com"), &[])
}

#[tokio::test]
async fn a_grant_adds_the_user_found_by_mail_and_the_revoke_removes_that_user() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(&entra_catalog(), &request_id(), alice());
    assert_eq!(g.observe(&call).await.unwrap(), Some(PriorAccess::Absent));
    let receipt = g.grant(&call).await.unwrap();
    assert_eq!(receipt.holder.as_deref(), Some(ALICE));
    assert_eq!(f.members(GROUP), [ALICE, BOB]);
    let calls = f.common().calls();
    // The UPN lookup misses (alice's UPN is not her mail), then the mail filter finds her.
    assert!(
        calls
            .iter()
            .any(|c| c.uri.starts_with("/v1.0/users?") && c.uri.contains("mail+eq")),
        "{calls:?}"
    );
    let post = calls
        .iter()
        .find(|c| c.method == "POST" && c.uri.ends_with("/$ref"))
        .unwrap();
    assert_eq!(
        post.body["@odata.id"].as_str().unwrap(),
        format!("{}/v1.0/directoryObjects/{ALICE}", f.url())
    );
    assert!(
        post.authorization
            .as_deref()
            .unwrap()
            .starts_with("Bearer ")
    );

    let undone = g.revoke(&revoke_call(&call, &receipt)).await.unwrap();
    assert_eq!(undone.effect, GrantEffect::Applied);
    assert_eq!(f.members(GROUP), [BOB]);
}

#[tokio::test]
async fn already_a_member_and_already_gone_are_both_success() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(
        &entra_catalog(),
        &request_id(),
        identity(None, &[("entra", ALICE)]),
    );
    let first = g.grant(&call).await.unwrap();
    let again = g
        .grant(&call)
        .await
        .expect("Graph's 400 'already exist' is success");
    assert_eq!(again.effect, GrantEffect::AlreadyHeld);
    assert_eq!(again.holder.as_deref(), Some(ALICE));
    assert!(f.common().calls().iter().any(|c| c.status == 400));
    let revoke = revoke_call(&call, &first);
    g.revoke(&revoke).await.unwrap();
    let gone = g
        .revoke(&revoke)
        .await
        .expect("Graph's 404 on removal is success");
    assert_eq!(gone.effect, GrantEffect::AlreadyHeld);
    assert_eq!(f.members(GROUP), [BOB]);
}

#[tokio::test]
async fn throttling_429_and_503_are_retried_after_the_retry_after_wait() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(
        &entra_catalog(),
        &request_id(),
        identity(None, &[("entra", ALICE)]),
    );
    f.throttle(1, 429, 1);
    f.throttle(1, 503, 1);
    let started = Instant::now();
    g.grant(&call).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.members(GROUP), [ALICE, BOB]);
    f.throttle(1, 429, 600);
    let e = g.grant(&call).await.unwrap_err();
    assert!(
        matches!(e, GrantError::Transient(_)),
        "too long a wait: {e:?}"
    );
}

#[tokio::test]
async fn a_denied_call_and_a_wrong_client_secret_are_permanent() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(
        &entra_catalog(),
        &request_id(),
        identity(None, &[("entra", ALICE)]),
    );
    f.fault(Fault::on(
        Some(Method::POST),
        "/members/$ref",
        403,
        error(
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
    ));
    let e = g.grant(&call).await.unwrap_err();
    assert!(
        matches!(&e, GrantError::Permanent(m) if m.contains("Authorization_RequestDenied")),
        "{e:?}"
    );
    let e = grantor_with(&f, "wrong").grant(&call).await.unwrap_err();
    assert!(
        matches!(&e, GrantError::Permanent(m) if m.contains("invalid_client")),
        "{e:?}"
    );
    assert!(
        !format!("{e:?}").contains("wrong"),
        "the secret never shows"
    );
}

#[tokio::test]
async fn the_token_is_cached_and_refreshed_before_expiry_or_when_refused() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(
        &entra_catalog(),
        &request_id(),
        identity(None, &[("entra", ALICE)]),
    );
    g.grant(&call).await.unwrap();
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 1);
    f.common().expire_tokens();
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 2, "a refused token is replaced");
    f.common().expire_tokens();
    f.token_lifetime(Duration::from_secs(2));
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 3);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 4, "refreshed before it expired");
    let token_calls: Vec<_> = f
        .common()
        .calls()
        .into_iter()
        .filter(|c| c.uri.contains("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(token_calls[0].uri, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        token_calls[0].body.as_str().map(|b| b.contains("scope=")),
        Some(true)
    );
}

#[tokio::test]
async fn holders_follow_next_links_but_never_to_another_host() {
    let f = fake().await;
    let ids: Vec<String> = (0..5)
        .map(|i| format!("0000000{i}-0000-0000-0000-000000000000"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    f.group(GROUP, &refs);
    f.page_size(2);
    let g = grantor(&f);
    let cat = entra_catalog();
    assert_eq!(
        g.holders(cat.get("app").unwrap()).await.unwrap().unwrap(),
        ids
    );

    f.fault(Fault::on(
        Some(Method::GET),
        "/members",
        200,
        serde_json::json!({ "value": [], "@odata.nextLink": "https://evil.example/v1.0/steal" }),
    ));
    let e = g.holders(cat.get("app").unwrap()).await.unwrap_err();
    assert!(matches!(e, GrantError::Permanent(_)), "{e:?}");
}
