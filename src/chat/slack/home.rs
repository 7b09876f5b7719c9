//! The App Home tab: a person's home as Block Kit, published with `views.publish`, paced per
//! person (newest home wins while one waits; at least `home_interval` between two publishes to
//! one person; a 429 pauses the method for its `Retry-After`, in `SlackApi::call`).

use super::api::SlackApi;
use super::blocks::{action_id, plain};
use crate::chat::ButtonStyle;
use crate::chat::Home;
use crate::chat::coalesce::LatestEdits;
use crate::chat::home::HomeItem;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Block Kit's limit for a Home tab.
pub const MAX_BLOCKS: usize = 100;

/// The Home tab's blocks: a header, then each section with its lines and their buttons.
pub fn home_blocks(home: &Home) -> Vec<SlackBlock> {
    let mut blocks: Vec<SlackBlock> = vec![
        SlackHeaderBlock::new(plain("Your access with Warden", 150).into()).into(),
        SlackContextBlock::new(vec![SlackContextBlockElement::Plain(plain(
            "Buttons here do what they do on the request's card. /access status shows the same anywhere.",
            300,
        ))])
        .into(),
    ];
    for section in &home.sections {
        blocks.push(SlackDividerBlock::new().into());
        blocks.push(
            SlackSectionBlock::new()
                .with_text(SlackBlockText::Plain(plain(section.kind.title(), 150)))
                .into(),
        );
        if section.items.is_empty() {
            blocks.push(context(section.kind.empty()));
            continue;
        }
        for item in &section.items {
            blocks.push(
                SlackSectionBlock::new()
                    .with_text(SlackBlockText::Plain(plain(&item.text, 2900)))
                    .into(),
            );
            if !item.buttons.is_empty() {
                blocks.push(buttons(item, section.kind.title()));
            }
        }
        if section.more > 0 {
            blocks.push(context(&format!(
                "… and {} more (each has its card in your messages).",
                section.more
            )));
        }
    }
    blocks.truncate(MAX_BLOCKS);
    blocks
}

fn context(text: &str) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::Plain(plain(text, 1900))]).into()
}

/// The line's buttons with the cards' own action ids; the block id is unique in the view.
fn buttons(item: &HomeItem, section: &str) -> SlackBlock {
    let elements = item
        .buttons
        .iter()
        .map(|b| {
            let mut button = SlackBlockButtonElement::new(plain(&b.label, 70).into())
                .with_action_id(SlackActionId::new(action_id(b.action)))
                .with_value(item.request_id.to_string());
            button.style = match b.style {
                ButtonStyle::Primary => Some(SlackBlockButtonStyle::Primary),
                ButtonStyle::Danger => Some(SlackBlockButtonStyle::Danger),
                ButtonStyle::Default => None,
            };
            SlackActionBlockElement::Button(button)
        })
        .collect();
    let block_id = format!(
        "warden_home:{}:{}",
        section.to_lowercase().replace(' ', "_"),
        item.request_id
    );
    SlackActionsBlock::new(elements)
        .with_block_id(SlackBlockId::new(block_id))
        .into()
}

/// Publishes homes, paced per Slack user.
pub struct HomePublisher {
    api: Arc<SlackApi>,
    interval: Duration,
    /// Per user: the newest blocks while a publish waits or runs.
    pending: LatestEdits<String, Vec<SlackBlock>>,
    /// Per user: when the last publish went out.
    last: Mutex<HashMap<String, Instant>>,
}

