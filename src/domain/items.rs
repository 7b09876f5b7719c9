//! Several resources in one ask: the items an intent stands for, validated together or not at all.

use super::catalog::Catalog;
use super::intent::{DraftIntent, Field, Intent, IntentError};
use serde::{Deserialize, Serialize};

/// Most resources one ask may name; more is refused, not cut short.
pub const MAX_ITEMS: usize = 5;

/// One resource of a multi-item ask, as validation settled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub resource: String,
    pub role: String,
    pub duration_secs: u64,
}

impl Item {
    fn of(intent: &Intent) -> Option<Item> {
        Some(Item {
            resource: intent.resource.clone()?,
            role: intent.role.clone()?,
            duration_secs: intent.duration_secs?,
        })
    }
}

/// Validates the other resources of a request draft (`also`) with the same role, duration and
/// reason as the first, which `first` already is. Any item that does not validate refuses the
/// whole ask with that item's question: nothing is kept half-way.
pub(super) fn validate_also(
    draft: &DraftIntent,
    catalog: &Catalog,
    base: Intent,
    first: Intent,
) -> Result<Intent, IntentError> {
    if draft.also.is_empty() {
        return Ok(first);
    }
    if first.break_glass {
        return Err(IntentError::new(
            Field::Resource,
            "Break-glass access is for one system at a time. Which one is the emergency on?",
            vec![],
        ));
    }
    let mut intents = vec![first];
    for name in &draft.also {
        let one = DraftIntent {
            resource: Some(name.clone()),
            also: vec![],
            ..draft.clone()
        };
        let item = one.validate_request(catalog, base.clone())?;
        if !intents.iter().any(|i| i.resource == item.resource) {
            intents.push(item);
        }
    }
    if intents.len() > MAX_ITEMS {
        return Err(IntentError::new(
            Field::Resource,
            format!(
                "I can take at most {MAX_ITEMS} systems in one request. Which ones do you need first?"
            ),
            vec![],
        ));
    }
    let items: Vec<Item> = intents.iter().filter_map(Item::of).collect();
    let mut lead = intents.remove(0);
    for other in intents {
        lead.notes.extend(other.notes);
    }
    if items.len() > 1 {
        lead.items = items;
    }
    Ok(lead)
}

impl Intent {
    /// One intent per item, each naming its own resource, role and duration and carrying the
    /// whole list (the policy sees the ask it is part of); a one-item intent as it is.
    pub fn split(&self) -> Vec<Intent> {
        if self.items.len() < 2 {
            return vec![self.clone()];
        }
        self.items
            .iter()
            .map(|item| Intent {
                resource: Some(item.resource.clone()),
                role: Some(item.role.clone()),
                duration_secs: Some(item.duration_secs),
                ..self.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Action;

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
id = "staging-db"
name = "Staging database"
roles = ["read", "write"]
risk = "low"
max_duration = "1d"

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

    fn draft(resource: &str, also: &[&str]) -> DraftIntent {
        DraftIntent {
            action: Some(Action::Request),
            resource: Some(resource.into()),
            also: also.iter().map(|s| s.to_string()).collect(),
            role: Some("read".into()),
            duration: Some("8h".into()),
            justification: Some("INC-1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn every_item_gets_its_own_clamped_duration_and_the_whole_list() {
        let intent = draft("billing db", &["staging-db"])
            .validate(&catalog())
            .unwrap();
        let parts = intent.split();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].resource.as_deref(), Some("prod-db"));
        assert_eq!(parts[0].duration_secs, Some(4 * 3600), "clamped to 4h");
        assert_eq!(parts[1].resource.as_deref(), Some("staging-db"));
        assert_eq!(parts[1].duration_secs, Some(8 * 3600));
        assert!(parts.iter().all(|p| p.items.len() == 2));
        assert_eq!(intent.notes.len(), 1, "the clamp is shown once");
    }

    #[test]
    fn one_invalid_item_refuses_the_whole_ask() {
        let e = draft("prod-db", &["mainframe"])
            .validate(&catalog())
            .unwrap_err();
        assert_eq!(e.field, Field::Resource);
        // "read" is no role of the wiki: the ask is refused, not shortened to the database.
        let e = draft("prod-db", &["wiki"])
            .validate(&catalog())
            .unwrap_err();
        assert_eq!(e.field, Field::Role);
    }

    #[test]
    fn the_same_resource_twice_is_one_item_and_too_many_are_refused() {
        let one = draft("prod-db", &["billing db"])
            .validate(&catalog())
            .unwrap();
        assert!(one.items.is_empty());
        assert_eq!(one.split().len(), 1);
        let mut d = draft("prod-db", &["staging-db"]);
        d.break_glass = true;
        assert!(d.validate(&catalog()).is_err(), "break-glass is one system");
    }
}
