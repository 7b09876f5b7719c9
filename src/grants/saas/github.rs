//! The `github` grant backend: membership of a GitHub team, through a GitHub App.
//!
//! Auth: an app JWT (RS256, `iss` = app id, ten minutes at most) buys an installation token at
//! `POST /app/installations/{id}/access_tokens`, cached until shortly before its `expires_at`.
//! Add: `PUT /orgs/{org}/teams/{team_slug}/memberships/{username}` (200, `state` active or
//! pending: someone outside the org is invited). Remove: `DELETE` there (204; 404 = gone).
//! Members: `GET /orgs/{org}/teams/{team_slug}/members`, paged by `Link`. Throttling: 403 or
//! 429 with Retry-After, or with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`.
//! People are named by their GitHub login from the directory (`github` id); email cannot find
//! a GitHub account. Logins are case-insensitive, so holders are kept in lower case.

use super::api::{Answer, Api};
use super::token::{Token, TokenSource, sign_rs256};
use super::{RevokeTarget, check_account, groups_of, misconfigured, revoke_target, segment};
use crate::domain::{Person, PriorAccess, Resource};
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;

const BACKEND: &str = "github";
pub const API_VERSION: (&str, &str) = ("x-github-api-version", "2022-11-28");

/// Installation tokens from the app's private key.
pub struct InstallationToken {
    pub api: url::Url,
    pub app_id: String,
    pub installation_id: u64,
    pub key: jsonwebtoken::EncodingKey,
}

#[derive(serde::Serialize)]
struct AppClaims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a str,
}

#[async_trait]
impl TokenSource for InstallationToken {
    async fn fetch(&self, client: &reqwest::Client) -> Result<Token, GrantError> {
        // Issued a minute in the past against clock drift, as GitHub advises; nine minutes on.
        let now = chrono::Utc::now().timestamp();
        let jwt = sign_rs256(
            &AppClaims {
                iat: now - 60,
                exp: now + 540,
                iss: &self.app_id,
            },
            &self.key,
            None,
        )?;
        let url = self
            .api
            .join(&format!(
                "/app/installations/{}/access_tokens",
                self.installation_id
            ))
            .map_err(|_| GrantError::Permanent("a bad GitHub API URL".into()))?;
        let resp = client
            .post(url)
            .header("authorization", format!("Bearer {jwt}"))
            .header("accept", "application/vnd.github+json")
            .header(API_VERSION.0, API_VERSION.1)
            .send()
            .await
            .map_err(|e| {
                GrantError::Transient(format!(
                    "GitHub token endpoint: {}",
                    super::api::transport(&e)
                ))
            })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            let why = format!("GitHub refused an installation token ({status})");
            let throttled = super::api::throttled(status, &headers).is_some();
            return Err(if throttled || status.is_server_error() {
                GrantError::Transient(why)
            } else {
                GrantError::Permanent(why)
            });
        }
        let token = body["token"]
            .as_str()
            .ok_or_else(|| GrantError::Transient("GitHub sent no installation token".into()))?;
        let expires = body["expires_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            // Measured from now, after the answer: never longer than the token really lives.
            .map(|t| (t.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64)
            .unwrap_or(0);
        Ok(Token {
            secret: SecretString::from(token.to_string()),
            lifetime: Duration::from_secs(expires),
        })
    }
}

pub struct GitHubGrantor {
    api: Api,
}

/// The team a call adds to: `org` and `team` (a slug), or `teams.<role>`.
struct Team {
    org: String,
    slug: String,
}

impl GitHubGrantor {
    pub fn new(api: Api) -> Self {
        Self { api }
    }

    fn team(
        params: &std::collections::HashMap<String, toml::Value>,
        role: &str,
    ) -> Result<Team, GrantError> {
        let org = params
            .get("org")
            .and_then(|v| v.as_str())
            .ok_or_else(|| misconfigured(BACKEND, "no `org`"))?;
        let slug = super::group_for(params, role, "team", "teams")
            .ok_or_else(|| misconfigured(BACKEND, &format!("no `team` for role `{role}`")))?;
        Ok(Team {
            org: org.to_string(),
            slug,
        })
    }

