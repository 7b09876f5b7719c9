//! AuthZEN PDP metadata discovery: the endpoints a PDP advertises, trusted only from itself.
//!
//! The metadata lives at the PDP identifier with `/.well-known/authzen-configuration` inserted
//! between the host and the path (`https://pdp.example/tenant` →
//! `https://pdp.example/.well-known/authzen-configuration/tenant`). Its `policy_decision_point`
//! must be the identifier it was fetched for: metadata naming another PDP is refused (AuthZEN
//! 1.0, PDP metadata), so a cache or a proxy cannot point Warden at a different decision point.

use super::opa::{read_body, redact};
use crate::http_client::check_transport;
use serde::Deserialize;
use url::Url;

pub const WELL_KNOWN: &str = "/.well-known/authzen-configuration";

/// Where to send evaluations, as the PDP advertised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzenEndpoints {
    /// The PDP identifier the metadata was checked against.
    pub pdp: String,
    /// `access_evaluation_endpoint`: one decision per call (what Warden asks).
    pub evaluation: Url,
    /// `access_evaluations_endpoint` (batch), when advertised. Warden decides one request at a
    /// time, so it is kept for the record, not called.
    pub evaluations: Option<Url>,
}

/// Why the metadata cannot be used; every variant fails closed (no PDP, no decisions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("policy.url must be an http(s) URL without query or fragment")]
    BadIdentifier,
    #[error(
        "the PDP publishes no AuthZEN metadata at {0} (HTTP 404); set policy.evaluation_url to its evaluation endpoint"
    )]
    NotFound(String),
    #[error("the PDP answered HTTP {status} for its metadata at {at}")]
    Status { status: u16, at: String },
    #[error("cannot read the PDP metadata at {at}: {why}")]
    Unreadable { at: String, why: String },
    #[error("the PDP metadata at {at} lacks {field}")]
    Missing { at: String, field: &'static str },
    #[error(
        "the PDP metadata names another decision point ({advertised}), not {expected}; refusing it"
    )]
    Mismatch {
        expected: String,
        advertised: String,
    },
    #[error("the PDP metadata's {field} is not usable: {why}")]
    BadEndpoint { field: &'static str, why: String },
}

#[derive(Deserialize)]
struct Metadata {
    policy_decision_point: Option<String>,
    access_evaluation_endpoint: Option<String>,
    access_evaluations_endpoint: Option<String>,
}

/// The metadata URL for a PDP identifier (RFC 8414-style path insertion).
pub fn metadata_url(pdp: &Url) -> Result<Url, DiscoveryError> {
    if !matches!(pdp.scheme(), "http" | "https")
        || pdp.query().is_some()
        || pdp.fragment().is_some()
        || pdp.cannot_be_a_base()
    {
        return Err(DiscoveryError::BadIdentifier);
    }
    let mut url = pdp.clone();
    let path = pdp.path().trim_end_matches('/');
    url.set_path(&format!("{WELL_KNOWN}{path}"));
    Ok(url)
}

/// The identifier as compared: the configured text without a trailing slash, which `Url`
/// adds to a bare host (`https://pdp.example` and `https://pdp.example/` are one PDP).
fn identifier(pdp: &Url) -> String {
    pdp.as_str().trim_end_matches('/').to_string()
}

/// Fetches and checks the metadata of the PDP at `pdp`. The advertised endpoints must pass
/// the same transport rule as the configured URL.
pub async fn discover(
    client: &reqwest::Client,
    pdp: &Url,
    allow_http_hosts: &[String],
) -> Result<AuthzenEndpoints, DiscoveryError> {
    let at_url = metadata_url(pdp)?;
    let at = redact(&at_url);
    let unreadable = |why: String| DiscoveryError::Unreadable {
        at: at.clone(),
        why,
    };
    let response = client
        .get(at_url.clone())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreadable(super::opa::describe(&e)))?;
    match response.status().as_u16() {
        200 => {}
        404 => return Err(DiscoveryError::NotFound(at)),
        status => return Err(DiscoveryError::Status { status, at }),
    }
    let body = read_body(response).await.map_err(unreadable)?;
    let meta: Metadata = serde_json::from_slice(&body)
        .map_err(|_| unreadable("not a JSON object of metadata".into()))?;
    parse(pdp, &at, meta, allow_http_hosts)
}

