//! Workload authentication: a bearer JWT becomes a registered agent, or a 401/403 — never a guess.
//!
//! Order matters: the header's algorithm must be on the issuer's allow-list (asymmetric only)
//! before any key is looked up; the signature, `iss`, `aud`, `exp` and `nbf` are checked by
//! jsonwebtoken with the key the issuer published under the header's `kid`; only then is the
//! agent found by `iss` + `sub` and its required claims compared. Neither the token nor its
//! claims are logged: errors carry a fixed reason, never token content.

use super::jwks::{JwksCache, KeyError};
use crate::domain::{Agent, AgentRegistry, TokenAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A token that proves nothing (401), or proves an identity that may not do this (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(String),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) => 403,
        }
    }
}

/// An agent whose token verified, with the claims its binding was decided on.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAgent {
    pub agent: Agent,
    /// `iss`, `sub`, `aud`, `exp`, `jti` (if any) and the binding's required claims: what the
    /// context log keeps as the evidence of who asked. Nothing else from the token.
    pub claims: Value,
}

/// Which `aud` a token must carry to be accepted by one surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Each agent's own `workload.audience` (the agent API).
    PerAgent,
    /// One resource identifier for every agent: the MCP server's canonical URL, which MCP
    /// clients name as the RFC 8707 `resource` when they get a token. A token minted for the
    /// agent API is not accepted here, nor the other way round (unless the two are equal).
    Resource(String),
}

/// Verifies workload tokens against the registry and the issuers' keys.
pub struct WorkloadVerifier {
    registry: Arc<AgentRegistry>,
    jwks: Arc<JwksCache>,
    leeway_secs: u64,
    audience: Audience,
}

fn unauth(why: &'static str) -> AuthError {
    AuthError::Unauthenticated(why)
}

/// The one allow-list of token signature algorithms (workload tokens and SSO ID tokens).
pub(crate) fn allowed(alg: Algorithm) -> Option<TokenAlgorithm> {
    // HMAC is absent on purpose: a public key used as an HMAC secret must never verify.
    Some(match alg {
        Algorithm::RS256 => TokenAlgorithm::RS256,
        Algorithm::RS384 => TokenAlgorithm::RS384,
        Algorithm::RS512 => TokenAlgorithm::RS512,
        Algorithm::PS256 => TokenAlgorithm::PS256,
        Algorithm::PS384 => TokenAlgorithm::PS384,
        Algorithm::PS512 => TokenAlgorithm::PS512,
        Algorithm::ES256 => TokenAlgorithm::ES256,
        Algorithm::ES384 => TokenAlgorithm::ES384,
        Algorithm::EdDSA => TokenAlgorithm::EdDSA,
        // HS256/384/512, and anything a later jsonwebtoken adds, until it is reviewed here.
        _ => return None,
    })
}

impl WorkloadVerifier {
    pub fn new(registry: Arc<AgentRegistry>, jwks: Arc<JwksCache>, leeway_secs: u64) -> Self {
        Self {
            registry,
            jwks,
            leeway_secs,
            audience: Audience::PerAgent,
        }
    }

    /// The same checks, but every token must be for `resource` instead of its agent's audience.
    pub fn for_resource(mut self, resource: impl Into<String>) -> Self {
        self.audience = Audience::Resource(resource.into());
        self
    }

    /// The audience a token of `agent`'s must carry here.
    fn expected_audience<'a>(&'a self, agent: &'a Agent) -> &'a str {
        match &self.audience {
            Audience::PerAgent => &agent.workload.audience,
            Audience::Resource(r) => r,
        }
    }

    pub fn registry(&self) -> &AgentRegistry {
        &self.registry
    }

    /// The agent a `Authorization` header value (`Bearer <jwt>`) authenticates.
    pub async fn verify_header(&self, header: Option<&str>) -> Result<VerifiedAgent, AuthError> {
        let token = header
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(unauth("a bearer token is required"))?;
        self.verify(token).await
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedAgent, AuthError> {
        // `alg: none` and unknown algorithms do not even parse as a header.
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauth("malformed token"))?;
        let alg = allowed(header.alg).ok_or(unauth("token algorithm not allowed"))?;
        let kid = header.kid.ok_or(unauth("token names no key (kid)"))?;
        // Only to choose the issuer whose keys to use; nothing is trusted before the signature.
        let unverified: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| unauth("malformed token"))?;
        let issuer = unverified
            .get("iss")
            .and_then(Value::as_str)
            .filter(|iss| self.registry.knows_issuer(iss))
            .ok_or(unauth("unknown agent"))?
            .to_string();
        let audiences: Vec<&str> = self
            .registry
            .agents()
            .iter()
            .filter(|a| a.workload.issuer == issuer && a.workload.algorithms.contains(&alg))
            .map(|a| self.expected_audience(a))
            .collect();
        if audiences.is_empty() {
            return Err(unauth("token algorithm not allowed"));
        }
        let jwk = match self.jwks.key(&issuer, &kid).await {
            Ok(k) => k,
            Err(KeyError::UnknownKid(_)) => return Err(unauth("unknown signing key")),
            Err(e @ KeyError::Unavailable(_)) => {
                tracing::warn!(issuer = %issuer, error = %e, "workload token issuer keys unavailable");
                return Err(unauth("the issuer's keys are unavailable"));
            }
        };
        if jwk
            .common
            .key_algorithm
            .as_ref()
            .is_some_and(|ka| ka.to_string() != alg.as_str())
        {
            return Err(unauth("token algorithm does not match its key"));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| unauth("unusable signing key"))?;
        let mut v = Validation::new(header.alg);
        v.leeway = self.leeway_secs;
        v.validate_nbf = true;
        v.set_issuer(&[issuer.as_str()]);
        v.set_audience(audiences.as_slice());
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims: Value = jsonwebtoken::decode::<Value>(token, &key, &v)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                unauth(match e.kind() {
                    K::ExpiredSignature => "token expired",
                    K::ImmatureSignature => "token not yet valid",
                    K::InvalidAudience => "token is for another audience",
                    K::InvalidIssuer => "token from another issuer",
                    K::InvalidSignature => "bad signature",
                    _ => "token rejected",
                })
            })?
            .claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let agent = self
            .registry
            .by_identity(&issuer, subject)
            .ok_or(unauth("unknown agent"))?;
        if !audience_contains(&claims, self.expected_audience(agent)) {
            return Err(unauth("token is for another audience"));
        }
        if !agent.workload.algorithms.contains(&alg) {
            return Err(unauth("token algorithm not allowed"));
        }
        if !agent.enabled {
            return Err(AuthError::Forbidden(format!(
                "agent {} is disabled",
                agent.id
            )));
        }
        let mismatched = agent.workload.mismatches(&claims);
        if !mismatched.is_empty() {
            // Names of the claims only: their values may be whatever an attacker put there.
            return Err(AuthError::Forbidden(format!(
                "the token's claims do not match agent {} ({})",
                agent.id,
                mismatched.join(", ")
            )));
        }
        Ok(VerifiedAgent {
            claims: used_claims(&claims, agent),
            agent: agent.clone(),
        })
    }
}

fn audience_contains(claims: &Value, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

/// The claims a decision was made on: identity, lifetime and the binding's required claims.
fn used_claims(claims: &Value, agent: &Agent) -> Value {
    let mut out = Map::new();
    for k in ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"] {
        if let Some(v) = claims.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    for path in agent.workload.claims.keys() {
        if let Some(v) = crate::domain::agent::claim_at(claims, path) {
            out.insert(path.clone(), Value::String(v.to_string()));
        }
    }
    Value::Object(out)
}
