//! `[grants]`: the signed webhook, the database servers Warden makes logins on, the SaaS
//! tenants it manages group membership on, and AWS IAM Identity Center.

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrantSettings {
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<SecretString>,
    pub webhook_timeout_ms: u64,
    /// Database servers the `postgres` and `mysql` backends administer, by the name the
    /// catalog's `server` parameter uses.
    pub databases: std::collections::BTreeMap<String, DatabaseServerSettings>,
    /// The `okta`, `entra` and `github` membership backends, each on when its section is set.
    pub okta: Option<super::saas::OktaSettings>,
    pub entra: Option<super::saas::EntraSettings>,
    pub github: Option<super::saas::GitHubSettings>,
    /// The IAM Identity Center instance of the `aws_identity_center` backend.
    pub aws: super::aws::AwsSettings,
}

impl Default for GrantSettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret: None,
            webhook_timeout_ms: 5000,
            databases: Default::default(),
            okta: None,
            entra: None,
            github: None,
            aws: Default::default(),
        }
    }
}

/// `[grants.databases.<name>]`: one server Warden makes logins on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseServerSettings {
    /// `postgres` or `mysql` (MariaDB too).
    pub engine: String,
    /// The environment variable holding the admin connection URL (a secret: never in the file).
    #[serde(default)]
    pub admin_url_env: Option<String>,
    /// Or the URL itself, from `WARDEN__GRANTS__DATABASES__<NAME>__ADMIN_URL`.
    #[serde(default)]
    pub admin_url: Option<SecretString>,
    /// The host and port people connect to, when not the admin URL's.
    #[serde(default)]
    pub public_host: Option<String>,
    #[serde(default)]
    pub public_port: Option<u16>,
    /// The database named in the person's connection string, when not the admin URL's.
    #[serde(default)]
    pub database: Option<String>,
}