fn parse(
    pdp: &Url,
    at: &str,
    meta: Metadata,
    allow_http_hosts: &[String],
) -> Result<AuthzenEndpoints, DiscoveryError> {
    let missing = |field| DiscoveryError::Missing {
        at: at.to_string(),
        field,
    };
    let expected = identifier(pdp);
    let advertised = meta
        .policy_decision_point
        .ok_or_else(|| missing("policy_decision_point"))?;
    if advertised.trim_end_matches('/') != expected {
        return Err(DiscoveryError::Mismatch {
            expected: redact(pdp),
            // Shown in errors: keep only what a URL-shaped value would show without secrets.
            advertised: Url::parse(&advertised)
                .map(|u| redact(&u))
                .unwrap_or_else(|_| "an invalid URL".into()),
        });
    }
    let endpoint = |field: &'static str, raw: String| -> Result<Url, DiscoveryError> {
        let bad = |why: String| DiscoveryError::BadEndpoint { field, why };
        let url = Url::parse(&raw).map_err(|_| bad("not an absolute URL".into()))?;
        check_transport(&url, allow_http_hosts).map_err(|e| bad(e.to_string()))?;
        Ok(url)
    };
    let evaluation = endpoint(
        "access_evaluation_endpoint",
        meta.access_evaluation_endpoint
            .ok_or_else(|| missing("access_evaluation_endpoint"))?,
    )?;
    let evaluations = meta
        .access_evaluations_endpoint
        .map(|raw| endpoint("access_evaluations_endpoint", raw))
        .transpose()?;
    Ok(AuthzenEndpoints {
        pdp: expected,
        evaluation,
        evaluations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pdp: &str, eval: Option<&str>) -> Metadata {
        Metadata {
            policy_decision_point: Some(pdp.into()),
            access_evaluation_endpoint: eval.map(str::to_string),
            access_evaluations_endpoint: None,
        }
    }

    #[test]
    fn the_well_known_path_goes_between_the_host_and_the_path() {
        let at = |u: &str| metadata_url(&Url::parse(u).unwrap()).map(|u| u.to_string());
        assert_eq!(
            at("https://pdp.example").unwrap(),
            "https://pdp.example/.well-known/authzen-configuration"
        );
        assert_eq!(
            at("https://pdp.example/tenant/a/").unwrap(),
            "https://pdp.example/.well-known/authzen-configuration/tenant/a"
        );
        assert_eq!(
            at("https://pdp.example/?x=1"),
            Err(DiscoveryError::BadIdentifier)
        );
    }

    #[test]
    fn metadata_must_name_the_pdp_it_came_from() {
        let pdp = Url::parse("https://pdp.example/t1").unwrap();
        let ok = parse(
            &pdp,
            "m",
            meta(
                "https://pdp.example/t1",
                Some("https://pdp.example/t1/eval"),
            ),
            &[],
        )
        .unwrap();
        assert_eq!(ok.evaluation.as_str(), "https://pdp.example/t1/eval");
        for other in [
            "https://pdp.example/t2",
            "https://evil.example/t1",
            "http://pdp.example/t1",
        ] {
            assert!(
                matches!(
                    parse(&pdp, "m", meta(other, Some("https://pdp.example/e")), &[]),
                    Err(DiscoveryError::Mismatch { .. })
                ),
                "{other}"
            );
        }
        assert!(matches!(
            parse(&pdp, "m", meta("https://pdp.example/t1", None), &[]),
            Err(DiscoveryError::Missing {
                field: "access_evaluation_endpoint",
                ..
            })
        ));
        assert!(matches!(
            parse(
                &pdp,
                "m",
                meta("https://pdp.example/t1", Some("http://pdp.example/eval")),
                &[]
            ),
            Err(DiscoveryError::BadEndpoint { .. })
        ));
    }
}
