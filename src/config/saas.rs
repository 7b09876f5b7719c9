//! `[grants.okta]`, `[grants.entra]`, `[grants.github]`: the SaaS tenants whose group and team
//! membership Warden grants. Secrets come from the environment (`WARDEN__GRANTS__OKTA__API_TOKEN`,
//! or a variable named by `*_env`) or a file (`*_file`), never from the file itself.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

fn timeout_ms() -> u64 {
    10_000
}
fn max_retry_wait_secs() -> u64 {
    30
}

/// `[grants.okta]`: one Okta org, by API token or OAuth service app (private_key_jwt).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSettings {
    /// `https://<your-org>.okta.com`.
    pub org_url: String,
    /// An API token (`SSWS`), from `WARDEN__GRANTS__OKTA__API_TOKEN`.
    #[serde(default)]
    pub api_token: Option<SecretString>,
    /// Or the variable holding it.
    #[serde(default)]
    pub api_token_env: Option<String>,
    /// An OAuth service app instead: its client id and private key (PEM).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub private_key: Option<SecretString>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The key's `kid` as registered with the app.
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default = "okta_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "max_retry_wait_secs")]
    pub max_retry_wait_secs: u64,
}

fn okta_scopes() -> Vec<String> {
    vec!["okta.groups.manage".into(), "okta.users.read".into()]
}

/// `[grants.entra]`: one Microsoft Entra ID tenant, by an app registration's client secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraSettings {
    pub tenant_id: String,
    pub client_id: String,
    /// From `WARDEN__GRANTS__ENTRA__CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default = "login_url")]
    pub login_url: String,
    #[serde(default = "graph_url")]
    pub graph_url: String,
    #[serde(default = "timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "max_retry_wait_secs")]
    pub max_retry_wait_secs: u64,
}

fn login_url() -> String {
    "https://login.microsoftonline.com".into()
}
fn graph_url() -> String {
    "https://graph.microsoft.com".into()
}

/// `[grants.github]`: one GitHub App installation on the organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubSettings {
    /// The app's id (or client id): the `iss` of its JWTs.
    pub app_id: String,
    pub installation_id: u64,
    /// The app's private key (PEM), from `WARDEN__GRANTS__GITHUB__PRIVATE_KEY`, or a file.
    #[serde(default)]
    pub private_key: Option<SecretString>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    #[serde(default = "github_api")]
    pub api_url: String,
    #[serde(default = "timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "max_retry_wait_secs")]
    pub max_retry_wait_secs: u64,
}

fn github_api() -> String {
    "https://api.github.com".into()
}

/// A secret given directly, by a variable's name, or by a file: the first that is set.
pub fn secret(
    setting: &str,
    value: &Option<SecretString>,
    env: Option<&String>,
    file: Option<&PathBuf>,
) -> anyhow::Result<Option<SecretString>> {
    if let Some(v) = value {
        return Ok(Some(v.clone()));
    }
    if let Some(var) = env {
        let v = std::env::var(var)
            .map_err(|_| anyhow::anyhow!("{setting}: the variable {var} is not set"))?;
        return Ok(Some(SecretString::from(v)));
    }
    if let Some(path) = file {
        let v = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{setting}: cannot read {}: {e}", path.display()))?;
        return Ok(Some(SecretString::from(v)));
    }
    Ok(None)
}

impl OktaSettings {
    /// What is wrong with these settings, in plain words.
    pub fn problems(&self) -> Vec<String> {
        let token = self.api_token.is_some() || self.api_token_env.is_some();
        let oauth = self.client_id.is_some();
        let key = self.private_key.is_some() || self.private_key_file.is_some();
        let mut p = Vec::new();
        if !token && !oauth {
            p.push("grants.okta: set an API token (WARDEN__GRANTS__OKTA__API_TOKEN or api_token_env) or client_id and a private key".into());
        }
        if oauth && !key {
            p.push(
                "grants.okta.client_id is set but no private key (private_key or private_key_file)"
                    .into(),
            );
        }
        p
    }
}

impl EntraSettings {
    pub fn problems(&self) -> Vec<String> {
        if self.client_secret.is_none() && self.client_secret_env.is_none() {
            return vec!["grants.entra.client_secret is missing (set WARDEN__GRANTS__ENTRA__CLIENT_SECRET or client_secret_env)".into()];
        }
        Vec::new()
    }
}

impl GitHubSettings {
    pub fn problems(&self) -> Vec<String> {
        if self.private_key.is_none() && self.private_key_file.is_none() {
            return vec!["grants.github.private_key is missing (set WARDEN__GRANTS__GITHUB__PRIVATE_KEY or private_key_file)".into()];
        }
        Vec::new()
    }
}
