//! The answer an interaction is still owed after its deferred acknowledgement: which
//! application's webhook, the interaction's token, and what kind of acknowledgement it got.
//! Stored with the event in the durable inbox, so whichever process handles it can answer it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How the interaction was acknowledged within the platform's 3 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeferredAck {
    /// "Warden is thinking…", only the actor sees it; completed later through the webhook.
    DeferredEphemeral,
    /// The click is taken; the card is edited later.
    DeferredUpdate,
}

/// Where the engine's replies to one interaction go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredReply {
    pub application_id: String,
    pub token: InteractionToken,
    pub ack: DeferredAck,
}

/// An interaction token: for its 15 minutes it lets anyone answer as Warden in that
/// conversation, so it is a secret. It prints as `[redacted]`; only the webhook path reads it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InteractionToken(String);

impl InteractionToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InteractionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_stored_but_never_printed() {
        let reply = DeferredReply {
            application_id: "900".into(),
            token: InteractionToken::new("aW50ZXJhY3Rpb24tdG9rZW4"),
            ack: DeferredAck::DeferredEphemeral,
        };
        assert!(!format!("{reply:?}").contains("aW50ZXJhY3Rpb24tdG9rZW4"));
        let json = serde_json::to_string(&reply).unwrap();
        assert!(
            json.contains("\"token\":\"aW50ZXJhY3Rpb24tdG9rZW4\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<DeferredReply>(&json).unwrap(), reply);
    }
}
