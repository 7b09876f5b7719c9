//! The chat port: platform-free events in, platform-free cards and messages out.
//!
//! Adapters turn platform payloads into `ChatEvent`s and render `Card`s into Block Kit or
//! Discord components; platform types never leave their adapter.

use crate::domain::{Platform, PlatformUser, RequestId};
use crate::workflow::Handled;
use async_trait::async_trait;
pub use deferred::{DeferredAck, DeferredReply, InteractionToken};
use futures::future::BoxFuture;
pub use home::Home;
use serde::{Deserialize, Serialize};

pub mod coalesce;
pub mod console;
pub mod deferred;
pub mod discord;
pub mod home;
pub mod limits;
pub mod slack;

/// Where a conversation happens. A request lives in one scope: its own thread or DM.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub platform: Platform,
    pub workspace: String,
    pub channel: String,
    /// The thread a request lives in (Slack `thread_ts`, Discord thread id, console request id).
    pub thread: Option<String>,
    pub kind: ScopeKind,
}

/// Something that happened on a platform, already verified by the adapter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatEvent {
    /// Platform-unique id used to process each delivery once (Slack event_id, Discord interaction id).
    pub id: String,
    /// The verified account that acted. Never taken from message text.
    pub actor: PlatformUser,
    pub scope: Scope,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// Free text: a new request, or a reply in a request's thread.
    Message { text: String, message_id: String },
    /// A slash command's text (`/access request …`).
    Command { text: String },
    /// A button pressed on a card, or a modal submitted.
    Action {
        action: CardAction,
        request_id: RequestId,
        reason: Option<String>,
        /// Every item an "all" button of a bundle's approval card names (`request_id` is the
        /// first); empty for a button on one request.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        items: Vec<RequestId>,
    },
    /// The requester edited the proposed fields in a form.
    EditSubmitted {
        request_id: RequestId,
        fields: EditFields,
    },
    /// The person opened Warden's Home tab (Slack `app_home_opened`, tab `home`).
    HomeOpened,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditFields {
    pub resource: Option<String>,
    pub role: Option<String>,
    pub duration: Option<String>,
    pub justification: Option<String>,
}

/// What the Edit button opens for the person who clicked it (the engine decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditForm {
    /// The form, prefilled with the request as it stands.
    Open(EditFields),
    /// No form: the reason, to be shown only to the person who clicked.
    Refused(String),
}

/// Buttons Warden puts on cards. The request id travels with the button; who pressed it comes from the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardAction {
    Submit,
    Edit,
    Cancel,
    Approve,
    Deny,
    Revoke,
    Extend,
    Review,
    /// On a bundle's approval card: approve every listed item still waiting.
    ApproveAll,
    /// On a bundle's approval card: deny every listed item still waiting.
    DenyAll,
}

impl CardAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CardAction::Submit => "submit",
            CardAction::Edit => "edit",
            CardAction::Cancel => "cancel",
            CardAction::Approve => "approve",
            CardAction::Deny => "deny",
            CardAction::Revoke => "revoke",
            CardAction::Extend => "extend",
            CardAction::Review => "review",
            CardAction::ApproveAll => "approve_all",
            CardAction::DenyAll => "deny_all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submit,
            Self::Edit,
            Self::Cancel,
            Self::Approve,
            Self::Deny,
            Self::Revoke,
            Self::Extend,
            Self::Review,
            Self::ApproveAll,
            Self::DenyAll,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    Primary,
    Danger,
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub action: CardAction,
    pub style: ButtonStyle,
}

pub use crate::domain::{CardKind, ScopeKind};

/// A platform-free card: deterministic fields only, never model prose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub kind: CardKind,
    pub request_id: RequestId,
    pub title: String,
    pub fields: Vec<(String, String)>,
    /// A status line ("Approved by Dana Scully"). Set once the card is resolved.
    pub status: Option<String>,
    /// Empty once the card is resolved.
    pub buttons: Vec<Button>,
    /// A bundle's approval card: one line per listed item, each with its own buttons while
    /// it waits. Empty on every other card.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<CardItem>,
}

/// One item on a bundle's approval card: Warden's words for it and the buttons acting on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardItem {
    pub request_id: RequestId,
    pub text: String,
    pub buttons: Vec<Button>,
}

/// Separates the ids an "all" button carries (`AR-…,AR-…`; at most `MAX_ITEMS` of them, so a
/// Discord custom id stays within its 100 characters).
const ID_SEPARATOR: char = ',';

