//! `/access status`: a requester's open requests and active access; an approver's queue.

use super::Engine;
use crate::domain::redact::{Redacted, redact_secrets};
use crate::domain::{Person, Request, RequestState, format_duration};
use crate::store::RequestFilter;

impl Engine {
    pub(crate) async fn status_text(&self, person: &Person) -> anyhow::Result<String> {
        let mine = self
            .store
            .list_requests(&RequestFilter {
                requester_id: Some(person.id.clone()),
                limit: 200,
                ..Default::default()
            })
            .await?;
        let open: Vec<&Request> = mine.iter().filter(|r| r.state.is_open()).collect();
        let active: Vec<&Request> = mine
            .iter()
            .filter(|r| r.state == RequestState::Active)
            .collect();
        let waiting = self.waiting_on(person).await?;
        let mut out = String::new();
        if active.is_empty() {
            out.push_str("You have no active access.");
        } else {
            out.push_str("Active access:");
            for r in &active {
                out.push_str(&format!(
                    "\n• {} — {} on {}, {}",
                    r.id,
                    r.role().unwrap_or("?"),
                    r.resource().unwrap_or("?"),
                    r.expires_at.map(|e| self.until(e)).unwrap_or_default()
                ));
            }
        }
        if !open.is_empty() {
            out.push_str("\nOpen requests:");
            for r in &open {
                let what = match (r.role(), r.resource()) {
                    (Some(role), Some(res)) => format!(
                        "{role} on {res} for {}",
                        r.duration_secs().map(format_duration).unwrap_or_default()
                    ),
                    _ => "details still needed".into(),
                };
                out.push_str(&format!("\n• {} — {what} ({})", r.id, r.state.label()));
            }
        }
        if !waiting.is_empty() {
            out.push_str("\nWaiting for your approval:");
            for r in &waiting {
                out.push_str(&format!(
                    "\n• {} — {} wants {} on {}",
                    r.id,
                    r.requester_id,
                    r.role().unwrap_or("?"),
                    r.resource().unwrap_or("?")
                ));
            }
        }
        Ok(out)
    }

    /// Pending requests whose current step lists this person as an eligible approver.
    pub async fn waiting_on(&self, person: &Person) -> anyhow::Result<Vec<Request>> {
        let pending = self.store.pending_approval(500).await?;
        Ok(pending
            .into_iter()
            .filter(|r| {
                r.requester_id != person.id
                    && r.approval_plan
                        .as_ref()
                        .and_then(|p| p.steps.get(r.current_step as usize))
                        .is_some_and(|s| s.eligible.contains(&person.id))
            })
            .collect())
    }

    /// Masks pasted secrets before the text is stored or shown to a model.
    pub(crate) fn redact_inbound(&self, text: &str) -> Redacted {
        let r = redact_secrets(text);
        if r.masked > 0 {
            tracing::warn!(masked = r.masked, "masked secrets in an inbound message");
            self.metrics
                .inc("warden_redactions_total", "", r.masked as u64);
        }
        r
    }
}
