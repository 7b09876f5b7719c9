//! Issuers' signing keys: OIDC discovery, then the JWKS, cached per issuer with bounded refreshes.
//!
//! A key id the cache does not know triggers one fetch, but at most one per
//! `min_refresh` per issuer, so a stream of tokens with made-up `kid`s cannot turn Warden into
//! a load on the issuer. Concurrent lookups for one issuer wait for one fetch.

use crate::http_client::check_transport;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Discovery lives at the issuer with this path appended (OpenID Connect Discovery 1.0, §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Why no key could be had for a token. Every one of them refuses the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the issuer has no key '{0}'")]
    UnknownKid(String),
    #[error("the issuer's keys could not be read: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Copy)]
pub struct JwksOptions {
    /// How long fetched keys are used before they are fetched again.
    pub cache_for: Duration,
    /// The least time between two fetches caused by an unknown `kid`.
    pub min_refresh: Duration,
}

#[derive(Default)]
struct IssuerKeys {
    keys: HashMap<String, Jwk>,
    fetched_at: Option<Instant>,
}

/// The JWKS of every issuer agents are bound to.
pub struct JwksCache {
    http: reqwest::Client,
    options: JwksOptions,
    allow_http_hosts: Vec<String>,
    issuers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<IssuerKeys>>>>,
    fetches: std::sync::atomic::AtomicU64,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl JwksCache {
    pub fn new(http: reqwest::Client, options: JwksOptions, allow_http_hosts: Vec<String>) -> Self {
        Self {
            http,
            options,
            allow_http_hosts,
            issuers: Mutex::default(),
            fetches: Default::default(),
        }
    }

    /// How many times a JWKS was fetched (tests check the refresh bound with it).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The issuer's key `kid`, fetching the JWKS when it is stale or lacks the key (bounded).
    pub async fn key(&self, issuer: &str, kid: &str) -> Result<Jwk, KeyError> {
        let slot = {
            let mut issuers = self.issuers.lock().unwrap_or_else(|p| p.into_inner());
            issuers.entry(issuer.to_string()).or_default().clone()
        };
        let mut keys = slot.lock().await;
        let fresh = keys
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.options.cache_for);
        if fresh && let Some(k) = keys.keys.get(kid) {
            return Ok(k.clone());
        }
        let may_refresh = keys
            .fetched_at
            .is_none_or(|at| !fresh || at.elapsed() >= self.options.min_refresh);
        if !may_refresh {
            return Err(KeyError::UnknownKid(kid.to_string()));
        }
        // Counted as fetched even if it fails: a failing issuer is not asked again at once.
        keys.fetched_at = Some(Instant::now());
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.fetch(issuer).await {
            Ok(fetched) => keys.keys = fetched,
            Err(why) => {
                keys.keys.clear();
                return Err(KeyError::Unavailable(why));
            }
        }
        keys.keys
            .get(kid)
            .cloned()
            .ok_or_else(|| KeyError::UnknownKid(kid.to_string()))
    }

    /// Discovery, then the key set; keys without a `kid` or of a type this build cannot use
    /// and symmetric keys are skipped (a token must name its key).
    async fn fetch(&self, issuer: &str) -> Result<HashMap<String, Jwk>, String> {
        let discovery_url = format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'));
        let doc: Discovery = self.get_json(&discovery_url).await?;
        if doc.issuer.as_deref() != Some(issuer) {
            return Err(format!(
                "the discovery document names another issuer ({:?})",
                doc.issuer.unwrap_or_default()
            ));
        }
        let jwks_uri = doc
            .jwks_uri
            .ok_or_else(|| "the discovery document has no jwks_uri".to_string())?;
        let set: RawSet = self.get_json(&jwks_uri).await?;
        let keys = set
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            // A symmetric key in a public set is a misconfiguration; it never verifies anything.
            .filter(|k| !matches!(k.algorithm, AlgorithmParameters::OctetKey(_)))
            .filter_map(|k| Some((k.common.key_id.clone()?, k)))
            .collect();
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, raw: &str) -> Result<T, String> {
        let url = url::Url::parse(raw).map_err(|_| format!("{raw} is not a URL"))?;
        check_transport(&url, &self.allow_http_hosts).map_err(|e| format!("{url} {e}"))?;
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url} answered HTTP {}", resp.status().as_u16()));
        }
        resp.json()
            .await
            .map_err(|e| format!("{url} is not the expected JSON: {e}"))
    }
}