    fn membership(&self, t: &Team, login: &str) -> Result<url::Url, GrantError> {
        self.api.url(&format!(
            "/orgs/{}/teams/{}/memberships/{}",
            segment(&t.org),
            segment(&t.slug),
            segment(login)
        ))
    }

    fn login(call: &GrantCall) -> Result<String, GrantError> {
        super::account(&call.identity, BACKEND, false)
            .map(|a| a.as_str().to_ascii_lowercase())
            .ok_or_else(|| GrantError::Permanent("the person has no GitHub login on record".into()))
    }
}

fn refusal(a: &Answer, step: &str) -> GrantError {
    // GitHub's `message` is free text; the status says enough.
    a.refused(format!("GitHub refused the {step} ({})", a.status))
}

#[async_trait]
impl Grantor for GitHubGrantor {
    fn needs_identity(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        BACKEND
    }

    fn check_person(&self, person: &Person, _resource: &Resource) -> Result<(), String> {
        check_account(person, BACKEND, "GitHub", false)
    }

    /// Membership of one group by one person, whichever resource or role maps to the group.
    fn access_key(&self, call: &GrantCall) -> Option<String> {
        Self::team(&call.params, &call.role)
            .ok()
            .map(|t| format!("{BACKEND}:team:{}/{}:person:{}", t.org, t.slug, call.person))
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        let team = Self::team(&call.params, &call.role)?;
        let a = self
            .api
            .call(
                Method::GET,
                self.membership(&team, &Self::login(call)?)?,
                None,
            )
            .await?;
        match a.status {
            s if s.is_success() => Ok(Some(PriorAccess::Held)),
            StatusCode::NOT_FOUND => Ok(Some(PriorAccess::Absent)),
            _ => Err(refusal(&a, "membership read")),
        }
    }

    async fn holders(&self, resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        let p = &resource.grant.params;
        let org = p
            .get("org")
            .and_then(|v| v.as_str())
            .ok_or_else(|| misconfigured(BACKEND, "no `org`"))?;
        let mut out = Vec::new();
        for slug in groups_of(resource, "team", "teams") {
            let url = self.api.url(&format!(
                "/orgs/{}/teams/{}/members?per_page=100",
                segment(org),
                segment(&slug)
            ))?;
            out.extend(
                self.api
                    .list(url)
                    .await?
                    .iter()
                    .filter_map(|m| m["login"].as_str().map(str::to_ascii_lowercase)),
            );
        }
        out.sort();
        out.dedup();
        Ok(Some(out))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let team = Self::team(&call.params, &call.role)?;
        let login = Self::login(call)?;
        let body = json!({ "role": "member" });
        let a = self
            .api
            .call(Method::PUT, self.membership(&team, &login)?, Some(&body))
            .await?;
        if !a.status.is_success() {
            return Err(refusal(&a, "team membership"));
        }
        let state = a.body["state"].as_str().unwrap_or("unknown").to_string();
        Ok(GrantReceipt::applied(
            BACKEND,
            json!({ "org": team.org, "team": team.slug, "login": login, "state": state }),
        )
        .with_holder(login))
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let team = Self::team(&call.params, &call.role)?;
        let login = match revoke_target(call, BACKEND, false)? {
            RevokeTarget::Holder(h) => h,
            RevokeTarget::Lookup(a) => a.as_str().to_ascii_lowercase(),
        };
        let a = self
            .api
            .call(Method::DELETE, self.membership(&team, &login)?, None)
            .await?;
        let detail = |result: &str| json!({ "org": team.org, "team": team.slug, "login": login, "result": result });
        match a.status {
            s if s.is_success() => {
                Ok(GrantReceipt::applied(BACKEND, detail("removed")).with_holder(login.clone()))
            }
            StatusCode::NOT_FOUND => {
                Ok(GrantReceipt::unchanged(BACKEND, detail("already gone"))
                    .with_holder(login.clone()))
            }
            _ => Err(refusal(&a, "membership removal")),
        }
    }
}
