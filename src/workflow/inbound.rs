//! Inbound events: each delivery handled once, refusals answered, faults referenced.

use super::step::delivery_key;
use super::{Engine, Handled, UserError};
use crate::chat::{ChatEvent, EventKind};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Deliveries being handled by this process right now.
pub(crate) type InFlightSet = Arc<Mutex<HashSet<String>>>;

/// Holds an inbound delivery's key while it is handled; a second copy is a duplicate.
struct InFlight {
    set: InFlightSet,
    key: String,
}

impl InFlight {
    fn enter(set: &InFlightSet, key: &str) -> Option<Self> {
        let fresh = set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string());
        fresh.then(|| Self {
            set: set.clone(),
            key: key.to_string(),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

impl Engine {
    /// Handles one verified inbound event, once: a redelivery is recognised and ignored.
    pub async fn handle(&self, event: ChatEvent) -> anyhow::Result<Handled> {
        let started = std::time::Instant::now();
        let key = delivery_key(&event);
        // In flight here, or committed by a step that handled it (here or on another instance).
        let Some(_in_flight) = InFlight::enter(&self.in_flight, &key) else {
            self.metrics
                .inc("warden_events_total", "result=\"duplicate\"", 1);
            return Ok(Handled::Duplicate);
        };
        // Words cost a model call, so a redelivered message is caught before intake; a click is
        // caught by its commit, and asked about only when it was refused (below).
        let words = matches!(
            event.kind,
            EventKind::Message { .. } | EventKind::Command { .. }
        );
        if words && self.store.seen_delivery(&key).await? {
            return Ok(self.duplicate(&event));
        }
        let result = self.dispatch(&event).await;
        self.metrics
            .observe("warden_event_seconds", "", started.elapsed().as_secs_f64());
        match result {
            Ok(h) => {
                self.metrics.inc("warden_events_total", "result=\"ok\"", 1);
                Ok(h)
            }
            Err(err) => {
                if let Some(UserError(msg)) = err.downcast_ref::<UserError>() {
                    // A redelivered click finds its own earlier commit: not a refusal.
                    if !words && self.store.seen_delivery(&key).await.unwrap_or(false) {
                        return Ok(self.duplicate(&event));
                    }
                    self.metrics
                        .inc("warden_events_total", "result=\"refused\"", 1);
                    self.reply_to_actor(&event, msg).await;
                    return Ok(Handled::Refused(msg.clone()));
                }
                self.metrics
                    .inc("warden_events_total", "result=\"error\"", 1);
                tracing::error!(event = %event.id, error = ?err, "failed to handle event");
                let msg = format!(
                    "Something went wrong on Warden's side; nothing was changed. Please try again, or quote ref {} to an admin.",
                    event.id
                );
                self.reply_to_actor(&event, &msg).await;
                Err(err)
            }
        }
    }

    /// Each kind's handling is boxed: the flows below are deep (a commit runs its inline jobs,
    /// which commit again), and a future that size on a worker's stack overflows it in a debug
    /// build on PostgreSQL.
    async fn dispatch(&self, event: &ChatEvent) -> anyhow::Result<Handled> {
        match &event.kind {
            EventKind::Message { text, message_id } => {
                Box::pin(self.on_message(event, text, Some(message_id))).await
            }
            EventKind::Command { text } => Box::pin(self.on_message(event, text, None)).await,
            EventKind::Action {
                action,
                request_id,
                reason,
                items,
            } => {
                Box::pin(self.on_action(event, *action, request_id, items, reason.as_deref())).await
            }
            EventKind::EditSubmitted { request_id, fields } => {
                Box::pin(self.on_edit(event, request_id, fields)).await
            }
            EventKind::HomeOpened => Box::pin(self.on_home_opened(event)).await,
        }
    }

    fn duplicate(&self, event: &ChatEvent) -> Handled {
        tracing::debug!(event = %event.id, "duplicate delivery ignored");
        self.metrics
            .inc("warden_events_total", "result=\"duplicate\"", 1);
        Handled::Duplicate
    }

    /// Replies to whoever caused an event, only to them: ephemeral for clicks; for words, the
    /// private rule of `tell_privately` (a refusal may name their requests or their limits).
    async fn reply_to_actor(&self, event: &ChatEvent, text: &str) {
        match event.kind {
            EventKind::Action { .. } | EventKind::EditSubmitted { .. } => {
                let Some(chat) = self.chat(event.actor.platform) else {
                    return;
                };
                if let Err(e) = chat.ephemeral(&event.scope, &event.actor, text).await {
                    tracing::warn!(error = ?e, "failed to reply to the actor");
                }
            }
            EventKind::Message { .. } | EventKind::Command { .. } => {
                self.tell_privately(&event.scope, &event.actor, text).await
            }
            // Opening a tab is not a question: an account Warden can't act for gets no DM.
            EventKind::HomeOpened => {
                tracing::info!(event = %event.id, reason = text, "no home published")
            }
        }
    }
}
