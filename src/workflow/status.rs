//! An approver's queue (for `/access status`, the home and the admin filter), and the masking of
//! pasted secrets in what people write.

use super::Engine;
use crate::domain::redact::{Redacted, redact_secrets};
use crate::domain::{Person, Request};

impl Engine {
    /// Pending requests whose current step lists this person as an eligible approver.
    pub async fn waiting_on(&self, person: &Person) -> anyhow::Result<Vec<Request>> {
        self.waiting_on_id(&person.id).await
    }

    /// The same, by directory id.
    pub(crate) async fn waiting_on_id(&self, person: &str) -> anyhow::Result<Vec<Request>> {
        let pending = self.store.pending_approval(500).await?;
        Ok(pending
            .into_iter()
            .filter(|r| {
                r.requester_id != person
                    && r.approval_plan
                        .as_ref()
                        .and_then(|p| p.steps.get(r.current_step as usize))
                        .is_some_and(|s| s.eligible.iter().any(|e| e == person))
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
