//! Passkey step-up for the kill switch: the policy says whether a freeze or an unfreeze needs
//! one (`domain::AdminGate`); where it does, only the admin web UI can commit it, after the
//! signed-in admin confirms with a passkey through a single-use, short-lived link bound to
//! (admin, action, scope or freeze). The freeze keeps who confirmed with which credential.

use super::{Engine, user_error};
use crate::domain::step_up::{LINK_TTL_MS, hash_token};
use crate::domain::{
    AdminAction, AdminGate, Confirmation, Freeze, FreezeScope, FreezeStepUp, PasskeyProof,
    StepUpToken,
};
use crate::policy::admin::{ADMIN_INPUT_VERSION, AdminActionInput, AdminActorInput, FreezeInput};

/// Through what an admin acts: what the policy is told, and what can present a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminVia {
    /// The admin web UI (a browser session, SSO or token sign-in).
    Web,
    /// The JSON API with a bearer token.
    Api,
    /// `warden freeze` / `warden unfreeze` on the host.
    Cli,
}

impl AdminVia {
    fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Api => "api",
            Self::Cli => "cli",
        }
    }
}

/// Who asks for a kill-switch action.
#[derive(Debug, Clone)]
pub struct AdminActor {
    /// What the freeze records (`admin:<name>`, `cli:<user>`).
    pub name: String,
    /// The directory person behind an SSO session: the only one who can present a passkey.
    pub person: Option<String>,
    pub via: AdminVia,
}

impl AdminActor {
    pub fn new(name: impl Into<String>, person: Option<&str>, via: AdminVia) -> Self {
        Self {
            name: name.into(),
            person: person.map(str::to_string),
            via,
        }
    }
}

/// The policy requires a passkey for this action, and the caller cannot present one here.
/// Callers turn it into their own refusal (the API names the web UI, the CLI its flag).
#[derive(Debug, thiserror::Error)]
#[error("the policy requires a passkey confirmation to {}", .0.as_str())]
pub struct StepUpRequired(pub AdminAction);

/// What the step-up page shows about the action it confirms.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FreezeStepUpView {
    pub action: &'static str,
    pub freeze_id: Option<String>,
    pub scope: String,
    pub reason: String,
    pub revoke: bool,
    pub expires_at: i64,
}

/// A kill-switch action committed after a verified passkey.
#[derive(Debug, Clone)]
pub struct FreezeConfirmed {
    pub action: AdminAction,
    pub freeze: Freeze,
    /// For a freeze: revoke the active grants in the scope now (as the admin asked).
    pub revoke: bool,
}

impl Engine {
    /// What the policy requires before `actor` may do `action` on `scope`.
    pub async fn admin_gate(
        &self,
        action: AdminAction,
        actor: &AdminActor,
        freeze_id: Option<&str>,
        scope: &FreezeScope,
    ) -> AdminGate {
        let input = AdminActionInput {
            version: ADMIN_INPUT_VERSION.to_string(),
            action,
            actor: AdminActorInput {
                name: actor.name.clone(),
                person: actor.person.clone(),
                via: actor.via.as_str().to_string(),
            },
            freeze: FreezeInput::new(freeze_id, scope),
            time: self.clock.now().to_rfc3339(),
        };
        let decision = self.policy.decide_admin(&input).await;
        if let Some(f) = decision.fault_info() {
            tracing::warn!(action = action.as_str(), fault = %f.reference, detail = %f.detail, "the policy could not answer for a kill-switch action; a freeze goes ahead, an unfreeze needs a passkey");
        }
        AdminGate::from_decision(action, &decision)
    }

    /// Stores a step-up link for `actor` (signed in by SSO as `person`) to confirm `action`
    /// with a passkey; returns its token (only its hash is stored).
    #[allow(clippy::too_many_arguments)]
    pub async fn ask_freeze_step_up(
        &self,
        action: AdminAction,
        actor: &AdminActor,
        person: &str,
        freeze_id: Option<&str>,
        scope: &FreezeScope,
        reason: &str,
        revoke: bool,
    ) -> anyhow::Result<StepUpToken> {
        let now = self.now_ms();
        let token = StepUpToken::generate();
        let link = FreezeStepUp {
            token_hash: token.hash(),
            action,
            person: person.to_string(),
            actor: actor.name.clone(),
            freeze_id: freeze_id.map(str::to_string),
            scope: scope.clone(),
            reason: reason.to_string(),
            revoke,
            created_at: now,
            expires_at: now + LINK_TTL_MS,
            used_at: None,
        };
        self.store.add_freeze_step_up(&link).await?;
        tracing::info!(action = action.as_str(), admin = %actor.name, person, scope = %scope, "kill-switch step-up asked");
        Ok(token)
    }

