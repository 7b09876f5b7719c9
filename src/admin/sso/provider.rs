//! The provider over HTTP: its discovery document (read once, when first needed) and the token
//! endpoint. Every URL it names passes the transport rule before it is used.

use super::{Refusal, Sso};
use crate::agents::jwks::DISCOVERY_PATH;
use crate::http_client::check_transport;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

impl Sso {
    pub(super) async fn discovery(&self) -> Result<&Discovery, Refusal> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!("{}{DISCOVERY_PATH}", self.issuer.trim_end_matches('/'));
                let doc: Discovery = self.get_json(&url).await?;
                if doc.issuer != self.issuer {
                    return Err(Refusal::ProviderUnavailable(format!(
                        "the discovery document names another issuer ({})",
                        doc.issuer
                    )));
                }
                for u in [&doc.authorization_endpoint, &doc.token_endpoint] {
                    self.checked(u)?;
                }
                Ok(doc)
            })
            .await
    }

    pub(super) fn checked(&self, raw: &str) -> Result<url::Url, Refusal> {
        let url = url::Url::parse(raw)
            .map_err(|_| Refusal::ProviderUnavailable(format!("{raw} is not a URL")))?;
        check_transport(&url, &self.allow_http_hosts)
            .map_err(|e| Refusal::ProviderUnavailable(format!("{url} {e}")))?;
        Ok(url)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, raw: &str) -> Result<T, Refusal> {
        let url = self.checked(raw)?;
        let unavailable = |e: String| Refusal::ProviderUnavailable(format!("{url}: {e}"));
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("HTTP {}", resp.status().as_u16())));
        }
        resp.json().await.map_err(|e| unavailable(e.to_string()))
    }

    /// The code and verifier for an ID token at the token endpoint (client_secret_basic).
    pub(super) async fn exchange(
        &self,
        doc: &Discovery,
        code: &str,
        verifier: &str,
    ) -> Result<String, Refusal> {
        let url = self.checked(&doc.token_endpoint)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_url)
            .append_pair("code_verifier", verifier)
            .finish();
        // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!(
            "{}:{}",
            enc(&self.client_id),
            enc(self.client_secret.expose_secret())
        ));
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| Refusal::TokenExchange(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            // The OAuth error code is safe to log; nothing else of the body is.
            let code = resp
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| {
                    v.get("error")
                        .and_then(|e| e.as_str())
                        .map(|e| e.chars().take(64).collect::<String>())
                })
                .unwrap_or_default();
            return Err(Refusal::TokenExchange(format!(
                "HTTP {} {code}",
                status.as_u16()
            )));
        }
        resp.json::<TokenResponse>()
            .await
            .map_err(|e| Refusal::TokenExchange(format!("not a token response: {e}")))?
            .id_token
            .ok_or(Refusal::TokenExchange("no id_token in the answer".into()))
    }
}
