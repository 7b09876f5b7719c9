//! The optional gateway (`discord.gateway = true`): DMs to the bot and messages that mention it
//! become the same `ChatEvent`s as everything else. A mention in a channel starts a thread from
//! that message first, so the conversation has its own scope from the start.
//!
//! A message is stored in the durable inbox (keyed by its message id) as soon as it is mapped
//! (a channel mention once its thread is started, so its first card has somewhere to go), and
//! handled from there: the gateway never delivers a message again to a new session, so anything
//! held only in memory would be lost to a crash, and a message replayed on a resumed session is
//! handled once.

use super::rest::{DiscordRest, RestError, Route};
use crate::chat::{ChatEvent, EventKind, Scope};
use crate::domain::{Platform, PlatformUser};
use crate::server::AppState;
use crate::workflow::Queued;
use reqwest::Method;
use serenity::all::{
    ChannelType, Context, EventHandler, GatewayIntents, Interaction, Message, Ready,
};
use serenity::http::HttpBuilder;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Discord's error code for "a thread has already been created for this message": a replayed
/// mention whose thread the first delivery started.
const THREAD_ALREADY_CREATED: i64 = 160_004;

/// Discord's error code for "this interaction has already been acknowledged": a replayed one.
const ALREADY_ACKNOWLEDGED: i64 = 40_060;

/// Attempts to store a message before it is given up on (with a doubling pause from 100 ms,
/// about 3 s in all): the gateway cannot be asked to send it again.
const STORE_ATTEMPTS: u32 = 6;

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

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        self.acknowledge(&interaction).await;
    }

    async fn message(&self, ctx: Context, msg: Message) {
        // The cache took READY's user before any handler ran; `ready` itself runs on its own
        // task and may not have run yet when the first message arrives right after READY.
        let bot_id = match self.bot_id.get() {
            Some(&id) => id,
            None => ctx.cache.current_user().id.get(),
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
        if self.replayed(&event.id).await {
            return;
        }
        if incoming.guild_id.is_some() && thread_parent.is_none() {
            self.start_thread(incoming.channel_id, incoming.id).await;
        }
        store(&self.state, event).await;
    }
}

impl Handler {
    /// Acknowledges an interaction the gateway delivered (Discord sends them here only when no
    /// interactions endpoint is set) through its callback, after storing its work, as the
    /// endpoint does in its HTTP answer. A replay is stored once and acknowledged once.
    async fn acknowledge(&self, interaction: &Interaction) {
        if self.replayed(&interaction.id().get().to_string()).await {
            return;
        }
        let response =
            super::inbound::answer(&self.state, self.home_guild.as_deref(), interaction).await;
        let id = interaction.id().get();
        let path = format!("/interactions/{id}/{}/callback", interaction.token());
        let sent = self
            .rest
            .call(
                Method::POST,
                Route::new("interaction_callback", id.to_string()),
                &path,
                Some(&response),
                None,
            )
            .await;
        match sent {
            Ok(_) => {}
            Err(RestError::Status {
                code: Some(ALREADY_ACKNOWLEDGED),
                ..
            }) => tracing::debug!(
                interaction = id,
                "a replayed interaction was acknowledged already"
            ),
            Err(e) => {
                tracing::warn!(interaction = id, error = %e, "failed to acknowledge a gateway interaction")
            }
        }
    }

    /// A delivery handled already (a replay after a resume) is left alone: acting on it again
    /// would answer or start its thread twice. If that cannot be told, it goes on: the engine
    /// still acts on it once.
    async fn replayed(&self, id: &str) -> bool {
        match self
            .state
            .engine
            .handled_before(Platform::Discord, id)
            .await
        {
            Ok(seen) => {
                if seen {
                    tracing::debug!(event = id, "a gateway replay of a handled event ignored");
                }
                seen
            }
            Err(e) => {
                tracing::warn!(event = id, error = ?e, "failed to look up a gateway delivery");
                false
            }
        }
    }

    /// Starts the thread a channel mention's request lives in, before the request is stored, so
    /// its first card has somewhere to go. A replayed mention finds the thread already there.
    async fn start_thread(&self, channel: u64, message: u64) {
        let body = serde_json::json!({ "name": "Access request", "auto_archive_duration": 1440 });
        let started = self
            .rest
            .call(
                Method::POST,
                Route::new("message_thread", channel.to_string()),
                &format!("/channels/{channel}/messages/{message}/threads"),
                Some(&body),
                None,
            )
            .await;
        match started {
            Ok(_) => {}
            Err(RestError::Status {
                code: Some(THREAD_ALREADY_CREATED),
                ..
            }) => tracing::debug!(message, "the mention's thread exists already"),
            Err(e) => tracing::warn!(error = %e, "failed to start a thread for a mention"),
        }
    }
}

/// Stores a mapped message in the durable inbox (a replay of a stored one is not stored again);
/// the inbox worker handles it. A store that keeps failing loses the message: said loudly.
async fn store(state: &AppState, event: ChatEvent) {
    let id = event.id.clone();
    let item = Queued::Event(event);
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=STORE_ATTEMPTS {
        match state.engine.accept(item.clone()).await {
            Ok(()) => return,
            Err(e) if attempt == STORE_ATTEMPTS => {
                tracing::error!(message = %id, error = ?e, "ALERT: a gateway message could not be stored and is lost");
            }
            Err(e) => {
                tracing::warn!(message = %id, attempt, error = ?e, "failed to store a gateway message; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}

/// Connects the gateway in the background until shutdown. With `api_url` (a Discord stand-in,
/// as in tests) serenity asks that server for the gateway's address (`GET /api/v10/gateway`)
/// instead of discord.com.
pub fn spawn(
    state: AppState,
    token: &str,
    api_url: Option<String>,
    rest: Arc<DiscordRest>,
    home_guild: Option<String>,
) {
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
        let builder = match api_url {
            Some(url) => serenity::client::ClientBuilder::new_with_http(
                HttpBuilder::new(&token)
                    .proxy(url)
                    .ratelimiter_disabled(true)
                    .build(),
                intents,
            ),
            None => serenity::Client::builder(&token, intents),
        };
        let mut client = match builder.event_handler(handler).await {
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
#[path = "gateway_tests.rs"]
mod tests;
