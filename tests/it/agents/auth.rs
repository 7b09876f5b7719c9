//! Workload tokens against a fake OIDC issuer with real keys: what verifies, and the 401 or 403
//! every other token gets.

use crate::support::fakes::oidc::{FakeIssuer, TestKey, hs256_with_public_key, unsigned_token};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use warden::agents::{AuthError, JwksCache, JwksOptions, WorkloadVerifier};
use warden::domain::{AgentRegistry, Catalog};

pub const AUDIENCE: &str = "https://warden.test";
pub const SUBJECT: &str = "repo:acme/billing:ref:refs/heads/main";

/// A registry with one GitHub-Actions-like agent bound to `issuer`, and a disabled one.
pub fn registry(issuer: &str) -> AgentRegistry {
    let text = format!(
        r#"
[[agent]]
id = "ci-migrate"
name = "Billing migrations"
owner = "carol"
max_duration = "30m"
[agent.workload]
issuer = "{issuer}"
audience = "{AUDIENCE}"
subject = "{SUBJECT}"
claims = {{ repository = "acme/billing", job_workflow_ref = "acme/billing/.github/workflows/migrate.yml@refs/heads/main", "kubernetes.io/namespace" = "ci" }}
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]

[[agent]]
id = "retired"
name = "Retired job"
owner = "carol"
enabled = false
[agent.workload]
issuer = "{issuer}"
audience = "{AUDIENCE}"
subject = "repo:acme/old:ref:refs/heads/main"
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]
"#
    );
    let catalog = Catalog::from_toml(warden::examples::EXAMPLE_CATALOG).unwrap();
    AgentRegistry::from_toml(&text, &catalog).unwrap()
}

pub fn verifier_with(issuer: &str, min_refresh: Duration) -> (WorkloadVerifier, Arc<JwksCache>) {
    warden::http_client::install_crypto();
    let http = warden::http_client::client(warden::http_client::HttpOptions::new(
        Duration::from_secs(5),
    ))
    .unwrap();
    let jwks = Arc::new(JwksCache::new(
        http,
        JwksOptions {
            cache_for: Duration::from_secs(600),
            min_refresh,
        },
        vec![],
    ));
    let v = WorkloadVerifier::new(Arc::new(registry(issuer)), jwks.clone(), 30);
    (v, jwks)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims GitHub Actions would put in a token for the registered job.
pub fn good_claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "exp": now() + 300,
        "nbf": now() - 5,
        "iat": now() - 5,
        "jti": "run-1",
        "repository": "acme/billing",
        "job_workflow_ref": "acme/billing/.github/workflows/migrate.yml@refs/heads/main",
        "kubernetes.io": {"namespace": "ci"},
        "actor": "some-person",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn unauthenticated(r: Result<warden::agents::VerifiedAgent, AuthError>) -> &'static str {
    match r {
        Err(AuthError::Unauthenticated(why)) => why,
        other => panic!("expected a 401, got {other:?}"),
    }
}

#[tokio::test]
async fn rs256_and_es256_tokens_of_a_registered_agent_verify_with_the_claims_used() {
    let rsa = TestKey::generate("rsa-1", Algorithm::RS256);
    let ec = TestKey::generate("ec-1", Algorithm::ES256);
    let issuer = FakeIssuer::start(&[&rsa, &ec]).await;
    let (v, _) = verifier_with(&issuer.issuer(), Duration::from_secs(30));
    for key in [&rsa, &ec] {
        let token = key.sign(&good_claims(&issuer.issuer()));
        let got = v
            .verify_header(Some(&format!("Bearer {token}")))
            .await
            .unwrap();
        assert_eq!(got.agent.id, "ci-migrate");
        assert_eq!(got.claims["sub"], SUBJECT);
        assert_eq!(got.claims["repository"], "acme/billing");
        assert_eq!(got.claims["kubernetes.io/namespace"], "ci");
        assert_eq!(got.claims["jti"], "run-1");
        // Only what the decision used is kept: not the rest of the token.
        assert!(got.claims.get("actor").is_none(), "{}", got.claims);
    }
    assert_eq!(issuer.jwks_fetches(), 1, "the key set is cached");
}

