//! The interaction being handled, carried with the work it started.
//!
//! The engine is platform-free and calls `ChatPort` without knowing an interaction exists. While
//! it handles one, this task-local tells `DiscordChat` where a refusal or a slash command's reply
//! belongs: an ephemeral follow-up on the interaction's own token, which no other task can see.
//! It lives exactly as long as that work, so nothing needs expiring.

use super::events::{Ack, Reply};
use super::home::{home_edit, home_followup};
use super::render::{followup, original_edit};
use super::rest::{DiscordRest, RestError};
use crate::chat::{Home, MessageRef, Scope};
use crate::domain::{Platform, PlatformUser};
use crate::workflow::Handled;
use reqwest::Method;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static CURRENT: Arc<Responder>;
}

pub struct Responder {
    rest: Arc<DiscordRest>,
    reply: Reply,
    actor: PlatformUser,
    scope: Scope,
    /// The deferred "thinking…" message has been replaced.
    answered: AtomicBool,
    /// Where a card posted for this command lives (a thread), to point the user there.
    posted: Mutex<Option<(String, String)>>,
}

impl Responder {
    pub fn new(
        rest: Arc<DiscordRest>,
        reply: Reply,
        actor: PlatformUser,
        scope: Scope,
    ) -> Arc<Self> {
        Arc::new(Self {
            rest,
            reply,
            actor,
            scope,
            answered: AtomicBool::new(false),
            posted: Mutex::new(None),
        })
    }

    /// Runs `work` with this interaction as the current one.
    pub async fn run<F: Future>(self: &Arc<Self>, work: F) -> F::Output {
        CURRENT.scope(self.clone(), work).await
    }

    pub fn current() -> Option<Arc<Responder>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// A slash command's replies in its own conversation go back to the person, privately.
    pub fn takes_text_for(&self, scope: &Scope) -> bool {
        self.reply.ack == Ack::DeferredEphemeral
            && scope.channel == self.scope.channel
            && scope.thread == self.scope.thread
    }

    pub fn is_actor(&self, user: &PlatformUser) -> bool {
        *user == self.actor
    }

    /// Text only the actor sees: the deferred message first, follow-ups after it.
    pub async fn whisper(&self, text: &str) -> Result<MessageRef, RestError> {
        self.answer(&original_edit(text, false), &followup(text, true))
            .await
    }

    /// A home with its buttons, only for the actor, the same way as `whisper`.
    pub async fn whisper_home(&self, home: &Home) -> Result<MessageRef, RestError> {
        self.answer(&home_edit(home), &home_followup(home)).await
    }

    /// Replaces the deferred message with `first` the first time, then posts `later` as an
    /// ephemeral follow-up.
    async fn answer(
        &self,
        first: &impl serde::Serialize,
        later: &impl serde::Serialize,
    ) -> Result<MessageRef, RestError> {
        let app = &self.reply.application_id;
        let token = self.reply.token.expose();
        let is_first =
            self.reply.ack == Ack::DeferredEphemeral && !self.answered.swap(true, Ordering::SeqCst);
        let sent = if is_first {
            self.rest
                .call_webhook(
                    Method::PATCH,
                    &format!("/webhooks/{app}/{token}/messages/@original"),
                    first,
                )
                .await
        } else {
            self.rest
                .call_webhook(Method::POST, &format!("/webhooks/{app}/{token}"), later)
                .await
        };
        if sent.is_err() && is_first {
            self.answered.store(false, Ordering::SeqCst);
        }
        let id = sent?["id"].as_str().unwrap_or("@original").to_string();
        Ok(MessageRef {
            platform: Platform::Discord,
            channel: self.scope.channel.clone(),
            message_id: id,
        })
    }

    /// Remembers the thread a card for this command was posted in.
    pub fn note_card(&self, request_id: &str, thread: &str) {
        let mut p = self.posted.lock().unwrap_or_else(|e| e.into_inner());
        p.get_or_insert_with(|| (request_id.to_string(), thread.to_string()));
    }

    /// After the engine is done: a deferred message nobody answered gets a closing line, so the
    /// person never sees "thinking…" forever.
    pub async fn finish(&self, outcome: &anyhow::Result<Handled>) {
        if self.reply.ack != Ack::DeferredEphemeral || self.answered.swap(true, Ordering::SeqCst) {
            return;
        }
        let posted = self
            .posted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let text = match (outcome, posted) {
            (Ok(Handled::Duplicate), _) => "Already handled.".to_string(),
            (_, Some((request, thread))) => {
                format!("Request {request}: it continues in <#{thread}>.")
            }
            (Ok(_), None) => "Done. Updates follow in the request's thread.".to_string(),
            (Err(_), None) => {
                "Something went wrong on Warden's side; nothing was changed.".to_string()
            }
        };
        let (app, token) = (&self.reply.application_id, self.reply.token.expose());
        // Warden's own text: request ids and a channel link, nothing a person typed.
        if let Err(e) = self
            .rest
            .call_webhook(
                Method::PATCH,
                &format!("/webhooks/{app}/{token}/messages/@original"),
                &original_edit(&text, true),
            )
            .await
        {
            tracing::warn!(error = %e, "failed to complete a deferred interaction response");
        }
    }
}
