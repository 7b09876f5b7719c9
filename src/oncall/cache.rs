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
/// The longest one lookup (every page, every schedule) may take unless set otherwise: the
/// requester is waiting, and a slow source must not hold their Submit.
const DEADLINE: Duration = Duration::from_secs(10);

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
    deadline: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl CachedOnCall {
    pub fn new(source: Arc<dyn OnCallSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            deadline: DEADLINE,
            slots: Mutex::default(),
        }
    }

    /// Bounds one whole lookup; past it the answer is `Unknown` (a timeout).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
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
        let lookup = tokio::time::timeout(self.deadline, self.source.services(person, now));
        let result = lookup.await.unwrap_or_else(|_| {
            Err(super::OnCallError::Transport(format!(
                "no answer within {}s",
                self.deadline.as_secs_f32()
            )))
        });
        let (answer, hold) = match result {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::OnCallError;
    use async_trait::async_trait;
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source that answers slowly, or fails, and counts how often it was asked.
    struct Slow {
        delay: Duration,
        fail: bool,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl OnCallSource for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        async fn services(
            &self,
            _: &Person,
            _: DateTime<Utc>,
        ) -> Result<BTreeSet<String>, OnCallError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            match self.fail {
                true => Err(OnCallError::Unavailable {
                    status: 503,
                    message: "down".into(),
                }),
                false => Ok(BTreeSet::from(["billing".to_string()])),
            }
        }
    }

    fn gina() -> Person {
        toml::from_str("id = \"gina\"\ndisplay_name = \"Gina\"").unwrap()
    }

    #[tokio::test]
    async fn a_source_slower_than_the_deadline_is_unknown_and_a_failure_is_held_briefly() {
        let slow = Arc::new(Slow {
            delay: Duration::from_secs(30),
            fail: false,
            asked: AtomicUsize::new(0),
        });
        let cache = CachedOnCall::new(slow.clone(), Duration::from_secs(300))
            .with_deadline(Duration::from_millis(50));
        let started = std::time::Instant::now();
        assert_eq!(cache.answer(&gina(), Utc::now()).await, Answer::Unknown);
        assert!(started.elapsed() < Duration::from_secs(5));

        let failing = Arc::new(Slow {
            delay: Duration::ZERO,
            fail: true,
            asked: AtomicUsize::new(0),
        });
        let cache = CachedOnCall::new(failing.clone(), Duration::from_secs(300));
        let now = Utc::now();
        assert_eq!(cache.answer(&gina(), now).await, Answer::Unknown);
        assert_eq!(
            cache
                .answer(&gina(), now + chrono::Duration::seconds(29))
                .await,
            Answer::Unknown
        );
        assert_eq!(failing.asked.load(Ordering::SeqCst), 1, "held for 30 s");
        cache
            .answer(&gina(), now + chrono::Duration::seconds(31))
            .await;
        assert_eq!(failing.asked.load(Ordering::SeqCst), 2, "then asked again");
    }
}
