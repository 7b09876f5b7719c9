//! Handing a grant's credential to an agent: sealed before the grant commits, taken by its first status read, dropped at revoke or expiry.
//!
//! An agent has no private chat to receive a login in, so the credential waits in the store,
//! sealed with `agents.credential_key` (see `domain::sealing`), and the first authenticated
//! status read that sees the grant active takes it in one `DELETE … RETURNING` — once, on
//! whichever instance answers. It is sealed before the grant's commit so that read always finds
//! it. The context log keeps the login and the password's fingerprint only. Without a key the
//! grant is revoked at once (fail closed); `warden config check` and start-up refuse that
//! configuration before it can happen.

use super::Engine;
use super::step::Step;
use crate::domain::{Credential, Entry, Evidence, Request, RequestState, SealingKey};
use crate::store::Change;
use std::sync::Arc;

impl Engine {
    /// Installs the key agents' credentials are sealed with (at composition).
    pub fn set_credential_key(&mut self, key: Option<Arc<SealingKey>>) {
        self.sealing = key;
    }

    /// Seals and keeps `credential` for the agent of `req` (before the grant commits). The
    /// error is the reason, for the log; it never holds the secret.
    pub(crate) async fn stash_for_agent(
        &self,
        req: &Request,
        credential: &Credential,
    ) -> Result<(), String> {
        let key = self
            .sealing
            .as_ref()
            .ok_or("agents.credential_key is not set")?;
        let sealed = key
            .seal(credential, req.id.as_str())
            .map_err(|e| e.to_string())?;
        self.store
            .put_agent_credential(req.id.as_str(), &sealed, self.now_ms())
            .await
            .map_err(|e| format!("{e:#}"))
    }

    /// After the grant committed: records that the credential waits for the agent, or, when it
    /// could not be kept, revokes the grant at once (an agent must not hold access it cannot use
    /// while Warden believes it delivered).
    pub(crate) async fn agent_credential_kept(
        &self,
        active: &Request,
        credential: &Credential,
        kept: Result<(), String>,
    ) {
        let noted = match &kept {
            Ok(()) => format!(
                "(private) credentials sealed for agent {} to fetch once: login {}, password {}",
                active.requester_id,
                credential.username,
                credential.fingerprint()
            ),
            Err(why) => {
                tracing::error!(request = %active.id, login = %credential.username, why, "ALERT: could not keep an agent's credential; revoking the grant");
                format!(
                    "(private) credentials for login {} could not be kept for the agent; the grant is revoked",
                    credential.username
                )
            }
        };
        self.log_private(active.id.as_str(), noted).await;
        if kept.is_err()
            && let Err(e) = Box::pin(self.revoke_early(
                active,
                "warden",
                "the credential could not be handed to the agent",
                None,
            ))
            .await
        {
            tracing::error!(request = %active.id, error = ?e, "could not revoke a grant whose credential was lost");
        }
    }

    /// The credential waiting for the agent of `req`, taken (so never again); `None` when the
    /// grant is not active, made none, or it was taken already.
    pub async fn agent_take_credential(&self, req: &Request) -> Option<Credential> {
        if req.state != RequestState::Active || !may_hold_sealed(req) {
            return None;
        }
        let key = self.sealing.as_ref()?;
        let sealed = match self.store.take_agent_credential(req.id.as_str()).await {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(request = %req.id, error = ?e, "could not take an agent's credential");
                return None;
            }
        };
        match key.open(&sealed, req.id.as_str()) {
            Ok(c) => {
                let noted = format!(
                    "(private) credentials handed to agent {} in its status response: login {}, password {}",
                    req.requester_id,
                    c.username,
                    c.fingerprint()
                );
                self.log_private(req.id.as_str(), noted).await;
                Some(c)
            }
            Err(e) => {
                tracing::error!(request = %req.id, error = %e, "ALERT: an agent's sealed credential does not open (was agents.credential_key changed?)");
                self.log_private(
                    req.id.as_str(),
                    "(private) the sealed credentials did not open and are dropped; the agent must release and ask again".into(),
                )
                .await;
                None
            }
        }
    }

    /// Drops what the agent never fetched of an ending grant; no store round trip for a grant
    /// that could not have sealed one.
    pub(crate) async fn forget_sealed_of(&self, req: &Request) {
        if may_hold_sealed(req) {
            self.forget_agent_credential(req.id.as_str()).await;
        }
    }

    /// Drops a credential the agent never fetched for request `id`: its access is ending or
    /// never began.
    pub(crate) async fn forget_agent_credential(&self, id: &str) {
        match self.store.drop_agent_credential(id).await {
            Ok(true) => {
                self.log_private(
                    id,
                    "(private) credentials the agent never fetched are dropped".into(),
                )
                .await
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(request = id, error = ?e, "could not drop an agent's sealed credential")
            }
        }
    }

    async fn log_private(&self, id: &str, text: String) {
        let logged = self
            .change_request(id, |_| {
                Ok(Some(Step::new(Change::none().log(Entry::warden(
                    Evidence::MessageOut { text: text.clone() },
                )))))
            })
            .await;
        if let Err(e) = logged {
            tracing::warn!(request = id, error = ?e, "could not log an agent credential step");
        }
    }
}

/// Whether `req` may have a sealed credential waiting: an agent's grant whose backend makes a
/// login (only those hand one over), so the rest cost no store round trip to look or drop.
fn may_hold_sealed(req: &Request) -> bool {
    req.is_agent()
        && req
            .grant
            .as_ref()
            .is_some_and(|g| crate::grants::database::makes_login(&g.backend, &g.params))
}
