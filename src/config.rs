//! Configuration: one TOML file plus `WARDEN__SECTION__KEY` environment overrides.
//!
//! Every setting lives here, with its default. The file is `--config`, else `WARDEN_CONFIG`,
//! else `./warden.toml` if present; with none at all Warden runs on embedded defaults (SQLite
//! file, shipped policy and example catalog, parser intake). Secrets are `SecretString`s: they
//! come from the environment or from `*_file` paths, and never print in logs or `Debug`.
//! Unknown keys are errors, so a typo never silently falls back to a default.

mod problems;

use anyhow::Context;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod limits;
pub use limits::LimitsSettings;
mod sso;
pub use sso::{SsoMatch, SsoSettings};
mod agents;
pub use agents::AgentsSettings;
mod aws;
pub use aws::AwsSettings;
mod grants;
pub use grants::{DatabaseServerSettings, GrantSettings};
mod saas;
pub use saas::{EntraSettings, GitHubSettings, OktaSettings, secret};
mod llm;
pub use llm::LlmSettings;
mod reconcile;
pub use reconcile::ReconcileSettings;
mod oncall;
pub use oncall::{OnCallService, OnCallSettings, OnCallSourceKind};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub llm: LlmSettings,
    pub policy: PolicySettings,
    pub slack: SlackSettings,
    pub discord: DiscordSettings,
    pub catalog: CatalogSettings,
    pub agents: AgentsSettings,
    pub directory: DirectorySettings,
    pub admin: AdminSettings,
    pub grants: GrantSettings,
    pub workflow: WorkflowSettings,
    pub transport: TransportSettings,
    pub limits: LimitsSettings,
    pub evidence: EvidenceSettings,
    pub sso: SsoSettings,
    pub reconcile: ReconcileSettings,
    pub oncall: OnCallSettings,
}

/// Which remote services may be reached over plain http. Loopback always may; any other host
/// must use https unless it is listed here (`WARDEN__TRANSPORT__ALLOW_HTTP_HOSTS=a,b`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportSettings {
    pub allow_http_hosts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the HTTP server binds (`0.0.0.0:8080` on fly.io).
    pub listen: String,
    /// Seconds in-flight work gets after SIGTERM.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            shutdown_grace_secs: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://warden.db` (created if missing) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://warden.db".into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// "text" (human-readable) or "json".
    pub format: String,
    /// A tracing filter, e.g. "info" or "warden=debug,info". `RUST_LOG` wins if set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// "embedded" (Rego in-process), "opa" or "authzen".
    pub engine: String,
    /// Base URL of the OPA server, or the AuthZEN PDP's identifier: Warden reads its
    /// endpoints from `{url}/.well-known/authzen-configuration` (path inserted after the host).
    pub url: Option<String>,
    /// AuthZEN only: the access evaluation endpoint of a PDP that publishes no metadata; when
    /// set, discovery is skipped.
    pub evaluation_url: Option<String>,
    /// OPA data path of the decision document.
    pub path: String,
    /// A Rego file to use instead of the shipped policy (embedded engine).
    pub file: Option<PathBuf>,
    /// JSON data made available to the embedded policy as `data.warden.config`.
    pub data_file: Option<PathBuf>,
    pub timeout_ms: u64,
    /// Bearer token sent to the OPA or AuthZEN PDP (env `WARDEN__POLICY__TOKEN` or `token_file`).
    pub token: Option<SecretString>,
    pub token_file: Option<PathBuf>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self {
            engine: "embedded".into(),
            url: None,
            evaluation_url: None,
            path: "access/decision".into(),
            file: None,
            data_file: None,
            timeout_ms: 2000,
            token: None,
            token_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    pub api_url: Option<String>,
    pub bot_token: Option<SecretString>,
    pub signing_secret: Option<SecretString>,
    pub app_token: Option<SecretString>,
    /// Map people by the email `users.info` returns (only when the workspace verifies emails);
    /// only members of the installed workspace or its Grid org, never other organisations.
    pub trust_email: bool,
    /// Least time between two messages Warden posts to one channel (Slack allows about one a second).
    pub post_interval_ms: u64,
    /// Least time between two publishes of one person's Home tab (changes meanwhile are merged).
    pub home_interval_ms: u64,
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            api_url: None,
            bot_token: None,
            signing_secret: None,
            app_token: None,
            trust_email: false,
            post_interval_ms: 1000,
            home_interval_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordSettings {
    pub api_url: Option<String>,
    pub bot_token: Option<SecretString>,
    pub public_key: Option<String>,
    pub application_id: Option<String>,
    pub guild_id: Option<String>,
    pub gateway: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSettings {
    /// Catalog TOML; the example catalog is built in.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectorySettings {
    /// "file" or "scim".
    pub kind: String,
    /// Directory TOML; the example directory is built in.
    pub file: Option<PathBuf>,
    pub scim_url: Option<String>,
    pub scim_token: Option<SecretString>,
    pub cache_secs: u64,
    pub timeout_ms: u64,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        Self {
            kind: "file".into(),
            file: None,
            scim_url: None,
            scim_token: None,
            cache_secs: 300,
            timeout_ms: 3000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// File of admin API tokens (hashed) with roles.
    pub tokens_file: Option<PathBuf>,
    /// Key that signs session cookies.
    pub session_secret: Option<SecretString>,
    /// Days after which message bodies and prompts are purged (0 keeps them).
    pub retention_days: u64,
    /// SIEM webhook that receives every context-log entry as it is written. Put its credential
    /// in `siem_auth`, not in the URL.
    pub siem_url: Option<String>,
    /// Header that carries the SIEM credential (`Authorization` for Splunk HEC and Elastic).
    pub siem_auth_header: String,
    /// The header's whole value, e.g. `Splunk <token>`: from env `WARDEN__ADMIN__SIEM_AUTH`…
    pub siem_auth: Option<SecretString>,
    /// …or from this file.
    pub siem_auth_file: Option<PathBuf>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            tokens_file: None,
            session_secret: None,
            retention_days: 0,
            siem_url: None,
            siem_auth_header: "Authorization".into(),
            siem_auth: None,
            siem_auth_file: None,
        }
    }
}

/// What makes the context logs tamper-evident beyond the database (docs/security-evidence.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceSettings {
    /// Keys the hash chain (HMAC-SHA256; at least 32 bytes): from env
    /// `WARDEN__EVIDENCE__CHAIN_KEY`… Never stored in the database.
    pub chain_key: Option<SecretString>,
    /// …or from this file.
    pub chain_key_file: Option<PathBuf>,
    /// Append-only JSON-lines file the chain heads are anchored to, outside the database.
    pub anchor_file: Option<PathBuf>,
    /// Seconds between anchors (one more is written at shutdown).
    pub anchor_interval_secs: u64,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            chain_key: None,
            chain_key_file: None,
            anchor_file: None,
            anchor_interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowSettings {
    /// When the requester confirms the parsed intent: "always", "approval_only" or "never".
    pub confirm: String,
    /// How long a request may wait for approval.
    pub pending_ttl: String,
    /// How long a proposed intent waits for the requester's Submit.
    pub confirm_ttl: String,
    /// Reminder to approvers this long before a pending request expires.
    pub reminder_before: String,
    /// Warning to the requester this long before access expires.
    pub expiry_warning_before: String,
    pub max_extensions: u32,
    /// Most clarifying questions before pointing to the structured form.
    pub max_clarify_turns: u32,
    /// Where break-glass activations are announced: "platform:channel", e.g. "slack:C0SECURITY".
    pub security_channel: Option<String>,
    /// Scheduler poll interval.
    pub scheduler_interval_ms: u64,
    /// Emergency access length.
    pub break_glass_duration: String,
    /// How long handled deliveries and finished jobs are kept to catch redeliveries; at least
    /// 1h, longer than any platform's retries.
    pub dedup_window: String,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        Self {
            confirm: "always".into(),
            pending_ttl: "4h".into(),
            confirm_ttl: "1h".into(),
            reminder_before: "1h".into(),
            expiry_warning_before: "15m".into(),
            max_extensions: 2,
            max_clarify_turns: 3,
            security_channel: None,
            scheduler_interval_ms: 1000,
            break_glass_duration: "1h".into(),
            dedup_window: "24h".into(),
        }
    }
}

