//! Sealing a credential an agent fetches later: ChaCha20-Poly1305 under a configured key, bound to its request.
//!
//! The store holds only the sealed bytes (`nonce ‖ ciphertext ‖ tag`), and only until the
//! agent's first status read takes them. The request id is the associated data, so a sealed
//! credential moved to another request's row does not open.

use super::Credential;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Bytes in a key: 256 bits, written as 64 hex digits in config.
pub const KEY_BYTES: usize = 32;

/// Why sealing or opening failed. Never carries the secret or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the credential key must be 64 hex digits (32 bytes; try `openssl rand -hex 32`)")]
    BadKey,
    #[error("the sealed credential does not open with this key for this request")]
    DoesNotOpen,
    #[error("no randomness for a nonce")]
    NoRandomness,
}

/// The key credentials for agents are sealed with (`agents.credential_key`).
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

/// What is sealed: the credential's fields, the password and connection string included.
#[derive(Serialize, Deserialize)]
struct Plain {
    username: String,
    password: String,
    connection: String,
    valid_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl SealingKey {
    /// The key from its configured form: 64 hex digits.
    pub fn parse(hex_key: &str) -> Result<Self, SealError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != KEY_BYTES {
            return Err(SealError::BadKey);
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Seals `credential` for `request` under a fresh random nonce.
    pub fn seal(&self, credential: &Credential, request: &str) -> Result<Vec<u8>, SealError> {
        let plain = Plain {
            username: credential.username.clone(),
            password: credential.password.expose_secret().to_string(),
            connection: credential.connection.expose_secret().to_string(),
            valid_until: credential.valid_until,
        };
        let mut data = serde_json::to_vec(&plain).map_err(|_| SealError::DoesNotOpen)?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::NoRandomness)?;
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(request.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::DoesNotOpen)?;
        let mut out = nonce.to_vec();
        out.append(&mut data);
        Ok(out)
    }

    /// Opens what `seal` made for the same request.
    pub fn open(&self, sealed: &[u8], request: &str) -> Result<Credential, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::DoesNotOpen);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::DoesNotOpen)?;
        let mut body = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(request.as_bytes()), &mut body)
            .map_err(|_| SealError::DoesNotOpen)?;
        let p: Plain = serde_json::from_slice(plain).map_err(|_| SealError::DoesNotOpen)?;
        Ok(Credential {
            username: p.username,
            password: SecretString::from(p.password),
            connection: SecretString::from(p.connection),
            valid_until: p.valid_until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn cred() -> Credential {
        Credential {
            username: "warden_ar_x".into(),
            password: SecretString::from("pw-very-secret"),
            connection: SecretString::from("postgres://warden_ar_x:pw-very-secret@db:5432/app"),
            valid_until: Some(chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap()),
        }
    }

    #[test]
    fn a_sealed_credential_opens_for_its_own_request_only() {
        let key = SealingKey::parse(KEY).unwrap();
        let sealed = key.seal(&cred(), "AR-AAAAAAAA").unwrap();
        let opened = key.open(&sealed, "AR-AAAAAAAA").unwrap();
        assert_eq!(opened, cred());
        assert_eq!(
            opened.connection.expose_secret(),
            cred().connection.expose_secret()
        );
        assert_eq!(opened.valid_until, cred().valid_until);
        assert_eq!(
            key.open(&sealed, "AR-BBBBBBBB").err(),
            Some(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn the_sealed_bytes_hide_the_password_and_differ_each_time() {
        let key = SealingKey::parse(KEY).unwrap();
        let a = key.seal(&cred(), "AR-AAAAAAAA").unwrap();
        let b = key.seal(&cred(), "AR-AAAAAAAA").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        let needle = b"pw-very-secret";
        assert!(!a.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn tampered_bytes_or_another_key_do_not_open() {
        let key = SealingKey::parse(KEY).unwrap();
        let mut sealed = key.seal(&cred(), "AR-AAAAAAAA").unwrap();
        let other = SealingKey::parse(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open(&sealed, "AR-AAAAAAAA").is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(&sealed, "AR-AAAAAAAA").is_err());
        assert!(key.open(&sealed[..5], "AR-AAAAAAAA").is_err());
    }

    #[test]
    fn only_a_64_hex_digit_key_is_accepted() {
        for bad in [
            "",
            "abc",
            &KEY[..62],
            &format!("{KEY}00"),
            &KEY.replace('0', "g"),
        ] {
            assert_eq!(
                SealingKey::parse(bad).err(),
                Some(SealError::BadKey),
                "{bad}"
            );
        }
        assert!(format!("{:?}", SealingKey::parse(KEY).unwrap()).contains("redacted"));
    }
}
