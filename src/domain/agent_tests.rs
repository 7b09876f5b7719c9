//! Unit tests of the agent registry: parsing, validation against the catalog, claim matching.

use super::*;
use serde_json::json;

fn catalog() -> Catalog {
    Catalog::from_toml(crate::examples::EXAMPLE_CATALOG).unwrap()
}

fn one(extra: &str) -> String {
    format!(
        r#"
[[agent]]
id = "ci"
name = "CI"
owner = "carol"
{extra}
[agent.workload]
issuer = "https://issuer.example"
audience = "https://warden.example"
subject = "repo:acme/x:ref:refs/heads/main"
claims = {{ repository = "acme/x", "kubernetes.io/namespace" = "ci" }}

[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]
"#
    )
}

#[test]
fn the_shipped_example_registry_is_valid_against_the_shipped_catalog() {
    let r = AgentRegistry::from_toml(crate::examples::EXAMPLE_AGENTS, &catalog()).unwrap();
    assert_eq!(r.len(), 3);
    let gh = r.get("billing-migrations").unwrap();
    assert_eq!(gh.owner, "carol");
    assert_eq!(gh.max_duration, 30 * 60);
    assert!(gh.within_ceiling("prod-billing-db", "read"));
    assert!(!gh.within_ceiling("prod-billing-db", "write"));
    assert!(!r.get("deploy-checker").unwrap().enabled);
}

#[test]
fn defaults_are_short_single_and_enabled() {
    let r = AgentRegistry::from_toml(&one(""), &catalog()).unwrap();
    let a = r.get("ci").unwrap();
    assert_eq!(a.max_duration, DEFAULT_AGENT_MAX_DURATION_SECS);
    assert_eq!(a.max_concurrent_grants, 1);
    assert!(a.enabled);
    assert_eq!(
        a.workload.algorithms,
        vec![TokenAlgorithm::RS256, TokenAlgorithm::ES256]
    );
}

#[test]
fn a_ceiling_outside_the_catalog_is_refused() {
    let text = one("").replace("staging-db", "no-such-db");
    let err = AgentRegistry::from_toml(&text, &catalog()).unwrap_err();
    assert!(err.to_string().contains("not in the catalog"), "{err}");
    let text = one("").replace("[\"read\"]", "[\"superuser\"]");
    let err = AgentRegistry::from_toml(&text, &catalog()).unwrap_err();
    assert!(err.to_string().contains("not a role"), "{err}");
}

#[test]
fn hmac_and_none_cannot_be_configured() {
    for alg in ["HS256", "none"] {
        let text = one("").replace(
            "subject = ",
            &format!("algorithms = [\"{alg}\"]\nsubject = "),
        );
        let err = AgentRegistry::from_toml(&text, &catalog()).unwrap_err();
        assert!(matches!(err, AgentRegistryError::Parse(_)), "{alg}: {err}");
    }
    assert_eq!(TokenAlgorithm::parse("HS256"), None);
    assert_eq!(TokenAlgorithm::parse("none"), None);
}

#[test]
fn missing_owner_unknown_keys_and_zero_limits_are_refused() {
    let no_owner = one("").replace("owner = \"carol\"", "");
    assert!(AgentRegistry::from_toml(&no_owner, &catalog()).is_err());
    let typo = one("enabeld = true");
    assert!(AgentRegistry::from_toml(&typo, &catalog()).is_err());
    let zero = one("max_concurrent_grants = 0");
    let err = AgentRegistry::from_toml(&zero, &catalog()).unwrap_err();
    assert!(err.to_string().contains("max_concurrent_grants"), "{err}");
    let sub_claim = one("").replace("repository = ", "sub = \"x\", repository = ");
    let err = AgentRegistry::from_toml(&sub_claim, &catalog()).unwrap_err();
    assert!(err.to_string().contains("'sub'"), "{err}");
}

#[test]
fn two_agents_with_one_identity_or_one_id_are_refused() {
    let twice = format!(
        "{}{}",
        one(""),
        one("").replace("id = \"ci\"", "id = \"ci2\"")
    );
    let err = AgentRegistry::from_toml(&twice, &catalog()).unwrap_err();
    assert!(
        matches!(err, AgentRegistryError::SameIdentity { .. }),
        "{err}"
    );
    let dup = format!("{}{}", one(""), one(""));
    let err = AgentRegistry::from_toml(&dup, &catalog()).unwrap_err();
    assert!(matches!(err, AgentRegistryError::Duplicate(_)), "{err}");
}

#[test]
fn required_claims_match_exactly_including_nested_paths() {
    let r = AgentRegistry::from_toml(&one(""), &catalog()).unwrap();
    let w = &r.get("ci").unwrap().workload;
    let good = json!({"repository": "acme/x", "kubernetes.io": {"namespace": "ci"}});
    assert!(w.mismatches(&good).is_empty());
    let bad = json!({"repository": "acme/x-fork", "kubernetes.io": {"namespace": "ci"}});
    assert_eq!(w.mismatches(&bad), vec!["repository".to_string()]);
    let missing = json!({"repository": "acme/x"});
    assert_eq!(
        w.mismatches(&missing),
        vec!["kubernetes.io/namespace".to_string()]
    );
    let not_a_string = json!({"repository": ["acme/x"], "kubernetes.io": {"namespace": "ci"}});
    assert_eq!(w.mismatches(&not_a_string), vec!["repository".to_string()]);
    assert!(
        r.by_identity("https://issuer.example", "repo:acme/x:ref:refs/heads/main")
            .is_some()
    );
    assert!(
        r.by_identity("https://issuer.example", "repo:acme/x:ref:refs/heads/dev")
            .is_none()
    );
}
