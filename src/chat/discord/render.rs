//! Platform-free cards and text rendered as Discord embeds, buttons and modals.
//!
//! Every message carries an empty `allowed_mentions`, and text from people (reasons, names,
//! anything the workflow quotes) is escaped so `@everyone`, role and user mentions and masked
//! links never fire even if a mention setting were lost.

use crate::chat::{
    Button, ButtonStyle, Card, CardAction, CardKind, EditFields, parse_button_target,
};
use crate::domain::RequestId;
use serenity::all::{ButtonStyle as DiscordStyle, InputTextStyle};
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInputText, CreateInteractionResponse, CreateInteractionResponseFollowup, CreateMessage,
    CreateModal, EditInteractionResponse, EditMessage,
};

/// Prefix of every custom id Warden puts on a component or modal.
const PREFIX: &str = "warden";

/// What a component or modal custom id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub action: CardAction,
    pub request_id: RequestId,
    /// Every id an "all" button names (empty for one request).
    pub items: Vec<RequestId>,
}

pub fn custom_id(action: CardAction, request_id: &RequestId) -> String {
    custom_id_for(action, request_id.as_str())
}

/// `warden:<action>:<target>`, the target as `Card::button_target` wrote it (ids of an "all"
/// button: at most 5 × 11 characters and separators, within Discord's 100).
pub fn custom_id_for(action: CardAction, target: &str) -> String {
    format!("{PREFIX}:{}:{target}", action.as_str())
}

/// Parses `warden:<action>:<request id>`; anything else is not ours.
pub fn parse_custom_id(id: &str) -> Option<Target> {
    let mut parts = id.splitn(3, ':');
    (parts.next()? == PREFIX).then_some(())?;
    let action = CardAction::parse(parts.next()?)?;
    let (request_id, items) = parse_button_target(action, parts.next()?)?;
    Some(Target {
        action,
        request_id,
        items,
    })
}

/// Text that cannot mention anyone or hide a link: `@` and `<` get a zero-width space after
/// them, and brackets and parentheses are backslash-escaped so `[text](url)` shows as typed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '@' | '<' => {
                out.push(c);
                out.push('\u{200B}');
            }
            '[' | ']' | '(' | ')' | '\\' | '*' | '_' | '~' | '`' | '|' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Cuts to Discord's limits on a character boundary.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

fn colour(card: &Card) -> u32 {
    match (card.kind, card.buttons.is_empty()) {
        (CardKind::Alert, _) => 0xE0_3E_3E,
        (_, false) => 0x58_65_F2,
        (_, true) => 0x80_84_8E,
    }
}

fn embed(card: &Card) -> CreateEmbed {
    let mut e = CreateEmbed::new()
        .title(truncate(&escape(&card.title), 256))
        .colour(colour(card))
        .footer(CreateEmbedFooter::new(format!(
            "Request {}",
            card.request_id
        )));
    for (name, value) in card.fields.iter().take(24) {
        e = e.field(
            truncate(&escape(name), 256),
            truncate(&escape(value), 1024),
            value.chars().count() <= 40,
        );
    }
    if let Some(status) = &card.status {
        e = e.description(truncate(&format!("**{}**", escape(status)), 4000));
    }
    e
}

fn button(b: &Button, id: String) -> CreateButton {
    let style = match b.style {
        ButtonStyle::Primary => DiscordStyle::Primary,
        ButtonStyle::Danger => DiscordStyle::Danger,
        ButtonStyle::Default => DiscordStyle::Secondary,
    };
    CreateButton::new(id)
        .label(truncate(&b.label, 80))
        .style(style)
}

