//! Credentials for SaaS admin APIs: a static API token, or a short-lived bearer token fetched
//! from an issuer (OAuth client credentials, a GitHub App installation) and cached until
//! shortly before it expires, so one token serves many calls and none is used stale.

use crate::grants::GrantError;
use async_trait::async_trait;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};

/// A bearer token and when it stops working.
pub struct Token {
    pub secret: SecretString,
    pub lifetime: Duration,
}

/// Where fresh tokens come from.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn fetch(&self, client: &reqwest::Client) -> Result<Token, GrantError>;
}

struct Held {
    secret: SecretString,
    refresh_at: Instant,
}

/// A token source with its current token, refreshed when a fifth of its life or five minutes
/// remain (whichever comes first), or at once when the API refuses it.
pub struct Cached {
    source: Box<dyn TokenSource>,
    held: tokio::sync::Mutex<Option<Held>>,
}

impl Cached {
    pub fn new(source: impl TokenSource + 'static) -> Self {
        Self {
            source: Box::new(source),
            held: tokio::sync::Mutex::new(None),
        }
    }

    async fn get(&self, client: &reqwest::Client) -> Result<SecretString, GrantError> {
        // Held across the fetch: concurrent calls wait for one refresh instead of each making one.
        let mut held = self.held.lock().await;
        if let Some(h) = held.as_ref().filter(|h| Instant::now() < h.refresh_at) {
            return Ok(h.secret.clone());
        }
        let token = self.source.fetch(client).await?;
        let early = (token.lifetime / 5).min(Duration::from_secs(300));
        let secret = token.secret.clone();
        *held = Some(Held {
            secret: token.secret,
            refresh_at: Instant::now() + token.lifetime.saturating_sub(early),
        });
        Ok(secret)
    }
}

/// How calls to one API authenticate.
pub enum Auth {
    /// A long-lived token sent as `<scheme> <token>` (Okta's `SSWS`).
    Static {
        scheme: &'static str,
        token: SecretString,
    },
    /// `Bearer <token>` from a cached, refreshed source.
    Bearer(Cached),
}

impl Auth {
    /// The `Authorization` header, marked sensitive so no debug output prints it.
    pub async fn header(&self, client: &reqwest::Client) -> Result<HeaderValue, GrantError> {
        let text = match self {
            Auth::Static { scheme, token } => format!("{scheme} {}", token.expose_secret()),
            Auth::Bearer(c) => format!("Bearer {}", c.get(client).await?.expose_secret()),
        };
        let mut v = HeaderValue::from_str(&text).map_err(|_| {
            GrantError::Permanent("a token with characters a header cannot carry".into())
        })?;
        v.set_sensitive(true);
        Ok(v)
    }

    pub fn refreshable(&self) -> bool {
        matches!(self, Auth::Bearer(_))
    }

    /// Forgets the cached token (the API refused it): the next call fetches a new one.
    pub async fn invalidate(&self) {
        if let Auth::Bearer(c) = self {
            *c.held.lock().await = None;
        }
    }
}

/// How an OAuth client proves who it is at the token endpoint.
pub enum ClientAuth {
    /// `client_secret` in the form (Microsoft Entra ID).
    Secret(SecretString),
    /// `private_key_jwt`: a short JWT signed with the client's key (Okta service apps).
    PrivateKeyJwt {
        key: jsonwebtoken::EncodingKey,
        key_id: Option<String>,
    },
}

/// OAuth 2.0 client credentials (RFC 6749 §4.4) at one token endpoint.
pub struct ClientCredentials {
    pub token_url: url::Url,
    pub client_id: String,
    pub scope: String,
    pub auth: ClientAuth,
    /// The issuer's name for messages.
    pub issuer: &'static str,
}

#[derive(serde::Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// An RS256 JWT over `claims`, for client assertions and GitHub App JWTs.
pub fn sign_rs256(
    claims: &impl serde::Serialize,
    key: &jsonwebtoken::EncodingKey,
    key_id: Option<&str>,
) -> Result<String, GrantError> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key_id.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key)
        .map_err(|_| GrantError::Permanent("could not sign with the configured private key".into()))
}

impl ClientCredentials {
    /// The token request's form body (built apart: the serializer is not `Send`).
    fn form(&self) -> Result<String, GrantError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("scope", &self.scope);
        match &self.auth {
            ClientAuth::Secret(s) => {
                form.append_pair("client_id", &self.client_id)
                    .append_pair("client_secret", s.expose_secret());
            }
            ClientAuth::PrivateKeyJwt { key, key_id } => {
                let now = chrono::Utc::now().timestamp();
                let claims = Assertion {
                    iss: &self.client_id,
                    sub: &self.client_id,
                    aud: self.token_url.as_str(),
                    iat: now,
                    exp: now + 300,
                    jti: uuid::Uuid::new_v4().to_string(),
                };
                let jwt = sign_rs256(&claims, key, key_id.as_deref())?;
                form.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .append_pair("client_assertion", &jwt);
            }
        }
        Ok(form.finish())
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch(&self, client: &reqwest::Client) -> Result<Token, GrantError> {
        let form = self.form()?;
        let resp = client
            .post(self.token_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| {
                GrantError::Transient(format!(
                    "{} token endpoint: {}",
                    self.issuer,
                    super::api::transport(&e)
                ))
            })?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            // The OAuth error code only: descriptions may echo what was sent.
            let code = body["error"].as_str().unwrap_or("no error code");
            let why = format!("{} token endpoint answered {status} ({code})", self.issuer);
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                GrantError::Transient(why)
            } else {
                GrantError::Permanent(why)
            });
        }
        let secret = body["access_token"].as_str().ok_or_else(|| {
            GrantError::Transient(format!(
                "{} token endpoint sent no access_token",
                self.issuer
            ))
        })?;
        Ok(Token {
            secret: SecretString::from(secret.to_string()),
            lifetime: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(300)),
        })
    }
}

/// A PEM private key from the settings, or a configuration error naming the setting.
pub fn rsa_key(pem: &SecretString, setting: &str) -> anyhow::Result<jsonwebtoken::EncodingKey> {
    jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
        .map_err(|_| anyhow::anyhow!("{setting} is not an RSA private key in PEM form"))
}
