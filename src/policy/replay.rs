//! Policy replay: the recorded inputs of past decisions evaluated again by another policy, to
//! show what a policy change would do before it is deployed. Nothing is changed and no one is told.

use super::{Decision, PolicyEngine, PolicyInput};
use crate::domain::{ApprovalStep, LogKind};
use crate::store::Store;
use crate::store::policy_records::PolicyRecord;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Most recorded entries one replay reads; the report says when it stopped there.
pub const MAX_RECORDS: i64 = 200_000;

/// Request ids listed per kind of change; the counts stay exact.
const IDS_PER_CHANGE: usize = 50;

/// What replay found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The policy the inputs were evaluated by.
    pub policy: String,
    pub since_ms: i64,
    /// Decisions replayed (an extension is a decision of its own).
    pub decisions: usize,
    pub requests: usize,
    pub unchanged: usize,
    /// Recorded entries that could not be read back (an input without its decision, a document
    /// of an older, incompatible shape).
    pub unreadable: usize,
    /// The replay stopped at `MAX_RECORDS` entries.
    pub truncated: bool,
    /// Kind of change ("allow → deny", "approvers changed") → how many and which requests.
    pub changes: BTreeMap<String, ChangeGroup>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeGroup {
    /// Decisions that would change this way.
    pub count: usize,
    /// The first `IDS_PER_CHANGE` distinct requests they belong to.
    pub request_ids: Vec<String>,
    /// More requests changed this way than are listed.
    pub more: bool,
}

/// Replays every decision recorded since `since_ms` against `policy`.
pub async fn replay(
    store: &Store,
    policy: &dyn PolicyEngine,
    policy_label: &str,
    since_ms: i64,
) -> anyhow::Result<Report> {
    let records = store.policy_records_since(since_ms, MAX_RECORDS).await?;
    let mut report = Report {
        policy: policy_label.to_string(),
        since_ms,
        decisions: 0,
        requests: 0,
        unchanged: 0,
        unreadable: 0,
        truncated: records.len() as i64 >= MAX_RECORDS,
        changes: BTreeMap::new(),
    };
    let mut requests = HashSet::new();
    for (request_id, pair) in pairs(&records) {
        let Some((input, before)) = pair else {
            report.unreadable += 1;
            continue;
        };
        requests.insert(request_id.to_string());
        report.decisions += 1;
        let after = policy.decide(&input).await;
        match difference(&before, &after) {
            None => report.unchanged += 1,
            Some(kind) => {
                let group = report.changes.entry(kind).or_default();
                group.count += 1;
                if !group.request_ids.iter().any(|r| r == request_id) {
                    if group.request_ids.len() < IDS_PER_CHANGE {
                        group.request_ids.push(request_id.to_string());
                    } else {
                        group.more = true;
                    }
                }
            }
        }
    }
    report.requests = requests.len();
    Ok(report)
}

/// Each recorded input with the decision recorded after it in the same request's log.
fn pairs(records: &[PolicyRecord]) -> Vec<(&str, Option<(PolicyInput, Decision)>)> {
    let mut out = Vec::new();
    let mut pending: Option<&PolicyRecord> = None;
    for r in records {
        match r.kind {
            LogKind::PolicyInput => {
                if let Some(orphan) = pending.replace(r) {
                    out.push((orphan.request_id.as_str(), None));
                }
            }
            _ => match pending.take() {
                Some(input) if input.request_id == r.request_id => {
                    out.push((r.request_id.as_str(), read(input, r)));
                }
                other => {
                    if let Some(orphan) = other {
                        out.push((orphan.request_id.as_str(), None));
                    }
                    out.push((r.request_id.as_str(), None));
                }
            },
        }
    }
    if let Some(orphan) = pending {
        out.push((orphan.request_id.as_str(), None));
    }
    out
}

fn read(input: &PolicyRecord, decision: &PolicyRecord) -> Option<(PolicyInput, Decision)> {
    let input = serde_json::from_value(input.payload.clone()?).ok()?;
    let decision = serde_json::from_value(decision.payload.clone()?).ok()?;
    Some((input, decision))
}

