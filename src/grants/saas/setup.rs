//! Building the `okta`, `entra` and `github` backends from `[grants.*]`: URLs checked against
//! the transport rule, secrets read once, clients bounded in time.

use super::api::{Api, Retry};
use super::entra::EntraGrantor;
use super::github::{API_VERSION, GitHubGrantor, InstallationToken};
use super::okta::OktaGrantor;
use super::token::{Auth, Cached, ClientAuth, ClientCredentials, rsa_key};
use crate::config::{EntraSettings, GitHubSettings, OktaSettings, secret};
use crate::http_client::{HttpOptions, check_transport};
use anyhow::Context;
use std::time::Duration;

fn base(setting: &str, url: &str, allow_http: &[String]) -> anyhow::Result<url::Url> {
    let u = url::Url::parse(url).with_context(|| format!("{setting} is not a URL"))?;
    check_transport(&u, allow_http).map_err(|e| anyhow::anyhow!("{setting} {e}"))?;
    Ok(u)
}

fn retry(max_wait_secs: u64) -> Retry {
    Retry {
        max_wait: Duration::from_secs(max_wait_secs),
        ..Retry::default()
    }
}

fn client(timeout_ms: u64) -> anyhow::Result<reqwest::Client> {
    crate::http_client::client(HttpOptions::new(Duration::from_millis(timeout_ms)))
}

pub fn okta(s: &OktaSettings, allow_http: &[String]) -> anyhow::Result<OktaGrantor> {
    let org = base("grants.okta.org_url", &s.org_url, allow_http)?;
    let token = secret(
        "grants.okta.api_token",
        &s.api_token,
        s.api_token_env.as_ref(),
        None,
    )?;
    let auth = match (token, &s.client_id) {
        // The service app is preferred when both are set: scoped, short-lived tokens.
        (_, Some(client_id)) => {
            let pem = secret(
                "grants.okta.private_key",
                &s.private_key,
                None,
                s.private_key_file.as_ref(),
            )?
            .context("grants.okta.client_id is set but no private key")?;
            Auth::Bearer(Cached::new(ClientCredentials {
                token_url: org.join("/oauth2/v1/token")?,
                client_id: client_id.clone(),
                scope: s.scopes.join(" "),
                auth: ClientAuth::PrivateKeyJwt {
                    key: rsa_key(&pem, "grants.okta.private_key")?,
                    key_id: s.key_id.clone(),
                },
                issuer: "Okta",
            }))
        }
        (Some(token), None) => Auth::Static {
            scheme: "SSWS",
            token,
        },
        (None, None) => anyhow::bail!("grants.okta: no API token and no OAuth client"),
    };
    Ok(OktaGrantor::new(Api {
        client: client(s.timeout_ms)?,
        base: org,
        auth,
        retry: retry(s.max_retry_wait_secs),
        target: "Okta",
        fixed_headers: vec![],
    }))
}

pub fn entra(s: &EntraSettings, allow_http: &[String]) -> anyhow::Result<EntraGrantor> {
    let login = base("grants.entra.login_url", &s.login_url, allow_http)?;
    let graph = base("grants.entra.graph_url", &s.graph_url, allow_http)?;
    let client_secret = secret(
        "grants.entra.client_secret",
        &s.client_secret,
        s.client_secret_env.as_ref(),
        None,
    )?
    .context("grants.entra.client_secret is missing")?;
    let tenant = super::segment(&s.tenant_id);
    let auth = Auth::Bearer(Cached::new(ClientCredentials {
        token_url: login.join(&format!("/{tenant}/oauth2/v2.0/token"))?,
        client_id: s.client_id.clone(),
        scope: format!("{}/.default", s.graph_url.trim_end_matches('/')),
        auth: ClientAuth::Secret(client_secret),
        issuer: "Microsoft Entra ID",
    }));
    Ok(EntraGrantor::new(Api {
        client: client(s.timeout_ms)?,
        base: graph,
        auth,
        retry: retry(s.max_retry_wait_secs),
        target: "Microsoft Graph",
        fixed_headers: vec![],
    }))
}

pub fn github(s: &GitHubSettings, allow_http: &[String]) -> anyhow::Result<GitHubGrantor> {
    let api = base("grants.github.api_url", &s.api_url, allow_http)?;
    let pem = secret(
        "grants.github.private_key",
        &s.private_key,
        None,
        s.private_key_file.as_ref(),
    )?
    .context("grants.github.private_key is missing")?;
    let auth = Auth::Bearer(Cached::new(InstallationToken {
        api: api.clone(),
        app_id: s.app_id.clone(),
        installation_id: s.installation_id,
        key: rsa_key(&pem, "grants.github.private_key")?,
    }));
    Ok(GitHubGrantor::new(Api {
        client: client(s.timeout_ms)?,
        base: api,
        auth,
        retry: retry(s.max_retry_wait_secs),
        target: "GitHub",
        fixed_headers: vec![API_VERSION],
    }))
}
