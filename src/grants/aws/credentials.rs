//! AWS credentials from the standard chain's essentials: environment keys, or a web identity
//! token exchanged at STS (`AssumeRoleWithWebIdentity`), cached until shortly before expiry.
//!
//! Order as in the AWS SDKs: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+
//! `AWS_SESSION_TOKEN`) first, then `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS IRSA,
//! GitHub Actions OIDC, fly.io). The token file is read again on every exchange: the platform
//! rotates it. Secrets are `SecretString`s and never reach a log or an error message.

use super::sts;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// Credentials are renewed this long before they expire, so a signed request never arrives
/// with credentials that ran out on the way (the SDKs use 5 minutes too).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// One set of keys for signing.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    /// `None`: long-lived keys.
    pub expires_at: Option<SystemTime>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Whether these need renewing at `now`.
    fn stale(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| now + REFRESH_BEFORE >= at)
    }

    /// The form aws-sigv4 signs with.
    pub(super) fn for_signing(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose_secret().to_string(),
            self.session_token
                .as_ref()
                .map(|t| t.expose_secret().to_string()),
            self.expires_at,
            "warden",
        )
    }
}

/// Where credentials come from.
#[derive(Clone)]
pub enum CredentialSource {
    Static(Credentials),
    WebIdentity {
        token_file: PathBuf,
        role_arn: String,
        session_name: String,
    },
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(c) => f.debug_tuple("Static").field(c).finish(),
            Self::WebIdentity { role_arn, .. } => f
                .debug_struct("WebIdentity")
                .field("role_arn", role_arn)
                .finish_non_exhaustive(),
        }
    }
}

impl CredentialSource {
    /// From the process environment, as the AWS SDKs read it.
    pub fn from_env(session_name: &str) -> anyhow::Result<Self> {
        Self::from_vars(
            |k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            session_name,
        )
    }

    /// From `var` (the environment, or a map in tests).
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        session_name: &str,
    ) -> anyhow::Result<Self> {
        if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            return Ok(Self::Static(Credentials {
                access_key_id: id,
                secret_access_key: SecretString::from(secret),
                session_token: var("AWS_SESSION_TOKEN").map(SecretString::from),
                expires_at: None,
            }));
        }
        if let (Some(file), Some(role)) = (var("AWS_WEB_IDENTITY_TOKEN_FILE"), var("AWS_ROLE_ARN"))
        {
            return Ok(Self::WebIdentity {
                token_file: file.into(),
                role_arn: role,
                session_name: var("AWS_ROLE_SESSION_NAME")
                    .unwrap_or_else(|| session_name.to_string()),
            });
        }
        anyhow::bail!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN"
        )
    }
}

/// Hands out current credentials, exchanging the web identity token again when they near
/// their expiry. One exchange at a time: concurrent callers wait for it rather than each
/// calling STS.
pub struct CredentialProvider {
    source: CredentialSource,
    sts: sts::StsClient,
    cached: Mutex<Option<Credentials>>,
}

impl CredentialProvider {
    pub fn new(source: CredentialSource, sts: sts::StsClient) -> Self {
        Self {
            source,
            sts,
            cached: Mutex::new(None),
        }
    }

    pub async fn current(&self) -> Result<Credentials, sts::StsError> {
        let (token_file, role_arn, session_name) = match &self.source {
            CredentialSource::Static(c) => return Ok(c.clone()),
            CredentialSource::WebIdentity {
                token_file,
                role_arn,
                session_name,
            } => (token_file, role_arn, session_name),
        };
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| !c.stale(SystemTime::now())) {
            return Ok(c.clone());
        }
        let token = tokio::fs::read_to_string(token_file).await.map_err(|e| {
            sts::StsError::Permanent(format!(
                "cannot read the web identity token file {}: {e}",
                token_file.display()
            ))
        })?;
        let fresh = self
            .sts
            .assume_role_with_web_identity(role_arn, session_name, token.trim())
            .await?;
        tracing::info!(
            role = %role_arn,
            access_key_id = %fresh.access_key_id,
            expires_at = ?fresh.expires_at,
            "AWS credentials from the web identity token"
        );
        *cached = Some(fresh.clone());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn keys_in_the_environment_come_before_a_web_identity() {
        let both = vars(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ]);
        let s = CredentialSource::from_vars(both, "warden").unwrap();
        assert!(matches!(s, CredentialSource::Static(ref c) if c.access_key_id == "AKIDEXAMPLE"));
        let web = vars(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ]);
        let s = CredentialSource::from_vars(web, "warden").unwrap();
        assert!(
            matches!(s, CredentialSource::WebIdentity { ref session_name, .. } if session_name == "warden")
        );
        assert!(CredentialSource::from_vars(vars(&[]), "warden").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: SecretString::from("very-secret".to_string()),
            session_token: Some(SecretString::from("token-secret".to_string())),
            expires_at: None,
        };
        let printed = format!("{:?}", CredentialSource::Static(c));
        assert!(printed.contains("AKID"));
        assert!(!printed.contains("very-secret") && !printed.contains("token-secret"));
    }

    #[test]
    fn credentials_are_renewed_five_minutes_before_they_expire() {
        let now = SystemTime::now();
        let at = |secs| Credentials {
            access_key_id: "A".into(),
            secret_access_key: SecretString::from("s".to_string()),
            session_token: None,
            expires_at: Some(now + Duration::from_secs(secs)),
        };
        assert!(!at(3600).stale(now));
        assert!(at(299).stale(now));
        let long_lived = Credentials {
            expires_at: None,
            ..at(0)
        };
        assert!(!long_lived.stale(now));
    }
}
