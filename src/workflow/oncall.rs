//! The on-call fact of a policy input: asked of the configured source (cached) for a person,
//! never for an agent, and "not known" whenever the source cannot say.

use super::Engine;
use crate::domain::Person;
use crate::oncall::{Answer, CachedOnCall};
use crate::policy::{OnCallInput, SubjectInput};
use std::sync::Arc;

impl Engine {
    /// Connects an on-call source (`[oncall]`); without one every input says `known = false`.
    pub fn set_oncall(&mut self, oncall: Option<Arc<CachedOnCall>>) {
        self.oncall = oncall;
    }

    /// Whether `person` is on call now. An agent is never on call: its owner's rota is not its
    /// own, and `person` is then whoever the approval rules see.
    pub(crate) async fn oncall_input(
        &self,
        subject: &SubjectInput,
        person: &Person,
    ) -> OnCallInput {
        let Some(oncall) = &self.oncall else {
            return OnCallInput::default();
        };
        let source = Some(oncall.source_name().to_string());
        if !matches!(subject, SubjectInput::Person) {
            return OnCallInput {
                source,
                ..OnCallInput::default()
            };
        }
        let answer = oncall.answer(person, self.clock.now()).await;
        let result = match &answer {
            Answer::Known(s) if s.is_empty() => "off_call",
            Answer::Known(_) => "on_call",
            Answer::Unknown => "unknown",
        };
        self.metrics.inc(
            "warden_oncall_lookups_total",
            &format!("source=\"{}\",result=\"{result}\"", oncall.source_name()),
            1,
        );
        match answer {
            Answer::Known(services) => OnCallInput {
                known: true,
                on_call: !services.is_empty(),
                services: services.into_iter().collect(),
                source,
            },
            Answer::Unknown => OnCallInput {
                source,
                ..OnCallInput::default()
            },
        }
    }
}
