//! AWS IAM Identity Center account assignments as grants (`aws_identity_center`).
//!
//! `credentials` and `sts` find keys (environment, or a web identity exchanged at STS),
//! `client` signs JSON 1.1 calls with SigV4 (the `aws-sigv4` crate, not the SDK) and retries
//! throttling, `api` types the operations, `grantor` is the backend.

pub mod api;
pub mod client;
pub mod credentials;
pub mod grantor;
pub mod sts;

pub use grantor::{AwsIdentityCenterGrantor, NAME};

use crate::config::AwsSettings;
use crate::http_client::HttpOptions;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

/// The endpoint for `service` in the settings' Region, or its override.
fn endpoint(overridden: &Option<String>, service: &str, region: &str) -> anyhow::Result<url::Url> {
    let url = match overridden {
        Some(u) => u.clone(),
        None => format!("https://{service}.{region}.amazonaws.com/"),
    };
    url::Url::parse(&url).with_context(|| format!("the {service} endpoint is not a URL"))
}

/// The backend from `[grants.aws]` and credentials from `source`.
pub fn from_settings(
    s: &AwsSettings,
    source: credentials::CredentialSource,
) -> anyhow::Result<AwsIdentityCenterGrantor> {
    let http = crate::http_client::client(HttpOptions::new(Duration::from_millis(s.timeout_ms)))?;
    let sts = sts::StsClient::new(http.clone(), endpoint(&s.sts_endpoint, "sts", &s.region)?);
    let provider = Arc::new(credentials::CredentialProvider::new(source, sts));
    let retry = client::RetryPolicy {
        attempts: s.attempts.max(1),
        backoff: Duration::from_millis(s.backoff_ms),
        max_retry_after: Duration::from_millis(s.max_retry_after_ms),
    };
    let client = client::AwsClient::new(http, &s.region, provider, retry);
    let endpoints = api::Endpoints {
        sso: endpoint(&s.sso_endpoint, "sso", &s.region)?,
        identitystore: endpoint(&s.identitystore_endpoint, "identitystore", &s.region)?,
    };
    let api = api::IdentityCenter::new(
        client,
        endpoints,
        s.instance_arn.clone(),
        s.identity_store_id.clone(),
        Duration::from_millis(s.poll_interval_ms),
        s.poll_attempts.max(1),
    );
    Ok(AwsIdentityCenterGrantor::new(api))
}
