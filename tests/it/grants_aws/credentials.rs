//! Web identity credentials: the token file exchanged at STS, the session keys signing calls,
//! kept while fresh and exchanged again (re-reading the rotated file) near their expiry.

use super::{ALICE, call, grantor_with, settings};
use crate::support::fakes::aws::{self, FakeAws, Fault};
use warden::grants::aws::credentials::CredentialSource;
use warden::grants::{GrantError, GrantOp, Grantor};

fn web_identity(file: &std::path::Path) -> CredentialSource {
    CredentialSource::from_vars(
        |k| match k {
            "AWS_WEB_IDENTITY_TOKEN_FILE" => Some(file.display().to_string()),
            "AWS_ROLE_ARN" => Some(aws::ROLE_ARN.into()),
            _ => None,
        },
        "warden",
    )
    .unwrap()
}

#[tokio::test]
async fn a_web_identity_token_becomes_session_keys_that_are_reused_while_fresh() {
    let fake = FakeAws::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "eyJ.first-token.sig\n").unwrap();
    let g = grantor_with(&settings(&fake), web_identity(&file));
    let grant = call(GrantOp::Grant, None, Some(ALICE));
    g.grant(&grant).await.unwrap();
    g.observe(&grant).await.unwrap();
    assert_eq!(
        fake.sts_tokens(),
        ["eyJ.first-token.sig"],
        "one exchange, token trimmed"
    );
    let signed: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.operation != "AssumeRoleWithWebIdentity")
        .collect();
    assert!(!signed.is_empty());
    for c in &signed {
        let s = c
            .signed
            .as_ref()
            .expect("verified with the session's secret and token");
        assert!(s.access_key_id.starts_with("ASIAFAKESTS"), "{s:?}");
        assert!(s.signed_headers.iter().any(|h| h == "x-amz-security-token"));
    }
    let sts = &fake.calls()[0];
    assert_eq!(sts.body["RoleArn"], aws::ROLE_ARN);
    assert_eq!(sts.body["RoleSessionName"], "warden");
}

#[tokio::test]
async fn keys_near_their_expiry_are_exchanged_again_with_the_rotated_token() {
    let fake = FakeAws::start().await;
    // Shorter than the five minutes' margin: stale as soon as they arrive.
    fake.sts_lifetime_secs(240);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "token-1").unwrap();
    let g = grantor_with(&settings(&fake), web_identity(&file));
    let grant = call(GrantOp::Grant, None, Some(ALICE));
    g.observe(&grant).await.unwrap();
    std::fs::write(&file, "token-2").unwrap();
    g.observe(&grant).await.unwrap();
    assert_eq!(fake.sts_tokens(), ["token-1", "token-2"]);
    let keys: Vec<String> = fake
        .calls()
        .iter()
        .filter_map(|c| c.signed.as_ref().ok().map(|s| s.access_key_id.clone()))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(
        keys[0], keys[1],
        "each call signed with the keys it was given"
    );
}

#[tokio::test]
async fn a_token_sts_refuses_is_permanent_and_a_throttled_exchange_transient() {
    let fake = FakeAws::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "expired-or-forged").unwrap();
    let g = grantor_with(&settings(&fake), web_identity(&file));
    let grant = call(GrantOp::Grant, None, Some(ALICE));
    fake.fault(
        "AssumeRoleWithWebIdentity",
        Fault::Refuse("InvalidIdentityToken"),
    );
    let err = g.grant(&grant).await.unwrap_err();
    assert!(
        matches!(err, GrantError::Permanent(ref m) if m.contains("InvalidIdentityToken")),
        "{err:?}"
    );
    fake.fault("AssumeRoleWithWebIdentity", Fault::Throttle(None));
    let err = g.grant(&grant).await.unwrap_err();
    assert!(matches!(err, GrantError::Transient(_)), "{err:?}");
    assert_eq!(
        fake.count("CreateAccountAssignment"),
        0,
        "nothing unsigned went out"
    );
    g.grant(&grant).await.unwrap();
    assert!(fake.holds(ALICE));
}
