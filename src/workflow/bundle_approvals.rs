//! A bundle asks each approver once: one card per approver (per target) listing the items that
//! need them, with Approve / Deny per item and for all; every click goes through the one
//! approval path item by item, each item in its own commit.

use super::approvals::Click;
use super::decide::ToAsk;
use super::plan::describe;
use super::step::delivery_key;
use super::{Engine, Handled, UserError, user_error};
use crate::chat::{
    Button, ButtonStyle, Card, CardAction, CardItem, CardKind, CardTarget, ChatEvent,
};
use crate::domain::{Person, PostedCard, Request, RequestId, RequestState};
use crate::store::CardItemRow;

fn button(label: String, action: CardAction, style: ButtonStyle) -> Button {
    Button {
        label,
        action,
        style,
    }
}

/// Whether the card that asks about `step` of `req` still waits for its approvers.
fn open_on_card(req: &Request, step: u32) -> bool {
    req.state == RequestState::PendingApproval && req.current_step == step
}

impl Engine {
    /// Asks the approvers of several submitted items of one bundle, each target once: a target
    /// that only one item needs gets that item's ordinary card; a target several need gets one
    /// card listing them.
    pub(super) async fn ask_bundle_approvers(&self, asks: Vec<ToAsk>) {
        let mut groups: Vec<(CardTarget, Vec<usize>)> = Vec::new();
        for (n, ask) in asks.iter().enumerate() {
            if ask.req.is_agent() {
                let posts = self
                    .approval_posts(&ask.req, &ask.resource, 0, &ask.approvers)
                    .await;
                self.post_and_record(&ask.req, &posts).await;
                continue;
            }
            for target in self.approval_targets(&ask.req, &ask.resource, &ask.approvers) {
                match groups.iter_mut().find(|(t, _)| *t == target) {
                    Some((_, items)) => items.push(n),
                    None => groups.push((target, vec![n])),
                }
            }
        }
        for (target, items) in groups {
            if let [one] = items[..] {
                let ask = &asks[one];
                let name = self.requester_label(&ask.req).await;
                let card = self.approval_card(&ask.req, &ask.resource, 0, None, &name);
                self.post_and_record(&ask.req, &[(target, card)]).await;
                continue;
            }
            let listed: Vec<(Request, u32)> = items
                .iter()
                .map(|&n| (asks[n].req.clone(), asks[n].req.current_step))
                .collect();
            self.post_bundle_card(&target, &listed).await;
        }
    }

    /// Posts one bundle card, records it with its items, and brings it up to date if an item
    /// changed between the post and the record (as `catch_up` does for one request's cards).
    async fn post_bundle_card(&self, target: &CardTarget, listed: &[(Request, u32)]) {
        let Some((first, _)) = listed.first() else {
            return;
        };
        let card = self.bundle_card(listed).await;
        let Some(posted) = self.post_card(first, target, &card).await else {
            return;
        };
        let rows: Vec<CardItemRow> = listed
            .iter()
            .map(|(r, step)| CardItemRow {
                request_id: r.id.clone(),
                step: *step,
            })
            .collect();
        if let Err(e) = self
            .store
            .record_bundle_card(&posted, &rows, self.now_ms())
            .await
        {
            tracing::warn!(request = %first.id, error = ?e, "failed to record a bundle card");
            return;
        }
        // An item changed between the post and the record refreshed its cards without this one.
        for (shown, _) in listed {
            if let Ok(Some(now)) = self.store.get_request(shown.id.as_str()).await
                && now.chain.seq != shown.chain.seq
            {
                self.update_card(first, &posted, None).await;
                return;
            }
        }
    }

