//! `POST /discord/interactions`: Ed25519 verification before anything else, a timestamp window,
//! then an answer within Discord's 3 s (pong, modal, or a deferred response); `answer` is the
//! same for interactions the gateway delivers. Work for the engine
//! is stored in the durable inbox, with the interaction's reply context, before it is deferred.

use super::events::{Ack, Inbound, classify};
use super::render::{deny_modal, edit_modal, no_mentions};
use crate::chat::{CardAction, EditForm};
use crate::domain::{PlatformUser, RequestId};
use crate::server::AppState;
use crate::workflow::Queued;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serenity::builder::{CreateInteractionResponse, CreateInteractionResponseMessage};
use serenity::interactions_endpoint::Verifier;

/// Discord signs `timestamp + body`; older or future-dated requests are replays or clock trouble.
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Clone)]
pub struct Interactions {
    state: AppState,
    verifier: Verifier,
    home_guild: Option<String>,
}

impl Interactions {
    /// `public_key` is the application's hex Ed25519 key from the developer portal.
    pub fn new(
        state: AppState,
        public_key: &str,
        home_guild: Option<String>,
    ) -> anyhow::Result<Self> {
        let bytes: [u8; 32] = hex::decode(public_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("discord.public_key must be 64 hex digits"))?;
        let verifier = Verifier::try_new(bytes)
            .map_err(|_| anyhow::anyhow!("discord.public_key is not a valid Ed25519 key"))?;
        Ok(Self {
            state,
            verifier,
            home_guild,
        })
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/discord/interactions", post(handle))
            .with_state(self)
    }

    fn verified(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(timestamp)) = (
            header("x-signature-ed25519"),
            header("x-signature-timestamp"),
        ) else {
            return Err("missing signature headers");
        };
        self.verifier
            .verify(signature, timestamp, body)
            .map_err(|_| "bad signature")?;
        let ts: i64 = timestamp.parse().map_err(|_| "timestamp is not a number")?;
        if (chrono::Utc::now().timestamp() - ts).abs() > MAX_SKEW_SECS {
            return Err("timestamp outside the 5-minute window");
        }
        Ok(())
    }
}

fn respond(r: CreateInteractionResponse) -> Response {
    Json(r).into_response()
}

fn ephemeral(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(no_mentions()),
    )
}

async fn handle(State(ix): State<Interactions>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = ix.verified(&headers, &body) {
        tracing::warn!(why, "rejected a Discord interaction");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let interaction = match serde_json::from_slice::<serenity::all::Interaction>(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Discord interaction");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    respond(answer(&ix.state, ix.home_guild.as_deref(), &interaction).await)
}

/// What an interaction is answered with, whichever way it came (this endpoint, or the gateway
/// when no endpoint is configured): work for the engine is stored first.
pub async fn answer(
    state: &AppState,
    home_guild: Option<&str>,
    interaction: &serenity::all::Interaction,
) -> CreateInteractionResponse {
    match classify(interaction, home_guild) {
        Inbound::Ping => CreateInteractionResponse::Pong,
        Inbound::Refuse(text) => ephemeral(text),
        Inbound::Ignore => CreateInteractionResponse::Acknowledge,
        Inbound::OpenModal {
            action,
            request_id,
            items,
            actor,
        } => open_modal(state, action, &request_id, &items, &actor).await,
        Inbound::Event { event, reply } => {
            let ack = reply.ack;
            // Stored (with what is needed to answer it) before it is acknowledged: a crash after
            // the acknowledgement loses nothing; the inbox worker handles it and the chat port
            // answers it. Not stored: not acknowledged as taken, so the person knows.
            if let Err(e) = state
                .engine
                .accept(Queued::Interaction {
                    event: *event,
                    reply,
                })
                .await
            {
                tracing::error!(error = ?e, "failed to store a Discord interaction; refused");
                return ephemeral("Warden can't take this right now; please try again.");
            }
            match ack {
                Ack::DeferredEphemeral => CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(true),
                ),
                Ack::DeferredUpdate => CreateInteractionResponse::Acknowledge,
            }
        }
    }
}

/// Deny asks for the reason (the engine checks the approver when it comes back). Edit opens the
/// form the engine prefills, which it does for the requester only.
async fn open_modal(
    state: &AppState,
    action: CardAction,
    id: &RequestId,
    items: &[RequestId],
    actor: &PlatformUser,
) -> CreateInteractionResponse {
    match action {
        CardAction::Deny => return deny_modal(action, std::slice::from_ref(id)),
        CardAction::DenyAll => return deny_modal(action, items),
        _ => {}
    }
    match state.engine.edit_form(actor, id).await {
        Ok(EditForm::Open(fields)) => edit_modal(&fields, id),
        Ok(EditForm::Refused(why)) => ephemeral(&why),
        Err(e) => {
            tracing::error!(request = %id, error = ?e, "failed to load a request for the edit form");
            ephemeral("Warden can't open the form right now; please try again.")
        }
    }
}
