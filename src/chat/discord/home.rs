//! A person's home as the ephemeral answer to `/access status`: its text, and one row of the
//! cards' own buttons per request that has any (Discord allows 5 rows of 5 buttons).

use super::render::{custom_id, escape, no_mentions, truncate};
use crate::chat::home::labelled;
use crate::chat::{ButtonStyle, Home};
use serenity::all::ButtonStyle as DiscordStyle;
use serenity::builder::{
    CreateActionRow, CreateButton, CreateInteractionResponseFollowup, EditInteractionResponse,
};

/// Discord's limit on action rows in one message.
pub const MAX_ROWS: usize = 5;

/// The home's text, with a note when some requests' buttons did not fit.
fn content(home: &Home) -> String {
    let mut text = escape(&home.to_text());
    let left_out = home.actionable().count().saturating_sub(MAX_ROWS);
    if left_out > 0 {
        text.push_str(&format!(
            "\n(Buttons for the first {MAX_ROWS}; {left_out} more have theirs on their cards.)"
        ));
    }
    truncate(&text, 2000)
}

/// A row per request with buttons: waiting approvals first, then active access.
pub fn home_components(home: &Home) -> Vec<CreateActionRow> {
    home.actionable()
        .take(MAX_ROWS)
        .map(|item| {
            let buttons = item
                .buttons
                .iter()
                .take(5)
                .map(|b| {
                    let style = match b.style {
                        ButtonStyle::Primary => DiscordStyle::Primary,
                        ButtonStyle::Danger => DiscordStyle::Danger,
                        ButtonStyle::Default => DiscordStyle::Secondary,
                    };
                    CreateButton::new(custom_id(b.action, &item.request_id))
                        .label(truncate(&labelled(b, &item.request_id), 80))
                        .style(style)
                })
                .collect();
            CreateActionRow::Buttons(buttons)
        })
        .collect()
}

/// The deferred ephemeral answer, replaced by the home.
pub fn home_edit(home: &Home) -> EditInteractionResponse {
    EditInteractionResponse::new()
        .content(content(home))
        .components(home_components(home))
        .allowed_mentions(no_mentions())
}

/// The home as a further ephemeral follow-up.
pub fn home_followup(home: &Home) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(content(home))
        .components(home_components(home))
        .ephemeral(true)
        .allowed_mentions(no_mentions())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::home::{HomeItem, HomeSection, SectionKind};
    use crate::chat::{Button, CardAction};
    use crate::domain::RequestId;

    #[test]
    fn at_most_five_rows_each_naming_its_request_with_the_cards_custom_ids() {
        let items: Vec<HomeItem> = (0..7)
            .map(|i| HomeItem {
                request_id: RequestId::generate(),
                text: format!("r{i}"),
                buttons: vec![
                    Button {
                        label: "Approve".into(),
                        action: CardAction::Approve,
                        style: ButtonStyle::Primary,
                    },
                    Button {
                        label: "Deny".into(),
                        action: CardAction::Deny,
                        style: ButtonStyle::Danger,
                    },
                ],
            })
            .collect();
        let first = items[0].request_id.clone();
        let home = Home {
            sections: vec![HomeSection::new(SectionKind::WaitingForYou, items)],
        };
        let v = serde_json::to_value(home_edit(&home)).unwrap();
        let rows = v["components"].as_array().unwrap();
        assert_eq!(rows.len(), MAX_ROWS);
        assert_eq!(
            rows[0]["components"][0]["custom_id"],
            custom_id(CardAction::Approve, &first)
        );
        assert_eq!(rows[0]["components"][1]["label"], format!("Deny {first}"));
        assert!(
            v["content"]
                .as_str()
                .unwrap()
                .contains("2 more have theirs"),
            "{v}"
        );
    }
}
