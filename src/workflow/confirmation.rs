//! The confirmation card: posted with a new ask's creation, or after a stored draft's change.

use super::intake::Draft;
use super::step::Step;
use super::{Engine, Handled};
use crate::chat::{CardTarget, MessageRef};
use crate::domain::{Intent, Patch, Request};
use crate::store::Change;

impl Engine {
    /// A new ask: its confirmation card is posted first and recorded in the commit that creates
    /// the request (one commit, not a create and then a card record). A click that beats that
    /// commit reads again once (`request_for_requester`); a create that does not commit takes
    /// the card's buttons away and says why, so no live card points at a request never stored.
    pub(super) async fn create_with_confirmation(
        &self,
        target: &Draft,
        intent: &Intent,
        mut step: Step,
    ) -> anyhow::Result<Handled> {
        let draft = target.req();
        // The card shows the request as the create will store it.
        let Ok(shown) = draft.apply(&step.change.events, &step.change.patch, draft.updated_at)
        else {
            self.persist(target, step).await?;
            return Ok(Handled::Done);
        };
        let card = self.confirmation_card(&shown, intent, None);
        let at = CardTarget::Scope(self.scope_of(draft));
        let posted = self.post_card(&shown, &at, &card).await;
        if let Some(p) = &posted {
            step.change = std::mem::take(&mut step.change).card(p.clone());
            if draft.origin.thread.is_none() {
                // A slash command's first card starts the request's thread.
                step.change.patch.thread = Some(p.message_id.clone());
            }
        }
        let stored = self.persist(target, step).await;
        let Some(p) = posted else {
            return stored.map(|_| Handled::Done);
        };
        let why = match &stored {
            Ok(Some(_)) => return Ok(Handled::Done),
            Ok(None) => "Already handled: see the other card for this message.",
            Err(_) => "Not saved; nothing was requested. Please send it again.",
        };
        let msg = MessageRef {
            platform: p.platform,
            channel: p.channel.clone(),
            message_id: p.message_id.clone(),
        };
        let withdrawn = self.confirmation_card(&shown, intent, Some(why.into()));
        if let Some(chat) = self.chat(p.platform)
            && let Err(e) = chat.update_card(&msg, &withdrawn).await
        {
            tracing::warn!(request = %draft.id, error = ?e, "failed to withdraw the card of a request not stored");
        }
        stored.map(|_| Handled::Done)
    }

    /// Posts the confirmation card and records it; a slash command's first card starts its thread.
    pub(super) async fn show_confirmation(&self, req: &Request, intent: &Intent) {
        let card = self.confirmation_card(req, intent, None);
        let target = CardTarget::Scope(self.scope_of(req));
        let Some(posted) = self.post_card(req, &target, &card).await else {
            return;
        };
        if req.origin.thread.is_some() {
            let recorded = self
                .store
                .record_cards(&req.id, std::slice::from_ref(&posted), self.now_ms())
                .await;
            if let Err(e) = recorded {
                tracing::warn!(request = %req.id, error = ?e, "failed to record a posted card");
            }
            self.catch_up(req, &[posted]).await;
            return;
        }
        let recorded = self
            .change_request_from(req.id.as_str(), Some(req.clone()), |_| {
                let change = Change::none().card(posted.clone()).patch(Patch {
                    thread: Some(posted.message_id.clone()),
                    ..Default::default()
                });
                Ok(Some(Step::new(change)))
            })
            .await;
        match recorded {
            Ok(Some(after)) => self.catch_up(&after, &[posted]).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "failed to record a posted card")
            }
        }
    }
}
