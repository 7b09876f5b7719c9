//! Passkey assertions: a signed-in person proves they hold one of their registered passkeys,
//! with user verification. The check step-up approvals are built on.

use super::{PasskeyError, RelyingParty, decode_handle};
use crate::store::{CeremonyKind, Store};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::borrow::Cow;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::response::Origin;
use webauthn_rp::response::auth::ser_relaxed::DiscoverableAuthenticationRelaxed64;
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions,
};

/// A stored public key: Ed25519, P-256 and P-384 points, or an RSA key.
type StoredKey = CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>;

/// What a verified assertion proved, for the evidence (never the raw assertion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub credential_id: String,
    pub person: String,
    pub user_verified: bool,
}

impl RelyingParty {
    /// Begins an assertion for `person`: options for the browser (user verification required),
    /// the server's half kept in the store, replacing any earlier one.
    pub async fn begin_assertion(
        &self,
        store: &Store,
        person: &str,
        now_ms: i64,
    ) -> Result<serde_json::Value, PasskeyError> {
        let (server, client) = DiscoverableCredentialRequestOptions::passkey(&self.rp_id)
            .start_ceremony()
            .map_err(|e| anyhow::anyhow!("passkey request options invalid: {e}"))?;
        let state = server
            .encode()
            .map_err(|e| anyhow::anyhow!("passkey ceremony state: {e}"))?;
        store
            .begin_passkey_ceremony(
                person,
                CeremonyKind::Assertion,
                &B64.encode(state),
                now_ms + super::CEREMONY_TTL_MS,
            )
            .await?;
        Ok(serde_json::to_value(&client).map_err(anyhow::Error::from)?)
    }

    /// Verifies the browser's `AuthenticationResponseJSON` against `person`'s open assertion:
    /// the credential must be registered to `person`, signed over this challenge and origin,
    /// with user verification. Spends the open assertion whatever the outcome.
    pub async fn finish_assertion(
        &self,
        store: &Store,
        person: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<VerifiedAssertion, PasskeyError> {
        let state = store
            .take_passkey_ceremony(person, CeremonyKind::Assertion, now_ms)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        let auth = serde_json::from_slice::<DiscoverableAuthenticationRelaxed64>(body)
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?
            .0;
        let credential_id = B64.encode(auth.raw_id().as_ref());
        let stored = store
            .passkey(&credential_id)
            .await?
            .filter(|p| p.person == person)
            .ok_or(PasskeyError::UnknownCredential)?;
        let handle = decode_handle(
            &store
                .existing_passkey_user_handle(person)
                .await?
                .ok_or_else(|| anyhow::anyhow!("a passkey of {person} has no user handle"))?,
        )?;
        let bytes = |b64: &str| {
            B64.decode(b64)
                .map_err(|e| anyhow::anyhow!("stored passkey: {e}"))
        };
        let static_bytes = bytes(&stored.static_state)?;
        let static_state = StaticState::<StoredKey>::decode(static_bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("stored passkey key: {e}"))?;
        let dynamic: [u8; 7] = bytes(&stored.dynamic_state)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored passkey state has the wrong length"))?;
        let dynamic_state = DynamicState::decode(dynamic)
            .map_err(|e| anyhow::anyhow!("stored passkey state: {e}"))?;
        let raw_id = auth.raw_id();
        let mut cred = AuthenticatedCredential::new(raw_id, &handle, static_state, dynamic_state)
            .map_err(|e| anyhow::anyhow!("stored passkey: {e}"))?;
        let state = B64
            .decode(state)
            .map_err(|e| anyhow::anyhow!("stored passkey ceremony: {e}"))?;
        let server = DiscoverableAuthenticationServerState::decode(state.as_slice())
            .map_err(|e| anyhow::anyhow!("stored passkey ceremony: {e}"))?;
        let origins = [Origin(Cow::Borrowed(self.origin.as_str()))];
        let options = AuthenticationVerificationOptions::<Origin<'_>, Origin<'_>> {
            allowed_origins: &origins,
            ..AuthenticationVerificationOptions::default()
        };
        server
            .verify(&self.rp_id, &auth, &mut cred, &options)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let after = cred.dynamic_state();
        // The server state demanded user verification, so a verified assertion has it; kept
        // explicit for the evidence rather than assumed.
        if !after.user_verified {
            return Err(PasskeyError::Refused("user verification missing".into()));
        }
        store
            .passkey_used(
                &credential_id,
                &B64.encode(after.encode().unwrap_or_else(|e| match e {})),
                now_ms,
            )
            .await?;
        Ok(VerifiedAssertion {
            credential_id,
            person: person.to_string(),
            user_verified: after.user_verified,
        })
    }
}
