//! Verified interactions mapped to what Warden does with them: a `ChatEvent` for the engine, a
//! modal to open, or a pong. No I/O here; identity and scope come only from Discord's fields.

use super::render::{Target, parse_custom_id};
use crate::chat::{CardAction, ChatEvent, EditFields, EventKind, InteractionToken, Scope};
use crate::domain::{Platform, PlatformUser, RequestId};
use serenity::all::{
    ActionRow, ActionRowComponent, ChannelType, CommandDataOption, CommandDataOptionValue, GuildId,
    Interaction, PartialChannel, User,
};

/// How the interaction is acknowledged within Discord's 3 s (type 5, ephemeral, or type 6), and
/// where the engine's replies to it go: stored with the event, so a restart can still answer.
pub use crate::chat::{DeferredAck as Ack, DeferredReply as Reply};

#[derive(Debug)]
pub enum Inbound {
    Ping,
    /// Work for the engine, acknowledged first.
    Event {
        /// Boxed: a `ChatEvent` dwarfs the other answers.
        event: Box<ChatEvent>,
        reply: Reply,
    },
    /// A button that opens a form instead of acting.
    OpenModal {
        action: CardAction,
        request_id: RequestId,
        /// Every id a "Deny all" names.
        items: Vec<RequestId>,
        actor: PlatformUser,
    },
    /// Answered at once with this ephemeral text; nothing reaches the engine.
    Refuse(&'static str),
    Ignore,
}

/// Maps an interaction. `home_guild` is the workspace for DMs, where Discord sends no guild.
pub fn classify(interaction: &Interaction, home_guild: Option<&str>) -> Inbound {
    match interaction {
        Interaction::Ping(_) => Inbound::Ping,
        Interaction::Command(c) => {
            let Some(text) = (c.data.name == "access")
                .then(|| command_text(&c.data.options))
                .flatten()
            else {
                return Inbound::Refuse("I don't know that command.");
            };
            let Some((actor, scope)) = who_and_where(
                c.guild_id,
                &c.user,
                c.channel.as_ref(),
                c.channel_id.get(),
                home_guild,
            ) else {
                return Inbound::Refuse(NO_GUILD);
            };
            let reply = Reply {
                application_id: c.application_id.get().to_string(),
                token: InteractionToken::new(c.token.clone()),
                ack: Ack::DeferredEphemeral,
            };
            Inbound::Event {
                event: Box::new(ChatEvent {
                    id: c.id.get().to_string(),
                    actor,
                    scope,
                    kind: EventKind::Command { text },
                }),
                reply,
            }
        }
        Interaction::Component(c) => {
            let Some(Target {
                action,
                request_id,
                items,
            }) = parse_custom_id(&c.data.custom_id)
            else {
                return Inbound::Ignore;
            };
            let Some((actor, scope)) = who_and_where(
                c.guild_id,
                &c.user,
                c.channel.as_ref(),
                c.channel_id.get(),
                home_guild,
            ) else {
                return Inbound::Refuse(NO_GUILD);
            };
            if matches!(
                action,
                CardAction::Edit | CardAction::Deny | CardAction::DenyAll
            ) {
                return Inbound::OpenModal {
                    action,
                    request_id,
                    items,
                    actor,
                };
            }
            let reply = Reply {
                application_id: c.application_id.get().to_string(),
                token: InteractionToken::new(c.token.clone()),
                ack: Ack::DeferredUpdate,
            };
            Inbound::Event {
                event: Box::new(ChatEvent {
                    id: c.id.get().to_string(),
                    actor,
                    scope,
                    kind: EventKind::Action {
                        action,
                        request_id,
                        reason: None,
                        items,
                    },
                }),
                reply,
            }
        }
        Interaction::Modal(m) => {
            let Some(Target {
                action,
                request_id,
                items,
            }) = parse_custom_id(&m.data.custom_id)
            else {
                return Inbound::Ignore;
            };
            let Some((actor, scope)) = who_and_where(
                m.guild_id,
                &m.user,
                m.channel.as_ref(),
                m.channel_id.get(),
                home_guild,
            ) else {
                return Inbound::Refuse(NO_GUILD);
            };
            let field = |id: &str| modal_value(&m.data.components, id);
            let kind = match action {
                CardAction::Edit => EventKind::EditSubmitted {
                    request_id,
                    fields: EditFields {
                        resource: field("resource"),
                        role: field("role"),
                        duration: field("duration"),
                        justification: field("justification"),
                    },
                },
                CardAction::Deny | CardAction::DenyAll => EventKind::Action {
                    action,
                    request_id,
                    reason: field("reason"),
                    items,
                },
                _ => return Inbound::Ignore,
            };
            let reply = Reply {
                application_id: m.application_id.get().to_string(),
                token: InteractionToken::new(m.token.clone()),
                ack: Ack::DeferredUpdate,
            };
            Inbound::Event {
                event: Box::new(ChatEvent {
                    id: m.id.get().to_string(),
                    actor,
                    scope,
                    kind,
                }),
                reply,
            }
        }
        Interaction::Autocomplete(_) => Inbound::Ignore,
        _ => Inbound::Ignore,
    }
}

const NO_GUILD: &str =
    "Please use Warden from the company server: I can't tell which workspace this DM belongs to.";

/// The verified account (guild + user id) and the conversation. In a guild, serenity has already
/// copied `member.user` into `user`. In a DM the configured home guild is the workspace.
fn who_and_where(
    guild: Option<GuildId>,
    user: &User,
    channel: Option<&PartialChannel>,
    channel_id: u64,
    home_guild: Option<&str>,
) -> Option<(PlatformUser, Scope)> {
    let workspace = match guild {
        Some(g) => g.get().to_string(),
        None => home_guild?.to_string(),
    };
    let actor = PlatformUser::new(
        Platform::Discord,
        workspace.clone(),
        user.id.get().to_string(),
    );
    Some((
        actor,
        scope(workspace, guild.is_none(), channel, channel_id),
    ))
}

/// A thread maps to its parent channel plus the thread id, so replies there are its request's.
pub fn scope(
    workspace: String,
    dm: bool,
    channel: Option<&PartialChannel>,
    channel_id: u64,
) -> Scope {
    let here = channel_id.to_string();
    if dm {
        return Scope {
            platform: Platform::Discord,
            workspace,
            channel: here,
            thread: None,
            kind: crate::domain::ScopeKind::Dm,
        };
    }
    let thread_parent = channel
        .filter(|c| {
            matches!(
                c.kind,
                ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
            )
        })
        .and_then(|c| c.parent_id);
    match thread_parent {
        Some(parent) => Scope {
            platform: Platform::Discord,
            workspace,
            channel: parent.get().to_string(),
            thread: Some(here),
            kind: crate::domain::ScopeKind::Thread,
        },
        None => Scope {
            platform: Platform::Discord,
            workspace,
            channel: here,
            thread: None,
            kind: crate::domain::ScopeKind::Channel,
        },
    }
}

/// `/access <subcommand> …` as the text the intake understands.
pub fn command_text(options: &[CommandDataOption]) -> Option<String> {
    let sub = options.first()?;
    let CommandDataOptionValue::SubCommand(args) = &sub.value else {
        return None;
    };
    let arg = |name: &str| {
        args.iter()
            .find(|o| o.name == name)
            .and_then(|o| match &o.value {
                CommandDataOptionValue::String(s) => {
                    Some(s.trim().to_string()).filter(|s| !s.is_empty())
                }
                _ => None,
            })
    };
    let text = match sub.name.as_str() {
        "ask" => arg("text")?,
        "request" => {
            let mut t = format!("request {} {}", arg("resource")?, arg("role")?);
            if let Some(d) = arg("duration") {
                t.push_str(&format!(" for {d}"));
            }
            if let Some(r) = arg("reason") {
                t.push_str(&format!(" because {r}"));
            }
            t
        }
        "status" => "status".into(),
        "revoke" => format!("revoke {}", arg("id")?),
        "cancel" => format!("cancel {}", arg("id")?),
        _ => return None,
    };
    Some(text)
}

fn modal_value(rows: &[ActionRow], id: &str) -> Option<String> {
    rows.iter()
        .flat_map(|r| r.components.iter())
        .find_map(|c| match c {
            ActionRowComponent::InputText(t) if t.custom_id == id => t.value.clone(),
            _ => None,
        })
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(name: &str, args: serde_json::Value) -> Vec<CommandDataOption> {
        serde_json::from_value(json!([{ "name": name, "type": 1, "options": args }])).unwrap()
    }

    #[test]
    fn subcommands_become_the_text_the_parser_understands() {
        let request = sub(
            "request",
            json!([
                { "name": "resource", "type": 3, "value": "prod-db" },
                { "name": "role", "type": 3, "value": "read" },
                { "name": "duration", "type": 3, "value": "2h" },
                { "name": "reason", "type": 3, "value": "INC-42" }
            ]),
        );
        assert_eq!(
            command_text(&request).as_deref(),
            Some("request prod-db read for 2h because INC-42")
        );
        assert_eq!(
            command_text(&sub(
                "ask",
                json!([{ "name": "text", "type": 3, "value": "read on billing db for 1h" }])
            ))
            .as_deref(),
            Some("read on billing db for 1h")
        );
        assert_eq!(
            command_text(&sub("status", json!([]))).as_deref(),
            Some("status")
        );
        assert_eq!(
            command_text(&sub(
                "revoke",
                json!([{ "name": "id", "type": 3, "value": "AR-1" }])
            ))
            .as_deref(),
            Some("revoke AR-1")
        );
        assert_eq!(
            command_text(&sub("cancel", json!([]))),
            None,
            "cancel needs an id"
        );
    }

    #[test]
    fn a_thread_maps_to_its_parent_channel_and_the_thread_id() {
        let thread: PartialChannel =
            serde_json::from_value(json!({ "id": "30", "type": 11, "parent_id": "20" })).unwrap();
        let s = scope("1".into(), false, Some(&thread), 30);
        assert_eq!(
            (s.channel.as_str(), s.thread.as_deref(), s.kind.as_str()),
            ("20", Some("30"), "thread")
        );
        let text: PartialChannel =
            serde_json::from_value(json!({ "id": "20", "type": 0 })).unwrap();
        let s = scope("1".into(), false, Some(&text), 20);
        assert_eq!(
            (s.channel.as_str(), s.thread, s.kind.as_str()),
            ("20", None, "channel")
        );
        let s = scope("1".into(), true, None, 99);
        assert_eq!((s.channel.as_str(), s.kind.as_str()), ("99", "dm"));
    }
}
