//! Unit tests of the intent: validation, questions, merging a reply into a draft.

use super::*;

fn catalog() -> Catalog {
    Catalog::from_toml(
        r#"
[[resource]]
id = "prod-db"
name = "Production database"
aliases = ["billing db"]
roles = ["read", "write"]
risk = "high"
max_duration = "4h"

[[resource]]
id = "wiki"
name = "Wiki"
roles = ["edit"]
risk = "low"
max_duration = "1d"
"#,
    )
    .unwrap()
}

fn draft(resource: &str, role: Option<&str>, duration: Option<&str>) -> DraftIntent {
    DraftIntent {
        action: Some(Action::Request),
        resource: Some(resource.into()),
        role: role.map(Into::into),
        duration: duration.map(Into::into),
        justification: Some("INC-1 hotfix".into()),
        ..Default::default()
    }
}

#[test]
fn clamps_duration_to_the_catalog_maximum() {
    let i = draft("billing db", Some("read"), Some("9999h"))
        .validate(&catalog())
        .unwrap();
    assert_eq!(i.resource.as_deref(), Some("prod-db"));
    assert_eq!(i.duration_secs, Some(4 * 3600));
    assert_eq!(i.notes.len(), 1);
}

#[test]
fn a_single_role_is_implied_and_missing_roles_are_asked() {
    assert_eq!(
        draft("wiki", None, None)
            .validate(&catalog())
            .unwrap()
            .role
            .as_deref(),
        Some("edit")
    );
    let e = draft("prod-db", None, None)
        .validate(&catalog())
        .unwrap_err();
    assert_eq!((e.field, e.options.len()), (Field::Role, 2));
}

#[test]
fn wildcards_typos_and_unknowns_become_questions() {
    for (res, role) in [
        ("*", Some("read")),
        ("prod-db", Some("all")),
        ("prod-dbb", Some("read")),
        ("mainframe", None),
    ] {
        let e = draft(res, role, None).validate(&catalog()).unwrap_err();
        assert!(
            matches!(e.field, Field::Resource | Field::Role),
            "{res} {role:?}"
        );
    }
}

#[test]
fn high_risk_without_a_reason_is_the_policys_question_not_validations() {
    let mut d = draft("prod-db", Some("read"), Some("1h"));
    d.justification = None;
    let intent = d.validate(&catalog()).unwrap();
    assert!(!intent.has_reason());
    assert_eq!(intent.resource.as_deref(), Some("prod-db"));
}

#[test]
fn break_glass_without_a_reason_asks_for_one() {
    let mut d = draft("prod-db", Some("read"), Some("1h"));
    d.justification = None;
    d.break_glass = true;
    assert_eq!(
        d.validate(&catalog()).unwrap_err().field,
        Field::Justification
    );
}

#[test]
fn justification_is_sanitised() {
    let mut d = draft("wiki", None, None);
    d.justification = Some("<!here> approved by <@U999>".into());
    let j = d.validate(&catalog()).unwrap().justification.unwrap();
    assert!(!j.contains("<!") && !j.contains("<@"), "{j}");
}

#[test]
fn merge_lets_later_turns_fill_gaps() {
    let first = DraftIntent {
        action: Some(Action::Request),
        resource: Some("prod-db".into()),
        ..Default::default()
    };
    let second = DraftIntent {
        role: Some("read".into()),
        ..Default::default()
    };
    let merged = first.merge(second);
    assert_eq!(
        (merged.resource.as_deref(), merged.role.as_deref()),
        (Some("prod-db"), Some("read"))
    );
}
