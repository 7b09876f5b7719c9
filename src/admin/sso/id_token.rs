//! ID-token validation (OpenID Connect Core §3.1.3.7) with the issuer's published keys.
//!
//! The key is looked up at the configured issuer, never at the token's own `iss`; the signature,
//! `iss` and `aud` are checked by jsonwebtoken, and the lifetime against Warden's clock (so a
//! test clock and a skewed host agree with the rest of Warden), then `azp` and the `nonce` of the
//! sign-in this token finishes. Errors carry a fixed reason, never token content.

use super::Refusal;
use crate::agents::jwks::{JwksCache, KeyError};
use crate::agents::verify::allowed;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 60;

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now_secs: i64,
    pub groups_claim: &'a str,
}

/// The claims a sign-in is decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub groups: Vec<String>,
    /// The provider's session id, for back-channel logout.
    pub sid: Option<String>,
}

fn bad(why: &'static str) -> Refusal {
    Refusal::BadIdToken(why)
}

pub async fn validate(
    token: &str,
    jwks: &JwksCache,
    want: &Expected<'_>,
) -> Result<IdClaims, Refusal> {
    let claims = verified(token, jwks, want.issuer, want.client_id).await?;
    check_claims(&claims, want)
}

/// A back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): who and which
/// provider session to sign out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub subject: Option<String>,
    pub sid: Option<String>,
}

const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token may be: replaying one only ends sessions again, and this bounds that
/// to sessions opened in the minutes after it was issued.
const LOGOUT_MAX_AGE_SECS: i64 = 120;

pub async fn validate_logout(
    token: &str,
    jwks: &JwksCache,
    issuer: &str,
    client_id: &str,
    now_secs: i64,
) -> Result<LogoutClaims, Refusal> {
    let claims = verified(token, jwks, issuer, client_id)
        .await
        .map_err(|e| match e {
            Refusal::BadIdToken(why) => Refusal::BadLogoutToken(why),
            other => other,
        })?;
    check_logout(&claims, now_secs)
}

fn check_logout(claims: &Value, now_secs: i64) -> Result<LogoutClaims, Refusal> {
    let bad = Refusal::BadLogoutToken;
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(bad("no issue time"))?;
    if iat - LEEWAY_SECS > now_secs || iat + LOGOUT_MAX_AGE_SECS + LEEWAY_SECS < now_secs {
        return Err(bad("issued too long ago or in the future"));
    }
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp + LEEWAY_SECS <= now_secs)
    {
        return Err(bad("expired"));
    }
    if claims
        .get("events")
        .and_then(|e| e.get(LOGOUT_EVENT))
        .is_none()
    {
        return Err(bad("not a logout event"));
    }
    // A nonce would make it an ID token, which must never be accepted as a logout token.
    if claims.get("nonce").is_some() {
        return Err(bad("carries a nonce"));
    }
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let out = LogoutClaims {
        subject: text("sub"),
        sid: text("sid"),
    };
    if out.subject.is_none() && out.sid.is_none() {
        return Err(bad("names neither a subject nor a session"));
    }
    Ok(out)
}

/// The claims of a token signed by one of the issuer's keys, issued by it for this client.
async fn verified(
    token: &str,
    jwks: &JwksCache,
    issuer: &str,
    client_id: &str,
) -> Result<Value, Refusal> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed token"))?;
    let alg = allowed(header.alg).ok_or(bad("token algorithm not allowed"))?;
    let kid = header.kid.ok_or(bad("token names no key (kid)"))?;
    let jwk = match jwks.key(issuer, &kid).await {
        Ok(k) => k,
        Err(KeyError::UnknownKid(_)) => return Err(bad("unknown signing key")),
        Err(e @ KeyError::Unavailable(_)) => {
            return Err(Refusal::ProviderUnavailable(e.to_string()));
        }
    };
    if jwk
        .common
        .key_algorithm
        .as_ref()
        .is_some_and(|ka| ka.to_string() != alg.as_str())
    {
        return Err(bad("token algorithm does not match its key"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("unusable signing key"))?;
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.set_issuer(&[issuer]);
    v.set_audience(&[client_id]);
    // `exp` and `sub` are required of ID tokens in `check_claims`; a logout token may lack both.
    v.set_required_spec_claims(&["iss", "aud"]);
    let claims: Value = jsonwebtoken::decode::<Value>(token, &key, &v)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            bad(match e.kind() {
                K::InvalidAudience => "token is for another client",
                K::InvalidIssuer => "token from another issuer",
                K::InvalidSignature => "bad signature",
                _ => "token rejected",
            })
        })?
        .claims;
    Ok(claims)
}

