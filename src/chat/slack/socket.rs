//! Socket Mode: with `slack.app_token` set, Slack's events arrive over a websocket Warden opens
//! (no public URL needed) and go through the same parsing and handlers as the HTTP routes.
//! The websocket is authenticated by the app token, so there is no request signature to check.

use super::api::connector;
use super::inbound::SlackInbound;
use super::payloads::{self, Command};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

struct Handlers {
    inbound: Arc<SlackInbound>,
}

type Err = Box<dyn std::error::Error + Send + Sync>;

async fn inbound_of(states: &SlackClientEventsUserState) -> Option<Arc<SlackInbound>> {
    let guard = states.read().await;
    guard
        .get_user_state::<Handlers>()
        .map(|h| h.inbound.clone())
}

async fn on_push(
    ev: SlackPushEventCallback,
    _client: Arc<SlackClient<super::api::Connector>>,
    states: SlackClientEventsUserState,
) -> Result<(), Err> {
    let Some(inbound) = inbound_of(&states).await else {
        return Ok(());
    };
    let json = serde_json::to_string(&SlackPushEvent::EventCallback(ev))?;
    match payloads::parse_event(&json) {
        // Stored before the envelope is acknowledged; an error leaves it unacknowledged.
        Ok(item) => inbound.dispatch(item).await?,
        Err(e) => tracing::warn!(error = %e, "Socket Mode event could not be read"),
    }
    Ok(())
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _client: Arc<SlackClient<super::api::Connector>>,
    states: SlackClientEventsUserState,
) -> Result<(), Err> {
    let Some(inbound) = inbound_of(&states).await else {
        return Ok(());
    };
    let json = serde_json::to_string(&ev)?;
    match payloads::parse_interaction(&json) {
        Ok(items) => {
            for item in items {
                inbound.dispatch(item).await?;
            }
        }
        Err(e) => tracing::warn!(error = %e, "Socket Mode interaction could not be read"),
    }
    Ok(())
}

async fn on_command(
    ev: SlackCommandEvent,
    _client: Arc<SlackClient<super::api::Connector>>,
    states: SlackClientEventsUserState,
) -> Result<SlackCommandEventResponse, Err> {
    if let Some(inbound) = inbound_of(&states).await {
        let cmd: Command = serde_json::from_value(serde_json::to_value(&ev)?)?;
        inbound.dispatch(cmd.into_inbound()).await?;
    }
    Ok(SlackCommandEventResponse::new(
        SlackMessageContent::new().with_text("On it.".into()),
    ))
}

/// Connects with the app token and serves until `shutdown` fires.
pub async fn run(
    api_url: Option<String>,
    app_token: SecretString,
    inbound: Arc<SlackInbound>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client = Arc::new(SlackClient::new(connector(api_url.as_deref())?));
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(client).with_user_state(Handlers { inbound }),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_interaction_events(on_interaction)
        .with_command_events(on_command);
    let listener =
        SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), env, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue::new(
        app_token.expose_secret().to_string(),
    ));
    listener
        .listen_for(&token)
        .await
        .map_err(|e| anyhow::anyhow!("Socket Mode connection failed: {e}"))?;
    listener.start().await;
    tracing::info!("Slack Socket Mode connected");
    shutdown.cancelled().await;
    listener.shutdown().await;
    Ok(())
}
