//! One answer per person for a time-to-live, asked once however many requests arrive together,
//! and the one place a source's failure turns into "not known" (with a warning in the log).

use super::{Answer, OnCallSource};
use crate::domain::Person;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a failure is remembered when the source gave no `Retry-After`: long enough that
/// an outage is not hammered by every request, short enough that recovery is noticed soon.
const FAILURE_HOLD: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured; past it, the source is asked again anyway.
const MAX_HOLD: Duration = Duration::from_secs(600);

struct Held {
    until: DateTime<Utc>,
    answer: Answer,
}

/// A slot per person; its async lock makes concurrent lookups for one person wait for the one
/// call in flight instead of each making their own.
type Slot = Arc<tokio::sync::Mutex<Option<Held>>>;

pub struct CachedOnCall {
    source: Arc<dyn OnCallSource>,
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl CachedOnCall {
    pub fn new(source: Arc<dyn OnCallSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            slots: Mutex::default(),
        }
    }

    pub fn source_name(&self) -> &'static str {
        self.source.name()
    }

    /// Whether `person` is on call at `now`, and for what. Never an error: a failure is
    /// `Answer::Unknown`, which the policy treats as not on call.
    pub async fn answer(&self, person: &Person, now: DateTime<Utc>) -> Answer {
        let slot = self
            .slots
            .lock()
            .expect("not poisoned")
            .entry(person.id.clone())
            .or_default()
            .clone();
        let mut held = slot.lock().await;
        if let Some(h) = held.as_ref().filter(|h| now < h.until) {
            return h.answer.clone();
        }
        let (answer, hold) = match self.source.services(person, now).await {
            Ok(services) => (Answer::Known(services), self.ttl),
            Err(e) => {
                tracing::warn!(
                    source = self.source.name(),
                    person = %person.id,
                    error = %e,
                    "the on-call source could not answer; the requester is treated as not on call"
                );
                let hold = e
                    .retry_after()
                    .unwrap_or(FAILURE_HOLD.min(self.ttl))
                    .min(MAX_HOLD);
                (Answer::Unknown, hold)
            }
        };
        *held = Some(Held {
            until: now + chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::zero()),
            answer: answer.clone(),
        });
        answer
    }
}
