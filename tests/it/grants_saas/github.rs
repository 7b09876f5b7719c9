//! The `github` backend against the fake GitHub API, through a GitHub App installation.

use super::{catalog, grant_call, identity, request_id, revoke_call};
use crate::support::fakes::github::{APP_ID, FakeGitHub, INSTALLATION, ORG};
use crate::support::fakes::saas::{Fault, PRIVATE_KEY};
use axum::http::Method;
use std::time::{Duration, Instant};
use warden::domain::{Catalog, GrantEffect, PriorAccess};
use warden::grants::saas::github::GitHubGrantor;
use warden::grants::{GrantError, Grantor};

const TEAM: &str = "prod-readers";

pub fn github_catalog() -> Catalog {
    catalog(&format!(
        r#"{{ backend = "github", org = "{ORG}", team = "{TEAM}" }}"#
    ))
}

async fn fake() -> FakeGitHub {
    let f = FakeGitHub::start().await;
    f.user("Alice-GH", true);
    f.user("bob-gh", true);
    f.user("outsider", false);
    f.team(TEAM, &["bob-gh"]);
    f
}

pub fn grantor(f: &FakeGitHub) -> GitHubGrantor {
    warden::app::install_crypto();
    let mut s: warden::config::GitHubSettings = toml::from_str(&format!(
        "app_id = \"{APP_ID}\"\ninstallation_id = {INSTALLATION}\napi_url = \"{}\"\nmax_retry_wait_secs = 5\ntimeout_ms = 2000",
        f.url()
    ))
    .unwrap();
    s.private_key = Some(PRIVATE_KEY.to_string().into());
    warden::grants::saas::setup::github(&s, &[]).unwrap()
}

fn alice() -> warden::grants::TargetIdentity {
    identity(Some("alice@example.com"), &[("github", "Alice-GH")])
}

#[tokio::test]
async fn a_grant_adds_the_login_to_the_team_and_the_revoke_removes_it() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(&github_catalog(), &request_id(), alice());
    assert_eq!(g.observe(&call).await.unwrap(), Some(PriorAccess::Absent));
    let receipt = g.grant(&call).await.unwrap();
    assert_eq!(receipt.holder.as_deref(), Some("alice-gh"));
    assert_eq!(receipt.detail["state"], "active");
    assert_eq!(
        f.members(TEAM).keys().collect::<Vec<_>>(),
        ["alice-gh", "bob-gh"]
    );
    let put = f
        .common()
        .calls()
        .into_iter()
        .find(|c| c.method == "PUT")
        .unwrap();
    assert_eq!(
        put.uri,
        format!("/orgs/{ORG}/teams/{TEAM}/memberships/alice-gh")
    );
    assert_eq!(put.body["role"], "member");
    assert!(put.authorization.unwrap().starts_with("Bearer ghs_"));
    let holders = g
        .holders(github_catalog().get("app").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holders, ["alice-gh", "bob-gh"]);

    let undone = g.revoke(&revoke_call(&call, &receipt)).await.unwrap();
    assert_eq!(undone.effect, GrantEffect::Applied);
    assert_eq!(f.members(TEAM).keys().collect::<Vec<_>>(), ["bob-gh"]);
}

#[tokio::test]
async fn a_repeated_grant_and_a_revoke_of_what_is_gone_succeed() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(&github_catalog(), &request_id(), alice());
    let first = g.grant(&call).await.unwrap();
    g.grant(&call).await.unwrap();
    assert_eq!(f.members(TEAM).len(), 2);
    let revoke = revoke_call(&call, &first);
    g.revoke(&revoke).await.unwrap();
    let gone = g.revoke(&revoke).await.expect("404 on removal is success");
    assert_eq!(gone.effect, GrantEffect::AlreadyHeld);
    let bob = grant_call(
        &github_catalog(),
        &request_id(),
        identity(None, &[("github", "bob-gh")]),
    );
    assert_eq!(g.observe(&bob).await.unwrap(), Some(PriorAccess::Held));
}

#[tokio::test]
async fn secondary_and_primary_rate_limits_are_waited_out() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(&github_catalog(), &request_id(), alice());
    f.secondary_limit(1, 1);
    f.primary_limit(1, 1);
    let started = Instant::now();
    g.grant(&call).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.members(TEAM).len(), 2);
    f.secondary_limit(1, 900);
    let e = g.grant(&call).await.unwrap_err();
    assert!(matches!(e, GrantError::Transient(_)), "{e:?}");
}

#[tokio::test]
async fn an_unknown_login_and_a_plain_forbidden_are_permanent() {
    let f = fake().await;
    let g = grantor(&f);
    let ghost = grant_call(
        &github_catalog(),
        &request_id(),
        identity(None, &[("github", "ghost-user")]),
    );
    let e = g.grant(&ghost).await.unwrap_err();
    assert!(matches!(e, GrantError::Permanent(_)), "{e:?}");
    f.fault(Fault::on(
        Some(Method::PUT),
        "/memberships/",
        403,
        serde_json::json!({ "message": "Resource not accessible by integration" }),
    ));
    let e = g
        .grant(&grant_call(&github_catalog(), &request_id(), alice()))
        .await
        .unwrap_err();
    assert!(matches!(e, GrantError::Permanent(_)), "{e:?}");
    // Someone outside the organisation is invited: the membership is pending.
    let outsider = grant_call(
        &github_catalog(),
        &request_id(),
        identity(None, &[("github", "outsider")]),
    );
    assert_eq!(g.grant(&outsider).await.unwrap().detail["state"], "pending");
}

#[tokio::test]
async fn the_installation_token_is_cached_until_near_expiry_and_replaced_when_refused() {
    let f = fake().await;
    let g = grantor(&f);
    let call = grant_call(&github_catalog(), &request_id(), alice());
    g.grant(&call).await.unwrap();
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 1);
    let token_call = f
        .common()
        .calls()
        .into_iter()
        .find(|c| c.uri.starts_with("/app/"))
        .unwrap();
    assert_eq!(
        token_call.uri,
        format!("/app/installations/{INSTALLATION}/access_tokens")
    );
    assert_eq!(token_call.status, 201, "the app JWT verified");

    f.common().expire_tokens();
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 2, "a refused token is replaced");

    f.common().expire_tokens();
    f.token_lifetime(Duration::from_secs(3));
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 3);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    g.grant(&call).await.unwrap();
    assert_eq!(f.common().issued(), 4, "refreshed before its expires_at");
}

#[tokio::test]
async fn team_members_are_read_across_pages() {
    let f = fake().await;
    let logins: Vec<String> = (0..5).map(|i| format!("user-{i}")).collect();
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    f.team(TEAM, &refs);
    f.page_size(2);
    let g = grantor(&f);
    let holders = g
        .holders(github_catalog().get("app").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holders, logins);
}

#[tokio::test]
async fn email_alone_does_not_name_a_github_account() {
    let dir =
        warden::directory::file::FileDirectory::from_toml(warden::app::EXAMPLE_DIRECTORY).unwrap();
    let alice = dir.people().find(|p| p.id == "alice").unwrap().clone();
    let cat = github_catalog();
    let f = fake().await;
    let refused = grantor(&f)
        .check_person(&alice, cat.get("app").unwrap())
        .unwrap_err();
    assert!(refused.contains("GitHub"), "{refused}");
}
