//! Who approves: the policy's steps resolved to directory people, never by display name.

use super::Engine;
use crate::domain::{Person, Resource};
use crate::policy::{ApprovalStep, ApproverSpec};

pub use crate::domain::decision::{ApprovalPlan, PlannedStep, describe};

impl Engine {
    /// The people who may approve one step now. The requester is never among them.
    pub(crate) async fn eligible_for(
        &self,
        spec: &ApproverSpec,
        requester: &Person,
        resource: &Resource,
    ) -> Result<Vec<Person>, String> {
        let unavailable = |e: crate::directory::DirectoryError| {
            tracing::warn!(error = ?e, "directory fault while resolving approvers");
            "the company directory is not answering".to_string()
        };
        let people = match spec {
            ApproverSpec::Manager => {
                // The requester's manager as the directory says now, not as the request said.
                let fresh = self
                    .directory
                    .person(&requester.id)
                    .await
                    .map_err(unavailable)?;
                let manager = fresh
                    .as_ref()
                    .and_then(|p| p.manager.clone())
                    .or_else(|| requester.manager.clone());
                match manager {
                    Some(m) => self
                        .directory
                        .person(&m)
                        .await
                        .map_err(unavailable)?
                        .into_iter()
                        .collect(),
                    None => vec![],
                }
            }
            ApproverSpec::Owners => {
                let mut v = Vec::new();
                for id in &resource.owners {
                    if let Some(p) = self.directory.person(id).await.map_err(unavailable)? {
                        v.push(p);
                    }
                }
                v
            }
            ApproverSpec::Group { group } => self
                .directory
                .group_members(group)
                .await
                .map_err(unavailable)?,
            ApproverSpec::Users { users } => {
                let mut v = Vec::new();
                for id in users {
                    if let Some(p) = self.directory.person(id).await.map_err(unavailable)? {
                        v.push(p);
                    }
                }
                v
            }
        };
        let mut people: Vec<Person> = people
            .into_iter()
            .filter(|p| p.active && p.id != requester.id)
            .collect();
        people.sort_by(|a, b| a.id.cmp(&b.id));
        people.dedup_by(|a, b| a.id == b.id);
        Ok(people)
    }

    /// Resolves every step; a step with fewer eligible people than it needs cannot be satisfied.
    pub(crate) async fn resolve_plan(
        &self,
        steps: &[ApprovalStep],
        deny_reason_required: bool,
        requester: &Person,
        resource: &Resource,
    ) -> Result<(ApprovalPlan, Vec<Vec<Person>>), String> {
        let mut planned = Vec::new();
        let mut people = Vec::new();
        for step in steps {
            let eligible = self
                .eligible_for(&step.approvers, requester, resource)
                .await?;
            if eligible.len() < step.count as usize {
                return Err(format!(
                    "{} approval(s) are needed from {}, but only {} eligible approver(s) were found",
                    step.count,
                    describe(&step.approvers, step.count),
                    eligible.len()
                ));
            }
            planned.push(PlannedStep {
                spec: step.approvers.clone(),
                count: step.count,
                eligible: eligible.iter().map(|p| p.id.clone()).collect(),
            });
            people.push(eligible);
        }
        Ok((
            ApprovalPlan {
                steps: planned,
                deny_reason_required,
            },
            people,
        ))
    }
}
