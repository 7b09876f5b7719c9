//! Reading words: what a message is kept as, the thread the intake reads, and the intake run.

use super::Engine;
use super::limits::{Admission, Limit};
use crate::chat::ChatEvent;
use crate::domain::evidence::Inbound;
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

    /// Runs the configured intake as `intake::read` decides (the parser for exact commands and
    /// whenever the model fails or only it needs a question). At the open-requests limit
    /// (`admitted.parser_only`) the parser reads alone: no model call.
    pub(crate) async fn run_intake(
        &self,
        thread: &[ThreadMessage],
        person: &Person,
        admitted: &Admission,
    ) -> anyhow::Result<IntakeResult> {
        let ctx = IntakeContext {
            thread,
            requester: person,
            catalog: &self.catalog,
        };
        let intake = match admitted.parser_only {
            true => &self.parser,
            false => &self.intake,
        };
        // The model budget is spent where the model is called, not per message.
        let limit = self.options.limits.model_calls_per_person_per_hour;
        let may_call_model = || self.model_calls.take(&person.id, self.now_ms(), limit);
        let result =
            crate::intake::read(intake.as_ref(), self.parser.as_ref(), &ctx, &may_call_model)
                .await
                .map_err(|_| self.refuse(Limit::ModelCalls))?;
        if let Some(kind) = result.trace.fallback {
            let kind = serde_json::to_value(kind).unwrap_or_default();
            let kind = kind.as_str().unwrap_or("unknown");
            self.metrics.inc(
                "warden_intake_fallbacks_total",
                &format!("kind=\"{kind}\""),
                1,
            );
        }
        Ok(result)
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
