//! `[grants.aws]`: the IAM Identity Center instance the `aws_identity_center` backend assigns in.
//!
//! Credentials are not settings: they come from the standard AWS environment (access keys, or a
//! web identity token file and a role), read by `grants::aws::credentials`.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSettings {
    /// The Region of the Identity Center instance (`eu-west-1`). Empty: the backend is off.
    pub region: String,
    /// `arn:aws:sso:::instance/ssoins-…`.
    pub instance_arn: String,
    /// `d-…`: needed to find people by email (identitystore `GetUserId`); without it every
    /// person needs an explicit `aws` id in the directory.
    pub identity_store_id: Option<String>,
    /// Overrides of `https://sso.<region>.amazonaws.com`, `https://identitystore.<region>…`
    /// and `https://sts.<region>…` (VPC endpoints, tests).
    pub sso_endpoint: Option<String>,
    pub identitystore_endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
    /// Per HTTP request.
    pub timeout_ms: u64,
    /// Attempts per API call on throttling, 5xx and transport errors, with backoff.
    pub attempts: u32,
    /// The first backoff; doubled per attempt, with jitter.
    pub backoff_ms: u64,
    /// The longest wait honoured from a `Retry-After` header.
    pub max_retry_after_ms: u64,
    /// How often and how many times an assignment's asynchronous status is read.
    pub poll_interval_ms: u64,
    pub poll_attempts: u32,
    /// The session name on STS `AssumeRoleWithWebIdentity` (shows in CloudTrail).
    pub role_session_name: String,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: String::new(),
            instance_arn: String::new(),
            identity_store_id: None,
            sso_endpoint: None,
            identitystore_endpoint: None,
            sts_endpoint: None,
            timeout_ms: 10_000,
            attempts: 5,
            backoff_ms: 250,
            max_retry_after_ms: 20_000,
            poll_interval_ms: 1_000,
            poll_attempts: 60,
            role_session_name: "warden".into(),
        }
    }
}

impl AwsSettings {
    pub fn enabled(&self) -> bool {
        !self.region.is_empty() || !self.instance_arn.is_empty()
    }

    /// The endpoint overrides, for the transport check.
    pub fn endpoints(&self) -> Vec<(&'static str, &str)> {
        [
            ("grants.aws.sso_endpoint", &self.sso_endpoint),
            (
                "grants.aws.identitystore_endpoint",
                &self.identitystore_endpoint,
            ),
            ("grants.aws.sts_endpoint", &self.sts_endpoint),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.enabled() {
            return p;
        }
        let region_ok = !self.region.is_empty()
            && self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            p.push(format!(
                "grants.aws.region must be an AWS Region such as eu-west-1 (got \"{}\")",
                self.region
            ));
        }
        if !self.instance_arn.starts_with("arn:aws") || !self.instance_arn.contains(":instance/") {
            p.push(format!(
                "grants.aws.instance_arn must be an Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…), got \"{}\"",
                self.instance_arn
            ));
        }
        if self.attempts == 0 || self.poll_attempts == 0 {
            p.push("grants.aws.attempts and grants.aws.poll_attempts must be at least 1".into());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_section_is_off_and_a_half_set_one_is_a_problem() {
        assert!(AwsSettings::default().problems().is_empty());
        let half = AwsSettings {
            region: "eu-west-1".into(),
            ..Default::default()
        };
        let p = half.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("instance_arn"));
        let good = AwsSettings {
            region: "eu-west-1".into(),
            instance_arn: "arn:aws:sso:::instance/ssoins-1234567890abcdef".into(),
            ..Default::default()
        };
        assert!(good.problems().is_empty());
        let bad_region = AwsSettings {
            region: "EU West".into(),
            ..good
        };
        assert!(bad_region.problems()[0].contains("region"));
    }
}
