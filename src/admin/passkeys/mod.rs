//! Passkeys (WebAuthn, through `webauthn_rp`): registration per directory person with user
//! verification required and a resident key preferred.
//!
//! The relying party is Warden's public origin, read from `sso.redirect_url`: passkeys exist
//! only where people sign in with SSO, and the browser binds a passkey to that origin's host.
//! Ceremony state lives in the store (not in memory), so any instance can finish a ceremony and
//! each is taken once.

mod assertion;
pub mod freeze_step_up;
pub mod routes;
pub mod step_up;

pub use assertion::VerifiedAssertion;

use crate::domain::Person;
use crate::store::{CeremonyKind, Store, StoredPasskey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::borrow::Cow;
use webauthn_rp::RegistrationServerState;
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::register::{
    CredProtect, Nickname, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity,
    RegistrationVerificationOptions, ResidentKeyRequirement, USER_HANDLE_MAX_LEN, UserHandle64,
    Username,
};
use webauthn_rp::request::{AsciiDomain, ExtensionInfo, RpId};
use webauthn_rp::response::Origin;
use webauthn_rp::response::register::ser_relaxed::RegistrationRelaxed;

/// How long a begun registration waits for the browser (the options' own timeout is 5 min).
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;

/// Why a passkey ceremony failed: a short message for the person, the cause for the log.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("no passkey registration is open for you (it expired or was used); start again")]
    NoCeremony,
    #[error("the browser's answer could not be read")]
    Malformed(String),
    #[error("the passkey could not be verified (user verification is required)")]
    Refused(String),
    #[error("that passkey is not registered to you")]
    UnknownCredential,
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl PasskeyError {
    /// How a step-up page records this failure in the request's log; `None` for Warden's own.
    pub fn step_up_refusal(&self) -> Option<crate::domain::step_up::StepUpRefusal> {
        use crate::domain::step_up::StepUpRefusal as R;
        match self {
            Self::UnknownCredential => Some(R::UnknownCredential),
            Self::Refused(cause) if mentions_user_verification(cause) => {
                Some(R::NoUserVerification)
            }
            Self::Refused(_) => Some(R::NotVerified),
            Self::NoCeremony | Self::Malformed(_) => Some(R::Malformed),
            Self::AlreadyRegistered | Self::Internal(_) => None,
        }
    }
}

/// Whether a verification failure is the authenticator not verifying the user.
fn mentions_user_verification(cause: &str) -> bool {
    let c = cause.to_ascii_lowercase().replace([' ', '_', '-'], "");
    c.contains("userverif") || c.contains("userwasnotverified") || c.contains("uvnot")
}

/// Warden as a WebAuthn relying party.
pub struct RelyingParty {
    rp_id: RpId,
    origin: String,
}

impl RelyingParty {
    /// From Warden's public URL (`sso.redirect_url`); `None` when it is unset. Its host must be
    /// a domain (browsers refuse passkeys for IP addresses), `localhost` included.
    /// The origin passkeys are bound to (`https://warden.example.com`): where step-up links go.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn from_public_url(url: Option<&str>) -> anyhow::Result<Option<Self>> {
        let Some(url) = url else { return Ok(None) };
        let url = url::Url::parse(url)?;
        let Some(url::Host::Domain(host)) = url.host() else {
            // Browsers refuse passkeys for IP addresses: passkeys (and so step-up) stay off.
            tracing::warn!("sso.redirect_url is on an IP address: passkeys are off");
            return Ok(None);
        };
        let rp_id = RpId::Domain(
            AsciiDomain::try_from(host.to_ascii_lowercase())
                .map_err(|e| anyhow::anyhow!("sso.redirect_url host is no passkey domain: {e}"))?,
        );
        Ok(Some(Self {
            rp_id,
            origin: url.origin().ascii_serialization(),
        }))
    }

    /// Begins registering a passkey for `person`: returns the creation options for the browser
    /// (`PublicKeyCredentialCreationOptionsJSON`), keeping the server's half in the store.
    pub async fn begin_registration(
        &self,
        store: &Store,
        person: &Person,
        now_ms: i64,
    ) -> Result<serde_json::Value, PasskeyError> {
        let fresh = B64.encode(UserHandle64::new().encode().unwrap_or_else(|e| match e {}));
        let handle = decode_handle(&store.passkey_user_handle(&person.id, &fresh).await?)?;
        let name = Username::try_from(person.id.as_str())
            .map_err(|e| anyhow::anyhow!("person id is no WebAuthn user name: {e}"))?;
        let display = Nickname::try_from(person.display_name.as_str()).ok();
        let user = PublicKeyCredentialUserEntity {
            name,
            id: &handle,
            display_name: display,
        };
        let mut options =
            PublicKeyCredentialCreationOptions::passkey(&self.rp_id, user, Vec::new());
        // Preferred, not required: a security key without resident-key storage still serves
        // step-up, where Warden names the credentials it accepts.
        options.authenticator_selection.resident_key = ResidentKeyRequirement::Preferred;
        // Ask authenticators to demand verification for this credential, but do not make the
        // browser refuse one that cannot say so: Warden checks the UV flag on every use anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) = options
            .start_ceremony()
            .map_err(|e| anyhow::anyhow!("passkey creation options invalid: {e}"))?;
        let state = server
            .encode()
            .map_err(|e| anyhow::anyhow!("passkey ceremony state: {e}"))?;
        store
            .begin_passkey_ceremony(
                &person.id,
                CeremonyKind::Registration,
                &B64.encode(state),
                now_ms + CEREMONY_TTL_MS,
            )
            .await?;
        Ok(serde_json::to_value(&client).map_err(anyhow::Error::from)?)
    }

    /// Finishes the person's open registration with the browser's `RegistrationResponseJSON`
    /// and stores the passkey. The open registration is spent whatever the outcome.
    pub async fn finish_registration(
        &self,
        store: &Store,
        person: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<StoredPasskey, PasskeyError> {
        let state = store
            .take_passkey_ceremony(person, CeremonyKind::Registration, now_ms)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        // The browser's `PublicKeyCredential.toJSON()`; unknown keys (new browser fields) are
        // ignored, everything the verification needs is required.
        let RegistrationRelaxed(registration) =
            serde_json::from_slice(body).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let state = B64
            .decode(state)
            .map_err(|e| anyhow::anyhow!("stored passkey ceremony: {e}"))?;
        let server = RegistrationServerState::<USER_HANDLE_MAX_LEN>::decode(state.as_slice())
            .map_err(|e| anyhow::anyhow!("stored passkey ceremony: {e}"))?;
        let origins = [Origin(Cow::Borrowed(self.origin.as_str()))];
        let options = RegistrationVerificationOptions::<Origin<'_>, Origin<'_>> {
            allowed_origins: &origins,
            ..RegistrationVerificationOptions::default()
        };
        let cred = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let (id, _transports, _user, static_state, dynamic_state, _metadata) = cred.into_parts();
        let stored = StoredPasskey {
            credential_id: B64.encode(id.as_ref()),
            person: person.to_string(),
            static_state: B64.encode(static_state.encode().unwrap_or_else(|e| match e {})),
            dynamic_state: B64.encode(dynamic_state.encode().unwrap_or_else(|e| match e {})),
            created_at: now_ms,
            last_used_at: None,
        };
        if !store.add_passkey(&stored).await? {
            return Err(PasskeyError::AlreadyRegistered);
        }
        Ok(stored)
    }
}

fn decode_handle(b64: &str) -> anyhow::Result<UserHandle64> {
    let bytes: [u8; USER_HANDLE_MAX_LEN] = B64
        .decode(b64)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("stored passkey user handle is malformed"))?;
    Ok(UserHandle64::decode(bytes).unwrap_or_else(|e| match e {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_urls_host_and_origin_and_never_an_ip_address() {
        let rp = RelyingParty::from_public_url(Some("http://localhost:8080/admin/sso/callback"))
            .unwrap()
            .unwrap();
        assert_eq!(rp.origin, "http://localhost:8080");
        assert!(matches!(&rp.rp_id, RpId::Domain(d) if d.as_ref() == "localhost"));
        assert!(
            RelyingParty::from_public_url(Some("http://127.0.0.1:8080/x"))
                .unwrap()
                .is_none()
        );
        assert!(RelyingParty::from_public_url(None).unwrap().is_none());
    }
}
