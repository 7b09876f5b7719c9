//! Reading words: what a message is kept as, the thread the intake reads, and the intake run.

use super::Engine;
use super::limits::Admission;
use crate::chat::ChatEvent;
use crate::domain::evidence::Inbound;
use crate::domain::intent::DraftIntent;
use crate::domain::{Entry, Evidence, Person, Request};
use crate::intake::{IntakeContext, IntakeResult, ThreadMessage};

impl Engine {
    /// The message as it is kept (pasted secrets masked) and its log entries.
    pub(super) fn said(
        &self,
        event: &ChatEvent,
        person: &Person,
        text: &str,
    ) -> (String, Vec<Entry>) {
        let text = self.redact_inbound(text);
        let mut said = vec![Entry::new(
            &person.id,
            Evidence::MessageIn(Inbound::Text {
                text: text.text.clone(),
                account: event.actor.clone(),
                event_id: event.id.clone(),
            }),
        )];
        if text.masked > 0 {
            said.push(Entry::warden(Evidence::Redaction {
                masked_secrets: text.masked,
            }));
        }
        (text.text, said)
    }

    /// Runs the configured intake; on any failure the parser takes over and the reason is kept.
    /// At the open-requests limit (`admitted.parser_only`) the parser reads alone: no model call.
    pub(crate) async fn run_intake(
        &self,
        thread: &[ThreadMessage],
        person: &Person,
        admitted: &Admission,
    ) -> IntakeResult {
        let ctx = IntakeContext {
            thread,
            requester: person,
            catalog: &self.catalog,
        };
        let intake = match admitted.parser_only {
            true => &self.parser,
            false => &self.intake,
        };
        match intake.extract(&ctx).await {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(error = ?err, intake = %intake.name(), "intake failed; falling back to the parser");
                self.metrics.inc("warden_intake_fallbacks_total", "", 1);
                let mut r = match self.parser.extract(&ctx).await {
                    Ok(r) => r,
                    Err(_) => IntakeResult {
                        draft: DraftIntent::default(),
                        trace: Default::default(),
                    },
                };
                r.trace.fallback_reason = Some(format!("{err:#}").chars().take(300).collect());
                r
            }
        }
    }
}

/// This request's own conversation, oldest first, from its log. Nothing from any other request.
pub(super) fn thread_of(req: &Request, entries: Vec<crate::store::LogEntry>) -> Vec<ThreadMessage> {
    entries
        .into_iter()
        .filter_map(|e| {
            let text = e.payload.as_ref()?.get("text")?.as_str()?.to_string();
            match e.kind.as_str() {
                "message_in" if e.actor == req.requester_id => Some(ThreadMessage {
                    author: "requester".into(),
                    text,
                }),
                "message_out" => Some(ThreadMessage {
                    author: "warden".into(),
                    text,
                }),
                _ => None,
            }
        })
        .collect()
}