    /// Checks a presented link for the signed-in `person` and describes what it confirms.
    pub async fn freeze_step_up_view(
        &self,
        token: &str,
        person: &str,
    ) -> anyhow::Result<FreezeStepUpView> {
        let link = self.open_freeze_link(token, person).await?;
        Ok(FreezeStepUpView {
            action: link.action.as_str(),
            freeze_id: link.freeze_id.clone(),
            scope: link.scope.to_string(),
            reason: link.reason.clone(),
            revoke: link.revoke,
            expires_at: link.expires_at,
        })
    }

    /// Commits the action a link was made for, now that `person` proved a passkey: spends the
    /// link (once), then freezes or lifts with the proof kept on the freeze.
    pub async fn confirm_freeze_step_up(
        &self,
        token: &str,
        person: &str,
        proof: &PasskeyProof,
    ) -> anyhow::Result<FreezeConfirmed> {
        let link = self.open_freeze_link(token, person).await?;
        if !proof.user_verified {
            return Err(user_error(
                "The passkey did not verify you (user verification is required); nothing was changed.",
            ));
        }
        if !self
            .store
            .spend_freeze_step_up(&link.token_hash, person, self.now_ms())
            .await?
        {
            return Err(user_error(
                "This link was used already or has expired; nothing was changed.",
            ));
        }
        let confirmation = Confirmation::Passkey {
            person: person.to_string(),
            credential_id: proof.credential_id.clone(),
            user_verified: proof.user_verified,
        };
        tracing::warn!(action = link.action.as_str(), admin = %link.actor, person, credential = %proof.credential_id, scope = %link.scope, "kill-switch action confirmed with a passkey");
        let freeze = match link.action {
            AdminAction::Freeze => self
                .commit_freeze(&link.scope, &link.actor, &link.reason, Some(&confirmation))
                .await?
                .freeze()
                .clone(),
            AdminAction::Unfreeze => {
                let id = link.freeze_id.as_deref().unwrap_or_default();
                self.commit_unfreeze(id, &link.actor, &link.reason, Some(&confirmation))
                    .await?
                    .ok_or_else(|| {
                        user_error(format!(
                            "Freeze {id} was lifted meanwhile; nothing was changed."
                        ))
                    })?
            }
        };
        Ok(FreezeConfirmed {
            action: link.action,
            freeze,
            revoke: link.revoke,
        })
    }

    /// The link behind `token` if it is open and `person`'s, and (for an unfreeze) its freeze
    /// is still in force. Refusals are `UserError`s for the page; nothing is changed.
    async fn open_freeze_link(&self, token: &str, person: &str) -> anyhow::Result<FreezeStepUp> {
        let link = self
            .store
            .freeze_step_up(&hash_token(token))
            .await?
            .ok_or_else(|| {
                user_error(
                    "This confirmation link is not valid. Start again on the kill-switch page.",
                )
            })?;
        if link.person != person {
            tracing::warn!(action = link.action.as_str(), link_for = %link.person, opened_by = person, "a kill-switch step-up link was opened by someone else; refused");
            return Err(user_error(
                "This link was made for someone else; only they can use it. Nothing was changed.",
            ));
        }
        if link.used_at.is_some() {
            return Err(user_error(
                "This link was used already; it works once. Nothing was changed.",
            ));
        }
        if self.now_ms() >= link.expires_at {
            return Err(user_error(
                "This link has expired. Start again on the kill-switch page; nothing was changed.",
            ));
        }
        if let Some(id) = &link.freeze_id {
            let active = self
                .store
                .freeze_by_id(id)
                .await?
                .is_some_and(|f| f.is_active());
            if !active {
                return Err(user_error(format!(
                    "Freeze {id} is no longer in force; nothing was changed."
                )));
            }
        }
        Ok(link)
    }
}
