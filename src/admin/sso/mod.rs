//! Single sign-on to the admin pages: OpenID Connect authorization code flow with PKCE.
//!
//! `begin` records a sign-in (hashed `state`, `nonce`, PKCE verifier, a browser binding) and
//! sends the browser to the provider; `finish` takes that record once, exchanges the code with
//! the verifier, validates the ID token (`id_token`) and maps the subject to a directory person
//! and the groups claim to a role. Every failure is a `Refusal`: a short message for the person,
//! the cause for the log, and no session.

pub mod id_token;
mod provider;
mod refusal;
pub mod routes;

pub use refusal::Refusal;

use super::session::random_id;
use super::tokens::Role;
use crate::agents::jwks::{JwksCache, JwksOptions};
use crate::config::{SsoMatch, SsoSettings};
use crate::directory::Directory;
use crate::http_client::{HttpOptions, client};
use crate::store::log::sha256_hex;
use crate::store::{PendingLogin, SsoIdentity, Store};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use provider::Discovery;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a begun sign-in waits for its callback.
pub const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;

/// A finished sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub identity: SsoIdentity,
    pub role: Role,
}

/// Parameters of the provider's redirect back to `/admin/sso/callback`.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: the issuer of this authorization response.
    pub iss: Option<String>,
    pub error: Option<String>,
}

/// The configured provider, its discovery document (read once, when first needed) and keys.
pub struct Sso {
    issuer: String,
    client_id: String,
    client_secret: SecretString,
    redirect_url: String,
    match_by: SsoMatch,
    scopes: Vec<String>,
    groups_claim: String,
    admin_groups: Vec<String>,
    viewer_groups: Vec<String>,
    allow_http_hosts: Vec<String>,
    http: reqwest::Client,
    jwks: JwksCache,
    discovery: tokio::sync::OnceCell<Discovery>,
}

impl Sso {
    /// `None` when `sso.issuer` is unset; `Settings::problems` has checked the rest.
    pub fn from_settings(
        s: &SsoSettings,
        allow_http_hosts: &[String],
    ) -> anyhow::Result<Option<Self>> {
        let Some(issuer) = s.issuer.clone() else {
            return Ok(None);
        };
        let need = |v: Option<String>, key: &str| {
            v.ok_or_else(|| anyhow::anyhow!("{key} is required when sso.issuer is set"))
        };
        let http = client(HttpOptions::new(Duration::from_secs(10)))?;
        Ok(Some(Self {
            client_id: need(s.client_id.clone(), "sso.client_id")?,
            client_secret: s.client_secret.clone().ok_or_else(|| {
                anyhow::anyhow!("sso.client_secret is required when sso.issuer is set")
            })?,
            redirect_url: need(s.redirect_url.clone(), "sso.redirect_url")?,
            match_by: s.match_by,
            scopes: s.scopes.clone(),
            groups_claim: s.groups_claim.clone(),
            admin_groups: s.admin_groups.clone(),
            viewer_groups: s.viewer_groups.clone(),
            allow_http_hosts: allow_http_hosts.to_vec(),
            jwks: JwksCache::new(
                http.clone(),
                JwksOptions {
                    cache_for: Duration::from_secs(3600),
                    min_refresh: Duration::from_secs(60),
                },
                allow_http_hosts.to_vec(),
            ),
            http,
            issuer,
            discovery: tokio::sync::OnceCell::new(),
        }))
    }

    /// Records a new sign-in and returns the provider URL to send the browser to, with the
    /// browser binding value for the `warden_sso` cookie.
    pub async fn begin(&self, store: &Store, now_ms: i64) -> Result<(url::Url, String), Refusal> {
        let doc = self.discovery().await?;
        let (state, nonce, binding) = (random_id(), random_id(), random_id());
        let verifier = B64.encode(rand::random::<[u8; 32]>());
        let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
        let pending = PendingLogin {
            state_hash: sha256_hex(state.as_bytes()),
            binding_hash: sha256_hex(binding.as_bytes()),
            nonce: nonce.clone(),
            verifier,
            expires_at: now_ms + LOGIN_TTL_MS,
        };
        store
            .begin_sso_login(&pending, now_ms)
            .await
            .map_err(|e| Refusal::Directory(format!("{e:#}")))?;
        let scope = std::iter::once("openid")
            .chain(
                self.scopes
                    .iter()
                    .map(String::as_str)
                    .filter(|s| *s != "openid"),
            )
            .collect::<Vec<_>>()
            .join(" ");
        let mut url = self.checked(&doc.authorization_endpoint)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_url)
            .append_pair("scope", &scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((url, binding))
    }

