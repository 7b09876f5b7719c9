//! The Slack adapter: Events API, slash command and interactivity in; Web API out.
//!
//! Inbound requests are verified (HMAC v0, 5-minute window) before anything is read, answered
//! at once, and handed to the engine in the background; Socket Mode feeds the same handlers.
//! Outbound, `SlackChat` renders the engine's platform-free cards as Block Kit. Platform types
//! stay in this folder.

pub mod api;
pub mod blocks;
pub mod chat;
pub mod home;
pub mod identity;
pub mod inbound;
pub mod modals;
pub mod payloads;
pub mod socket;
pub mod usergroup;

#[cfg(test)]
mod payload_tests;

use crate::config::Settings;
use crate::directory::Directory;
use crate::grants::GrantorRegistry;
use std::sync::Arc;
use std::time::Duration;

pub use chat::SlackChat;

/// The Web API client from settings, when a bot token is set. The composition root builds it
/// once and shares it: its rate-limit pauses must be the same for every caller.
pub fn api_from_settings(s: &Settings) -> anyhow::Result<Option<Arc<api::SlackApi>>> {
    let Some(token) = &s.slack.bot_token else {
        return Ok(None);
    };
    let options = api::ApiOptions {
        post_interval: Duration::from_millis(s.slack.post_interval_ms),
        home_interval: Duration::from_millis(s.slack.home_interval_ms),
        ..Default::default()
    };
    Ok(Some(Arc::new(api::SlackApi::new(
        s.slack.api_url.as_deref(),
        token,
        options,
    )?)))
}

/// Registers the chat port and the `slack_usergroup` backend on the process's one Web API
/// client, when a bot token is set.
pub fn outbound(
    api: Option<&Arc<api::SlackApi>>,
    chats: &mut Vec<Arc<dyn crate::chat::ChatPort>>,
    grantors: &mut GrantorRegistry,
) {
    let Some(api) = api else {
        return;
    };
    chats.push(Arc::new(SlackChat::new(api.clone())));
    grantors.register(Arc::new(usergroup::SlackUsergroupGrantor::new(api.clone())));
}

/// With `slack.trust_email` (and a bot token), unlinked accounts map by their Slack email.
pub fn directory(
    s: &Settings,
    inner: Arc<dyn Directory>,
    api: Option<&Arc<api::SlackApi>>,
) -> Arc<dyn Directory> {
    match api {
        Some(api) if s.slack.trust_email => {
            Arc::new(identity::EmailTrustingDirectory::new(inner, api.clone()))
        }
        _ => inner,
    }
}

/// The three HTTP routes when a signing secret is set, and Socket Mode when an app token is.
pub fn routes(
    s: &Settings,
    state: &crate::server::AppState,
    router: axum::Router,
    api: Option<&Arc<api::SlackApi>>,
) -> anyhow::Result<axum::Router> {
    if s.slack.signing_secret.is_none() && s.slack.app_token.is_none() {
        return Ok(router);
    }
    let inbound = Arc::new(inbound::SlackInbound::new(
        state.clone(),
        s.slack.signing_secret.as_ref(),
        api.cloned(),
    ));
    if let Some(app_token) = s.slack.app_token.clone() {
        let (url, inbound, stop) = (
            s.slack.api_url.clone(),
            inbound.clone(),
            state.shutdown.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = socket::run(url, app_token, inbound, stop).await {
                tracing::error!(error = ?e, "Slack Socket Mode stopped");
            }
        });
    }
    Ok(match s.slack.signing_secret {
        Some(_) => router.merge(inbound::routes(inbound)),
        None => router,
    })
}