impl Card {
    /// What a card-level button carries to the engine: its card's request, or for an "all"
    /// button every listed item that still has buttons of its own.
    pub fn button_target(&self, button: &Button) -> String {
        match button.action {
            CardAction::ApproveAll | CardAction::DenyAll => self
                .items
                .iter()
                .filter(|i| !i.buttons.is_empty())
                .map(|i| i.request_id.as_str())
                .collect::<Vec<_>>()
                .join(&ID_SEPARATOR.to_string()),
            _ => self.request_id.to_string(),
        }
    }
}

/// Reads what `Card::button_target` wrote: the first id and, for an "all" button, every id.
/// `None` when any part is not a request id.
pub fn parse_button_target(action: CardAction, value: &str) -> Option<(RequestId, Vec<RequestId>)> {
    let ids = value
        .split(ID_SEPARATOR)
        .map(RequestId::parse)
        .collect::<Option<Vec<_>>>()?;
    let first = ids.first()?.clone();
    if ids.len() > crate::domain::MAX_ITEMS {
        return None;
    }
    match action {
        CardAction::ApproveAll | CardAction::DenyAll => Some((first, ids)),
        _ if ids.len() == 1 => Some((first, vec![])),
        _ => None,
    }
}

/// Where a card goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardTarget {
    /// The request's own scope (the requester's thread or DM).
    Scope(Scope),
    /// A person's direct messages.
    Direct(PlatformUser),
    /// A channel (approval channel, security channel).
    Channel {
        platform: Platform,
        workspace: String,
        channel: String,
    },
}

/// A posted message, so it can be edited later. Stored per request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    pub platform: Platform,
    pub channel: String,
    pub message_id: String,
}

/// Errors from a chat platform's API. Callers log them; users never see their text.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("platform API call failed: {0}")]
    Api(String),
    #[error("platform API transport failed")]
    Transport(#[source] anyhow::Error),
    #[error("no adapter for platform {0}")]
    NoAdapter(Platform),
}

/// The messaging port every adapter implements.
#[async_trait]
pub trait ChatPort: Send + Sync {
    fn platform(&self) -> Platform;

    /// Plain text in a scope (the request's thread or DM).
    async fn send(&self, scope: &Scope, text: &str) -> Result<MessageRef, ChatError>;

    /// A direct message to one person.
    async fn notify(&self, user: &PlatformUser, text: &str) -> Result<MessageRef, ChatError>;

    /// Posts a card; the returned reference is stored so every copy can be updated.
    async fn post_card(&self, target: &CardTarget, card: &Card) -> Result<MessageRef, ChatError>;

    /// Replaces a posted card (status line, buttons removed).
    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError>;

    /// A reply only the actor sees (a refused click). Falls back to a DM.
    async fn ephemeral(
        &self,
        scope: &Scope,
        user: &PlatformUser,
        text: &str,
    ) -> Result<(), ChatError> {
        let _ = scope;
        self.notify(user, text).await.map(|_| ())
    }

    /// Whether this platform has a Home tab that `publish_home` fills.
    fn has_home_tab(&self) -> bool {
        false
    }

    /// Publishes a person's home to their Home tab (Slack `views.publish`), paced per person:
    /// while one publish waits, newer homes replace it. `Ok(false)`: no Home tab here.
    async fn publish_home(&self, user: &PlatformUser, home: &Home) -> Result<bool, ChatError> {
        let _ = (user, home);
        Ok(false)
    }

    /// Shows a person's home, privately, with its buttons, as the answer to `/access status`.
    /// `Ok(false)`: not possible here; the engine then sends the home's text privately.
    async fn show_home(
        &self,
        scope: &Scope,
        user: &PlatformUser,
        home: &Home,
    ) -> Result<bool, ChatError> {
        let _ = (scope, user, home);
        Ok(false)
    }

    /// Handles an interaction taken from the inbox: runs `work` (the engine handling `event`)
    /// where the engine's replies reach the interaction, then completes its deferred
    /// acknowledgement. A platform without interactions just runs the work.
    async fn answer_deferred<'a>(
        &'a self,
        reply: &'a DeferredReply,
        event: &'a ChatEvent,
        work: BoxFuture<'a, anyhow::Result<Handled>>,
    ) -> anyhow::Result<Handled> {
        let _ = (reply, event);
        work.await
    }
}
