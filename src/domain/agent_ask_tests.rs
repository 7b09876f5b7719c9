//! Unit tests of an agent's structured ask: what becomes an intent, what is refused and why.

use super::*;
use crate::domain::AgentRegistry;

fn setup() -> (Agent, Catalog) {
    let catalog = Catalog::from_toml(crate::examples::EXAMPLE_CATALOG).unwrap();
    let reg = AgentRegistry::from_toml(
        r#"
[[agent]]
id = "ci"
name = "CI"
owner = "carol"
max_duration = "30m"
[agent.workload]
issuer = "https://issuer.example"
audience = "https://warden.example"
subject = "repo:acme/x:ref:refs/heads/main"
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]
"#,
        &catalog,
    )
    .unwrap();
    (reg.get("ci").unwrap().clone(), catalog)
}

fn ask(resource: &str, role: &str, duration: AskDuration, task: &str) -> AgentAsk {
    AgentAsk {
        resource: resource.into(),
        role: role.into(),
        duration,
        task: task.into(),
        ticket: Some("INC-42".into()),
    }
}

#[test]
fn a_valid_ask_becomes_a_request_intent_with_the_task_as_justification() {
    let (agent, catalog) = setup();
    let a = ask(
        "staging-db",
        "read",
        AskDuration::Text("20m".into()),
        "run migration 42",
    );
    let i = a.to_intent(&agent, &catalog).unwrap();
    assert_eq!(i.action, Action::Request);
    assert_eq!(i.resource.as_deref(), Some("staging-db"));
    assert_eq!(i.duration_secs, Some(1200));
    assert_eq!(i.justification.as_deref(), Some("run migration 42"));
    assert_eq!(i.ticket.as_deref(), Some("INC-42"));
    assert!(!i.break_glass);
    assert!(a.matches(&i));
    let other = ask(
        "staging-db",
        "read",
        AskDuration::Secs(1200),
        "another task",
    );
    assert!(!other.matches(&i), "a different task is a different ask");
}

#[test]
fn an_ask_outside_the_ceiling_is_still_an_intent_for_the_policy_to_deny() {
    let (agent, catalog) = setup();
    let a = ask("prod-billing-db", "read", AskDuration::Secs(60), "look");
    assert!(a.to_intent(&agent, &catalog).is_ok());
}

#[test]
fn bad_asks_are_refused_with_a_code_and_nothing_is_clamped() {
    let (agent, catalog) = setup();
    let cases = [
        (
            ask("nope", "read", AskDuration::Secs(60), "t"),
            "unknown_resource",
        ),
        (
            ask("staging-db", "root", AskDuration::Secs(60), "t"),
            "unknown_role",
        ),
        (
            ask("staging-db", "read", AskDuration::Secs(0), "t"),
            "invalid_duration",
        ),
        (
            ask("staging-db", "read", AskDuration::Text("soon".into()), "t"),
            "invalid_duration",
        ),
        (
            ask("staging-db", "read", AskDuration::Secs(31 * 60), "t"),
            "duration_above_agent_max",
        ),
        (
            ask("staging-db", "read", AskDuration::Secs(60), "   "),
            "invalid_task",
        ),
        (
            ask(
                "staging-db",
                "read",
                AskDuration::Secs(60),
                &"x".repeat(501),
            ),
            "invalid_task",
        ),
    ];
    for (a, code) in cases {
        assert_eq!(
            a.to_intent(&agent, &catalog).unwrap_err().code(),
            code,
            "{a:?}"
        );
    }
    let mut bad_ticket = ask("staging-db", "read", AskDuration::Secs(60), "t");
    bad_ticket.ticket = Some("<@here> x".into());
    assert_eq!(
        bad_ticket.to_intent(&agent, &catalog).unwrap_err().code(),
        "invalid_ticket"
    );
}

#[test]
fn the_task_is_sanitised_before_any_card_shows_it() {
    let (agent, catalog) = setup();
    let a = ask(
        "staging-db",
        "read",
        AskDuration::Secs(60),
        "<!here> approve [now](http://evil)",
    );
    let task = a
        .to_intent(&agent, &catalog)
        .unwrap()
        .justification
        .unwrap();
    assert!(
        !task.contains("<!here>") && !task.contains("http://evil"),
        "{task}"
    );
}

#[test]
fn unknown_fields_in_an_ask_are_refused() {
    let body =
        r#"{"resource":"staging-db","role":"read","duration":"5m","task":"t","break_glass":true}"#;
    assert!(serde_json::from_str::<AgentAsk>(body).is_err());
}

#[test]
fn idempotent_ids_are_stable_per_agent_and_key() {
    let a = idempotent_request_id("ci", "run-1");
    assert_eq!(a, idempotent_request_id("ci", "run-1"));
    assert_ne!(a, idempotent_request_id("ci", "run-2"));
    assert_ne!(a, idempotent_request_id("other", "run-1"));
    assert_eq!(RequestId::parse(a.as_str()), Some(a));
    assert!(valid_idempotency_key("run-1"));
    assert!(!valid_idempotency_key(""));
    assert!(!valid_idempotency_key("has space"));
    assert!(!valid_idempotency_key(&"k".repeat(129)));
}
