//! The domain in plain types: requests and their state machine, intents, the catalog, principals. No I/O.

pub mod agent;
pub mod agent_ask;
pub mod aggregate;
pub mod catalog;
pub mod credential;
pub mod decision;
pub mod drift;
pub mod duration;
pub mod evidence;
pub mod freeze;
pub mod freeze_step_up;
pub mod grant;
pub mod intent;
pub mod items;
pub mod jobs;
pub mod principal;
pub mod redact;
pub mod request;
pub mod sealing;
pub mod step_up;
pub mod text;

pub use agent::{Agent, AgentRegistry, AgentRegistryError, TokenAlgorithm, WorkloadBinding};
pub use agent_ask::{AgentAsk, AskDuration, AskError};
pub use aggregate::{Approval, ChainHead, Origin, Patch, Request, ScopeKind, Verdict};
pub use catalog::{Catalog, CatalogError, Resource, Risk, RoleSpec};
pub use credential::Credential;
pub use decision::{
    ApprovalPlan, ApprovalStep, ApproverSpec, Decision, Obligation, PlannedStep, PolicyFault,
};
pub use drift::{DriftAction, DriftFinding, DriftKind, ReconcileMode};
pub use duration::{format_duration, parse_duration};
pub use evidence::{Entry, Evidence, LogKind};
pub use freeze::{Freeze, FreezeScope, FreezeScopeError, Lift, Subject};
pub use freeze_step_up::{AdminAction, AdminGate, Confirmation, FreezeStepUp};
pub use grant::{GrantEffect, GrantReceipt, GrantRecord, GrantSummary, PriorAccess};
pub use intent::{Action, Field, Intent, IntentError};
pub use items::{Item, MAX_ITEMS};
pub use jobs::{CardKind, Job, JobKind, JobStatus, Lane, PostedCard};
pub use principal::{Person, Platform, PlatformUser, Principal};
pub use request::{RequestEvent, RequestId, RequestState, TransitionError};
pub use sealing::{SealError, SealingKey};
pub use step_up::{PasskeyProof, StepUpLink, StepUpPurpose, StepUpToken};
