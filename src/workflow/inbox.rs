//! Handling the durable inbox: adapters `accept` an event (stored before they acknowledge it);
//! `run_inbox` handles stored events a few at a time, and after a restart resumes where it was.

use super::Engine;
use crate::chat::{ChatEvent, DeferredReply};
use crate::domain::Platform;
use crate::store::InboxItem;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a worker holds an event; past this a crashed worker's events are taken over. Short,
/// so a crash delays a few messages by seconds, not minutes; an event whose handling outlasts it
/// and is taken over is still handled once (the engine records each delivery in the commit
/// that acts on it, so the second attempt finds it done).
const LEASE_MS: i64 = 15_000;

/// An event an adapter accepted: handled as it is; for a reply in some thread, only if the
/// thread is a request's; for an interaction acknowledged as deferred, handled where its replies
/// reach it and then answered (the reply context holds the interaction's token: it is stored
/// with the event and never logged).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "event", rename_all = "snake_case")]
pub enum Queued {
    Event(ChatEvent),
    ThreadReply(ChatEvent),
    Interaction {
        event: ChatEvent,
        reply: DeferredReply,
    },
}

impl Queued {
    fn event(&self) -> &ChatEvent {
        match self {
            Queued::Event(e) | Queued::ThreadReply(e) => e,
            Queued::Interaction { event, .. } => event,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Queued::Event(_) => "event",
            Queued::ThreadReply(_) => "thread_reply",
            Queued::Interaction { .. } => "interaction",
        }
    }
}

impl Engine {
    /// Stores an inbound event durably; only then may the adapter acknowledge it. A redelivery
    /// of a stored event is not stored twice. An error means: do not acknowledge (the platform
    /// will send it again).
    pub async fn accept(&self, item: Queued) -> anyhow::Result<()> {
        let payload = serde_json::to_string(&item)?;
        let id = item.event().id.as_str();
        let stored = self
            .store
            .enqueue_inbound(id, item.kind(), &payload, self.now_ms())
            .await?;
        if stored {
            self.metrics.inc("warden_inbox_accepted_total", "", 1);
            self.inbox_ready.notify_one();
        } else {
            // A redelivery of an event still waiting: the same outcome as the engine's own check.
            self.metrics
                .inc("warden_events_total", "result=\"duplicate\"", 1);
        }
        Ok(())
    }

    /// Whether an event was handled already: a source that replays what it delivered (the
    /// Discord gateway after a resume) asks this before acting on a delivery again. Counted as
    /// a duplicate, the same outcome as the engine's own check.
    pub async fn handled_before(&self, platform: Platform, event_id: &str) -> anyhow::Result<bool> {
        let key = super::step::delivery_key_of(platform, event_id);
        let seen = self.store.seen_delivery(&key).await?;
        if seen {
            self.metrics
                .inc("warden_events_total", "result=\"duplicate\"", 1);
        }
        Ok(seen)
    }

    /// Handles stored events until shutdown, `WorkflowOptions::inbox_slots` at a time. The loop
    /// wakes when an event arrives, when a slot frees (a burst larger than the slots goes on as
    /// each event ends, not at the next poll), or at the poll (`WorkflowOptions::inbox_poll_ms`).
    pub async fn run_inbox(self: Arc<Self>, shutdown: CancellationToken) {
        let at_once = self.options.inbox_slots.max(1);
        let slots = Arc::new(Semaphore::new(at_once));
        let poll = Duration::from_millis(self.options.inbox_poll_ms.max(1));
        loop {
            let free = slots.available_permits();
            if free > 0 {
                let now = self.now_ms();
                let claimed = self
                    .store
                    .claim_inbound(&self.worker_id, now, now + LEASE_MS, free as i64)
                    .await;
                match claimed {
                    Ok(items) if !items.is_empty() => {
                        for item in items {
                            let Ok(slot) = slots.clone().try_acquire_owned() else {
                                break; // unreachable: no more were claimed than slots were free
                            };
                            let engine = self.clone();
                            tokio::spawn(async move {
                                engine.handle_stored(item).await;
                                drop(slot);
                            });
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = ?e, "failed to read the inbox"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.inbox_ready.notified() => {}
                // Every slot busy: go on as soon as one frees (the permit only wakes the loop).
                _ = slots.acquire(), if free == 0 => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        // Events being handled finish; what is left is resumed at the next start.
        let all = at_once as u32;
        let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
    }

    /// Handles one stored event and removes it. An event that cannot be read is dropped with an
    /// alert (it can never be handled); a failure to remove it means it is handled again after
    /// the lease, which the engine's own de-duplication turns into nothing.
    async fn handle_stored(&self, item: InboxItem) {
        match serde_json::from_str::<Queued>(&item.payload) {
            Ok(Queued::Event(ev)) => self.handle_logged(ev).await,
            Ok(Queued::Interaction { event, reply }) => self.handle_interaction(event, reply).await,
            Ok(Queued::ThreadReply(ev)) => match self.is_request_thread(&ev.scope).await {
                Ok(true) => self.handle_logged(ev).await,
                Ok(false) => tracing::debug!("thread reply outside any request's thread ignored"),
                Err(e) => {
                    tracing::error!(event = %item.id, error = ?e, "failed to look up a thread's request; retried later");
                    return;
                }
            },
            Err(e) => {
                tracing::error!(event = %item.id, kind = %item.kind, error = %e, "ALERT: a stored inbound event cannot be read; dropped");
                self.metrics.inc("warden_inbox_unreadable_total", "", 1);
            }
        }
        if let Err(e) = self.store.finish_inbound(&item.id).await {
            tracing::error!(event = %item.id, error = ?e, "failed to clear a handled event");
        }
    }

    /// The platform's chat port answers the interaction around the engine's work. Without one
    /// (no outbound client configured) the event is still handled; nothing can answer it.
    async fn handle_interaction(&self, ev: ChatEvent, reply: DeferredReply) {
        let Some(chat) = self.chats.get(&ev.actor.platform).cloned() else {
            tracing::warn!(event = %ev.id, "no chat client to answer an interaction; handled without an answer");
            return self.handle_logged(ev).await;
        };
        let id = ev.id.clone();
        let work = Box::pin(self.handle(ev.clone()));
        if let Err(e) = chat.answer_deferred(&reply, &ev, work).await {
            tracing::error!(event = %id, error = ?e, "inbound interaction failed");
        }
    }

    async fn handle_logged(&self, ev: ChatEvent) {
        let id = ev.id.clone();
        if let Err(e) = self.handle(ev).await {
            // The engine already told the person; the cause chain belongs in the log.
            tracing::error!(event = %id, error = ?e, "inbound event failed");
        }
    }
}