/// How a decision changed, as a label that groups alike changes; `None` when it did not.
/// Reasons and decision ids are not compared: they are words and serial numbers.
pub fn difference(before: &Decision, after: &Decision) -> Option<String> {
    let (from, to) = (outcome(before), outcome(after));
    if from != to {
        return Some(format!("{from} → {to}"));
    }
    match (before, after) {
        (
            Decision::RequireApproval { steps: a, .. },
            Decision::RequireApproval { steps: b, .. },
        ) if a != b => Some(format!(
            "approvers changed: {} → {}",
            steps_label(a),
            steps_label(b)
        )),
        (
            Decision::RequireApproval {
                deny_reason_required: a,
                ..
            },
            Decision::RequireApproval {
                deny_reason_required: b,
                ..
            },
        ) if a != b => Some("deny reason requirement changed".into()),
        _ if before.obligations() != after.obligations() => Some(format!(
            "obligations changed: {:?} → {:?}",
            before.obligations(),
            after.obligations()
        )),
        _ => None,
    }
}

/// The outcome as people say it; a fault is told apart from a policy's deny.
fn outcome(d: &Decision) -> &'static str {
    match d {
        Decision::Allow {
            break_glass: true, ..
        } => "break-glass",
        Decision::Allow { .. } => "allow",
        Decision::Deny { fault: Some(_), .. } => "fault",
        Decision::Deny { .. } => "deny",
        Decision::RequireApproval { .. } => "approval",
    }
}

fn steps_label(steps: &[ApprovalStep]) -> String {
    use crate::domain::ApproverSpec;
    let parts: Vec<String> = steps
        .iter()
        .map(|s| {
            let who = match &s.approvers {
                ApproverSpec::Manager => "manager".to_string(),
                ApproverSpec::Owners => "owners".to_string(),
                ApproverSpec::Group { group } => format!("group {group}"),
                ApproverSpec::Users { users } => format!("users {}", users.join("+")),
            };
            if s.count > 1 {
                format!("{} of {who}", s.count)
            } else {
                who
            }
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", then ")
    }
}

impl Report {
    /// The report as the CLI prints it.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Replayed {} decisions of {} requests since {} against {}.\n",
            self.decisions,
            self.requests,
            crate::clock::from_ms(self.since_ms).format("%Y-%m-%d %H:%M UTC"),
            self.policy
        );
        out += &format!(
            "unchanged: {}   changed: {}   unreadable: {}\n",
            self.unchanged,
            self.changes.values().map(|g| g.count).sum::<usize>(),
            self.unreadable
        );
        for (kind, g) in &self.changes {
            out += &format!("  {kind}: {}  {}", g.count, g.request_ids.join(" "));
            if g.more {
                out += " …";
            }
            out += "\n";
        }
        if self.truncated {
            out +=
                &format!("(stopped after {MAX_RECORDS} recorded entries; use a later --since)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApproverSpec;

    fn approval(steps: Vec<ApprovalStep>) -> Decision {
        Decision::RequireApproval {
            decision_id: None,
            reasons: vec![],
            steps,
            deny_reason_required: false,
            obligations: vec![],
        }
    }

    fn allow() -> Decision {
        Decision::Allow {
            decision_id: Some("a".into()),
            reasons: vec!["low risk".into()],
            break_glass: false,
            obligations: vec![],
        }
    }

    #[test]
    fn outcome_and_approver_changes_are_named_and_words_are_not_compared() {
        let manager = ApprovalStep {
            approvers: ApproverSpec::Manager,
            count: 1,
        };
        let owners = ApprovalStep {
            approvers: ApproverSpec::Owners,
            count: 2,
        };
        assert_eq!(
            difference(&allow(), &approval(vec![manager.clone()])).as_deref(),
            Some("allow → approval")
        );
        assert_eq!(
            difference(
                &approval(vec![manager.clone()]),
                &approval(vec![manager.clone(), owners])
            )
            .as_deref(),
            Some("approvers changed: manager → manager, then 2 of owners")
        );
        let other_words = Decision::Allow {
            decision_id: Some("b".into()),
            reasons: vec!["fine".into()],
            break_glass: false,
            obligations: vec![],
        };
        assert_eq!(difference(&allow(), &other_words), None);
        let fault = Decision::Deny {
            decision_id: None,
            reasons: vec![],
            fault: Some(crate::domain::decision::PolicyFault::new("boom")),
        };
        assert_eq!(
            difference(&allow(), &fault).as_deref(),
            Some("allow → fault")
        );
    }
}
