//! Verified Slack payloads → what Warden does with them. No I/O.
//!
//! Only the fields Warden uses are read, each leniently, so an unrelated change in Slack's
//! payloads never drops a click. Who acted always comes from the payload's user and team,
//! never from text; a button's request id is only a claim the engine checks.

use super::blocks::parse_action_id;
use super::modals::{self, DENY_ALL_CALLBACK, DENY_CALLBACK, EDIT_CALLBACK, ModalContext};
use crate::chat::{CardAction, ChatEvent, EventKind, Scope, parse_button_target};
use crate::domain::{Platform, PlatformUser};
use serde::Deserialize;

/// What one inbound payload asks of Warden.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// `url_verification`: answer with the challenge.
    Challenge(String),
    /// Hand to the engine.
    Event(ChatEvent),
    /// A reply in a channel thread: Warden's only if that thread is a request's.
    ThreadReply(ChatEvent),
    /// Open a modal; `fallback` goes to the engine when the modal is not for this person.
    OpenModal {
        kind: ModalKind,
        trigger_id: String,
        ctx: ModalContext,
        fallback: ChatEvent,
    },
    Ignored(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModalKind {
    Edit,
    Deny,
    /// "Deny all" on a bundle's approval card: one reason for every listed item.
    DenyAll,
}

#[derive(Debug, thiserror::Error)]
#[error("unreadable Slack payload: {0}")]
pub struct PayloadError(String);

fn bad(e: impl std::fmt::Display) -> PayloadError {
    PayloadError(e.to_string())
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<MessageEvent>,
    #[serde(default)]
    authorizations: Vec<Authorization>,
}

#[derive(Deserialize)]
struct Authorization {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct MessageEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    user_team: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    channel_type: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    /// `app_home_opened`: which tab of the App Home (`home` or `messages`).
    #[serde(default)]
    tab: Option<String>,
}

/// `POST /slack/events` (and Socket Mode `events_api` envelopes).
pub fn parse_event(body: &str) -> Result<Inbound, PayloadError> {
    let env: Envelope = serde_json::from_str(body).map_err(bad)?;
    match env.kind.as_str() {
        "url_verification" => return Ok(Inbound::Challenge(env.challenge.unwrap_or_default())),
        "event_callback" => {}
        _ => return Ok(Inbound::Ignored("not an event callback")),
    }
    let (Some(ev), Some(event_id), Some(team)) = (env.event, env.event_id, env.team_id) else {
        return Err(bad("event_callback without event, event_id or team_id"));
    };
    if ev.kind == "app_home_opened" {
        return Ok(home_opened(ev, event_id, team));
    }
    let bot_user = env.authorizations.into_iter().find_map(|a| a.user_id);
    if ev.subtype.is_some() || ev.bot_id.is_some() {
        return Ok(Inbound::Ignored("bot message, edit or other subtype"));
    }
    let (Some(user), Some(channel), Some(ts)) = (ev.user, ev.channel, ev.ts) else {
        return Ok(Inbound::Ignored("message without user, channel or ts"));
    };
    if bot_user.as_deref() == Some(user.as_str()) {
        return Ok(Inbound::Ignored("Warden's own message"));
    }
    let mention = bot_user.as_deref().map(|b| format!("<@{b}>"));
    let raw = ev.text.unwrap_or_default();
    let text = match &mention {
        Some(m) => raw.replace(m.as_str(), " ").trim().to_string(),
        None => raw.trim().to_string(),
    };
    let thread = ev.thread_ts.filter(|t| *t != ts);
    let dm = ev.channel_type.as_deref() == Some("im");
    let actor = PlatformUser::new(
        Platform::Slack,
        ev.user_team.unwrap_or_else(|| team.clone()),
        user,
    );
    let scope = Scope {
        platform: Platform::Slack,
        workspace: team,
        channel,
        thread: thread.clone(),
        kind: if dm {
            crate::domain::ScopeKind::Dm
        } else {
            crate::domain::ScopeKind::Channel
        },
    };
    let event = ChatEvent {
        id: event_id,
        actor,
        scope,
        kind: EventKind::Message {
            text,
            message_id: ts,
        },
    };
    Ok(match ev.kind.as_str() {
        "app_mention" => Inbound::Event(event),
        "message" if dm => Inbound::Event(event),
        // A mention arrives as app_mention too; taking it once here avoids handling it twice.
        "message" if thread.is_some() && !mention.is_some_and(|m| raw.contains(&m)) => {
            Inbound::ThreadReply(event)
        }
        _ => Inbound::Ignored("channel message outside a thread"),
    })
}

/// `app_home_opened` for the Home tab: the person behind it gets their home published. The
/// Messages tab opens nothing.
fn home_opened(ev: MessageEvent, event_id: String, team: String) -> Inbound {
    let (Some(user), Some("home")) = (ev.user, ev.tab.as_deref()) else {
        return Inbound::Ignored("App Home opened on another tab");
    };
    Inbound::Event(ChatEvent {
        id: event_id,
        actor: PlatformUser::new(
            Platform::Slack,
            ev.user_team.unwrap_or_else(|| team.clone()),
            user,
        ),
        scope: Scope {
            platform: Platform::Slack,
            workspace: team,
            channel: ev.channel.unwrap_or_default(),
            thread: None,
            kind: crate::domain::ScopeKind::Dm,
        },
        kind: EventKind::HomeOpened,
    })
}

/// The fields of a slash command (form-encoded over HTTP, JSON in Socket Mode).
#[derive(Debug, Default, Deserialize)]
pub struct Command {
    pub team_id: String,
    pub user_id: String,
    pub channel_id: String,
    #[serde(default)]
    pub channel_name: Option<String>,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub text: Option<String>,
    pub trigger_id: String,
}

impl Command {
    pub fn from_form(body: &str) -> Result<Self, PayloadError> {
        let mut c = Command::default();
        for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "team_id" => c.team_id = v,
                "user_id" => c.user_id = v,
                "channel_id" => c.channel_id = v,
                "channel_name" => c.channel_name = Some(v),
                "command" => c.command = v,
                "text" => c.text = Some(v),
                "trigger_id" => c.trigger_id = v,
                _ => {}
            }
        }
        if c.team_id.is_empty()
            || c.user_id.is_empty()
            || c.channel_id.is_empty()
            || c.trigger_id.is_empty()
        {
            return Err(bad(
                "slash command without team, user, channel or trigger id",
            ));
        }
        Ok(c)
    }

    /// `/access request …` → a Command event; the trigger id makes each invocation one event.
    pub fn into_inbound(self) -> Inbound {
        let dm = self.channel_id.starts_with('D')
            || self.channel_name.as_deref() == Some("directmessage");
        let command = if self.command.is_empty() {
            "/access".to_string()
        } else {
            self.command
        };
        let text = format!("{command} {}", self.text.unwrap_or_default())
            .trim()
            .to_string();
        Inbound::Event(ChatEvent {
            id: format!("cmd:{}", self.trigger_id),
            actor: PlatformUser::new(Platform::Slack, self.team_id.clone(), self.user_id),
            scope: Scope {
                platform: Platform::Slack,
                workspace: self.team_id,
                channel: self.channel_id,
                thread: None,
                kind: if dm {
                    crate::domain::ScopeKind::Dm
                } else {
                    crate::domain::ScopeKind::Channel
                },
            },
            kind: EventKind::Command { text },
        })
    }
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    team: Option<IdOnly>,
    user: InteractionUser,
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    channel: Option<IdOnly>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    message: Option<Container>,
    #[serde(default)]
    actions: Vec<ActionInfo>,
    #[serde(default)]
    view: Option<View>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct InteractionUser {
    id: String,
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Container {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
}

#[derive(Deserialize)]
struct ActionInfo {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    action_ts: Option<String>,
}

#[derive(Deserialize)]
struct View {
    id: String,
    #[serde(default)]
    callback_id: Option<String>,
    #[serde(default)]
    private_metadata: Option<String>,
    #[serde(default)]
    state: Option<ViewState>,
}

#[derive(Deserialize)]
struct ViewState {
    #[serde(default)]
    values: serde_json::Value,
}

/// The `payload` field of `POST /slack/interactions`.
pub fn interaction_payload(form_body: &str) -> Result<String, PayloadError> {
    url::form_urlencoded::parse(form_body.as_bytes())
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| bad("interaction without a payload field"))
}