#[tokio::test]
async fn expired_early_wrong_audience_and_wrong_issuer_tokens_are_401() {
    let rsa = TestKey::generate("rsa-1", Algorithm::RS256);
    let issuer = FakeIssuer::start(&[&rsa]).await;
    let iss = issuer.issuer();
    let (v, _) = verifier_with(&iss, Duration::from_secs(30));
    let good = good_claims(&iss);
    let cases = [
        (
            with(good.clone(), "exp", json!(now() - 120)),
            "token expired",
        ),
        (
            with(good.clone(), "nbf", json!(now() + 120)),
            "token not yet valid",
        ),
        (
            with(good.clone(), "aud", json!("https://other.example")),
            "token is for another audience",
        ),
        (
            with(good.clone(), "iss", json!("https://issuer.elsewhere")),
            "unknown agent",
        ),
        (
            with(good.clone(), "iss", json!(format!("{iss}/"))),
            "unknown agent",
        ),
    ];
    for (claims, want) in cases {
        assert_eq!(
            unauthenticated(v.verify(&rsa.sign(&claims)).await),
            want,
            "{claims}"
        );
    }
    // Within the leeway is still fine.
    let skewed = with(good.clone(), "exp", json!(now() - 10));
    assert!(v.verify(&rsa.sign(&skewed)).await.is_ok());
    // A token with no expiry at all is refused.
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        unauthenticated(v.verify(&rsa.sign(&no_exp)).await),
        "token rejected"
    );
}

#[tokio::test]
async fn a_resource_verifier_takes_only_tokens_for_its_resource_with_the_same_binding() {
    let rsa = TestKey::generate("rsa-1", Algorithm::RS256);
    let issuer = FakeIssuer::start(&[&rsa]).await;
    let iss = issuer.issuer();
    let (api, jwks) = verifier_with(&iss, Duration::from_secs(30));
    let mcp = WorkloadVerifier::new(Arc::new(registry(&iss)), jwks, 30)
        .for_resource("https://warden.test/mcp");
    let for_mcp = with(good_claims(&iss), "aud", json!("https://warden.test/mcp"));
    let got = mcp.verify(&rsa.sign(&for_mcp)).await.unwrap();
    assert_eq!(got.agent.id, "ci-migrate");
    assert_eq!(got.claims["aud"], "https://warden.test/mcp");
    // An audience list naming the resource is fine too (RFC 7519 §4.1.3).
    let both = with(
        good_claims(&iss),
        "aud",
        json!([AUDIENCE, "https://warden.test/mcp"]),
    );
    assert!(mcp.verify(&rsa.sign(&both)).await.is_ok());
    // Each surface refuses the other's token.
    assert_eq!(
        unauthenticated(mcp.verify(&rsa.sign(&good_claims(&iss))).await),
        "token is for another audience"
    );
    assert_eq!(
        unauthenticated(api.verify(&rsa.sign(&for_mcp)).await),
        "token is for another audience"
    );
    // The binding still applies: claims that do not match are a 403 here too.
    let wrong_repo = with(for_mcp, "repository", json!("acme/other"));
    assert!(matches!(
        mcp.verify(&rsa.sign(&wrong_repo)).await,
        Err(AuthError::Forbidden(_))
    ));
}

#[tokio::test]
async fn alg_none_hmac_with_the_public_key_and_a_foreign_key_are_401() {
    let rsa = TestKey::generate("rsa-1", Algorithm::RS256);
    let issuer = FakeIssuer::start(&[&rsa]).await;
    let claims = good_claims(&issuer.issuer());
    let (v, _) = verifier_with(&issuer.issuer(), Duration::from_secs(30));
    assert_eq!(
        unauthenticated(v.verify(&unsigned_token("rsa-1", &claims)).await),
        "malformed token"
    );
    assert_eq!(
        unauthenticated(v.verify(&hs256_with_public_key(&rsa, &claims)).await),
        "token algorithm not allowed"
    );
    // Signed by a key the issuer never published, under the published key's id.
    let mut forged = TestKey::generate("rsa-1", Algorithm::RS256);
    forged.kid = "rsa-1".into();
    assert_eq!(
        unauthenticated(v.verify(&forged.sign(&claims)).await),
        "bad signature"
    );
    assert_eq!(
        unauthenticated(v.verify_header(None).await),
        "a bearer token is required"
    );
    assert_eq!(
        unauthenticated(v.verify_header(Some("Basic dXNlcjpwYXNz")).await),
        "a bearer token is required"
    );
}

