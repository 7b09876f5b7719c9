//! Signed session cookies and the CSRF tokens bound to them.
//!
//! A session is `base64url(json) "." base64url(HMAC-SHA256(key, json))`, carrying the token's
//! name, a random session id and an expiry. Nothing secret is in it; it points at the session
//! held in the store (`auth`), which sign-out and token removal or rotation end, and the role is
//! looked up again on every request. The CSRF token of a session is `HMAC(key, "csrf" sid)`: a
//! synchronizer token a cross-site page cannot compute, checked on every state-changing form.

use super::tokens::constant_time_eq;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const SESSION_COOKIE: &str = "warden_session";
/// Holds a random nonce from the sign-in page so the sign-in form has a CSRF token too.
pub const SIGNIN_COOKIE: &str = "warden_signin";
pub const SESSION_HOURS: i64 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The token's name in the tokens file.
    pub name: String,
    pub sid: String,
    /// Expiry, epoch milliseconds.
    pub exp: i64,
}

/// The key that signs cookies and derives CSRF tokens.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl SessionKey {
    /// From `admin.session_secret`; unset, a random key for this process (sessions end on restart).
    pub fn from_setting(secret: Option<&SecretString>) -> Self {
        match secret {
            Some(s) if !s.expose_secret().is_empty() => Self(s.expose_secret().as_bytes().to_vec()),
            _ => {
                tracing::warn!(
                    "admin.session_secret is not set: using a random key, so admin sessions end when Warden restarts and are not shared between instances"
                );
                Self(rand::random::<[u8; 32]>().to_vec())
            }
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for p in parts {
            mac.update(p);
            mac.update(b"\n");
        }
        mac.finalize().into_bytes().to_vec()
    }

    pub fn new_session(&self, name: &str, now_ms: i64) -> Session {
        Session {
            name: name.to_string(),
            sid: random_id(),
            exp: now_ms + SESSION_HOURS * 3600 * 1000,
        }
    }

    pub fn encode(&self, s: &Session) -> String {
        let json = serde_json::to_vec(s).unwrap_or_default();
        format!(
            "{}.{}",
            B64.encode(&json),
            B64.encode(self.mac(&[b"session", &json]))
        )
    }

    /// The session in a cookie value, if the signature holds and it has not expired.
    pub fn decode(&self, value: &str, now_ms: i64) -> Option<Session> {
        let (body, sig) = value.split_once('.')?;
        let json = B64.decode(body).ok()?;
        let sig = B64.decode(sig).ok()?;
        if !constant_time_eq(&sig, &self.mac(&[b"session", &json])) {
            return None;
        }
        let s: Session = serde_json::from_slice(&json).ok()?;
        (s.exp > now_ms).then_some(s)
    }

    pub fn csrf_for(&self, s: &Session) -> String {
        B64.encode(self.mac(&[b"csrf", s.sid.as_bytes()]))
    }

    pub fn signin_csrf(&self, nonce: &str) -> String {
        B64.encode(self.mac(&[b"signin", nonce.as_bytes()]))
    }
}

pub fn random_id() -> String {
    B64.encode(rand::random::<[u8; 18]>())
}

/// Equal CSRF tokens, compared in constant time.
pub fn csrf_matches(expected: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| constant_time_eq(expected.as_bytes(), p.as_bytes()))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/admin, Secure when served over https.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// One cookie's value from a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_setting(Some(&SecretString::from("test-secret")))
    }

    #[test]
    fn a_session_round_trips_and_expires() {
        let k = key();
        let s = k.new_session("ops", 1_000);
        let v = k.encode(&s);
        assert_eq!(k.decode(&v, 2_000), Some(s.clone()));
        assert_eq!(k.decode(&v, s.exp + 1), None, "expired");
    }

    #[test]
    fn a_tampered_or_foreign_session_is_refused() {
        let k = key();
        let v = k.encode(&k.new_session("viewer", 0));
        let forged = Session {
            name: "admin".into(),
            sid: "x".into(),
            exp: i64::MAX,
        };
        let body = B64.encode(serde_json::to_vec(&forged).unwrap());
        let sig = v.split_once('.').unwrap().1;
        assert_eq!(k.decode(&format!("{body}.{sig}"), 1), None);
        let other = SessionKey::from_setting(Some(&SecretString::from("another")));
        assert_eq!(other.decode(&v, 1), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_are_checked_exactly() {
        let k = key();
        let (a, b) = (k.new_session("ops", 0), k.new_session("ops", 0));
        assert_ne!(k.csrf_for(&a), k.csrf_for(&b));
        assert!(csrf_matches(&k.csrf_for(&a), Some(&k.csrf_for(&a))));
        assert!(!csrf_matches(&k.csrf_for(&a), Some(&k.csrf_for(&b))));
        assert!(!csrf_matches(&k.csrf_for(&a), None));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = Some("a=1; warden_session=abc.def; warden_session2=zzz");
        assert_eq!(cookie(h, SESSION_COOKIE), Some("abc.def"));
        assert_eq!(cookie(h, "missing"), None);
    }
}
