//! The workflow engine: drives each request from words to revocation, platform-free.
//!
//! Adapters hand it verified `ChatEvent`s; it answers through the `ChatPort`s. Every state change
//! is a compare-and-set transaction that also appends to the request's context log; work that
//! must happen exactly once (grant, revoke, expiry) is a DB-backed job.
//!
//! Error policy: a `UserError` is shown to the person as it is; anything else is logged with its
//! cause chain and the person sees a short generic line with a reference.

use crate::chat::{ChatEvent, ChatPort, EventKind, Scope};
use crate::clock::Clock;
use crate::directory::Directory;
use crate::domain::{Catalog, Person, Platform, PlatformUser};
use crate::grants::GrantorRegistry;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::policy::PolicyEngine;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod approvals;
mod cards;
mod decide;
mod edit_form;
mod intake;
mod jobs;
mod lifecycle;
mod plan;
mod status;

pub use cards::request_card_fields;
pub use plan::{ApprovalPlan, PlannedStep};

/// Settings the workflow needs, already parsed.
#[derive(Debug, Clone)]
pub struct WorkflowOptions {
    pub confirm: ConfirmMode,
    pub pending_ttl_secs: u64,
    pub confirm_ttl_secs: u64,
    pub reminder_before_secs: u64,
    pub expiry_warning_before_secs: u64,
    pub max_extensions: u32,
    pub max_clarify_turns: u32,
    pub security_channel: Option<(Platform, String)>,
    pub break_glass_secs: u64,
    /// How long a claimed job is held before another worker may take it over.
    pub job_lease_secs: u64,
}

impl Default for WorkflowOptions {
    fn default() -> Self {
        Self {
            confirm: ConfirmMode::Always,
            pending_ttl_secs: 4 * 3600,
            confirm_ttl_secs: 3600,
            reminder_before_secs: 3600,
            expiry_warning_before_secs: 900,
            max_extensions: 2,
            max_clarify_turns: 3,
            security_channel: None,
            break_glass_secs: 3600,
            job_lease_secs: 60,
        }
    }
}

impl WorkflowOptions {
    pub fn from_settings(w: &crate::config::WorkflowSettings) -> Self {
        use crate::config::secs;
        let security_channel = w.security_channel.as_deref().and_then(|s| {
            let (p, c) = s.split_once(':')?;
            Some((Platform::parse(p)?, c.to_string()))
        });
        Self {
            confirm: match w.confirm.as_str() {
                "never" => ConfirmMode::Never,
                "approval_only" => ConfirmMode::ApprovalOnly,
                _ => ConfirmMode::Always,
            },
            pending_ttl_secs: secs(&w.pending_ttl),
            confirm_ttl_secs: secs(&w.confirm_ttl),
            reminder_before_secs: secs(&w.reminder_before),
            expiry_warning_before_secs: secs(&w.expiry_warning_before),
            max_extensions: w.max_extensions,
            max_clarify_turns: w.max_clarify_turns,
            security_channel,
            break_glass_secs: secs(&w.break_glass_duration),
            job_lease_secs: 60,
        }
    }
}

/// When the requester must confirm what the intake understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmMode {
    Always,
    ApprovalOnly,
    Never,
}

/// Everything the engine is built from.
pub struct EngineParts {
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub directory: Arc<dyn Directory>,
    pub policy: Arc<dyn PolicyEngine>,
    pub intake: Arc<dyn Intake>,
    pub grantors: GrantorRegistry,
    pub chats: Vec<Arc<dyn ChatPort>>,
    pub clock: Arc<dyn Clock>,
    pub options: WorkflowOptions,
    pub metrics: Arc<Metrics>,
}

pub struct Engine {
    pub(crate) store: Store,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) policy: Arc<dyn PolicyEngine>,
    pub(crate) intake: Arc<dyn Intake>,
    pub(crate) parser: Arc<dyn Intake>,
    pub(crate) grantors: GrantorRegistry,
    pub(crate) chats: HashMap<Platform, Arc<dyn ChatPort>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: WorkflowOptions,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) worker_id: String,
    /// Test hook: stop right after approval is committed, before the grant job runs (a crash).
    pub(crate) halt_before_grant: AtomicBool,
}

/// The log entry for a message Warden sends, to append in the transaction that causes it.
pub(crate) fn outgoing(text: &str) -> crate::store::NewLogEntry {
    crate::store::NewLogEntry::new(
        crate::store::LogKind::MessageOut,
        "warden",
        serde_json::json!({ "text": text }),
    )
}

/// A message for the person who acted: shown as it is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

pub(crate) fn user_error(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// How an inbound event ended, for adapters that answer synchronously and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Done,
    Duplicate,
    /// Refused with a message for the actor.
    Refused(String),
}