    /// Finishes a sign-in from the provider's callback, in the browser holding `binding`.
    pub async fn finish(
        &self,
        store: &Store,
        directory: &dyn Directory,
        cb: &Callback,
        binding: Option<&str>,
        now_ms: i64,
    ) -> Result<SignedIn, Refusal> {
        let state = cb.state.as_deref().ok_or(Refusal::Malformed("state"))?;
        let binding = binding.ok_or(Refusal::UnknownState)?;
        // Taken before anything else is looked at: a state is spent by its first callback,
        // whatever that callback carried.
        let pending = store
            .take_sso_login(
                &sha256_hex(state.as_bytes()),
                &sha256_hex(binding.as_bytes()),
                now_ms,
            )
            .await
            .map_err(|e| Refusal::Directory(format!("{e:#}")))?
            .ok_or(Refusal::UnknownState)?;
        if let Some(error) = &cb.error {
            // The provider's error code only (RFC 6749 codes are this charset); its free-text
            // description is not logged, and nothing from the URL can break a log line.
            let code = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
                .take(64)
                .collect();
            return Err(Refusal::ProviderError(code));
        }
        let doc = self.discovery().await?;
        match cb.iss.as_deref() {
            Some(iss) if iss != self.issuer => return Err(Refusal::WrongIssuer),
            None if doc.authorization_response_iss_parameter_supported => {
                return Err(Refusal::WrongIssuer);
            }
            _ => {}
        }
        let code = cb.code.as_deref().ok_or(Refusal::Malformed("code"))?;
        let id_token = self.exchange(doc, code, &pending.verifier).await?;
        let claims = id_token::validate(
            &id_token,
            &self.jwks,
            &id_token::Expected {
                issuer: &self.issuer,
                client_id: &self.client_id,
                nonce: &pending.nonce,
                now_secs: now_ms.div_euclid(1000),
                groups_claim: &self.groups_claim,
            },
        )
        .await?;
        let role = self.role_for(&claims.groups).ok_or(Refusal::NoRole)?;
        let found = match self.match_by {
            SsoMatch::Subject => directory.person_by_sso_subject(&claims.subject).await,
            SsoMatch::VerifiedEmail => match (&claims.email, claims.email_verified) {
                (Some(email), true) => directory.person_by_email(email).await,
                _ => Ok(None),
            },
        };
        let person = found
            .map_err(|e| Refusal::Directory(e.to_string()))?
            .filter(|p| p.active)
            .ok_or(Refusal::NoPerson)?;
        Ok(SignedIn {
            identity: SsoIdentity {
                subject: claims.subject,
                person: person.id,
                role: role.as_str().to_string(),
                sid: claims.sid,
            },
            role,
        })
    }

    /// Ends the Warden sessions of the provider session a back-channel logout token names.
    pub async fn logout(
        &self,
        store: &Store,
        logout_token: &str,
        now_ms: i64,
    ) -> Result<u64, Refusal> {
        let who = id_token::validate_logout(
            logout_token,
            &self.jwks,
            &self.issuer,
            &self.client_id,
            now_ms.div_euclid(1000),
        )
        .await?;
        store
            .end_sso_sessions(
                who.subject.as_deref(),
                who.sid.as_deref(),
                now_ms,
                "signed out at the identity provider",
            )
            .await
            .map_err(|e| Refusal::Directory(format!("{e:#}")))
    }

    /// Admin wins over viewer; anyone in neither kind of group has no role.
    fn role_for(&self, groups: &[String]) -> Option<Role> {
        let any = |wanted: &[String]| groups.iter().any(|g| wanted.contains(g));
        if any(&self.admin_groups) {
            Some(Role::Admin)
        } else if any(&self.viewer_groups) {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sso(admin: &[&str], viewer: &[&str]) -> Sso {
        crate::http_client::install_crypto();
        let s = SsoSettings {
            issuer: Some("https://idp.example.com".into()),
            client_id: Some("warden".into()),
            client_secret: Some(SecretString::from("s")),
            redirect_url: Some("https://warden.example.com/admin/sso/callback".into()),
            admin_groups: admin.iter().map(|g| g.to_string()).collect(),
            viewer_groups: viewer.iter().map(|g| g.to_string()).collect(),
            ..SsoSettings::default()
        };
        assert_eq!(s.problems(), Vec::<String>::new());
        Sso::from_settings(&s, &[]).unwrap().unwrap()
    }

    #[test]
    fn admin_groups_win_over_viewer_groups_and_other_groups_give_no_role() {
        let s = sso(&["ops"], &["audit"]);
        let groups = |g: &[&str]| g.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        assert_eq!(s.role_for(&groups(&["audit", "ops"])), Some(Role::Admin));
        assert_eq!(s.role_for(&groups(&["audit"])), Some(Role::Viewer));
        assert_eq!(
            s.role_for(&groups(&["Ops", "staff"])),
            None,
            "exact names only"
        );
        assert_eq!(s.role_for(&[]), None);
    }

    #[test]
    fn an_incomplete_sso_configuration_lists_every_problem() {
        let s = SsoSettings {
            issuer: Some("https://idp.example.com".into()),
            redirect_url: Some("https://warden.example.com/callback".into()),
            ..SsoSettings::default()
        };
        let p = s.problems().join("\n");
        for key in [
            "sso.client_id",
            "sso.client_secret",
            "sso.redirect_url must",
            "sso.admin_groups",
        ] {
            assert!(p.contains(key), "{key} missing from:\n{p}");
        }
        assert!(
            SsoSettings::default().problems().is_empty(),
            "SSO off is no problem"
        );
    }
}
