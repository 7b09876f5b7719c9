//! Where a request's approvers are asked: one approval card per eligible approver (DM), or one
//! in the resource's approval channel; a bundle groups these targets (`bundle_approvals`).

use super::Engine;
use crate::chat::{Card, CardTarget};
use crate::domain::{Person, Request, Resource};

/// A committed submission whose approvers are still to be asked.
pub(crate) struct ToAsk {
    pub req: Request,
    pub resource: Resource,
    pub approvers: Vec<Person>,
}

impl Engine {
    /// One approval card per eligible approver (DM), or one to the catalog's channel.
    pub(crate) async fn approval_posts(
        &self,
        req: &Request,
        resource: &Resource,
        step: usize,
        approvers: &[Person],
    ) -> Vec<(CardTarget, Card)> {
        let name = self.requester_label(req).await;
        let card = self.approval_card(req, resource, step, None, &name);
        if req.is_agent() {
            return self.agent_approval_posts(req, &card, approvers);
        }
        self.approval_targets(req, resource, approvers)
            .into_iter()
            .map(|t| (t, card.clone()))
            .collect()
    }

    /// Where a person's request asks its approvers: the catalog's approval channel, or each
    /// approver's DM on the request's platform.
    pub(crate) fn approval_targets(
        &self,
        req: &Request,
        resource: &Resource,
        approvers: &[Person],
    ) -> Vec<CardTarget> {
        let platform = req.origin.platform;
        if let Some(channel) = resource.approval_channel.get(platform.as_str()) {
            return vec![CardTarget::Channel {
                platform,
                workspace: req.origin.workspace.clone(),
                channel: channel.clone(),
            }];
        }
        let mut targets = Vec::new();
        for p in approvers {
            match p.account_on(platform, &req.origin.workspace) {
                Some(account) => targets.push(CardTarget::Direct(account.clone())),
                None => {
                    tracing::info!(request = %req.id, approver = %p.id, "approver has no account on this platform; not sent a card")
                }
            }
        }
        targets
    }
}
