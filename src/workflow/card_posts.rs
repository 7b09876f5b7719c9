//! Posting cards and keeping every posted copy current: recorded with the request, re-rendered
//! on each change, and a refused update retried as a job so none is dropped.

use super::Engine;
use crate::chat::{Card, CardKind, CardTarget, MessageRef};
use crate::domain::jobs::CardUpdate;
use crate::domain::{Job, PostedCard, Request};
use crate::store::Schedule;

impl Engine {
    /// Posts a card; the caller records the returned reference with its change (or through
    /// `post_and_record`). A failure is logged; the request goes on without the card.
    pub(crate) async fn post_card(
        &self,
        req: &Request,
        target: &CardTarget,
        card: &Card,
    ) -> Option<PostedCard> {
        let platform = match target {
            CardTarget::Scope(s) => s.platform,
            CardTarget::Direct(u) => u.platform,
            CardTarget::Channel { platform, .. } => *platform,
        };
        let chat = self.chat(platform)?;
        match chat.post_card(target, card).await {
            Ok(m) => Some(PostedCard {
                platform,
                channel: m.channel,
                message_id: m.message_id,
                kind: card.kind,
            }),
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, kind = card.kind.as_str(), "failed to post a card");
                self.metrics.inc("warden_card_post_failures_total", "", 1);
                None
            }
        }
    }

    /// Posts cards after a change (approval cards, alerts) and records them in one write.
    pub(crate) async fn post_and_record(&self, req: &Request, posts: &[(CardTarget, Card)]) {
        let mut posted = Vec::new();
        for (target, card) in posts {
            if let Some(p) = self.post_card(req, target, card).await {
                posted.push(p);
            }
        }
        if let Err(e) = self
            .store
            .record_cards(&req.id, &posted, self.now_ms())
            .await
        {
            tracing::warn!(request = %req.id, error = ?e, "failed to record posted cards");
        }
        self.catch_up(req, &posted).await;
    }

    /// A card is recorded just after it is posted; a change committed in between refreshed the
    /// other cards without it. Bring such cards up to the request as it is now.
    pub(crate) async fn catch_up(&self, shown: &Request, posted: &[PostedCard]) {
        let Ok(Some(now)) = self.store.get_request(shown.id.as_str()).await else {
            return;
        };
        if now.chain.seq == shown.chain.seq {
            return;
        }
        for c in posted {
            self.update_card(&now, c, now.card_status.clone()).await;
        }
    }

    /// Re-renders every posted card of a request with its status line; resolved cards lose
    /// their buttons.
    pub(crate) async fn refresh_cards(&self, req: &Request) {
        let status = req.card_status.clone();
        let read = match &req.cards {
            Some(known) => Ok(known.clone()),
            None => self.store.cards(req.id.as_str()).await,
        };
        let cards = match read {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "failed to list cards");
                return;
            }
        };
        for c in cards {
            self.update_card(req, &c, status.clone()).await;
        }
    }

    /// Updates one posted card; a refused update becomes a retry job, so none is dropped.
    pub(crate) async fn update_card(
        &self,
        req: &Request,
        c: &PostedCard,
        status: Option<String>,
    ) -> bool {
        // Boxed: card updates run deep inside `after_change` (after a grant, a revoke), and a
        // rendering future inline there overflows a worker's stack in a debug build.
        let Some(card) = Box::pin(self.render_posted(req, c, status.clone())).await else {
            return true;
        };
        let msg = MessageRef {
            platform: c.platform,
            channel: c.channel.clone(),
            message_id: c.message_id.clone(),
        };
        let ok = match self.chat(c.platform) {
            Some(chat) => chat
                .update_card(&msg, &card)
                .await
                .map_err(|e| tracing::warn!(request = %req.id, error = ?e, "card update failed; will retry"))
                .is_ok(),
            None => true,
        };
        if !ok {
            let job = Schedule {
                job: Job::CardUpdate(CardUpdate {
                    card: c.clone(),
                    status,
                }),
                run_at: self.now_ms() + 2000,
                claim: None,
            };
            if let Err(e) = self.store.schedule(&req.id, job).await {
                tracing::error!(request = %req.id, error = ?e, "failed to schedule a card update retry");
            }
        }
        ok
    }

    /// A posted card as it should look now: a bundle's approval card from its listed items,
    /// any other from its request.
    pub(crate) async fn render_posted(
        &self,
        req: &Request,
        c: &PostedCard,
        status: Option<String>,
    ) -> Option<Card> {
        match c.kind {
            CardKind::BundleApproval => Box::pin(self.render_bundle_card(c)).await,
            kind => self.render_stored_card(req, kind, status).await,
        }
    }
}