    /// A posted bundle card as it should look now, from its items as they stand.
    pub(crate) async fn render_bundle_card(&self, posted: &PostedCard) -> Option<Card> {
        let rows = match self.store.card_items(posted).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = ?e, "failed to read a bundle card's items");
                return None;
            }
        };
        let mut listed = Vec::with_capacity(rows.len());
        for row in rows {
            if let Ok(Some(req)) = self.store.get_request(row.request_id.as_str()).await {
                listed.push((req, row.step));
            }
        }
        (!listed.is_empty()).then_some(())?;
        Some(self.bundle_card(&listed).await)
    }

    /// The card: who asked and why, then each item with its step and where it stands; the
    /// buttons of an item vanish once it has left the step the card asks about.
    async fn bundle_card(&self, listed: &[(Request, u32)]) -> Card {
        let lead = &listed[0].0;
        let bundle = lead.bundle_id.clone().unwrap_or_else(|| lead.id.clone());
        let mut fields = vec![("Requester".into(), self.requester_label(lead).await)];
        fields.push((
            "Reason".into(),
            lead.justification().unwrap_or("—").to_string(),
        ));
        if let Some(t) = lead.ticket() {
            fields.push(("Ticket".into(), t.to_string()));
        }
        let asked = lead.intent.as_ref().map_or(0, |i| i.items.len());
        fields.push((
            "Part of".into(),
            format!(
                "{bundle}: {} of the {asked} items asked together need you; each is decided on its own",
                listed.len()
            ),
        ));
        let mut items = Vec::with_capacity(listed.len());
        for (req, step) in listed {
            items.push(self.bundle_card_item(req, *step));
        }
        let open = items.iter().filter(|i| !i.buttons.is_empty()).count();
        let (status, buttons) = if open == 0 {
            (
                Some("Every item on this card is decided".to_string()),
                vec![],
            )
        } else {
            (
                None,
                vec![
                    button(
                        format!("Approve all ({open})"),
                        CardAction::ApproveAll,
                        ButtonStyle::Primary,
                    ),
                    button(
                        format!("Deny all ({open})"),
                        CardAction::DenyAll,
                        ButtonStyle::Danger,
                    ),
                ],
            )
        };
        Card {
            kind: CardKind::BundleApproval,
            request_id: bundle,
            title: format!(
                "Access request needs your approval ({} items)",
                listed.len()
            ),
            fields,
            status,
            buttons,
            items,
        }
    }

    /// "AR-… Production billing database (prod-billing-db) read for 2h · high risk · step 1 of
    /// 1: dana's manager — waiting", with Approve / Deny while it waits on this card's step.
    fn bundle_card_item(&self, req: &Request, step: u32) -> CardItem {
        let resource = req.resource().and_then(|r| self.catalog.get(r));
        let name = resource.map_or_else(
            || req.resource().unwrap_or("?").to_string(),
            |r| format!("{} ({})", r.name, r.id),
        );
        let risk = resource.map_or("?", |r| r.risk_for(req.role().unwrap_or_default()).as_str());
        let mut text = format!(
            "{} {name} {} for {} · {risk} risk",
            req.id,
            req.role().unwrap_or("?"),
            req.duration_secs()
                .map_or_else(|| "?".into(), crate::domain::format_duration)
        );
        if let Some(plan) = &req.approval_plan
            && let Some(s) = plan.steps.get(step as usize)
        {
            text.push_str(&format!(
                " · step {} of {}: {}",
                step + 1,
                plan.steps.len(),
                describe(&s.spec, s.count)
            ));
        }
        let open = open_on_card(req, step);
        let outcome = match (&req.card_status, open) {
            // Counted so far on this step ("Approved by Dana (1 of 2)").
            (Some(s), true) if s.starts_with("Approved by") => format!("waiting ({s})"),
            (_, true) => "waiting".to_string(),
            (Some(s), false) => format!("{s} · now {}", req.state.label()),
            (None, false) => req.state.label().to_string(),
        };
        text.push_str(&format!(" — {outcome}"));
        let what = req.resource().unwrap_or("this item");
        let buttons = if open {
            vec![
                button(
                    format!("Approve {what}"),
                    CardAction::Approve,
                    ButtonStyle::Primary,
                ),
                button(
                    format!("Deny {what}"),
                    CardAction::Deny,
                    ButtonStyle::Danger,
                ),
            ]
        } else {
            vec![]
        };
        CardItem {
            request_id: req.id.clone(),
            text,
            buttons,
        }
    }

    /// "Approve all" / "Deny all": every listed item of one bundle goes through the one approval
    /// (or denial) path on its own, recording its own delivery, so a redelivered click acts on
    /// none twice. Items the clicker may not act on are refused one by one and left as they are.
    pub(super) async fn act_on_listed(
        &self,
        event: &ChatEvent,
        person: &Person,
        action: CardAction,
        items: &[RequestId],
        reason: Option<&str>,
    ) -> anyhow::Result<Handled> {
        let key = delivery_key(event);
        let item_key = |id: &RequestId| format!("{key}#{id}");
        let mut bundle = None;
        for id in items {
            let req = self.request_by_id(id).await?;
            if bundle.get_or_insert_with(|| req.bundle_id.clone()) != &req.bundle_id
                || req.bundle_id.is_none()
            {
                return Err(user_error(
                    "Those items are not one request's; nothing was changed.",
                ));
            }
        }
        let (mut acted, mut again, mut refused) = (0, 0, Vec::new());
        for id in items {
            // Acted on by this very click before (a redelivery, or a crash part-way through).
            if self.store.seen_delivery(&item_key(id)).await? {
                again += 1;
                continue;
            }
            let outcome = match action {
                CardAction::ApproveAll => {
                    let click = Click {
                        actor: &event.actor,
                        delivery: item_key(id),
                        passkey: None,
                        at_step: None,
                    };
                    self.approve_click(person, id, &click, Some(event)).await
                }
                _ => {
                    self.deny_click(event, person, id, reason, item_key(id))
                        .await
                }
            };
            match outcome {
                Ok(Handled::Duplicate) => again += 1,
                Ok(_) => acted += 1,
                Err(e) => match e.downcast_ref::<UserError>() {
                    Some(UserError(msg)) => refused.push(msg.clone()),
                    None => {
                        tracing::error!(request = %id, error = ?e, "failed to act on a bundle item");
                        refused.push(format!(
                            "{id}: something went wrong on Warden's side; nothing was changed for it."
                        ));
                    }
                },
            }
        }
        if refused.is_empty() {
            return Ok(match acted {
                0 if again > 0 => Handled::Duplicate,
                _ => Handled::Done,
            });
        }
        if acted == 0 {
            return Err(user_error(refused.join("\n")));
        }
        if let Some(chat) = self.chat(event.actor.platform)
            && let Err(e) = chat
                .ephemeral(&event.scope, &event.actor, &refused.join("\n"))
                .await
        {
            tracing::warn!(error = ?e, "failed to tell the approver what was left out");
        }
        Ok(Handled::Done)
    }
}
