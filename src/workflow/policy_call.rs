//! Asking the policy decision point: the versioned input it sees, the call with its metrics,
//! and a preview that acts on nothing.

use super::Engine;
use crate::domain::{Decision, Intent, Person, Request, Resource};
use crate::policy::{
    ChannelInput, INPUT_VERSION, PolicyInput, RequestContextInput, RequesterInput, ResourceInput,
    SubjectInput,
};

impl Engine {
    /// Asks the PDP, with metrics. Only this and approvers' clicks change access.
    pub(crate) async fn ask_policy(&self, input: &PolicyInput) -> Decision {
        let started = std::time::Instant::now();
        let decision = self.policy.decide(input).await;
        if let Some(fault) = decision.fault_info() {
            // The one place a PDP's fault is logged with the reference the requester is shown.
            tracing::error!(
                reference = %fault.reference,
                engine = self.policy.name(),
                requester = %input.requester.id,
                detail = %fault.detail,
                "the policy decision point could not decide; denied"
            );
        }
        self.metrics.observe(
            "warden_policy_seconds",
            &format!("engine=\"{}\"", self.policy.name()),
            started.elapsed().as_secs_f64(),
        );
        self.metrics.inc(
            "warden_decisions_total",
            &format!("outcome=\"{}\"", decision.outcome()),
            1,
        );
        decision
    }

    /// The versioned document the PDP sees. Identity from the directory; intent already validated.
    pub(crate) fn policy_input(
        &self,
        req: &Request,
        person: &Person,
        intent: &Intent,
        resource: &Resource,
        context: RequestContextInput,
    ) -> PolicyInput {
        PolicyInput {
            version: INPUT_VERSION.into(),
            subject: SubjectInput::Person,
            requester: RequesterInput::from_person(person, &req.requester_account()),
            intent: intent.clone(),
            resource: ResourceInput::from_resource(
                resource,
                intent.role.as_deref().unwrap_or_default(),
            ),
            time: self.clock.now().to_rfc3339(),
            channel: ChannelInput {
                platform: req.origin.platform.as_str().into(),
                workspace: req.origin.workspace.clone(),
                channel: req.origin.channel.clone(),
                kind: req.origin.kind.as_str().into(),
            },
            context,
            // Filled in by the callers that ask the source (`oncall_input`): it is I/O.
            oncall: Default::default(),
        }
    }

    /// Evaluates policy without acting, for "confirm only when approval is needed".
    pub(crate) async fn preview_allows(
        &self,
        req: &Request,
        person: &Person,
        intent: &Intent,
    ) -> bool {
        let Some(resource) = intent.resource.as_deref().and_then(|r| self.catalog.get(r)) else {
            return false;
        };
        let mut input = self.policy_input(
            req,
            person,
            intent,
            resource,
            RequestContextInput::default(),
        );
        input.oncall = self.oncall_input(&input.subject, person).await;
        matches!(
            self.policy.decide(&input).await,
            Decision::Allow {
                break_glass: false,
                ..
            }
        )
    }
}
