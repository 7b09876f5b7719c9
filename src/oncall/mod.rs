//! The on-call port: whether a person is on call now and for which services, from PagerDuty,
//! Opsgenie or a schedule file, cached per person, and failing closed to "not known".
//!
//! The answer only ever widens what the policy allows, so a source that cannot answer (an
//! outage, a revoked key, a rate limit, a broken file) must never count as on call: it is
//! `Answer::Unknown`, logged as a warning, and the request takes the normal approval path.

use crate::domain::Person;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::Duration;

mod cache;
pub mod file;
mod http;
pub mod opsgenie;
pub mod pagerduty;

pub use cache::CachedOnCall;

/// Why a source could not say who is on call. Never shown in chat; logged with the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnCallError {
    #[error("the API key was refused (HTTP {status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("rate limited (HTTP 429){}", retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("the service failed (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    #[error("unexpected answer (HTTP {status}): {message}")]
    Unexpected { status: u16, message: String },
    #[error("could not reach the service: {0}")]
    Transport(String),
    #[error("the schedule file is unusable: {0}")]
    File(String),
}

impl OnCallError {
    /// How long to wait before asking again, when the source said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// A schedule source.
#[async_trait]
pub trait OnCallSource: Send + Sync {
    /// `pagerduty`, `opsgenie` or `file`: recorded in the policy input and the log.
    fn name(&self) -> &'static str;

    /// The services `person` is on call for at `now`; empty when on call for none (including
    /// a person the provider has no account for).
    async fn services(
        &self,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<String>, OnCallError>;
}

/// What the policy is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The source answered: on call for these services (none: not on call).
    Known(BTreeSet<String>),
    /// The source could not answer: treated as not on call.
    Unknown,
}

/// The configured source behind its cache; `None` when `oncall.source` is unset or `none`.
pub fn from_settings(s: &crate::config::OnCallSettings) -> anyhow::Result<Option<CachedOnCall>> {
    use crate::config::OnCallSourceKind as Kind;
    use crate::http_client::{HttpOptions, client};
    use anyhow::Context;
    let ttl = Duration::from_secs(s.cache_ttl_secs());
    let key = || -> anyhow::Result<secrecy::SecretString> {
        crate::config::secret(
            "oncall.api_key",
            &s.api_key,
            s.api_key_env.as_ref(),
            s.api_key_file.as_ref(),
        )?
        .context("oncall.api_key is missing (set WARDEN__ONCALL__API_KEY)")
        // A key read from a file ends with a newline, which no header may carry.
        .map(|k| secrecy::SecretString::from(secrecy::ExposeSecret::expose_secret(&k).trim()))
    };
    let http = || client(HttpOptions::new(Duration::from_millis(s.timeout_ms)));
    let base = s.api_base().unwrap_or_default();
    let source: std::sync::Arc<dyn OnCallSource> = match s.source {
        Kind::None => return Ok(None),
        Kind::File => std::sync::Arc::new(file::ScheduleFileSource::open(
            s.file.as_deref().context("oncall.file is required")?,
        )?),
        Kind::Pagerduty => std::sync::Arc::new(pagerduty::PagerDuty::new(
            http()?,
            base,
            key()?,
            s.services.clone(),
        )?),
        Kind::Opsgenie => std::sync::Arc::new(opsgenie::Opsgenie::new(
            http()?,
            base,
            key()?,
            s.services.clone(),
        )?),
    };
    // A few calls' worth: PagerDuty's user lookup and a page or two, or a few schedules.
    let deadline = Duration::from_millis(s.timeout_ms.saturating_mul(3));
    Ok(Some(CachedOnCall::new(source, ttl).with_deadline(deadline)))
}
