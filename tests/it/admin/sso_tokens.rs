//! ID-token validation against an issuer's keys over real HTTP (discovery + JWKS): a token from
//! another issuer, for another client, expired, signed by an unpublished key, with `alg: none`
//! or HS256 keyed with the public key, each refused; a good one yields its claims.

use crate::support::fakes::oidc::{FakeIssuer, TestKey, hs256_with_public_key, unsigned_token};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use std::time::Duration;
use warden::admin::sso::Refusal;
use warden::admin::sso::id_token::{Expected, validate};
use warden::agents::jwks::{JwksCache, JwksOptions};

const NOW: i64 = 1_900_000_000;

fn cache() -> JwksCache {
    warden::app::install_crypto();
    JwksCache::new(
        reqwest::Client::new(),
        JwksOptions {
            cache_for: Duration::from_secs(3600),
            min_refresh: Duration::from_secs(0),
        },
        Vec::new(),
    )
}

fn claims(issuer: &str) -> Value {
    json!({ "iss": issuer, "aud": "warden", "sub": "idp-dana", "iat": NOW - 10, "exp": NOW + 3600,
            "nonce": "n-1", "groups": ["warden-admins"], "email": "dana@example.com", "email_verified": true })
}

fn expected(issuer: &str) -> Expected<'_> {
    Expected {
        issuer,
        client_id: "warden",
        nonce: "n-1",
        now_secs: NOW,
        groups_claim: "groups",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_token_signed_by_the_issuer_for_this_client_and_still_valid_is_accepted() {
    let key = TestKey::generate("k1", Algorithm::RS256);
    let ec = TestKey::generate("k2", Algorithm::ES256);
    let issuer = FakeIssuer::start(&[&key, &ec]).await;
    let other = FakeIssuer::start(&[&key]).await;
    let iss = issuer.issuer();
    let jwks = cache();
    let check = |token: String| {
        let jwks = &jwks;
        let iss = iss.clone();
        async move { validate(&token, jwks, &expected(&iss)).await }
    };

    let good = check(key.sign(&claims(&iss))).await.expect("a good token");
    assert_eq!(good.subject, "idp-dana");
    assert_eq!(good.groups, vec!["warden-admins".to_string()]);
    assert!(check(ec.sign(&claims(&iss))).await.is_ok(), "ES256 too");

    let refused = |why: &'static str| Err(Refusal::BadIdToken(why));
    // Signed with a key the configured issuer publishes, but issued by another issuer.
    assert_eq!(
        check(key.sign(&claims(&other.issuer()))).await.map(|_| ()),
        refused("token from another issuer")
    );
    let mut c = claims(&iss);
    c["aud"] = json!("another-client");
    assert_eq!(
        check(key.sign(&c)).await.map(|_| ()),
        refused("token is for another client")
    );
    let mut c = claims(&iss);
    c["exp"] = json!(NOW - 120);
    assert_eq!(
        check(key.sign(&c)).await.map(|_| ()),
        refused("token expired")
    );
    let stranger = TestKey::generate("k9", Algorithm::RS256);
    assert_eq!(
        check(stranger.sign(&claims(&iss))).await.map(|_| ()),
        refused("unknown signing key")
    );
    let mut impostor = TestKey::generate("k1", Algorithm::RS256);
    impostor.kid = "k1".into();
    assert_eq!(
        check(impostor.sign(&claims(&iss))).await.map(|_| ()),
        refused("bad signature")
    );
    assert_eq!(
        check(unsigned_token("k1", &claims(&iss))).await.map(|_| ()),
        refused("malformed token")
    );
    assert_eq!(
        check(hs256_with_public_key(&key, &claims(&iss)))
            .await
            .map(|_| ()),
        refused("token algorithm not allowed")
    );
}