impl HomePublisher {
    pub fn new(api: Arc<SlackApi>, interval: Duration) -> Self {
        Self {
            api,
            interval,
            pending: LatestEdits::default(),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes `blocks` to `user`'s Home tab, or hands them to the publish already under way
    /// for that user. Failures are logged: a home is a view of the store, the next change or
    /// the next open publishes it again.
    pub async fn publish(&self, user: String, blocks: Vec<SlackBlock>) {
        let Some(sender) = self.pending.offer(user.clone(), blocks) else {
            return;
        };
        loop {
            let due = self
                .last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&user)
                .map(|at| *at + self.interval);
            if let Some(due) = due.filter(|d| *d > Instant::now()) {
                tokio::time::sleep_until(due.into()).await;
            }
            let result = self
                .api
                .call("views.publish", || {
                    let req = SlackApiViewsPublishRequest::new(
                        SlackUserId::new(user.clone()),
                        SlackView::Home(SlackHomeView::new(sender.latest())),
                    );
                    async move { self.api.session().views_publish(&req).await }
                })
                .await;
            self.last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(user.clone(), Instant::now());
            if let Err(e) = result {
                tracing::warn!(user, error = %e, "failed to publish a Home tab");
            }
            if sender.delivered() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::home::HomeItem;
    use crate::chat::home::{HomeSection, ITEMS_PER_SECTION, SectionKind};
    use crate::chat::{Button, CardAction};
    use crate::domain::RequestId;

    fn full(kind: SectionKind, actions: &[CardAction]) -> HomeSection {
        let items = (0..ITEMS_PER_SECTION + 4)
            .map(|i| HomeItem {
                request_id: RequestId::generate(),
                text: format!("line {i} <!here>"),
                buttons: actions
                    .iter()
                    .map(|a| Button {
                        label: a.as_str().into(),
                        action: *a,
                        style: ButtonStyle::Primary,
                    })
                    .collect(),
            })
            .collect();
        HomeSection::new(kind, items)
    }

    #[test]
    fn a_full_home_stays_within_slacks_block_limit_with_unique_block_ids() {
        let home = Home {
            sections: vec![
                full(
                    SectionKind::WaitingForYou,
                    &[CardAction::Approve, CardAction::Deny],
                ),
                full(
                    SectionKind::Active,
                    &[CardAction::Extend, CardAction::Revoke],
                ),
                full(SectionKind::Open, &[]),
                full(SectionKind::Decisions, &[]),
            ],
        };
        let blocks = home_blocks(&home);
        let v = serde_json::to_value(&blocks).unwrap();
        let all = v.as_array().unwrap();
        // Every line and every "and N more" made it: nothing was cut by the final truncate.
        let lines = all.iter().filter(|b| b["type"] == "section").count();
        assert_eq!(lines, 4 + 4 * ITEMS_PER_SECTION);
        assert!(all.len() <= MAX_BLOCKS, "{} blocks", all.len());
        let ids: Vec<&str> = all.iter().filter_map(|b| b["block_id"].as_str()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            (ids.len(), unique.len()),
            (2 * ITEMS_PER_SECTION, 2 * ITEMS_PER_SECTION)
        );
        let json = v.to_string();
        assert!(
            !json.contains("<!here>") && json.contains("&lt;!here&gt;"),
            "{json}"
        );
    }

    /// A home for Dana with one request of each kind, fixed so the example stays the same.
    fn example() -> Home {
        let id = |seed: &str| RequestId::from_digest(seed.as_bytes());
        let b = |action: CardAction, label: &str, style: ButtonStyle| Button {
            label: label.into(),
            action,
            style,
        };
        let item = |seed: &str, text: &str, buttons: Vec<Button>| HomeItem {
            request_id: id(seed),
            text: format!("{} — {text}", id(seed)),
            buttons,
        };
        Home {
            sections: vec![
                HomeSection::new(
                    SectionKind::WaitingForYou,
                    vec![item(
                        "waiting",
                        "alice wants read on prod-db for 2h",
                        vec![
                            b(CardAction::Approve, "Approve", ButtonStyle::Primary),
                            b(CardAction::Deny, "Deny", ButtonStyle::Danger),
                        ],
                    )],
                ),
                HomeSection::new(
                    SectionKind::Active,
                    vec![item(
                        "active",
                        "edit on wiki, until 2026-12-01 15:00 UTC (1h from now)",
                        vec![
                            b(CardAction::Extend, "Extend", ButtonStyle::Primary),
                            b(CardAction::Revoke, "Revoke", ButtonStyle::Danger),
                        ],
                    )],
                ),
                HomeSection::new(
                    SectionKind::Open,
                    vec![item(
                        "open",
                        "admin on staging-db for 4h (waiting for approval)",
                        vec![],
                    )],
                ),
                HomeSection::new(
                    SectionKind::Decisions,
                    vec![item(
                        "decided",
                        "you denied bob's write on prod-db (now denied)",
                        vec![],
                    )],
                ),
            ],
        }
    }

    /// docs/slack-home-example.json is what Warden publishes for `example()`, so it can be
    /// pasted into Block Kit Builder. `UPDATE_EXAMPLES=1` rewrites it.
    #[test]
    fn the_committed_example_view_is_what_warden_publishes() {
        let view = serde_json::json!({ "type": "home", "blocks": home_blocks(&example()) });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/slack-home-example.json");
        if std::env::var("UPDATE_EXAMPLES").is_ok() {
            let text = serde_json::to_string_pretty(&view).unwrap() + "\n";
            std::fs::write(path, text).unwrap();
        }
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            committed, view,
            "run with UPDATE_EXAMPLES=1 and review the diff"
        );
    }
}