impl Engine {
    pub fn new(parts: EngineParts) -> Self {
        let chats = parts.chats.into_iter().map(|c| (c.platform(), c)).collect();
        Self {
            store: parts.store,
            catalog: parts.catalog,
            directory: parts.directory,
            policy: parts.policy,
            intake: parts.intake,
            parser: Arc::new(crate::intake::ParserIntake),
            grantors: parts.grantors,
            chats,
            clock: parts.clock,
            options: parts.options,
            metrics: parts.metrics,
            worker_id: format!("w-{}", uuid::Uuid::new_v4().simple()),
            halt_before_grant: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn directory(&self) -> &dyn Directory {
        self.directory.as_ref()
    }

    /// Registers a chat adapter after construction (adapters that need the engine themselves).
    pub fn add_chat(&mut self, chat: Arc<dyn ChatPort>) {
        self.chats.insert(chat.platform(), chat);
    }

    /// Makes the engine stop after committing an approval, as if the process died there.
    pub fn simulate_crash_before_grant(&self, on: bool) {
        self.halt_before_grant.store(on, Ordering::SeqCst);
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn chat(&self, platform: Platform) -> Option<&Arc<dyn ChatPort>> {
        self.chats.get(&platform)
    }

    /// Handles one verified inbound event, once: a redelivery is recognised and ignored.
    pub async fn handle(&self, event: ChatEvent) -> anyhow::Result<Handled> {
        let started = std::time::Instant::now();
        if !self
            .store
            .first_delivery(
                &format!("{}:{}", event.actor.platform, event.id),
                self.now_ms(),
            )
            .await?
        {
            tracing::debug!(event = %event.id, "duplicate delivery ignored");
            self.metrics
                .inc("warden_events_total", "result=\"duplicate\"", 1);
            return Ok(Handled::Duplicate);
        }
        let result = self.dispatch(&event).await;
        self.metrics
            .observe("warden_event_seconds", "", started.elapsed().as_secs_f64());
        match result {
            Ok(h) => {
                self.metrics.inc("warden_events_total", "result=\"ok\"", 1);
                Ok(h)
            }
            Err(err) => {
                if let Some(UserError(msg)) = err.downcast_ref::<UserError>() {
                    self.metrics
                        .inc("warden_events_total", "result=\"refused\"", 1);
                    self.reply_to_actor(&event, msg).await;
                    return Ok(Handled::Refused(msg.clone()));
                }
                self.metrics
                    .inc("warden_events_total", "result=\"error\"", 1);
                tracing::error!(event = %event.id, error = ?err, "failed to handle event");
                let msg = format!(
                    "Something went wrong on Warden's side; nothing was changed. Please try again, or quote ref {} to an admin.",
                    event.id
                );
                self.reply_to_actor(&event, &msg).await;
                Err(err)
            }
        }
    }

    async fn dispatch(&self, event: &ChatEvent) -> anyhow::Result<Handled> {
        match &event.kind {
            EventKind::Message { text, message_id } => {
                self.on_message(event, text, Some(message_id)).await
            }
            EventKind::Command { text } => self.on_message(event, text, None).await,
            EventKind::Action {
                action,
                request_id,
                reason,
            } => {
                self.on_action(event, *action, request_id, reason.as_deref())
                    .await
            }
            EventKind::EditSubmitted { request_id, fields } => {
                self.on_edit(event, request_id, fields).await
            }
        }
    }

    /// The directory person behind a verified account; unknown accounts are refused.
    pub(crate) async fn principal(&self, account: &PlatformUser) -> anyhow::Result<Person> {
        match self.directory.person_by_account(account).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(user_error(
                "I can't find your account in the company directory, so I can't act for you. Ask an admin to link it.",
            )),
            Err(e) => {
                tracing::warn!(error = ?e, "directory lookup failed");
                Err(user_error(
                    "The company directory is not answering right now, so I can't check who you are. Nothing was changed; please try again shortly.",
                ))
            }
        }
    }

    /// Replies to whoever caused an event, where they are: ephemeral for clicks.
    async fn reply_to_actor(&self, event: &ChatEvent, text: &str) {
        let Some(chat) = self.chat(event.actor.platform) else {
            return;
        };
        let res = match event.kind {
            EventKind::Action { .. } | EventKind::EditSubmitted { .. } => {
                chat.ephemeral(&event.scope, &event.actor, text).await
            }
            _ => chat.send(&event.scope, text).await.map(|_| ()),
        };
        if let Err(e) = res {
            tracing::warn!(error = ?e, "failed to reply to the actor");
        }
    }

    /// Sends text into a scope and records it in the request's log.
    pub(crate) async fn say(&self, request_id: &str, scope: &Scope, text: &str) {
        self.deliver(request_id, scope, text).await;
        if let Err(e) = self
            .store
            .append_log(request_id, self.now_ms(), &[outgoing(text)])
            .await
        {
            tracing::warn!(request = request_id, error = ?e, "failed to log an outgoing message");
        }
    }

    /// Sends text whose `outgoing` log entry was already written with the state change it reports.
    pub(crate) async fn deliver(&self, request_id: &str, scope: &Scope, text: &str) {
        if let Some(chat) = self.chat(scope.platform)
            && let Err(e) = chat.send(scope, text).await
        {
            tracing::warn!(request = request_id, error = ?e, "failed to send a message");
        }
    }
}