/// block_actions and view_submission payloads.
pub fn parse_interaction(json: &str) -> Result<Vec<Inbound>, PayloadError> {
    let i: Interaction = serde_json::from_str(json).map_err(bad)?;
    let team = i
        .user
        .team_id
        .clone()
        .or(i.team.map(|t| t.id))
        .ok_or_else(|| bad("interaction without a team"))?;
    let actor = PlatformUser::new(Platform::Slack, team.clone(), i.user.id.clone());
    match i.kind.as_str() {
        "block_actions" => {
            let channel = i
                .channel
                .map(|c| c.id)
                .or_else(|| i.container.as_ref().and_then(|c| c.channel_id.clone()))
                .unwrap_or_default();
            let thread = i
                .container
                .and_then(|c| c.thread_ts)
                .or(i.message.and_then(|m| m.thread_ts));
            let kind = if channel.starts_with('D') {
                crate::domain::ScopeKind::Dm
            } else {
                crate::domain::ScopeKind::Channel
            };
            let scope = Scope {
                platform: Platform::Slack,
                workspace: team,
                channel: channel.clone(),
                thread: thread.clone(),
                kind,
            };
            let trigger = i.trigger_id.unwrap_or_default();
            Ok(i.actions
                .into_iter()
                .map(|a| {
                    let Some(action) = parse_action_id(&a.action_id) else {
                        return Inbound::Ignored("not a Warden button");
                    };
                    let Some((request_id, items)) = a
                        .value
                        .as_deref()
                        .and_then(|v| parse_button_target(action, v))
                    else {
                        return Inbound::Ignored("not a Warden button");
                    };
                    // A click has no event id; its trigger id (or time, user and button) is unique.
                    let id = if trigger.is_empty() {
                        format!(
                            "act:{}:{}:{}",
                            a.action_ts.unwrap_or_default(),
                            actor.user_id,
                            a.action_id
                        )
                    } else {
                        format!("act:{trigger}")
                    };
                    let event = ChatEvent {
                        id,
                        actor: actor.clone(),
                        scope: scope.clone(),
                        kind: EventKind::Action {
                            action,
                            request_id: request_id.clone(),
                            reason: None,
                            items: items.clone(),
                        },
                    };
                    let ctx = ModalContext {
                        request_id: a.value.clone().unwrap_or_default(),
                        channel: channel.clone(),
                        thread: thread.clone(),
                    };
                    match action {
                        CardAction::Edit if !trigger.is_empty() => Inbound::OpenModal {
                            kind: ModalKind::Edit,
                            trigger_id: trigger.clone(),
                            ctx,
                            fallback: event,
                        },
                        CardAction::Deny if !trigger.is_empty() => Inbound::OpenModal {
                            kind: ModalKind::Deny,
                            trigger_id: trigger.clone(),
                            ctx,
                            fallback: event,
                        },
                        CardAction::DenyAll if !trigger.is_empty() => Inbound::OpenModal {
                            kind: ModalKind::DenyAll,
                            trigger_id: trigger.clone(),
                            ctx,
                            fallback: event,
                        },
                        _ => Inbound::Event(event),
                    }
                })
                .collect())
        }
        "view_submission" => {
            let view = i
                .view
                .ok_or_else(|| bad("view_submission without a view"))?;
            let Some(ctx) = view
                .private_metadata
                .as_deref()
                .and_then(|m| serde_json::from_str::<ModalContext>(m).ok())
            else {
                return Ok(vec![Inbound::Ignored("a modal Warden did not open")]);
            };
            let action = match view.callback_id.as_deref() {
                Some(DENY_ALL_CALLBACK) => CardAction::DenyAll,
                _ => CardAction::Deny,
            };
            let Some((request_id, items)) = parse_button_target(action, &ctx.request_id) else {
                return Ok(vec![Inbound::Ignored("modal for an unknown request id")]);
            };
            let values = view.state.map(|s| s.values).unwrap_or_default();
            let kind = match view.callback_id.as_deref() {
                Some(EDIT_CALLBACK) => EventKind::EditSubmitted {
                    request_id,
                    fields: modals::edit_fields(&values),
                },
                Some(DENY_CALLBACK | DENY_ALL_CALLBACK) => EventKind::Action {
                    action,
                    request_id,
                    reason: modals::value(&values, "reason"),
                    items,
                },
                _ => return Ok(vec![Inbound::Ignored("a modal Warden did not open")]),
            };
            let kind_label = if ctx.channel.starts_with('D') {
                crate::domain::ScopeKind::Dm
            } else {
                crate::domain::ScopeKind::Channel
            };
            let scope = Scope {
                platform: Platform::Slack,
                workspace: team,
                channel: ctx.channel,
                thread: ctx.thread,
                kind: kind_label,
            };
            // One submission per modal: the view id makes a redelivery a duplicate.
            Ok(vec![Inbound::Event(ChatEvent {
                id: format!("view:{}", view.id),
                actor,
                scope,
                kind,
            })])
        }
        _ => Ok(vec![Inbound::Ignored(
            "interaction type Warden does not use",
        )]),
    }
}