/// The card's own buttons in the first row; a bundle card's per-item buttons follow, two items
/// (four buttons) a row, so five items fit Discord's five rows of five.
fn components(card: &Card) -> Vec<CreateActionRow> {
    let mut rows = Vec::new();
    if !card.buttons.is_empty() {
        let buttons = card
            .buttons
            .iter()
            .take(5)
            .map(|b| button(b, custom_id_for(b.action, &card.button_target(b))))
            .collect();
        rows.push(CreateActionRow::Buttons(buttons));
    }
    let per_item: Vec<CreateButton> = card
        .items
        .iter()
        .flat_map(|i| {
            i.buttons
                .iter()
                .take(2)
                .map(|b| button(b, custom_id(b.action, &i.request_id)))
        })
        .collect();
    for chunk in per_item.chunks(4) {
        if rows.len() == 5 {
            break;
        }
        rows.push(CreateActionRow::Buttons(chunk.to_vec()));
    }
    rows
}

pub fn card_message(card: &Card) -> CreateMessage {
    CreateMessage::new()
        .embed(embed(card))
        .components(components(card))
        .allowed_mentions(no_mentions())
}

/// The new version of a posted card; an empty component list removes resolved buttons.
pub fn card_edit(card: &Card) -> EditMessage {
    EditMessage::new()
        .embeds(vec![embed(card)])
        .components(components(card))
        .allowed_mentions(no_mentions())
}

pub fn text_message(text: &str) -> CreateMessage {
    CreateMessage::new()
        .content(truncate(&escape(text), 2000))
        .allowed_mentions(no_mentions())
}

pub fn followup(text: &str, ephemeral: bool) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(truncate(&escape(text), 2000))
        .ephemeral(ephemeral)
        .allowed_mentions(no_mentions())
}

/// Completes a deferred response. `raw` is Warden's own text (a channel link), not escaped.
pub fn original_edit(text: &str, raw: bool) -> EditInteractionResponse {
    let content = if raw { text.to_string() } else { escape(text) };
    EditInteractionResponse::new()
        .content(truncate(&content, 2000))
        .allowed_mentions(no_mentions())
}

fn input(
    id: &str,
    label: &str,
    value: Option<String>,
    style: InputTextStyle,
    max: u16,
) -> CreateActionRow {
    let mut i = CreateInputText::new(style, label, id)
        .required(false)
        .max_length(max);
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        i = i.value(truncate(&v, max as usize));
    }
    CreateActionRow::InputText(i)
}

/// The Edit button's form, prefilled with the request as the engine gave it.
pub fn edit_modal(fields: &EditFields, id: &RequestId) -> CreateInteractionResponse {
    CreateInteractionResponse::Modal(
        CreateModal::new(
            custom_id(CardAction::Edit, id),
            truncate(&format!("Edit request {id}"), 45),
        )
        .components(vec![
            input(
                "resource",
                "Resource",
                fields.resource.clone(),
                InputTextStyle::Short,
                100,
            ),
            input(
                "role",
                "Role",
                fields.role.clone(),
                InputTextStyle::Short,
                100,
            ),
            input(
                "duration",
                "Duration (e.g. 2h)",
                fields.duration.clone(),
                InputTextStyle::Short,
                20,
            ),
            input(
                "justification",
                "Reason",
                fields.justification.clone(),
                InputTextStyle::Paragraph,
                500,
            ),
        ]),
    )
}

