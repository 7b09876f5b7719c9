//! Per-person limits on what words may cost: sizes checked in one place before the intake reads
//! anything, model calls counted where the intake would call the model (`intake::read`), so an
//! exact command read by the parser alone costs nothing.
//!
//! Over a limit the person gets a short answer naming the limit, no model is called and nothing
//! is changed: the request (if any) stays as it was, the message is neither logged nor read.

use super::{Engine, user_error};
use crate::config::LimitsSettings;
use crate::domain::Person;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What a message is, as far as its cost goes.
pub(crate) enum Words {
    /// Outside any request's thread: it may open a new request.
    New,
    /// In a request's thread, after `messages_before` others there. `turns` is the thread the
    /// intake would read with this message, `None` when the message is only logged.
    InThread {
        messages_before: usize,
        turns: Option<usize>,
    },
}

/// Which limit was hit; the label is the `limit` of `warden_limit_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    OpenRequests,
    ModelCalls,
    ThreadMessages,
    InputChars,
    ThreadTurns,
}

impl Limit {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Limit::OpenRequests => "open_requests",
            Limit::ModelCalls => "model_calls",
            Limit::ThreadMessages => "thread_messages",
            Limit::InputChars => "input_chars",
            Limit::ThreadTurns => "thread_turns",
        }
    }

    /// The short answer for the person: which limit, and what to do.
    fn message(self, l: &LimitsSettings) -> String {
        match self {
            Limit::OpenRequests => format!(
                "You already have {} open requests, the most allowed. Cancel or finish one first; `/access status` lists them.",
                l.open_requests_per_person
            ),
            Limit::ModelCalls => format!(
                "You've sent me more than {} messages to read in the last hour, the most allowed. Nothing was changed; please try again later.",
                l.model_calls_per_person_per_hour
            ),
            Limit::ThreadMessages => format!(
                "This request's thread has reached {} messages, the most I read in one thread. Nothing was changed; for something new, send a message outside this thread.",
                l.messages_per_request_thread
            ),
            Limit::InputChars => format!(
                "That message is longer than {} characters, the most I read. Nothing was changed; please shorten it (resource, role, duration and reason are enough).",
                l.max_input_chars
            ),
            Limit::ThreadTurns => format!(
                "This conversation is longer than {} turns, the most I read. Nothing was changed; please start again with one message: `/access request <resource> <role> for <duration> because <reason>`.",
                l.max_thread_turns
            ),
        }
    }
}

/// What the words were admitted to.
pub(crate) struct Admission {
    /// At the open-requests limit new words are read by the parser alone (no model call), so
    /// status, cancel, revoke and extend still work; only a new request is refused.
    pub(crate) parser_only: bool,
}

/// Model calls per person over the last hour. Per process on purpose: it bounds cost, not
/// access, so N instances allowing N times the limit is acceptable, and it needs no database
/// write per message. Limits that must hold across instances are counted in the database.
#[derive(Default)]
pub(crate) struct ModelBudget {
    calls: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl ModelBudget {
    const HOUR_MS: i64 = 3_600_000;

    /// Takes one call for `person` at `now_ms` if fewer than `max` were taken in the last hour.
    pub(crate) fn take(&self, person: &str, now_ms: i64, max: u32) -> bool {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        // Forget everyone whose last call is over an hour old, so the map stays small.
        calls.retain(|_, q| q.back().is_some_and(|t| now_ms - t < Self::HOUR_MS));
        let q = calls.entry(person.to_string()).or_default();
        while q.front().is_some_and(|t| now_ms - t >= Self::HOUR_MS) {
            q.pop_front();
        }
        if q.len() >= max as usize {
            return false;
        }
        q.push_back(now_ms);
        true
    }
}

impl Engine {
    /// The gate every message passes before the intake reads it.
    pub(crate) async fn admit(
        &self,
        person: &Person,
        text: &str,
        words: &Words,
    ) -> anyhow::Result<Admission> {
        let l = &self.options.limits;
        if text.chars().count() > l.max_input_chars as usize {
            return Err(self.refuse(Limit::InputChars));
        }
        match *words {
            Words::InThread {
                messages_before,
                turns,
            } => {
                if messages_before >= l.messages_per_request_thread as usize {
                    return Err(self.refuse(Limit::ThreadMessages));
                }
                if turns.is_some_and(|t| t > l.max_thread_turns as usize) {
                    return Err(self.refuse(Limit::ThreadTurns));
                }
                Ok(Admission { parser_only: false })
            }
            Words::New => {
                let open = self.store.count_open_requests(&person.id).await?;
                Ok(Admission {
                    parser_only: open >= i64::from(l.open_requests_per_person),
                })
            }
        }
    }

    /// Whether admitted words may open a new request (not at the open-requests limit).
    pub(crate) fn may_open(&self, admission: &Admission) -> anyhow::Result<()> {
        match admission.parser_only {
            true => Err(self.refuse(Limit::OpenRequests)),
            false => Ok(()),
        }
    }

    pub(crate) fn refuse(&self, limit: Limit) -> anyhow::Error {
        self.metrics.inc(
            "warden_limit_refusals_total",
            &format!("limit=\"{}\"", limit.label()),
            1,
        );
        user_error(limit.message(&self.options.limits))
    }
}

#[cfg(test)]
mod tests {
    use super::ModelBudget;

    #[test]
    fn the_model_budget_is_a_rolling_hour_per_person() {
        let b = ModelBudget::default();
        assert!(b.take("alice", 0, 2));
        assert!(b.take("alice", 1_000, 2));
        assert!(!b.take("alice", 2_000, 2), "third call within the hour");
        assert!(b.take("bob", 2_000, 2), "per person");
        assert!(
            b.take("alice", 3_600_000, 2),
            "the first call left the window"
        );
        assert!(!b.take("alice", 3_600_500, 2));
    }
}
