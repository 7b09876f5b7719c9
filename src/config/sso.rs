//! `[sso]`: single sign-on to the admin pages through an OpenID Connect provider.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// How a signed-in subject is found in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SsoMatch {
    /// The person whose `sso_subject` is the ID token's `sub` (immutable: the safe default).
    Subject,
    /// The person with the ID token's `email`, only when the provider says `email_verified`.
    VerifiedEmail,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoSettings {
    /// The provider's issuer URL exactly as its discovery document states it. Unset: no SSO.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// From env `WARDEN__SSO__CLIENT_SECRET`…
    pub client_secret: Option<SecretString>,
    /// …or from this file.
    pub client_secret_file: Option<PathBuf>,
    /// Warden's callback as registered at the provider: `https://<warden>/admin/sso/callback`.
    pub redirect_url: Option<String>,
    pub match_by: SsoMatch,
    /// Scopes asked for besides `openid` (the groups claim often needs its own scope).
    pub scopes: Vec<String>,
    /// The ID-token claim that lists the person's groups.
    pub groups_claim: String,
    /// Members of any of these groups sign in as admins…
    pub admin_groups: Vec<String>,
    /// …and of any of these as viewers. Anyone else is refused.
    pub viewer_groups: Vec<String>,
}

impl Default for SsoSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            redirect_url: None,
            match_by: SsoMatch::Subject,
            scopes: vec!["email".into(), "groups".into()],
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            viewer_groups: Vec::new(),
        }
    }
}

impl SsoSettings {
    /// Every problem with an SSO configuration, in plain words (none when SSO is off).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.issuer.is_none() {
            return p;
        }
        if self.client_id.as_deref().is_none_or(str::is_empty) {
            p.push("sso.client_id is required when sso.issuer is set".into());
        }
        if self.client_secret.is_none() {
            p.push("sso.client_secret (env WARDEN__SSO__CLIENT_SECRET) or sso.client_secret_file is required when sso.issuer is set".into());
        }
        match self.redirect_url.as_deref().map(url::Url::parse) {
            None => p.push("sso.redirect_url is required when sso.issuer is set (https://<warden>/admin/sso/callback)".into()),
            Some(Ok(u)) if u.path() == "/admin/sso/callback" => {}
            Some(_) => p.push("sso.redirect_url must be a URL ending in /admin/sso/callback".into()),
        }
        if self.admin_groups.is_empty() && self.viewer_groups.is_empty() {
            p.push("sso.admin_groups or sso.viewer_groups must name a group: with neither, SSO signs nobody in".into());
        }
        if self.groups_claim.trim().is_empty() {
            p.push("sso.groups_claim must name a claim".into());
        }
        p
    }
}
