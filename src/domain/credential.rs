//! Credentials a grant creates (a database login): made once, handed to one person once.
//!
//! A `Credential` travels only in memory, on the `GrantReceipt` a backend returns (the field is
//! never serialised), from the grant job to the delivery step. The store, the context log and
//! `tracing` see its username and fingerprint, never the password or the connection string.

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Length of generated passwords: 32 characters of 62 ≈ 190 bits.
const PASSWORD_LEN: usize = 32;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A login made for one grant.
#[derive(Clone)]
pub struct Credential {
    pub username: String,
    pub password: SecretString,
    /// A ready connection string (`postgres://user:password@host:port/db`): a secret too.
    pub connection: SecretString,
    /// When the target itself stops accepting it (`VALID UNTIL`); `None` when only Warden's
    /// revoke ends it.
    pub valid_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Credential {
    /// What the context log keeps to recognise the password later (in a leaked config, in a
    /// support ticket) without holding it: the first 16 hex digits of its SHA-256. Unkeyed on
    /// purpose: the password is 190 random bits, so the hash cannot be inverted by guessing,
    /// and anyone holding a suspect password can check it against the log without a Warden key.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.password.expose_secret())
    }

    /// The private message that hands the credential over.
    pub fn message(&self, request: &str, what: &str) -> String {
        let until = match self.valid_until {
            Some(t) => format!(
                "It stops working at {} UTC, or earlier when the access is revoked.",
                t.format("%Y-%m-%d %H:%M:%S")
            ),
            None => "It stops working when the access ends (expiry or revoke).".to_string(),
        };
        format!(
            "Your credentials for {what} (request {request}), shown only to you and only once:\n\
             user: {}\npassword: {}\nconnection: {}\n{until}",
            self.username,
            self.password.expose_secret(),
            self.connection.expose_secret(),
        )
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("fingerprint", &self.fingerprint())
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

/// Two credentials are the same login with the same password.
impl PartialEq for Credential {
    fn eq(&self, other: &Self) -> bool {
        self.username == other.username && self.fingerprint() == other.fingerprint()
    }
}

/// See `Credential::fingerprint`.
pub fn fingerprint(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    format!("sha256:{}", &hex::encode(digest)[..16])
}

/// A fresh random password: letters and digits only, so it needs no quoting in SQL, URLs or
/// shells, and SASLprep leaves it unchanged.
pub fn random_password() -> SecretString {
    let mut rng = rand::rng();
    let s: String = (0..PASSWORD_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    SecretString::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred() -> Credential {
        Credential {
            username: "warden_ar_x".into(),
            password: SecretString::from("pw-very-secret"),
            connection: SecretString::from("postgres://warden_ar_x:pw-very-secret@db:5432/app"),
            valid_until: None,
        }
    }

    #[test]
    fn debug_output_never_shows_the_password_or_the_connection_string() {
        let shown = format!("{:?}", cred());
        assert!(!shown.contains("pw-very-secret"), "{shown}");
        assert!(
            shown.contains("warden_ar_x") && shown.contains("sha256:"),
            "{shown}"
        );
    }

    #[test]
    fn passwords_are_long_alphanumeric_and_differ() {
        let a = random_password();
        let b = random_password();
        assert_eq!(a.expose_secret().len(), PASSWORD_LEN);
        assert!(a.expose_secret().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn the_fingerprint_is_a_short_sha256_prefix() {
        assert_eq!(fingerprint("abc"), "sha256:ba7816bf8f01cfea");
        assert_eq!(cred().fingerprint(), fingerprint("pw-very-secret"));
    }
}
