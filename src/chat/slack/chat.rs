//! `SlackChat`: the chat port over the Slack Web API (messages, DMs, cards, ephemeral replies).

use super::api::SlackApi;
use super::blocks::{card_content, text_content};
use super::home::{HomePublisher, home_blocks};
use crate::chat::coalesce::LatestEdits;
use crate::chat::{Card, CardTarget, ChatError, ChatPort, Home, MessageRef, Scope};
use crate::domain::{Platform, PlatformUser};
use async_trait::async_trait;
use slack_morphism::prelude::*;
use std::sync::Arc;

pub struct SlackChat {
    api: Arc<SlackApi>,
    /// Card edits per message: the newest content wins while an edit waits.
    edits: LatestEdits<MessageRef, Card>,
    /// Home tabs, paced per person; shared with the tasks that publish them.
    homes: Arc<HomePublisher>,
}

impl SlackChat {
    pub fn new(api: Arc<SlackApi>) -> Self {
        let homes = Arc::new(HomePublisher::new(api.clone(), api.home_interval()));
        Self {
            api,
            edits: LatestEdits::default(),
            homes,
        }
    }

    /// Posts with Slack's own parsing off: mentions, links and `@here` stay text.
    async fn post(
        &self,
        channel: &str,
        thread: Option<&str>,
        content: SlackMessageContent,
    ) -> Result<MessageRef, ChatError> {
        let req =
            SlackApiChatPostMessageRequest::new(SlackChannelId::new(channel.to_string()), content)
                .with_link_names(false)
                .with_parse("none".into())
                .with_unfurl_links(false)
                .opt_thread_ts(thread.map(|t| SlackTs::new(t.to_string())));
        let resp = self.api.post_message(req).await?;
        Ok(MessageRef {
            platform: Platform::Slack,
            channel: resp.channel.to_string(),
            message_id: resp.ts.to_string(),
        })
    }
}

#[async_trait]
impl ChatPort for SlackChat {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn send(&self, scope: &Scope, text: &str) -> Result<MessageRef, ChatError> {
        self.post(&scope.channel, scope.thread.as_deref(), text_content(text))
            .await
    }

    async fn notify(&self, user: &PlatformUser, text: &str) -> Result<MessageRef, ChatError> {
        let channel = self.api.dm_channel(&user.user_id).await?;
        self.post(&channel, None, text_content(text)).await
    }

    async fn post_card(&self, target: &CardTarget, card: &Card) -> Result<MessageRef, ChatError> {
        let content = card_content(card);
        match target {
            CardTarget::Scope(s) => self.post(&s.channel, s.thread.as_deref(), content).await,
            CardTarget::Direct(u) => {
                let channel = self.api.dm_channel(&u.user_id).await?;
                self.post(&channel, None, content).await
            }
            CardTarget::Channel { channel, .. } => self.post(channel, None, content).await,
        }
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        let Some(sender) = self.edits.offer(message.clone(), card.clone()) else {
            return Ok(());
        };
        loop {
            self.api
                .call("chat.update", || {
                    let req = SlackApiChatUpdateRequest::new(
                        SlackChannelId::new(message.channel.clone()),
                        card_content(&sender.latest()),
                        SlackTs::new(message.message_id.clone()),
                    )
                    .with_link_names(false)
                    .with_parse("none".into());
                    async move { self.api.session().chat_update(&req).await }
                })
                .await?;
            if sender.delivered() {
                return Ok(());
            }
        }
    }

    fn has_home_tab(&self) -> bool {
        true
    }

    /// Hands the home to its publisher and returns: the publish may wait out the person's
    /// interval or a rate limit, and whoever changed something must not wait for it.
    async fn publish_home(&self, user: &PlatformUser, home: &Home) -> Result<bool, ChatError> {
        let (homes, user, blocks) = (self.homes.clone(), user.user_id.clone(), home_blocks(home));
        tokio::spawn(async move { homes.publish(user, blocks).await });
        Ok(true)
    }

    async fn ephemeral(
        &self,
        scope: &Scope,
        user: &PlatformUser,
        text: &str,
    ) -> Result<(), ChatError> {
        if !scope.channel.is_empty() {
            let req = SlackApiChatPostEphemeralRequest::new(
                SlackChannelId::new(scope.channel.clone()),
                SlackUserId::new(user.user_id.clone()),
                text_content(text),
            )
            .with_link_names(false)
            .with_parse("none".into())
            .opt_thread_ts(scope.thread.as_ref().map(|t| SlackTs::new(t.clone())));
            match self
                .api
                .call("chat.postEphemeral", || async {
                    self.api.session().chat_post_ephemeral(&req).await
                })
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::info!(error = %e, "ephemeral reply failed; sending a DM instead")
                }
            }
        }
        self.notify(user, text).await.map(|_| ())
    }
}
