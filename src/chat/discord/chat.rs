//! `DiscordChat`: the chat port on Discord. Cards become embeds with buttons, each request gets
//! its own thread (a thread started from the card's message, so it has the message's id), and
//! approvers get their cards by DM.

use super::render::{card_edit, card_message, text_message, truncate};
use super::responder::Responder;
use super::rest::{DiscordRest, RestError, Route};
use crate::chat::coalesce::LatestEdits;
use crate::chat::{
    Card, CardTarget, ChatError, ChatEvent, ChatPort, DeferredReply, Home, MessageRef, Scope,
};
use crate::domain::{Platform, PlatformUser};
use crate::workflow::Handled;
use async_trait::async_trait;
use futures::future::BoxFuture;
use reqwest::Method;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct DiscordChat {
    rest: Arc<DiscordRest>,
    /// DM channel per user id; Discord returns the same channel every time.
    dms: Mutex<HashMap<String, String>>,
    /// Card edits per message: the newest content wins while an edit waits.
    edits: LatestEdits<MessageRef, Card>,
}

impl DiscordChat {
    pub fn new(rest: Arc<DiscordRest>) -> Self {
        Self {
            rest,
            dms: Mutex::new(HashMap::new()),
            edits: LatestEdits::default(),
        }
    }

    /// Threads are channels on Discord; a DM has none.
    fn channel_of(scope: &Scope) -> &str {
        match (&scope.thread, scope.kind) {
            (Some(t), k) if k != crate::domain::ScopeKind::Dm => t,
            _ => &scope.channel,
        }
    }

    async fn post(
        &self,
        channel: &str,
        body: &impl serde::Serialize,
    ) -> Result<MessageRef, ChatError> {
        let msg = self
            .rest
            .call(
                Method::POST,
                Route::new("channel_messages", channel),
                &format!("/channels/{channel}/messages"),
                Some(body),
                None,
            )
            .await
            .map_err(api)?;
        let id = msg["id"]
            .as_str()
            .ok_or_else(|| ChatError::Api("message without an id".into()))?;
        Ok(MessageRef {
            platform: Platform::Discord,
            channel: channel.to_string(),
            message_id: id.to_string(),
        })
    }

    async fn dm_channel(&self, user: &PlatformUser) -> Result<String, ChatError> {
        if let Some(c) = self
            .dms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user.user_id)
        {
            return Ok(c.clone());
        }
        let body = serde_json::json!({ "recipient_id": user.user_id });
        let ch = self
            .rest
            .call(
                Method::POST,
                Route::new("create_dm", "@me"),
                "/users/@me/channels",
                Some(&body),
                None,
            )
            .await
            .map_err(api)?;
        let id = ch["id"]
            .as_str()
            .ok_or_else(|| ChatError::Api("DM channel without an id".into()))?
            .to_string();
        self.dms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.user_id.clone(), id.clone());
        Ok(id)
    }

    /// Starts the request's thread from its first card.
    async fn start_thread(
        &self,
        channel: &str,
        message_id: &str,
        card: &Card,
    ) -> Result<(), RestError> {
        let body = serde_json::json!({ "name": truncate(&format!("{} · {}", card.request_id, card.title), 100), "auto_archive_duration": 1440 });
        self.rest
            .call(
                Method::POST,
                Route::new("message_thread", channel),
                &format!("/channels/{channel}/messages/{message_id}/threads"),
                Some(&body),
                Some(&format!("Warden request {}", card.request_id)),
            )
            .await?;
        Ok(())
    }
}

fn api(e: RestError) -> ChatError {
    ChatError::Api(e.to_string())
}

#[async_trait]
impl ChatPort for DiscordChat {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn send(&self, scope: &Scope, text: &str) -> Result<MessageRef, ChatError> {
        if let Some(r) = Responder::current().filter(|r| r.takes_text_for(scope)) {
            return r.whisper(text).await.map_err(api);
        }
        self.post(Self::channel_of(scope), &text_message(text))
            .await
    }

    async fn notify(&self, user: &PlatformUser, text: &str) -> Result<MessageRef, ChatError> {
        let channel = self.dm_channel(user).await?;
        self.post(&channel, &text_message(text)).await
    }

    async fn post_card(&self, target: &CardTarget, card: &Card) -> Result<MessageRef, ChatError> {
        let channel = match target {
            CardTarget::Scope(s) => Self::channel_of(s).to_string(),
            CardTarget::Direct(u) => self.dm_channel(u).await?,
            CardTarget::Channel { channel, .. } => channel.clone(),
        };
        let posted = self.post(&channel, &card_message(card)).await?;
        if let CardTarget::Scope(s) = target {
            let mut home = channel.clone();
            if s.thread.is_none() && s.kind != crate::domain::ScopeKind::Dm {
                match self.start_thread(&channel, &posted.message_id, card).await {
                    Ok(()) => home = posted.message_id.clone(),
                    Err(e) => {
                        tracing::warn!(request = %card.request_id, error = %e, "failed to start the request's thread; it continues in the channel")
                    }
                }
            }
            if let Some(r) = Responder::current() {
                r.note_card(card.request_id.as_str(), &home);
            }
        }
        Ok(posted)
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        let Some(sender) = self.edits.offer(message.clone(), card.clone()) else {
            return Ok(());
        };
        let (ch, id) = (&message.channel, &message.message_id);
        loop {
            self.rest
                .call_latest(
                    Method::PATCH,
                    Route::new("channel_message", ch.as_str()),
                    &format!("/channels/{ch}/messages/{id}"),
                    || card_edit(&sender.latest()),
                )
                .await
                .map_err(api)?;
            if sender.delivered() {
                return Ok(());
            }
        }
    }

    /// The interaction's own ephemeral follow-up while it is being handled; a DM otherwise.
    async fn ephemeral(
        &self,
        scope: &Scope,
        user: &PlatformUser,
        text: &str,
    ) -> Result<(), ChatError> {
        let _ = scope;
        if let Some(r) = Responder::current().filter(|r| r.is_actor(user)) {
            return r.whisper(text).await.map(|_| ()).map_err(api);
        }
        self.notify(user, text).await.map(|_| ())
    }

    /// `/access status` as a slash command: its own ephemeral answer, with buttons. Asked any
    /// other way (words in a channel), the engine sends the text instead.
    async fn show_home(
        &self,
        scope: &Scope,
        user: &PlatformUser,
        home: &Home,
    ) -> Result<bool, ChatError> {
        let Some(r) = Responder::current().filter(|r| r.is_actor(user) && r.takes_text_for(scope))
        else {
            return Ok(false);
        };
        r.whisper_home(home).await.map(|_| true).map_err(api)
    }

    /// The work runs with the interaction as the current one (its refusals and a slash
    /// command's replies go to it privately); then a deferred message nobody answered is closed.
    async fn answer_deferred<'a>(
        &'a self,
        reply: &'a DeferredReply,
        event: &'a ChatEvent,
        work: BoxFuture<'a, anyhow::Result<Handled>>,
    ) -> anyhow::Result<Handled> {
        let responder = Responder::new(
            self.rest.clone(),
            reply.clone(),
            event.actor.clone(),
            event.scope.clone(),
        );
        let outcome = responder.run(work).await;
        responder.finish(&outcome).await;
        outcome
    }
}
