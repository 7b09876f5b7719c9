//! `[oncall]`: where Warden learns who is on call now and for which services (PagerDuty,
//! Opsgenie or a schedule file), and how long it trusts one answer.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// Which schedule source answers "is this person on call now?".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnCallSourceKind {
    /// No source: nobody is on call as far as the policy knows (`oncall.known = false`).
    #[default]
    None,
    Pagerduty,
    Opsgenie,
    File,
}

impl OnCallSourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pagerduty => "pagerduty",
            Self::Opsgenie => "opsgenie",
            Self::File => "file",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnCallSettings {
    pub source: OnCallSourceKind,
    /// How long one person's answer is reused (`5m`): a burst of requests makes one call.
    pub cache_ttl: String,
    pub timeout_ms: u64,
    /// The provider's REST API (`https://api.pagerduty.com`, `https://api.opsgenie.com`, or
    /// `https://api.eu.opsgenie.com`); the provider's public API when unset.
    pub api_url: Option<String>,
    /// The PagerDuty REST API key or Opsgenie API key: `WARDEN__ONCALL__API_KEY`, or a variable
    /// named by `api_key_env`, or a file.
    pub api_key: Option<SecretString>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<PathBuf>,
    /// The schedule file, for `source = "file"`.
    pub file: Option<PathBuf>,
    /// The services the policy knows, each with the provider schedules (PagerDuty schedule
    /// ids, Opsgenie schedule names or ids) and PagerDuty escalation policies that cover it.
    pub services: Vec<OnCallService>,
}

impl Default for OnCallSettings {
    fn default() -> Self {
        Self {
            source: OnCallSourceKind::None,
            cache_ttl: "5m".into(),
            timeout_ms: 5_000,
            api_url: None,
            api_key: None,
            api_key_env: None,
            api_key_file: None,
            file: None,
            services: Vec::new(),
        }
    }
}

/// One service (the name catalog resources list in `services`) and who is on call for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallService {
    pub name: String,
    #[serde(default)]
    pub schedules: Vec<String>,
    /// PagerDuty only: on call at any level of these escalation policies.
    #[serde(default)]
    pub escalation_policies: Vec<String>,
}

impl OnCallSettings {
    pub fn cache_ttl_secs(&self) -> u64 {
        crate::domain::parse_duration(&self.cache_ttl).unwrap_or(300)
    }

    /// The provider's API base URL, its public one unless set.
    pub fn api_base(&self) -> Option<&str> {
        match (self.source, self.api_url.as_deref()) {
            (_, Some(url)) => Some(url),
            (OnCallSourceKind::Pagerduty, None) => Some("https://api.pagerduty.com"),
            (OnCallSourceKind::Opsgenie, None) => Some("https://api.opsgenie.com"),
            _ => None,
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if crate::domain::parse_duration(&self.cache_ttl).is_none() {
            p.push(format!(
                "oncall.cache_ttl must be a duration like 5m (got \"{}\")",
                self.cache_ttl
            ));
        }
        match self.source {
            OnCallSourceKind::None => {}
            OnCallSourceKind::File if self.file.is_none() => {
                p.push("oncall.file is required when oncall.source = \"file\"".into())
            }
            OnCallSourceKind::File => {}
            provider => {
                if self.api_key.is_none()
                    && self.api_key_env.is_none()
                    && self.api_key_file.is_none()
                {
                    p.push(format!(
                        "oncall.api_key is missing for {} (set WARDEN__ONCALL__API_KEY, api_key_env or api_key_file)",
                        provider.as_str()
                    ));
                }
                if self.services.is_empty() {
                    p.push(format!(
                        "oncall.services lists no service, so nobody could be on call in {}",
                        provider.as_str()
                    ));
                }
                for s in &self.services {
                    if s.schedules.is_empty() && s.escalation_policies.is_empty() {
                        p.push(format!(
                            "oncall.services \"{}\" names no schedule or escalation policy",
                            s.name
                        ));
                    }
                    if provider == OnCallSourceKind::Opsgenie && !s.escalation_policies.is_empty() {
                        p.push(format!(
                            "oncall.services \"{}\": escalation_policies are PagerDuty's; Opsgenie uses schedules",
                            s.name
                        ));
                    }
                }
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(toml_text: &str) -> OnCallSettings {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_provider_needs_a_key_and_services_with_schedules_and_a_file_source_needs_its_file() {
        assert!(OnCallSettings::default().problems().is_empty());
        let p = parsed("source = \"pagerduty\"").problems();
        assert!(
            p.iter().any(|m| m.starts_with("oncall.api_key is missing")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("oncall.services lists no service")),
            "{p:?}"
        );
        let p = parsed(
            "source = \"opsgenie\"\napi_key_env = \"OG\"\n[[services]]\nname = \"billing\"\nescalation_policies = [\"P1\"]",
        )
        .problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("escalation_policies are PagerDuty's"),
            "{p:?}"
        );
        let p = parsed("source = \"file\"\ncache_ttl = \"soon\"").problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(toml::from_str::<OnCallSettings>("source = \"victorops\"").is_err());
    }
}
