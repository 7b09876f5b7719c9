//! The optional gateway (`discord.gateway = true`): DMs to the bot and messages that mention it
//! become the same `ChatEvent`s as everything else. A mention in a channel starts a thread from
//! that message first, so the conversation has its own scope from the start.

use super::rest::{DiscordRest, Route};
use crate::chat::{ChatEvent, EventKind, Scope};
use crate::domain::{Platform, PlatformUser};
use crate::server::AppState;
use reqwest::Method;
use serenity::all::{ChannelType, Context, EventHandler, GatewayIntents, Message, Ready};
use std::sync::{Arc, OnceLock};

/// What the mapping needs from a gateway message, already resolved (thread parent included).
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub id: u64,
    pub author_id: u64,
    pub author_is_bot: bool,
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    /// Set when the channel is a thread.
    pub thread_parent: Option<u64>,
    pub mentions_bot: bool,
    /// In a DM, the message this one replies to (it continues that request).
    pub reply_to: Option<u64>,
    pub content: String,
}

/// Maps a message; `None` for bots, for channel chatter that doesn't mention Warden, and for
/// DMs when no home guild is configured (identity needs a guild).
pub fn to_event(m: &Incoming, bot_id: u64, home_guild: Option<&str>) -> Option<ChatEvent> {
    if m.author_is_bot || m.author_id == bot_id {
        return None;
    }
    let text = strip_mention(&m.content, bot_id);
    if text.is_empty() {
        return None;
    }
    let (workspace, scope_of) = match m.guild_id {
        None => {
            let ws = home_guild?.to_string();
            let scope = Scope {
                platform: Platform::Discord,
                workspace: ws.clone(),
                channel: m.channel_id.to_string(),
                thread: m.reply_to.map(|r| r.to_string()),
                kind: crate::domain::ScopeKind::Dm,
            };
            (ws, scope)
        }
        Some(g) => {
            if !m.mentions_bot {
                return None;
            }
            let ws = g.to_string();
            let scope = match m.thread_parent {
                Some(parent) => Scope {
                    platform: Platform::Discord,
                    workspace: ws.clone(),
                    channel: parent.to_string(),
                    thread: Some(m.channel_id.to_string()),
                    kind: crate::domain::ScopeKind::Thread,
                },
                // The handler starts a thread from this message; it gets the message's id.
                None => Scope {
                    platform: Platform::Discord,
                    workspace: ws.clone(),
                    channel: m.channel_id.to_string(),
                    thread: Some(m.id.to_string()),
                    kind: crate::domain::ScopeKind::Thread,
                },
            };
            (ws, scope)
        }
    };
    Some(ChatEvent {
        id: m.id.to_string(),
        actor: PlatformUser::new(Platform::Discord, workspace, m.author_id.to_string()),
        scope: scope_of,
        kind: EventKind::Message {
            text,
            message_id: m.id.to_string(),
        },
    })
}

