//! The workflow engine: drives each request from words to revocation, platform-free.
//!
//! Adapters hand it verified `ChatEvent`s; it answers through the `ChatPort`s. Every change to a
//! request is a `Step` committed through `Engine::commit_step` (one transaction: state, fields,
//! log, jobs), and what follows a change — card refreshes, messages, inline jobs — happens in
//! one place after it (`step.rs`). Work that must happen exactly once is a DB-backed job.
//!
//! Error policy: a `UserError` is shown to the person as it is; anything else is logged with its
//! cause chain and the person sees a short generic line with a reference.

use crate::chat::{ChatPort, Scope};
use crate::clock::Clock;
use crate::directory::Directory;
use crate::domain::{Catalog, Person, Platform, PlatformUser, Request, Resource};
use crate::grants::GrantorRegistry;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::policy::PolicyEngine;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;

mod actions;
mod agent;
mod agent_credentials;
mod agent_ops;
mod approvals;
mod approver;
mod asking;
mod backend;
mod break_glass;
mod bundle;
mod bundle_approvals;
mod card_posts;
mod cards;
mod compensate;
mod credentials;
mod decide;
mod decision;
mod deny;
mod edit;
mod extend;
mod extension;
mod freeze;
mod freeze_revoke;
mod freeze_step_up;
mod grant;
mod home;
mod inbound;
mod inbox;
mod intake;
mod job_failures;
mod jobs;
mod limits;
mod oncall;
mod plan;
mod policy_call;
mod prior_access;
mod reading;
mod reason;
mod reconcile;
mod revoke;
mod shared_access;
mod status;
mod step;
mod step_up;

