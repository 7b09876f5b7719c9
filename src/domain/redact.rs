//! Masks secrets people paste into chat before anything is stored or shown to a model.

use regex::Regex;
use std::sync::LazyLock;

/// Patterns for credentials by their common shapes. Each match is replaced by `[REDACTED:<kind>]`.
static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("private_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"),
        ("aws_access_key", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("github_token", r"\b(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}\b"),
        ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
        ("openai_key", r"\bsk-(proj-)?[A-Za-z0-9_-]{20,}\b"),
        ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
        ("bearer", r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"),
        ("basic_auth", r"(?i)\b(authorization:\s*basic)\s+[A-Za-z0-9+/]{8,}={0,2}"),
        ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("stripe_key", r"\b(sk|rk)_(live|test)_[0-9A-Za-z]{16,}\b"),
        ("password_is", r"(?i)\b(password|passwd|passphrase)\s+is\s+\S+"),
        ("url_credentials", r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s:/@]+:[^\s@/]+@"),
        ("password", r#"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)\s*[:=]\s*("[^"]+"|'[^']+'|\S+)"#),
    ]
    .into_iter()
    .map(|(k, p)| (k, Regex::new(p).expect("redaction patterns are valid")))
    .collect()
});

/// Text with secrets masked, and how many were masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub masked: usize,
}

pub fn redact_secrets(input: &str) -> Redacted {
    let mut text = input.to_string();
    let mut masked = 0;
    for (kind, re) in PATTERNS.iter() {
        let n = re.find_iter(&text).count();
        if n > 0 {
            masked += n;
            let replacement = match *kind {
                // Keep the scheme so the message still reads as a URL.
                "url_credentials" => "${1}[REDACTED:credentials]@".to_string(),
                "password" => "${1}=[REDACTED:password]".to_string(),
                "password_is" => "${1} is [REDACTED:password]".to_string(),
                "basic_auth" => "${1} [REDACTED:basic_auth]".to_string(),
                k => format!("[REDACTED:{k}]"),
            };
            text = re.replace_all(&text, replacement.as_str()).into_owned();
        }
    }
    Redacted { text, masked }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_common_credentials() {
        for secret in [
            "AKIAABCDEFGHIJKLMNOP",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghij",
            "sk-proj-abcdefghijklmnopqrstuvwx",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ] {
            let r = redact_secrets(&format!("need prod-db read, my key is {secret} thanks"));
            assert!(!r.text.contains(secret), "{secret} survived: {}", r.text);
            assert_eq!(r.masked, 1, "{secret}");
            assert!(r.text.contains("need prod-db read"));
        }
    }

    #[test]
    fn masks_passwords_and_url_credentials_but_keeps_the_rest() {
        let r =
            redact_secrets("db is postgres://admin:hunter2@db.internal/x and password: s3cr3t!");
        assert!(
            !r.text.contains("hunter2") && !r.text.contains("s3cr3t"),
            "{}",
            r.text
        );
        assert_eq!(r.masked, 2);
        assert!(r.text.contains("postgres://"));
    }

    #[test]
    fn masks_cloud_keys_basic_auth_and_passwords_said_in_words() {
        for (secret, kind) in [
            ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "google_api_key"),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe_key"),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZDEyMzQ=",
                "basic_auth",
            ),
            ("my password is correct-horse-battery", "password"),
        ] {
            let r = redact_secrets(&format!("need read on staging-db, {secret} ok"));
            assert_eq!(r.masked, 1, "{secret}: {}", r.text);
            assert!(r.text.contains(&format!("[REDACTED:{kind}]")), "{}", r.text);
            assert!(
                !r.text.contains("correct-horse")
                    && !r.text.contains("dXNlcjpw")
                    && !r.text.contains("4eC39"),
                "{}",
                r.text
            );
        }
        let ordinary =
            redact_secrets("basic permissions on the wiki, the password reset page is broken");
        assert_eq!(ordinary.masked, 0, "{}", ordinary.text);
    }

    #[test]
    fn leaves_ordinary_requests_alone() {
        let r = redact_secrets("need read on prod-db for 2h, INC-4411, ticket AR-7K3D9QX2");
        assert_eq!(
            (r.masked, r.text.as_str()),
            (
                0,
                "need read on prod-db for 2h, INC-4411, ticket AR-7K3D9QX2"
            )
        );
    }
}
