//! The labelled intent corpus (`tests/corpus/*.jsonl`): its line format and how a reading is
//! scored against a label. One place, read by `warden eval` and by the parser's corpus test.

use crate::domain::Intent;
use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

/// One labelled conversation: `{"id", "messages": [...], "expect": {field: value, …}}`, or
/// `"expect": "clarify"` with the `field` the question must be about.
#[derive(Debug, Deserialize)]
pub struct Case {
    pub id: String,
    pub messages: Vec<String>,
    pub expect: Value,
    #[serde(default)]
    pub field: Option<String>,
}

pub fn load(text: &str) -> anyhow::Result<Vec<Case>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("corpus line {} is not a valid case", i + 1))
        })
        .collect()
}

/// Whether the validated intent's `key` matches the label, as `tests/corpus/README.md` defines
/// it: exact, except `justification`, which is a case-insensitive substring. `None` for a key
/// the format does not know.
pub fn field_matches(key: &str, want: &Value, i: &Intent) -> Option<bool> {
    let s = |v: Option<&str>| v.map_or(Value::Null, |v| Value::String(v.to_string()));
    Some(match key {
        "action" => want == &Value::String(i.action.as_str().into()),
        "resource" => want == &s(i.resource.as_deref()),
        "role" => want == &s(i.role.as_deref()),
        "duration_secs" => want.as_u64() == i.duration_secs,
        "ticket" => want == &s(i.ticket.as_deref()),
        "request_id" => want == &s(i.request_id.as_ref().map(|r| r.as_str())),
        "break_glass" => want.as_bool() == Some(i.break_glass),
        "justification" => match (want.as_str(), &i.justification) {
            (Some(part), Some(j)) => j.to_lowercase().contains(&part.to_lowercase()),
            (None, j) => want.is_null() && j.is_none(),
            _ => false,
        },
        _ => return None,
    })
}

/// The intent's value of `key`, for a failure line.
pub fn field_value(key: &str, i: &Intent) -> Value {
    let v = serde_json::to_value(i).unwrap_or_default();
    v.get(key).cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Action;

    #[test]
    fn justification_matches_as_a_case_insensitive_substring_and_others_exactly() {
        let intent = Intent {
            action: Action::Request,
            resource: Some("wiki".into()),
            role: Some("edit".into()),
            duration_secs: Some(7200),
            justification: Some("Fix the Onboarding page, INC-42".into()),
            ticket: None,
            request_id: None,
            break_glass: false,
            notes: vec![],
            items: vec![],
        };
        let m = |k: &str, v: Value| field_matches(k, &v, &intent);
        assert_eq!(m("justification", "onboarding page".into()), Some(true));
        assert_eq!(m("justification", "billing".into()), Some(false));
        assert_eq!(
            m("resource", "wik".into()),
            Some(false),
            "names match exactly"
        );
        assert_eq!(m("duration_secs", 7200.into()), Some(true));
        assert_eq!(m("ticket", Value::Null), Some(true));
        assert_eq!(m("salary", Value::Null), None);
    }
}