/// The checks after the signature: lifetime, authorized party, nonce, then the claims used.
fn check_claims(claims: &Value, want: &Expected<'_>) -> Result<IdClaims, Refusal> {
    let int = |k: &str| claims.get(k).and_then(Value::as_i64);
    let exp = int("exp").ok_or(bad("token has no expiry"))?;
    if exp + LEEWAY_SECS <= want.now_secs {
        return Err(bad("token expired"));
    }
    let iat = int("iat").ok_or(bad("token has no issue time"))?;
    if iat - LEEWAY_SECS > want.now_secs {
        return Err(bad("token issued in the future"));
    }
    // With several audiences the token must have been issued to us (§3.1.3.7 items 4–5).
    let several = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    let azp = claims.get("azp").and_then(Value::as_str);
    if (several || azp.is_some()) && azp != Some(want.client_id) {
        return Err(bad("token was issued to another client"));
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !crate::admin::tokens::constant_time_eq(nonce.as_bytes(), want.nonce.as_bytes()) {
        return Err(bad("token nonce does not match this sign-in"));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(bad("token has no subject"))?
        .to_string();
    let groups = match claims.get(want.groups_claim) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Ok(IdClaims {
        subject,
        email: claims
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string),
        // Only a JSON `true` counts: a string "true" is not a provider's verification.
        email_verified: claims.get("email_verified") == Some(&Value::Bool(true)),
        groups,
        sid: claims
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn want(now: i64) -> Expected<'static> {
        Expected {
            issuer: "https://idp.example.com",
            client_id: "warden",
            nonce: "n-123",
            now_secs: now,
            groups_claim: "groups",
        }
    }

    fn claims() -> Value {
        json!({ "iss": "https://idp.example.com", "aud": "warden", "sub": "u1", "exp": 2_000, "iat": 1_000, "nonce": "n-123", "groups": ["ops"], "email": "a@x", "email_verified": true })
    }

    #[test]
    fn a_good_token_yields_its_subject_groups_and_verified_email() {
        let c = check_claims(&claims(), &want(1_500)).unwrap();
        assert_eq!(c.subject, "u1");
        assert_eq!(c.groups, vec!["ops".to_string()]);
        assert!(c.email_verified);
    }

    #[test]
    fn expiry_issue_time_nonce_and_authorized_party_are_enforced() {
        let refused = |c: Value, now: i64| check_claims(&c, &want(now)).unwrap_err();
        assert_eq!(refused(claims(), 2_000 + LEEWAY_SECS), bad("token expired"));
        assert_eq!(
            refused(claims(), 1_000 - LEEWAY_SECS - 1),
            bad("token issued in the future")
        );
        let mut c = claims();
        c["nonce"] = json!("n-other");
        assert_eq!(
            refused(c, 1_500),
            bad("token nonce does not match this sign-in")
        );
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        assert_eq!(
            refused(c, 1_500),
            bad("token nonce does not match this sign-in")
        );
        let mut c = claims();
        c["aud"] = json!(["warden", "other"]);
        assert_eq!(
            refused(c.clone(), 1_500),
            bad("token was issued to another client")
        );
        c["azp"] = json!("warden");
        assert!(check_claims(&c, &want(1_500)).is_ok());
    }

    #[test]
    fn a_logout_token_must_be_recent_a_logout_event_without_a_nonce_naming_someone() {
        let ok = json!({ "iat": 1_000, "sid": "s1", "events": { LOGOUT_EVENT: {} } });
        assert_eq!(
            check_logout(&ok, 1_030),
            Ok(LogoutClaims {
                subject: None,
                sid: Some("s1".into())
            })
        );
        let bad = |v: Value, now: i64| check_logout(&v, now).is_err();
        assert!(
            bad(ok.clone(), 1_000 + LOGOUT_MAX_AGE_SECS + LEEWAY_SECS + 1),
            "stale"
        );
        let mut c = ok.clone();
        c["nonce"] = json!("n");
        assert!(bad(c, 1_030), "an ID token is not a logout token");
        let mut c = ok.clone();
        c["events"] = json!({});
        assert!(bad(c, 1_030));
        assert!(bad(
            json!({ "iat": 1_000, "events": { LOGOUT_EVENT: {} } }),
            1_030
        ));
    }

    #[test]
    fn an_email_verified_string_is_not_a_verification() {
        let mut c = claims();
        c["email_verified"] = json!("true");
        assert!(!check_claims(&c, &want(1_500)).unwrap().email_verified);
    }
}