#[tokio::test]
async fn unknown_kids_refresh_the_key_set_at_most_once_per_bound() {
    let rsa = TestKey::generate("rsa-1", Algorithm::RS256);
    let issuer = FakeIssuer::start(&[&rsa]).await;
    let (v, jwks) = verifier_with(&issuer.issuer(), Duration::from_secs(60));
    let claims = good_claims(&issuer.issuer());
    assert!(v.verify(&rsa.sign(&claims)).await.is_ok());
    for i in 0..20 {
        let mut stranger = rsa.clone();
        stranger.kid = format!("made-up-{i}");
        assert_eq!(
            unauthenticated(v.verify(&stranger.sign(&claims)).await),
            "unknown signing key"
        );
    }
    assert_eq!(
        issuer.jwks_fetches(),
        1,
        "unknown kids within the bound fetch nothing"
    );
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_a_withdrawn_one_stops_working() {
    let old = TestKey::generate("2026-01", Algorithm::RS256);
    let new = TestKey::generate("2026-02", Algorithm::ES256);
    let issuer = FakeIssuer::start(&[&old]).await;
    let (v, _) = verifier_with(&issuer.issuer(), Duration::ZERO);
    let claims = good_claims(&issuer.issuer());
    assert!(v.verify(&old.sign(&claims)).await.is_ok());
    issuer.publish(&[&new]);
    let got = v.verify(&new.sign(&claims)).await.unwrap();
    assert_eq!(got.agent.id, "ci-migrate");
    assert_eq!(issuer.jwks_fetches(), 2);
    // The old key is gone from the set Warden now holds.
    assert_eq!(
        unauthenticated(v.verify(&old.sign(&claims)).await),
        "unknown signing key"
    );
}

#[tokio::test]
async fn an_unknown_subject_is_401_and_claims_that_do_not_match_or_a_disabled_agent_are_403() {
    let rsa = TestKey::generate("rsa-1", Algorithm::RS256);
    let issuer = FakeIssuer::start(&[&rsa]).await;
    let (v, _) = verifier_with(&issuer.issuer(), Duration::from_secs(30));
    let good = good_claims(&issuer.issuer());
    let stranger = with(
        good.clone(),
        "sub",
        json!("repo:evil/fork:ref:refs/heads/main"),
    );
    assert_eq!(
        unauthenticated(v.verify(&rsa.sign(&stranger)).await),
        "unknown agent"
    );

    let other_workflow = with(
        good.clone(),
        "job_workflow_ref",
        json!("acme/billing/.github/workflows/yolo.yml@refs/heads/main"),
    );
    let err = v.verify(&rsa.sign(&other_workflow)).await.unwrap_err();
    assert_eq!(err.status(), 403);
    let text = err.to_string();
    assert!(text.contains("job_workflow_ref"), "{text}");
    assert!(
        !text.contains("yolo"),
        "claim values are not echoed: {text}"
    );

    let wrong_namespace = with(good.clone(), "kubernetes.io", json!({"namespace": "prod"}));
    assert_eq!(
        v.verify(&rsa.sign(&wrong_namespace))
            .await
            .unwrap_err()
            .status(),
        403
    );

    let retired = with(
        good.clone(),
        "sub",
        json!("repo:acme/old:ref:refs/heads/main"),
    );
    let err = v.verify(&rsa.sign(&retired)).await.unwrap_err();
    assert_eq!(
        err,
        AuthError::Forbidden("agent retired is disabled".into())
    );
}