/// Where the settings came from, for `config check` and the start-up log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub file: Option<PathBuf>,
}

/// Loads the file (if any) and applies `WARDEN__SECTION__KEY` overrides.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Loaded> {
    let file = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::var_os("WARDEN_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                let default = PathBuf::from("warden.toml");
                default.exists().then_some(default)
            }),
    };
    let mut builder = config::Config::builder();
    if let Some(f) = &file {
        anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
        builder =
            builder.add_source(config::File::from(f.as_path()).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("WARDEN")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("transport.allow_http_hosts")
            .with_list_parse_key("sso.scopes")
            .with_list_parse_key("sso.admin_groups")
            .with_list_parse_key("sso.viewer_groups"),
    );
    let raw = builder
        .build()
        .context("Failed to read the configuration")?;
    let mut settings: Settings = raw.try_deserialize().context("Invalid configuration")?;
    settings.resolve_secret_files()?;
    Ok(Loaded { settings, file })
}

impl Settings {
    fn resolve_secret_files(&mut self) -> anyhow::Result<()> {
        secret_from_file(
            &mut self.llm.api_key,
            &self.llm.api_key_file,
            "llm.api_key_file",
        )?;
        secret_from_file(
            &mut self.policy.token,
            &self.policy.token_file,
            "policy.token_file",
        )?;
        secret_from_file(
            &mut self.admin.siem_auth,
            &self.admin.siem_auth_file,
            "admin.siem_auth_file",
        )?;
        secret_from_file(
            &mut self.evidence.chain_key,
            &self.evidence.chain_key_file,
            "evidence.chain_key_file",
        )?;
        secret_from_file(
            &mut self.sso.client_secret,
            &self.sso.client_secret_file,
            "sso.client_secret_file",
        )?;
        Ok(())
    }
}

/// A secret read from `file` when it is not set directly; surrounding whitespace is dropped.
fn secret_from_file(
    secret: &mut Option<SecretString>,
    file: &Option<PathBuf>,
    key: &str,
) -> anyhow::Result<()> {
    if secret.is_none()
        && let Some(path) = file
    {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Failed to read {key} {}", path.display()))?;
        *secret = Some(SecretString::from(text.trim().to_string()));
    }
    Ok(())
}

/// Seconds from a duration setting already checked by `problems`.
pub fn secs(value: &str) -> u64 {
    crate::domain::parse_duration(value).unwrap_or(3600)
}