/// The Deny button's form: the reason goes with the denial (of one request, or with "Deny
/// all" of every listed item).
pub fn deny_modal(action: CardAction, ids: &[RequestId]) -> CreateInteractionResponse {
    let target = ids
        .iter()
        .map(RequestId::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let title = match ids {
        [one] => format!("Deny request {one}"),
        _ => format!("Deny {} requests", ids.len()),
    };
    CreateInteractionResponse::Modal(
        CreateModal::new(custom_id_for(action, &target), truncate(&title, 45)).components(vec![
            input(
                "reason",
                "Why are you denying it?",
                None,
                InputTextStyle::Paragraph,
                500,
            ),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Button;

    fn card(buttons: Vec<Button>) -> Card {
        Card {
            kind: CardKind::Approval,
            request_id: RequestId::generate(),
            title: "Access request needs your approval".into(),
            fields: vec![(
                "Reason".into(),
                "@everyone look [here](https://evil.example) <@&123>".into(),
            )],
            status: None,
            buttons,
            items: vec![],
        }
    }

    #[test]
    fn escaped_text_cannot_mention_or_mask_a_link() {
        let e = escape("@everyone @here <@123> <@&456> [click](https://evil.example)");
        assert!(
            !e.contains("@everyone") && !e.contains("@here") && !e.contains("<@"),
            "{e}"
        );
        assert!(!e.contains("](") && e.contains("\\[click\\]"), "{e}");
    }

    #[test]
    fn custom_ids_round_trip_and_foreign_ids_are_rejected() {
        let id = RequestId::generate();
        let s = custom_id(CardAction::Approve, &id);
        assert_eq!(
            parse_custom_id(&s),
            Some(Target {
                action: CardAction::Approve,
                request_id: id,
                items: vec![]
            })
        );
        assert_eq!(parse_custom_id("other:approve:AR-1"), None);
        assert_eq!(parse_custom_id("warden:launch:AR-1"), None);
    }

    #[test]
    fn a_card_renders_as_an_embed_with_buttons_and_no_allowed_mentions() {
        let c = card(vec![Button {
            label: "Approve".into(),
            action: CardAction::Approve,
            style: ButtonStyle::Primary,
        }]);
        let json = serde_json::to_value(card_message(&c)).unwrap();
        assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(
            json["components"][0]["components"][0]["custom_id"],
            custom_id(CardAction::Approve, &c.request_id)
        );
        assert_eq!(json["components"][0]["components"][0]["style"], 1);
        let value = json["embeds"][0]["fields"][0]["value"].as_str().unwrap();
        assert!(
            !value.contains("@everyone") && !value.contains("](") && !value.contains("<@&"),
            "{value}"
        );
    }

    #[test]
    fn a_resolved_card_edit_removes_the_buttons() {
        let mut c = card(vec![]);
        c.status = Some("Approved by Dana".into());
        let json = serde_json::to_value(card_edit(&c)).unwrap();
        assert_eq!(json["components"], serde_json::json!([]));
        assert!(
            json["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .contains("Approved by Dana")
        );
    }

    #[test]
    fn a_bundle_card_fits_five_items_and_its_all_buttons_name_the_open_ones() {
        use crate::chat::CardItem;
        let b = |label: &str, action| Button {
            label: label.into(),
            action,
            style: ButtonStyle::Primary,
        };
        let mut c = card(vec![
            b("Approve all", CardAction::ApproveAll),
            b("Deny all", CardAction::DenyAll),
        ]);
        c.items = (0..5)
            .map(|n| CardItem {
                request_id: RequestId::generate(),
                text: format!("item {n}"),
                // The last item is decided: no buttons, and not named by "all".
                buttons: if n < 4 {
                    vec![
                        b("Approve", CardAction::Approve),
                        b("Deny", CardAction::Deny),
                    ]
                } else {
                    vec![]
                },
            })
            .collect();
        let rows = serde_json::to_value(components(&c)).unwrap();
        let rows = rows.as_array().unwrap();
        assert!(rows.len() <= 5, "{rows:?}");
        let all = rows[0]["components"][0]["custom_id"].as_str().unwrap();
        assert!(all.len() <= 100, "{all}");
        let target = parse_custom_id(all).unwrap();
        assert_eq!(target.action, CardAction::ApproveAll);
        let open: Vec<_> = c.items[..4].iter().map(|i| i.request_id.clone()).collect();
        assert_eq!(target.items, open);
        let per_item: usize = rows[1..]
            .iter()
            .map(|r| r["components"].as_array().unwrap().len())
            .sum();
        assert_eq!(per_item, 8, "Approve and Deny for each open item");
        assert_eq!(
            parse_custom_id(rows[1]["components"][0]["custom_id"].as_str().unwrap()),
            Some(Target {
                action: CardAction::Approve,
                request_id: c.items[0].request_id.clone(),
                items: vec![]
            })
        );
    }
}
