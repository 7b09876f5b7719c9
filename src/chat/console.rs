//! The console adapter: prints the conversation to the terminal and keeps a transcript.
//! Used by `warden demo`, the benchmark and tests; driven by a script or by stdin.

use super::{Card, CardTarget, ChatError, ChatPort, MessageRef, Scope};
use crate::domain::{Platform, PlatformUser};
use async_trait::async_trait;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub const WORKSPACE: &str = "local";

/// One thing the adapter was asked to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Text {
        to: String,
        text: String,
    },
    Card {
        message_id: String,
        to: String,
        card: Card,
    },
    Update {
        message_id: String,
        card: Card,
    },
}

pub struct ConsoleChat {
    echo: bool,
    next_id: AtomicU64,
    transcript: Mutex<Vec<Shown>>,
}

impl ConsoleChat {
    /// `echo` prints as it goes; otherwise it only records (benchmarks, tests).
    pub fn new(echo: bool) -> Self {
        Self {
            echo,
            next_id: AtomicU64::new(1),
            transcript: Mutex::new(Vec::new()),
        }
    }

    pub fn user(name: &str) -> PlatformUser {
        PlatformUser::new(Platform::Console, WORKSPACE, name)
    }

    /// The request scope for a console conversation; the thread is filled in per request.
    pub fn scope(channel: &str) -> Scope {
        Scope {
            platform: Platform::Console,
            workspace: WORKSPACE.into(),
            channel: channel.into(),
            thread: None,
            kind: crate::domain::ScopeKind::Console,
        }
    }

    pub fn transcript(&self) -> Vec<Shown> {
        self.transcript
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Everything shown so far as plain text lines (for tests).
    pub fn text(&self) -> String {
        self.transcript()
            .iter()
            .map(|s| match s {
                Shown::Text { to, text } => format!("{to}: {text}"),
                Shown::Card { to, card, .. } => format!("{to}: {}", render_card(card)),
                Shown::Update { message_id, card } => {
                    format!("update {message_id}: {}", render_card(card))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn clear(&self) {
        self.transcript
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn record(&self, shown: Shown) -> String {
        let id = format!("m{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        if self.echo {
            match &shown {
                Shown::Text { to, text } => println!("  warden → {to}: {text}"),
                Shown::Card { to, card, .. } => println!(
                    "  warden → {to} [card {id}]\n{}",
                    indent(&render_card(card))
                ),
                Shown::Update { message_id, card } => println!(
                    "  warden ✎ card {message_id} now reads: {}{}",
                    card.status.as_deref().unwrap_or("(no status)"),
                    if card.buttons.is_empty() {
                        " (buttons removed)"
                    } else {
                        ""
                    }
                ),
            }
        }
        self.transcript
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(shown);
        id
    }

    fn msg(&self, channel: &str, id: String) -> MessageRef {
        MessageRef {
            platform: Platform::Console,
            channel: channel.to_string(),
            message_id: id,
        }
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A card as terminal text: title, fields, status, buttons.
pub fn render_card(card: &Card) -> String {
    let mut out = format!("┃ {} ({})", card.title, card.request_id);
    for (k, v) in &card.fields {
        out.push_str(&format!("\n┃   {k}: {v}"));
    }
    for item in &card.items {
        let labels: Vec<String> = item
            .buttons
            .iter()
            .map(|b| format!("[{}]", b.label))
            .collect();
        out.push_str(&format!("\n┃ • {} {}", item.text, labels.join(" ")));
    }
    if let Some(s) = &card.status {
        out.push_str(&format!("\n┃ » {s}"));
    }
    if !card.buttons.is_empty() {
        let labels: Vec<String> = card
            .buttons
            .iter()
            .map(|b| format!("[{}]", b.label))
            .collect();
        out.push_str(&format!("\n┃ {}", labels.join(" ")));
    }
    out
}

fn scope_label(scope: &Scope) -> String {
    match &scope.thread {
        Some(t) => format!("#{} thread {t}", scope.channel),
        None => format!("#{}", scope.channel),
    }
}

#[async_trait]
impl ChatPort for ConsoleChat {
    fn platform(&self) -> Platform {
        Platform::Console
    }

    async fn send(&self, scope: &Scope, text: &str) -> Result<MessageRef, ChatError> {
        let id = self.record(Shown::Text {
            to: scope_label(scope),
            text: text.to_string(),
        });
        Ok(self.msg(&scope.channel, id))
    }

    async fn notify(&self, user: &PlatformUser, text: &str) -> Result<MessageRef, ChatError> {
        let id = self.record(Shown::Text {
            to: format!("@{} (DM)", user.user_id),
            text: text.to_string(),
        });
        Ok(self.msg(&format!("dm-{}", user.user_id), id))
    }

    async fn post_card(&self, target: &CardTarget, card: &Card) -> Result<MessageRef, ChatError> {
        let (to, channel) = match target {
            CardTarget::Scope(s) => (scope_label(s), s.channel.clone()),
            CardTarget::Direct(u) => (format!("@{} (DM)", u.user_id), format!("dm-{}", u.user_id)),
            CardTarget::Channel { channel, .. } => (format!("#{channel}"), channel.clone()),
        };
        let next = format!("m{}", self.next_id.load(Ordering::Relaxed));
        let id = self.record(Shown::Card {
            message_id: next,
            to,
            card: card.clone(),
        });
        Ok(self.msg(&channel, id))
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        self.record(Shown::Update {
            message_id: message.message_id.clone(),
            card: card.clone(),
        });
        Ok(())
    }
}
