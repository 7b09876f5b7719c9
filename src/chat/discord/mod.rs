//! The Discord adapter: interactions endpoint, optional gateway, `/access` command, cards as
//! embeds and buttons, a thread per request, and the `discord_role` grant backend.
//!
//! Enabled by settings: `discord.bot_token` turns on the outbound client and the role backend,
//! `discord.public_key` the interactions endpoint, `discord.gateway = true` the gateway. Platform
//! types stay in here; the engine sees `ChatEvent`s and answers through `ChatPort`.

use crate::chat::ChatPort;
use crate::config::Settings;
use crate::grants::GrantorRegistry;
use crate::server::AppState;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

pub mod chat;
pub mod commands;
pub mod events;
pub mod gateway;
pub mod grant;
pub mod home;
pub mod inbound;
pub mod render;
pub mod responder;
pub mod rest;

pub use chat::DiscordChat;
pub use grant::DiscordRoleGrantor;
pub use inbound::Interactions;
pub use rest::DiscordRest;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The REST client for these settings (`discord.api_url` overrides discord.com). The
/// composition root builds it once and shares it: its rate-limit pauses (per bucket and the
/// bot's global limit) must be the same for every caller.
pub fn rest(s: &Settings) -> anyhow::Result<Arc<DiscordRest>> {
    Ok(Arc::new(DiscordRest::new(
        s.discord.api_url.as_deref(),
        s.discord.bot_token.clone(),
        TIMEOUT,
    )?))
}

/// Whether any Discord feature is configured (and so a REST client is needed).
pub fn enabled(s: &Settings) -> bool {
    s.discord.bot_token.is_some() || s.discord.public_key.is_some()
}

/// With a bot token: the chat port and the `discord_role` grant backend.
pub fn outbound(
    s: &Settings,
    rest: Option<&Arc<DiscordRest>>,
    chats: &mut Vec<Arc<dyn ChatPort>>,
    grantors: &mut GrantorRegistry,
) {
    let Some(rest) = rest.filter(|_| s.discord.bot_token.is_some()) else {
        return;
    };
    chats.push(Arc::new(DiscordChat::new(rest.clone())));
    grantors.register(Arc::new(DiscordRoleGrantor::new(rest.clone())));
}

/// With a public key: `POST /discord/interactions`; with `discord.gateway`, the gateway too.
pub fn routes(
    s: &Settings,
    state: &AppState,
    router: axum::Router,
    rest: Option<&Arc<DiscordRest>>,
) -> anyhow::Result<axum::Router> {
    let Some(rest) = rest else {
        return Ok(router);
    };
    let mut router = router;
    if let Some(key) = &s.discord.public_key {
        let ix = Interactions::new(state.clone(), key, s.discord.guild_id.clone())?;
        router = router.merge(ix.router());
    }
    if s.discord.gateway
        && let Some(token) = &s.discord.bot_token
    {
        gateway::spawn(
            state.clone(),
            token.expose_secret(),
            s.discord.api_url.clone(),
            rest.clone(),
            s.discord.guild_id.clone(),
        );
    }
    Ok(router)
}
