//! The items a bundle's approval card lists, with the step it asks each about.

use super::Store;
use super::codec::Val;
use super::plan::{Stmt, value_rows};
use super::requests::{cards_stmt, touch_stmt};
use crate::domain::{PostedCard, RequestId};
use anyhow::Context;

/// One item on a bundle's approval card: the request and the approval step the card asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardItemRow {
    pub request_id: RequestId,
    pub step: u32,
}

impl Store {
    /// Records a posted bundle card, under its first item, and the items it lists, in one write.
    pub async fn record_bundle_card(
        &self,
        card: &PostedCard,
        items: &[CardItemRow],
        now: i64,
    ) -> anyhow::Result<()> {
        let Some(first) = items.first() else {
            return Ok(());
        };
        let sql = format!(
            "INSERT INTO card_items (platform, channel, message_id, request_id, step, position) VALUES {} ON CONFLICT DO NOTHING",
            value_rows(items.len(), 6)
        );
        let mut vals = Vec::with_capacity(items.len() * 6);
        for (n, item) in items.iter().enumerate() {
            vals.extend([
                Val::Text(Some(card.platform.as_str().into())),
                Val::Text(Some(card.channel.clone())),
                Val::Text(Some(card.message_id.clone())),
                Val::Text(Some(item.request_id.to_string())),
                Val::Int(Some(i64::from(item.step))),
                Val::Int(Some(n as i64)),
            ]);
        }
        let card_row = cards_stmt(&first.request_id, std::slice::from_ref(card), now);
        let mut plan = vec![card_row, Stmt::new(sql, vals)];
        // Every listed item's copies read before this lack the card (see `touch_stmt`).
        plan.extend(items.iter().map(|i| touch_stmt(&i.request_id, now)));
        self.run_plan(plan).await?;
        Ok(())
    }

    /// The items a posted bundle card lists, in the order it shows them.
    pub async fn card_items(&self, card: &PostedCard) -> anyhow::Result<Vec<CardItemRow>> {
        self.read(
            "SELECT request_id, step FROM card_items WHERE platform = $1 AND channel = $2 AND message_id = $3 ORDER BY position",
            &[
                Val::text(card.platform.as_str()),
                Val::text(&card.channel),
                Val::text(&card.message_id),
            ],
            |r| {
                let id: String = r.get("request_id")?;
                let step: i64 = r.get("step")?;
                Ok(CardItemRow {
                    request_id: RequestId::parse(&id)
                        .with_context(|| format!("card item with a bad request id '{id}'"))?,
                    step: u32::try_from(step).context("card item with a negative step")?,
                })
            },
        )
        .await
        .context("Failed to list a card's items")
    }
}
