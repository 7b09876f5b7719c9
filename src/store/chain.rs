//! How a context-log entry's hash is made: unkeyed SHA-256 (older entries) or HMAC-SHA256 with
//! the chain key, which lives in config/env/file and never in the database.
//!
//! Without a key, anyone who can write the database can recompute a chain end to end; with one,
//! a recomputed keyed entry no longer verifies. Each entry records its scheme, so logs written
//! before the key was configured still verify, and a chain may go from unkeyed to keyed but
//! never back.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The secret that keys the chain. Never printed, never stored with the evidence.
#[derive(Clone)]
pub struct ChainKey(Arc<SecretBox<Vec<u8>>>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(redacted)")
    }
}

/// Fewest bytes a chain key may have: it must not be guessable offline.
pub const MIN_KEY_BYTES: usize = 32;

impl ChainKey {
    /// From `evidence.chain_key` (or its file); `None` when unset or empty.
    pub fn from_setting(secret: Option<&SecretString>) -> Option<Self> {
        let s = secret?.expose_secret().trim();
        (!s.is_empty()).then(|| Self::from_bytes(s.as_bytes()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Arc::new(SecretBox::new(Box::new(bytes.to_vec()))))
    }

    /// HMAC-SHA256 of `message` under this key, hex.
    pub fn mac_hex(&self, message: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes any key length");
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// How an entry's hash was computed (the `scheme` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `sha256(message)`: every entry written without a chain key.
    Sha256,
    /// `hmac_sha256(chain_key, message)`.
    HmacSha256,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::HmacSha256 => "hmac-sha256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(Self::Sha256),
            "hmac-sha256" => Some(Self::HmacSha256),
            _ => None,
        }
    }

    /// What Warden writes with this key (or without one).
    pub fn for_key(key: Option<&ChainKey>) -> Self {
        match key {
            Some(_) => Self::HmacSha256,
            None => Self::Sha256,
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The fields an entry's hash covers.
pub struct Link<'a> {
    pub prev: &'a str,
    pub request_id: &'a str,
    pub seq: i64,
    pub at: i64,
    pub kind: &'a str,
    pub actor: &'a str,
    pub payload_digest: &'a str,
}

impl Link<'_> {
    fn message(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.prev,
            self.request_id,
            self.seq,
            self.at,
            self.kind,
            self.actor,
            self.payload_digest
        )
    }

    /// The entry's hash under `scheme`; `None` for a keyed scheme without the key.
    pub fn hash(&self, scheme: Scheme, key: Option<&ChainKey>) -> Option<String> {
        let message = self.message();
        match scheme {
            Scheme::Sha256 => Some(sha256_hex(message.as_bytes())),
            Scheme::HmacSha256 => key.map(|k| k.mac_hex(message.as_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link<'static> {
        Link {
            prev: "",
            request_id: "AR-1",
            seq: 1,
            at: 5,
            kind: "message_in",
            actor: "alice",
            payload_digest: "d",
        }
    }

    #[test]
    fn a_keyed_hash_depends_on_the_key_and_differs_from_the_unkeyed_one() {
        let (a, b) = (
            ChainKey::from_bytes(b"key-a"),
            ChainKey::from_bytes(b"key-b"),
        );
        let l = link();
        let ka = l.hash(Scheme::HmacSha256, Some(&a)).unwrap();
        assert_ne!(ka, l.hash(Scheme::HmacSha256, Some(&b)).unwrap());
        assert_ne!(ka, l.hash(Scheme::Sha256, None).unwrap());
        assert_eq!(
            l.hash(Scheme::HmacSha256, None),
            None,
            "no key, no keyed hash"
        );
    }

    #[test]
    fn the_key_never_prints() {
        let k = ChainKey::from_setting(Some(&SecretString::from("s3cret-chain-key"))).unwrap();
        assert!(!format!("{k:?}").contains("s3cret"));
        assert!(ChainKey::from_setting(Some(&SecretString::from("  "))).is_none());
    }
}
