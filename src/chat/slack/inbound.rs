//! `POST /slack/events`, `/slack/commands`, `/slack/interactions`: verify the signature first,
//! store the event in the durable inbox, then acknowledge; the engine handles it from there.

use super::api::SlackApi;
use super::modals::{self, ModalContext};
use super::payloads::{self, Command, Inbound, ModalKind};
use crate::chat::{ChatEvent, EditForm, EventKind};
use crate::server::AppState;
use crate::workflow::Queued;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};
use std::sync::Arc;

/// Everything the inbound side needs; shared by the HTTP routes and Socket Mode.
pub struct SlackInbound {
    app: AppState,
    verifier: Option<SlackEventSignatureVerifier>,
    /// For `views.open`; without a bot token Edit and Deny fall back to the engine's replies.
    api: Option<Arc<SlackApi>>,
}

impl SlackInbound {
    pub fn new(
        app: AppState,
        signing_secret: Option<&SecretString>,
        api: Option<Arc<SlackApi>>,
    ) -> Self {
        let verifier = signing_secret.map(|s| {
            SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
                s.expose_secret().to_string(),
            ))
        });
        Self { app, verifier, api }
    }

    /// The raw body as text if its signature and timestamp check out; otherwise a log line and 401.
    fn verified<'a>(&self, headers: &HeaderMap, body: &'a [u8]) -> Result<&'a str, StatusCode> {
        let reject = |why: &str| {
            tracing::warn!(reason = why, "rejected a Slack request");
            StatusCode::UNAUTHORIZED
        };
        let Some(verifier) = &self.verifier else {
            return Err(reject("no signing secret configured"));
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(sig), Some(ts)) = (
            header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
            header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
        ) else {
            return Err(reject("missing signature or timestamp header"));
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return Err(reject("body is not UTF-8"));
        };
        match verifier.verify(sig, text, ts) {
            Ok(()) => Ok(text),
            Err(SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_)) => {
                Err(reject("timestamp outside the 5-minute window"))
            }
            Err(SlackEventSignatureVerifierError::WrongSignatureError(_)) => {
                Err(reject("signature does not match"))
            }
            Err(_) => Err(reject("signature could not be checked")),
        }
    }

    /// Takes one payload in before it is acknowledged: events and thread replies are stored in
    /// the durable inbox (an error means "do not acknowledge": Slack sends it again); a modal
    /// must open within Slack's three seconds, so it starts at once.
    pub async fn dispatch(self: &Arc<Self>, item: Inbound) -> anyhow::Result<()> {
        match item {
            Inbound::Challenge(_) => {}
            Inbound::Ignored(why) => tracing::debug!(why, "Slack payload ignored"),
            Inbound::Event(ev) => self.app.engine.accept(Queued::Event(ev)).await?,
            Inbound::ThreadReply(ev) => self.app.engine.accept(Queued::ThreadReply(ev)).await?,
            Inbound::OpenModal {
                kind,
                trigger_id,
                ctx,
                fallback,
            } => {
                let this = self.clone();
                self.app
                    .spawn(async move { this.open_modal(kind, &trigger_id, &ctx, fallback).await });
            }
        }
        Ok(())
    }

    async fn handle(&self, ev: ChatEvent) {
        let id = ev.id.clone();
        if let Err(e) = self.app.engine.handle(ev).await {
            // The engine already told the person; the cause chain belongs in the log.
            tracing::error!(event = %id, error = ?e, "Slack event failed");
        }
    }

    /// Edit opens the form the engine prefills (for the requester only); Deny asks why.
    async fn open_modal(
        &self,
        kind: ModalKind,
        trigger_id: &str,
        ctx: &ModalContext,
        fallback: ChatEvent,
    ) {
        let Some(api) = &self.api else {
            return self.handle(fallback).await;
        };
        let view = match kind {
            ModalKind::Deny => modals::deny_view(ctx, false),
            ModalKind::DenyAll => modals::deny_view(ctx, true),
            ModalKind::Edit => {
                let EventKind::Action { request_id, .. } = &fallback.kind else {
                    return self.handle(fallback).await;
                };
                match self.app.engine.edit_form(&fallback.actor, request_id).await {
                    Ok(EditForm::Open(fields)) => modals::edit_view(&fields, ctx),
                    Ok(EditForm::Refused(why)) => return self.tell(&fallback, &why).await,
                    Err(e) => {
                        tracing::error!(request = %request_id, error = ?e, "failed to prepare the edit form");
                        let text = "Warden can't open the form right now; nothing was changed. Please try again.";
                        return self.tell(&fallback, text).await;
                    }
                }
            }
        };
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId::new(trigger_id.to_string()), view);
        if let Err(e) = api
            .call("views.open", || async {
                api.session().views_open(&req).await
            })
            .await
        {
            tracing::warn!(error = %e, "failed to open a modal");
            let text = "I couldn't open the form (it may have taken too long). Please click the button again.";
            self.tell(&fallback, text).await;
        }
    }

    /// A line only the person who clicked sees, where they clicked.
    async fn tell(&self, ev: &ChatEvent, text: &str) {
        if let Some(chat) = self.app.engine.chat(crate::domain::Platform::Slack)
            && let Err(e) = chat.ephemeral(&ev.scope, &ev.actor, text).await
        {
            tracing::warn!(error = %e, "failed to tell the person about their click");
        }
    }
}

pub fn routes(inbound: Arc<SlackInbound>) -> Router {
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .with_state(inbound)
}

fn unreadable(e: payloads::PayloadError) -> Response {
    tracing::warn!(error = %e, "signed Slack payload could not be read");
    StatusCode::BAD_REQUEST.into_response()
}

async fn events(State(s): State<Arc<SlackInbound>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match s.verified(&headers, &body) {
        Ok(t) => t,
        Err(status) => return status.into_response(),
    };
    if let Some(n) = headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
    {
        tracing::debug!(
            retry = n,
            "Slack redelivered an event; the store decides if it is new"
        );
    }
    match payloads::parse_event(text) {
        Ok(Inbound::Challenge(c)) => {
            axum::Json(serde_json::json!({ "challenge": c })).into_response()
        }
        Ok(item) => acknowledge(s.dispatch(item).await),
        Err(e) => unreadable(e),
    }
}

/// 200 once the payload is stored; 503 when it could not be (Slack retries, nothing is lost).
fn acknowledge(stored: anyhow::Result<()>) -> Response {
    match stored {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "could not store a Slack payload; not acknowledged");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn commands(State(s): State<Arc<SlackInbound>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match s.verified(&headers, &body) {
        Ok(t) => t,
        Err(status) => return status.into_response(),
    };
    match Command::from_form(text) {
        // An empty 200 shows nothing; Warden's answer follows in the channel.
        Ok(cmd) => acknowledge(s.dispatch(cmd.into_inbound()).await),
        Err(e) => unreadable(e),
    }
}

async fn interactions(
    State(s): State<Arc<SlackInbound>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = match s.verified(&headers, &body) {
        Ok(t) => t,
        Err(status) => return status.into_response(),
    };
    match payloads::interaction_payload(text).and_then(|p| payloads::parse_interaction(&p)) {
        Ok(items) => {
            for item in items {
                if let Err(e) = s.dispatch(item).await {
                    return acknowledge(Err(e));
                }
            }
            // For a view_submission an empty 200 closes the modal.
            StatusCode::OK.into_response()
        }
        Err(e) => unreadable(e),
    }
}