fn strip_mention(content: &str, bot_id: u64) -> String {
    content
        .replace(&format!("<@{bot_id}>"), " ")
        .replace(&format!("<@!{bot_id}>"), " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

struct Handler {
    state: AppState,
    rest: Arc<DiscordRest>,
    home_guild: Option<String>,
    bot_id: OnceLock<u64>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let _ = self.bot_id.set(ready.user.id.get());
        tracing::info!(bot = %ready.user.id, "Discord gateway connected");
    }

    async fn message(&self, ctx: Context, msg: Message) {
        let Some(&bot_id) = self.bot_id.get() else {
            return;
        };
        let thread_parent = match msg.guild_id {
            Some(_) => match msg.channel_id.to_channel(&ctx).await {
                Ok(serenity::all::Channel::Guild(c))
                    if matches!(
                        c.kind,
                        ChannelType::PublicThread
                            | ChannelType::PrivateThread
                            | ChannelType::NewsThread
                    ) =>
                {
                    c.parent_id.map(|p| p.get())
                }
                _ => None,
            },
            None => None,
        };
        let incoming = Incoming {
            id: msg.id.get(),
            author_id: msg.author.id.get(),
            author_is_bot: msg.author.bot,
            guild_id: msg.guild_id.map(|g| g.get()),
            channel_id: msg.channel_id.get(),
            thread_parent,
            mentions_bot: msg.mentions.iter().any(|u| u.id.get() == bot_id),
            reply_to: msg
                .message_reference
                .as_ref()
                .and_then(|r| r.message_id)
                .map(|m| m.get()),
            content: msg.content.clone(),
        };
        let Some(event) = to_event(&incoming, bot_id, self.home_guild.as_deref()) else {
            return;
        };
        if incoming.guild_id.is_some() && thread_parent.is_none() {
            let (ch, id) = (incoming.channel_id, incoming.id);
            let body =
                serde_json::json!({ "name": "Access request", "auto_archive_duration": 1440 });
            if let Err(e) = self
                .rest
                .call(
                    Method::POST,
                    Route::new("message_thread", ch.to_string()),
                    &format!("/channels/{ch}/messages/{id}/threads"),
                    Some(&body),
                    None,
                )
                .await
            {
                tracing::warn!(error = %e, "failed to start a thread for a mention");
            }
        }
        let engine = self.state.engine.clone();
        self.state.spawn(async move {
            if let Err(e) = engine.handle(event).await {
                tracing::warn!(error = ?e, "gateway message failed");
            }
        });
    }
}

/// Connects the gateway in the background until shutdown.
pub fn spawn(state: AppState, token: &str, rest: Arc<DiscordRest>, home_guild: Option<String>) {
    let intents = GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT;
    let token = token.to_string();
    let shutdown = state.shutdown.clone();
    let handler = Handler {
        state,
        rest,
        home_guild,
        bot_id: OnceLock::new(),
    };
    tokio::spawn(async move {
        let mut client = match serenity::Client::builder(&token, intents)
            .event_handler(handler)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "failed to build the Discord gateway client");
                return;
            }
        };
        let shards = client.shard_manager.clone();
        tokio::select! {
            r = client.start() => if let Err(e) = r { tracing::error!(error = %e, "Discord gateway stopped") },
            _ = shutdown.cancelled() => shards.shutdown_all().await,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: u64 = 999;

    fn msg() -> Incoming {
        Incoming {
            id: 500,
            author_id: 7,
            guild_id: Some(1),
            channel_id: 20,
            mentions_bot: true,
            content: format!("<@{BOT}> read on prod-db for 1h"),
            ..Default::default()
        }
    }

    #[test]
    fn a_mention_in_a_channel_becomes_a_request_in_a_thread_started_from_it() {
        let e = to_event(&msg(), BOT, None).unwrap();
        assert_eq!(
            (e.actor.workspace.as_str(), e.actor.user_id.as_str()),
            ("1", "7")
        );
        assert_eq!(
            (e.scope.channel.as_str(), e.scope.thread.as_deref()),
            ("20", Some("500"))
        );
        assert!(
            matches!(e.kind, EventKind::Message { ref text, .. } if text == "read on prod-db for 1h")
        );
    }

    #[test]
    fn a_message_in_a_thread_maps_to_the_parent_channel_and_the_thread() {
        let m = Incoming {
            channel_id: 30,
            thread_parent: Some(20),
            ..msg()
        };
        let e = to_event(&m, BOT, None).unwrap();
        assert_eq!(
            (e.scope.channel.as_str(), e.scope.thread.as_deref()),
            ("20", Some("30"))
        );
    }

    #[test]
    fn bots_and_unmentioned_channel_chatter_are_ignored() {
        assert!(
            to_event(
                &Incoming {
                    author_is_bot: true,
                    ..msg()
                },
                BOT,
                None
            )
            .is_none()
        );
        assert!(
            to_event(
                &Incoming {
                    author_id: BOT,
                    ..msg()
                },
                BOT,
                None
            )
            .is_none()
        );
        assert!(
            to_event(
                &Incoming {
                    mentions_bot: false,
                    ..msg()
                },
                BOT,
                None
            )
            .is_none()
        );
    }

    #[test]
    fn a_dm_uses_the_home_guild_as_workspace_and_needs_one() {
        let dm = Incoming {
            guild_id: None,
            mentions_bot: false,
            channel_id: 77,
            content: "status".into(),
            ..msg()
        };
        assert!(to_event(&dm, BOT, None).is_none());
        let e = to_event(&dm, BOT, Some("1")).unwrap();
        assert_eq!(
            (
                e.actor.workspace.as_str(),
                e.scope.kind.as_str(),
                e.scope.channel.as_str()
            ),
            ("1", "dm", "77")
        );
    }
}
