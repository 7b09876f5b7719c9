//! Cards and messages as Block Kit. Everything shown is plain text with `&`, `<`, `>` escaped,
//! so nothing a user wrote can fire a mention, a link or markup.

use crate::chat::{Button, ButtonStyle, Card, CardAction};
use slack_morphism::prelude::*;

/// Prefix of every button's `action_id`; the rest is the `CardAction`.
pub const ACTION_PREFIX: &str = "warden_";
/// The `block_id` of a card's buttons.
pub const ACTIONS_BLOCK: &str = "warden_actions";

/// Slack's own escaping: after it no `<!here>`, `<@U…>` or `<url|label>` survives.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes and cuts to `max` characters (Block Kit rejects longer text objects).
pub fn plain(text: &str, max: usize) -> SlackBlockPlainText {
    let mut t: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        t.pop();
        t.push('…');
    }
    SlackBlockPlainText::new(escape(&t)).with_emoji(false)
}

pub fn action_id(action: CardAction) -> String {
    format!("{ACTION_PREFIX}{}", action.as_str())
}

pub fn parse_action_id(id: &str) -> Option<CardAction> {
    CardAction::parse(id.strip_prefix(ACTION_PREFIX)?)
}

/// A message as one plain-text section, with the same text as the notification fallback.
pub fn text_content(text: &str) -> SlackMessageContent {
    let section = SlackSectionBlock::new().with_text(SlackBlockText::Plain(plain(text, 2900)));
    SlackMessageContent::new()
        .with_text(escape(text))
        .with_blocks(vec![section.into()])
}

/// One of Warden's buttons; `value` is what it acts on (`Card::button_target`).
fn button(b: &Button, value: String) -> SlackActionBlockElement {
    let mut button = SlackBlockButtonElement::new(plain(&b.label, 70).into())
        .with_action_id(SlackActionId::new(action_id(b.action)))
        .with_value(value);
    button.style = match b.style {
        ButtonStyle::Primary => Some(SlackBlockButtonStyle::Primary),
        ButtonStyle::Danger => Some(SlackBlockButtonStyle::Danger),
        ButtonStyle::Default => None,
    };
    SlackActionBlockElement::Button(button)
}

/// Header, fields, a context status line, and buttons until the card is resolved.
pub fn card_content(card: &Card) -> SlackMessageContent {
    let mut blocks: Vec<SlackBlock> =
        vec![SlackHeaderBlock::new(plain(&card.title, 150).into()).into()];
    let fields: Vec<SlackBlockText> = card
        .fields
        .iter()
        .map(|(k, v)| SlackBlockText::Plain(plain(&format!("{k}: {v}"), 1900)))
        .collect();
    // A section holds at most ten fields.
    for chunk in fields.chunks(10) {
        blocks.push(SlackSectionBlock::new().with_fields(chunk.to_vec()).into());
    }
    let status = match &card.status {
        Some(s) => format!("{s} · {}", card.request_id),
        None => format!("Request {}", card.request_id),
    };
    blocks.push(
        SlackContextBlock::new(vec![SlackContextBlockElement::Plain(plain(&status, 1900))]).into(),
    );
    // A bundle's approval card: each item on its own line, with its own buttons while it waits.
    for (n, item) in card.items.iter().enumerate() {
        blocks.push(
            SlackSectionBlock::new()
                .with_text(SlackBlockText::Plain(plain(&item.text, 2900)))
                .into(),
        );
        if !item.buttons.is_empty() {
            let buttons = item
                .buttons
                .iter()
                .map(|b| button(b, item.request_id.to_string()))
                .collect();
            blocks.push(
                SlackActionsBlock::new(buttons)
                    .with_block_id(SlackBlockId::new(format!("{ACTIONS_BLOCK}_{n}")))
                    .into(),
            );
        }
    }
    if !card.buttons.is_empty() {
        let buttons = card
            .buttons
            .iter()
            .map(|b| button(b, card.button_target(b)))
            .collect();
        blocks.push(
            SlackActionsBlock::new(buttons)
                .with_block_id(SlackBlockId::new(ACTIONS_BLOCK.into()))
                .into(),
        );
    }
    let fallback = match &card.status {
        Some(s) => format!("{} ({}): {s}", card.title, card.request_id),
        None => format!("{} ({})", card.title, card.request_id),
    };
    SlackMessageContent::new()
        .with_text(escape(&fallback))
        .with_blocks(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Button, CardKind};
    use crate::domain::RequestId;

    fn card(buttons: Vec<Button>, status: Option<&str>) -> Card {
        Card {
            kind: CardKind::Approval,
            request_id: RequestId::generate(),
            title: "Access request needs your approval".into(),
            fields: vec![
                (
                    "Requester".into(),
                    "Mallory <!here> <@U999|boss> <https://evil.example|click>".into(),
                ),
                ("Reason".into(), "*urgent* & _now_".into()),
            ],
            status: status.map(str::to_string),
            buttons,
            items: vec![],
        }
    }

    #[test]
    fn user_text_in_a_card_cannot_mention_link_or_format() {
        let c = card(vec![], None);
        let json = serde_json::to_string(&card_content(&c)).unwrap();
        assert!(
            !json.contains("<!here>") && !json.contains("<@U999") && !json.contains("<https://"),
            "{json}"
        );
        assert!(json.contains("&lt;!here&gt;"), "{json}");
        assert!(json.contains("&amp;"), "{json}");
        // Fields are plain text, so `*urgent*` stays literal instead of turning bold.
        assert!(!json.contains("\"mrkdwn\""), "{json}");
    }

    #[test]
    fn buttons_carry_the_action_and_request_and_vanish_when_resolved() {
        let open = card(
            vec![Button {
                label: "Approve".into(),
                action: CardAction::Approve,
                style: ButtonStyle::Primary,
            }],
            None,
        );
        let v = serde_json::to_value(card_content(&open)).unwrap();
        let actions = v["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "actions")
            .expect("actions block");
        assert_eq!(actions["elements"][0]["action_id"], "warden_approve");
        assert_eq!(actions["elements"][0]["value"], open.request_id.to_string());
        assert_eq!(actions["elements"][0]["style"], "primary");
        assert_eq!(parse_action_id("warden_approve"), Some(CardAction::Approve));
        assert_eq!(parse_action_id("approve"), None);

        let done = card(vec![], Some("Approved by Dana Scully"));
        let v = serde_json::to_value(card_content(&done)).unwrap();
        let blocks = v["blocks"].as_array().unwrap();
        assert!(blocks.iter().all(|b| b["type"] != "actions"), "{v}");
        let context = blocks.iter().find(|b| b["type"] == "context").unwrap();
        assert!(
            context["elements"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Approved by Dana Scully")
        );
    }

    #[test]
    fn long_text_is_cut_to_what_block_kit_accepts() {
        let long = "x".repeat(5000);
        let content = text_content(&long);
        let v = serde_json::to_value(&content).unwrap();
        assert_eq!(
            v["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            2900
        );
    }
}