pub use agent::{AGENT_WORKSPACE, AgentCaller, AgentChannel, AgentOpError, ConflictKind};
pub use agent_ops::AGENT_LIST_LIMIT;
pub use cards::request_card_fields;
pub use freeze_revoke::{DEFAULT_REVOKE_CONCURRENCY, RevokeOutcome, RevokeProgress, RevokeSummary};
pub use freeze_step_up::{AdminActor, AdminVia, FreezeConfirmed, FreezeStepUpView, StepUpRequired};
pub use inbox::Queued;
pub use plan::{ApprovalPlan, PlannedStep};
pub use reconcile::{
    Outcome as ReconcileOutcome, ReconcileReport, ResourceDrift, label as metric_label,
};
pub(crate) use step::Step;

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
    /// What one person's words may cost (`[limits]`).
    pub limits: crate::config::LimitsSettings,
    /// Time between scheduled drift reconciliation runs; `None`: on demand only.
    pub reconcile_interval_secs: Option<u64>,
    /// How long one run may hold a resource (and a finding it is removing).
    pub reconcile_lease_secs: u64,
    /// How often the inbox is looked at without a wake-up: for events stored by another
    /// instance, or left by a crashed one (this instance's own arrivals and freed slots wake it).
    pub inbox_poll_ms: u64,
    /// Inbound events one process handles at once: the bound on work (and memory) in flight,
    /// whatever the size of a burst; the rest waits on disk. Most of an event's time is spent
    /// waiting for the model (seconds), so the bound is set by how many people may wait on the
    /// model at once, not by CPU: at 16, 200 people writing at once with a 1 s model waited
    /// 7 s (median) for their cards, 16 model calls a second.
    pub inbox_slots: usize,
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
            limits: Default::default(),
            reconcile_interval_secs: None,
            reconcile_lease_secs: 300,
            inbox_poll_ms: 500,
            inbox_slots: 256,
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
            // Not in `[workflow]`: set elsewhere (`App::from_settings`) or engine defaults.
            ..Self::default()
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
    /// Deliveries being handled by this process right now.
    pub(crate) in_flight: inbound::InFlightSet,
    /// Woken when an event is stored in the inbox, so it is handled without waiting for a poll.
    pub(crate) inbox_ready: tokio::sync::Notify,
    /// Model calls per person in the last hour, in this process.
    pub(crate) model_calls: limits::ModelBudget,
    /// Registered agents: who they are, their owners and ceilings (see `agent.rs`).
    pub(crate) agents: Arc<crate::domain::AgentRegistry>,
    /// Seals credentials an agent fetches later (`agents.credential_key`); `None`: not set.
    pub(crate) sealing: Option<Arc<crate::domain::SealingKey>>,
    /// Warden's public origin for step-up links, where SSO and passkeys are configured;
    /// `None`: a decision requiring step-up cannot be met, and its approvals are refused.
    pub(crate) step_up_origin: Option<String>,
    /// Who is on call now (`[oncall]`); `None`: no source, nobody is known to be on call.
    pub(crate) oncall: Option<Arc<crate::oncall::CachedOnCall>>,
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
            in_flight: Arc::default(),
            inbox_ready: tokio::sync::Notify::new(),
            model_calls: Default::default(),
            agents: Arc::default(),
            sealing: None,
            step_up_origin: None,
            oncall: None,
        }
    }

    /// Enables passkey step-up, with links to `origin` (`https://warden.example.com`).
    pub fn set_step_up_origin(&mut self, origin: Option<String>) {
        self.step_up_origin = origin;
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The configured policy decision point.
    pub fn policy(&self) -> &dyn PolicyEngine {
        self.policy.as_ref()
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

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn chat(&self, platform: Platform) -> Option<&Arc<dyn ChatPort>> {
        self.chats.get(&platform)
    }

    /// The catalog entry a request names; one taken out of the catalog since is the user's to hear.
    pub(crate) fn resource_of(&self, req: &Request) -> anyhow::Result<&Resource> {
        let id = req
            .resource()
            .ok_or_else(|| anyhow::anyhow!("request {} names no resource", req.id))?;
        self.catalog.get(id).ok_or_else(|| {
            user_error(format!(
                "{id} is no longer in the catalog, so request {} can't go on.",
                req.id
            ))
        })
    }

    /// The directory person behind a verified account; unknown accounts are refused.
    pub(crate) async fn principal(&self, account: &PlatformUser) -> anyhow::Result<Person> {
        match self.directory.person_by_account(account).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(user_error(
                "I can't find your account in the company directory, so I can't act for you. Ask an admin to link it.",
            )),
            Err(crate::directory::DirectoryError::Refused(why)) => Err(user_error(why)),
            Err(e) => {
                tracing::warn!(error = ?e, "directory lookup failed");
                Err(user_error(
                    "The company directory is not answering right now, so I can't check who you are. Nothing was changed; please try again shortly.",
                ))
            }
        }
    }

    /// Says something only `actor` may see: status, an approver's queue, a refusal. In a DM (or
    /// the local console) a plain message already is private; in a channel or thread it is an
    /// ephemeral reply (Slack `chat.postEphemeral`, Discord's interaction follow-up), and the
    /// adapter falls back to a DM — never a post everyone in the channel reads.
    pub(crate) async fn tell_privately(&self, scope: &Scope, actor: &PlatformUser, text: &str) {
        let Some(chat) = self.chat(scope.platform) else {
            return;
        };
        let sent = match scope.kind {
            crate::domain::ScopeKind::Dm
            | crate::domain::ScopeKind::Console
            | crate::domain::ScopeKind::Api => chat.send(scope, text).await.map(|_| ()),
            crate::domain::ScopeKind::Channel | crate::domain::ScopeKind::Thread => {
                chat.ephemeral(scope, actor, text).await
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = ?e, "failed to answer privately");
        }
    }

    /// Replies where an event came from, unlogged (the answer is not about one request).
    pub(crate) async fn send_unlogged(&self, scope: &Scope, text: &str) {
        if let Some(chat) = self.chat(scope.platform)
            && let Err(e) = chat.send(scope, text).await
        {
            tracing::warn!(error = ?e, "failed to send a message");
        }
    }
}
