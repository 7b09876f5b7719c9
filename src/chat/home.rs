//! A person's home, platform-free: their open requests, active access, what waits for their
//! approval and their recent decisions, each line with the buttons cards carry.
//!
//! Slack publishes it as the App Home tab, Discord answers `/access status` with it, and the
//! other surfaces show its text. The buttons are the cards' own (`CardAction`s on a request id),
//! so a click from a home goes through the same handler, and the same checks, as a card's.

use super::{Button, CardAction};
use crate::domain::RequestId;
use serde::{Deserialize, Serialize};

/// The most lines a section shows; the rest are counted. Keeps a Slack home under its 100
/// blocks and a Discord answer under its 2000 characters.
pub const ITEMS_PER_SECTION: usize = 10;

/// Which part of a home a section is, so renderers can order and label them alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    WaitingForYou,
    Active,
    Open,
    Decisions,
}

impl SectionKind {
    pub fn title(self) -> &'static str {
        match self {
            Self::WaitingForYou => "Waiting for your approval",
            Self::Active => "Active access",
            Self::Open => "Open requests",
            Self::Decisions => "Your recent decisions",
        }
    }

    /// What the section says when it has nothing.
    pub fn empty(self) -> &'static str {
        match self {
            Self::WaitingForYou => "Nothing waits for your approval.",
            Self::Active => "You have no active access.",
            Self::Open => "You have no open requests.",
            Self::Decisions => "You have decided nothing in the last 7 days.",
        }
    }
}

/// One request on a home: a line of Warden's own words and the buttons that act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeItem {
    pub request_id: RequestId,
    pub text: String,
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeSection {
    pub kind: SectionKind,
    pub items: Vec<HomeItem>,
    /// Lines left out beyond `ITEMS_PER_SECTION`.
    pub more: usize,
}

impl HomeSection {
    /// A section of at most `ITEMS_PER_SECTION` lines, counting the rest.
    pub fn new(kind: SectionKind, mut items: Vec<HomeItem>) -> Self {
        let more = items.len().saturating_sub(ITEMS_PER_SECTION);
        items.truncate(ITEMS_PER_SECTION);
        Self { kind, items, more }
    }
}

/// A person's home, in the order it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Home {
    pub sections: Vec<HomeSection>,
}

impl Home {
    /// The whole home as text, for surfaces without buttons (and as Slack's fallback).
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        for s in &self.sections {
            if s.items.is_empty() {
                out.push(s.kind.empty().to_string());
                continue;
            }
            let mut block = format!("{}:", s.kind.title());
            for item in &s.items {
                block.push_str(&format!("\n• {}", item.text));
            }
            if s.more > 0 {
                block.push_str(&format!("\n• … and {} more", s.more));
            }
            out.push(block);
        }
        out.join("\n")
    }

    /// Every button on the home with its request, section by section.
    pub fn buttons(&self) -> impl Iterator<Item = (&HomeItem, &Button)> {
        self.sections
            .iter()
            .flat_map(|s| s.items.iter())
            .flat_map(|i| i.buttons.iter().map(move |b| (i, b)))
    }

    /// The lines that carry buttons, in order.
    pub fn actionable(&self) -> impl Iterator<Item = &HomeItem> {
        self.sections
            .iter()
            .flat_map(|s| s.items.iter())
            .filter(|i| !i.buttons.is_empty())
    }
}

/// The label a button has away from its card, where the request is not otherwise named.
pub fn labelled(button: &Button, request_id: &RequestId) -> String {
    let verb = match button.action {
        CardAction::Approve => "Approve",
        CardAction::Deny => "Deny",
        CardAction::Extend => "Extend",
        CardAction::Revoke => "Revoke",
        _ => button.label.as_str(),
    };
    format!("{verb} {request_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ButtonStyle;

    fn item(text: &str, actions: &[CardAction]) -> HomeItem {
        HomeItem {
            request_id: RequestId::generate(),
            text: text.into(),
            buttons: actions
                .iter()
                .map(|a| Button {
                    label: a.as_str().into(),
                    action: *a,
                    style: ButtonStyle::Default,
                })
                .collect(),
        }
    }

    #[test]
    fn a_long_section_is_cut_and_counts_what_it_left_out() {
        let items = (0..13).map(|i| item(&format!("r{i}"), &[])).collect();
        let s = HomeSection::new(SectionKind::Open, items);
        assert_eq!((s.items.len(), s.more), (ITEMS_PER_SECTION, 3));
        let text = Home { sections: vec![s] }.to_text();
        assert!(
            text.starts_with("Open requests:") && text.ends_with("… and 3 more"),
            "{text}"
        );
    }

    #[test]
    fn empty_sections_say_so_and_buttons_keep_their_request() {
        let waiting = item(
            "alice wants read on prod-db",
            &[CardAction::Approve, CardAction::Deny],
        );
        let id = waiting.request_id.clone();
        let home = Home {
            sections: vec![
                HomeSection::new(SectionKind::WaitingForYou, vec![waiting]),
                HomeSection::new(SectionKind::Active, vec![]),
            ],
        };
        let text = home.to_text();
        assert!(
            text.contains("Waiting for your approval:\n• alice wants"),
            "{text}"
        );
        assert!(text.contains("You have no active access."), "{text}");
        let buttons: Vec<_> = home
            .buttons()
            .map(|(i, b)| (i.request_id.clone(), b.action))
            .collect();
        assert_eq!(
            buttons,
            vec![
                (id.clone(), CardAction::Approve),
                (id.clone(), CardAction::Deny)
            ]
        );
        assert_eq!(
            labelled(&home.sections[0].items[0].buttons[0], &id),
            format!("Approve {id}")
        );
    }
}
