//! The labelled intent corpus (`tests/corpus/*.jsonl`): its line format and how a reading is
//! scored against a label. One place, read by `warden eval` and by the parser's corpus test.

use crate::domain::intent::Field;
use crate::domain::{Action, Intent, IntentError};
use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

/// One labelled conversation: `{"id", "messages": [...], "expect": {field: value, …}}`, or
/// `"expect": "clarify"` with the `field` the question must be about; `then` says what the
/// workflow does with a valid intent that leaves something for it to find.
#[derive(Debug, Deserialize)]
pub struct Case {
    pub id: String,
    pub messages: Vec<String>,
    pub expect: Value,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub then: Option<Then>,
}

/// What the workflow does after validation, for a case whose answer is not in the intent alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Then {
    /// A revoke, extend or cancel without a request id: the workflow finds the request among the
    /// person's own (by resource, if one is named) and asks only when several fit. Validation
    /// must not ask for the id.
    WorkflowFindsRequest,
    /// A request with no reason on a resource whose risk makes the shipped policy ask for one
    /// (the `reason_required` obligation, asked at submit, before anyone decides). Validation
    /// must not ask: whether a reason is needed is the policy's call, not the intake's.
    PolicyAsksReason,
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

/// One case scored: each label checked (field name, right) and a line for each miss.
#[derive(Debug, Default)]
pub struct Verdict {
    pub checks: Vec<(String, bool)>,
    pub misses: Vec<String>,
}

impl Verdict {
    /// Every label of the case matched.
    pub fn right(&self) -> bool {
        self.misses.is_empty()
    }

    fn check(&mut self, label: &str, ok: bool, miss: impl FnOnce() -> String) {
        self.checks.push((label.to_string(), ok));
        if !ok {
            self.misses.push(miss());
        }
    }
}

/// Scores a validated reading against the case's labels, as `tests/corpus/README.md` defines
/// them. The one scorer for `warden eval` and the parser's corpus test.
pub fn check(case: &Case, outcome: &Result<Intent, IntentError>) -> Verdict {
    let mut v = Verdict::default();
    match (&case.expect, outcome) {
        (Value::String(c), Err(q)) if c == "clarify" => {
            let got = serde_json::to_value(q.field)
                .ok()
                .and_then(|f| f.as_str().map(str::to_string));
            let ok = case.field.is_none() || case.field == got;
            v.check("clarify", ok, || {
                format!("asked about {got:?}, expected {:?}", case.field)
            });
        }
        (Value::String(_), Ok(intent)) => v.check("clarify", false, || {
            format!(
                "expected a clarifying question, got {}",
                serde_json::to_string(intent).unwrap_or_default()
            )
        }),
        (Value::Object(want), Ok(intent)) => {
            for (k, want) in want {
                let ok = field_matches(k, want, intent).unwrap_or(false);
                v.check(k, ok, || {
                    format!("{k} = {}, expected {want}", field_value(k, intent))
                });
            }
            if let Some(then) = case.then {
                let (ok, wanted) = match then {
                    Then::WorkflowFindsRequest => (
                        workflow_finds_request(intent),
                        "leaves the request for the workflow to find",
                    ),
                    Then::PolicyAsksReason => (
                        !intent.has_reason(),
                        "carries no reason, so the policy asks for one",
                    ),
                };
                v.check("then", ok, || {
                    format!(
                        "expected an intent that {wanted}, got {}",
                        serde_json::to_string(intent).unwrap_or_default()
                    )
                });
            }
        }
        (Value::Object(want), Err(q)) => {
            for k in want.keys() {
                v.checks.push((k.clone(), false));
            }
            if case.then.is_some() {
                v.checks.push(("then".into(), false));
            }
            v.misses.push(match (q.field, case.then) {
                (Field::RequestId, Some(Then::WorkflowFindsRequest)) => format!(
                    "asked for the request id (\"{}\"), but the workflow finds the request",
                    q.question
                ),
                _ => format!("asked \"{}\" but expected an intent", q.question),
            });
        }
        _ => v.misses.push("malformed expectation".into()),
    }
    v
}

/// The intent acts on an existing request it does not name by id: the workflow finds it.
pub fn workflow_finds_request(i: &Intent) -> bool {
    matches!(i.action, Action::Revoke | Action::Extend | Action::Cancel) && i.request_id.is_none()
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
        // The resources of a multi-item request, in the order said.
        "items" => {
            let ids: Vec<Value> = i
                .items
                .iter()
                .map(|it| Value::String(it.resource.clone()))
                .collect();
            want.as_array() == Some(&ids)
        }
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

    #[test]
    fn a_case_left_to_the_workflow_wants_a_valid_intent_without_an_id() {
        let case: Case = serde_json::from_str(
            r#"{"id":"c013","messages":["/access revoke"],"expect":{"action":"revoke"},"then":"workflow_finds_request"}"#,
        )
        .unwrap();
        let revoke = |request_id: Option<&str>| Intent {
            action: Action::Revoke,
            resource: None,
            role: None,
            duration_secs: None,
            justification: None,
            ticket: None,
            request_id: request_id.map(|r| crate::domain::request::RequestId::parse(r).unwrap()),
            break_glass: false,
            notes: vec![],
            items: vec![],
        };
        assert!(check(&case, &Ok(revoke(None))).right());
        let named = check(&case, &Ok(revoke(Some("AR-7K3D9QX2"))));
        assert!(!named.right(), "an id the words never gave");
        let asked = check(
            &case,
            &Err(IntentError::ask(Field::RequestId, "Which request?", vec![])),
        );
        assert!(
            asked.misses[0].contains("the workflow finds the request"),
            "{:?}",
            asked.misses
        );
    }

    #[test]
    fn a_reason_left_to_the_policy_wants_a_valid_intent_without_one() {
        let case: Case = serde_json::from_str(
            r#"{"id":"c044","messages":["need read on customer db"],"expect":{"resource":"customer-pii-db"},"then":"policy_asks_reason"}"#,
        )
        .unwrap();
        let request = |justification: Option<&str>| Intent {
            action: Action::Request,
            resource: Some("customer-pii-db".into()),
            role: Some("read".into()),
            duration_secs: Some(3600),
            justification: justification.map(str::to_string),
            ticket: None,
            request_id: None,
            break_glass: false,
            notes: vec![],
            items: vec![],
        };
        assert!(check(&case, &Ok(request(None))).right());
        assert!(
            !check(&case, &Ok(request(Some("made up")))).right(),
            "a reason the words never gave"
        );
        let asked = check(
            &case,
            &Err(IntentError::ask(Field::Justification, "Why?", vec![])),
        );
        assert!(
            !asked.right(),
            "validation asked what is the policy's to ask"
        );
    }
}
