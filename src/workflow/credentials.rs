//! Handing over a credential a grant created: to the requester only, once, never logged.
//!
//! The grant job holds the `Credential` in memory from the backend's receipt; once the grant is
//! committed (Active), this sends it privately — an ephemeral reply (Slack keeps none in the
//! conversation's history; adapters without one send a DM), or the local console — and logs
//! that it was sent, with the login and the password's fingerprint only. Nothing stores the password, so it cannot be sent twice: a
//! crash between the commit and the send loses it, and the person is told how to get another
//! (revoke and ask again; the login still ends at its expiry). A grant retried after a crash
//! before the commit resets the password, so only the last one delivered works.

use super::Engine;
use super::step::Step;
use crate::domain::{Credential, Entry, Evidence, Request};
use crate::store::Change;

impl Engine {
    /// Sends `credential` to the requester of `req` privately and records that it did.
    pub(crate) async fn deliver_credential(
        &self,
        req: &Request,
        what: &str,
        credential: &Credential,
    ) {
        let scope = self.scope_of(req);
        let account = req.requester_account();
        let sent = match self.chat(scope.platform) {
            Some(chat) => {
                let text = credential.message(req.id.as_str(), what);
                // Ephemeral even in a DM: Slack does not keep it in the conversation's
                // history; adapters without ephemeral replies send a DM.
                if scope.kind == crate::domain::ScopeKind::Console {
                    chat.send(&scope, &text).await.map(|_| ())
                } else {
                    chat.ephemeral(&scope, &account, &text).await
                }
            }
            None => Err(crate::chat::ChatError::NoAdapter(scope.platform)),
        };
        let (noted, tell) = match &sent {
            Ok(()) => (
                format!(
                    "(private) credentials sent to the requester: login {}, password {}",
                    credential.username,
                    credential.fingerprint()
                ),
                None,
            ),
            Err(e) => {
                // The cause only: the error of a chat call never carries the text it sent.
                tracing::error!(request = %req.id, login = %credential.username, error = ?e, "could not deliver a credential");
                (
                    format!(
                        "(private) credentials for login {} could not be delivered",
                        credential.username
                    ),
                    Some(format!(
                        "I could not send you the login details for request {} privately. Say \"revoke {}\" and request the access again to get new ones.",
                        req.id, req.id
                    )),
                )
            }
        };
        let id = req.id.to_string();
        let logged = self
            .change_request(&id, |_| {
                let mut step = Step::new(Change::none().log(Entry::warden(Evidence::MessageOut {
                    text: noted.clone(),
                })));
                if let Some(t) = &tell {
                    step = step.tell(t.clone());
                }
                Ok(Some(step))
            })
            .await;
        if let Err(e) = logged {
            tracing::warn!(request = %req.id, error = ?e, "could not log a credential delivery");
        }
    }
}
