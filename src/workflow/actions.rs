//! Buttons on cards and requests about existing requests ("revoke AR-…"): who may do what.

use super::{Engine, Handled, user_error};
use crate::chat::{CardAction, ChatEvent, Scope};
use crate::domain::{Action, Intent, Person, Request, RequestId, RequestState};

impl Engine {
    /// Buttons on cards.
    pub(super) async fn on_action(
        &self,
        event: &ChatEvent,
        action: CardAction,
        request_id: &RequestId,
        items: &[RequestId],
        reason: Option<&str>,
    ) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        match action {
            CardAction::Submit => {
                let req = self.request_for_requester(request_id, &person).await?;
                if req.leads_bundle() {
                    return self.submit_bundle(&req, &person, Some(event)).await;
                }
                self.submit(&req, &person, false, Some(event)).await
            }
            CardAction::Cancel => {
                let req = self.request_for_requester(request_id, &person).await?;
                if req.leads_bundle() {
                    return self.cancel_bundle(&req, &person, Some(event)).await;
                }
                self.cancel(&req, &person, vec![], Some(event)).await
            }
            CardAction::Edit => {
                let req = self.editable_request(request_id, &person).await?;
                let msg = "Reply in this thread with what to change (for example \"make it 2h\" or \"role write\"), and I'll show the card again.";
                self.send_logged(&req, msg).await;
                Ok(Handled::Done)
            }
            CardAction::Approve => self.approve(event, &person, request_id).await,
            CardAction::Deny => self.deny(event, &person, request_id, reason).await,
            CardAction::ApproveAll | CardAction::DenyAll => {
                let listed = match items {
                    [] => std::slice::from_ref(request_id),
                    all => all,
                };
                self.act_on_listed(event, &person, action, listed, reason)
                    .await
            }
            CardAction::Revoke => {
                let req = self.request_for_requester(request_id, &person).await?;
                self.revoke_early(&req, &person.id, "revoked by the requester", Some(event))
                    .await
            }
            CardAction::Extend => {
                let req = self.request_for_requester(request_id, &person).await?;
                let intent = Intent {
                    action: Action::Extend,
                    resource: req.resource().map(str::to_string),
                    role: req.role().map(str::to_string),
                    duration_secs: None,
                    justification: None,
                    ticket: None,
                    request_id: Some(request_id.clone()),
                    break_glass: false,
                    notes: vec![],
                    items: vec![],
                };
                self.extend(event, &person, &req, &intent).await
            }
            CardAction::Review => self.close_review(event, &person, request_id, reason).await,
        }
    }

    /// Loads a request the person asked for; anyone else gets the same answer as for a missing one.
    pub(crate) async fn request_for_requester(
        &self,
        id: &RequestId,
        person: &Person,
    ) -> anyhow::Result<Request> {
        match self.store.get_request(id.as_str()).await? {
            Some(r) if r.requester_id == person.id => Ok(r),
            _ => Err(user_error(format!("I can't find a request {id} of yours."))),
        }
    }

    /// Looks up a request by id for an approver's button (checks come after).
    pub(crate) async fn request_by_id(&self, id: &RequestId) -> anyhow::Result<Request> {
        self.store
            .get_request(id.as_str())
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))
    }

    /// Revoke / cancel / extend from a new message, by id or by resource.
    pub(super) async fn act_on_existing(
        &self,
        event: &ChatEvent,
        person: &Person,
        action: Action,
        intent: &Intent,
    ) -> anyhow::Result<Handled> {
        let req = match &intent.request_id {
            Some(id) => self.request_for_requester(id, person).await?,
            None => {
                let wanted: &[RequestState] = match action {
                    Action::Cancel => &[
                        RequestState::Draft,
                        RequestState::AwaitingConfirmation,
                        RequestState::PendingApproval,
                    ],
                    _ => &[RequestState::Active],
                };
                let mut found = self.store.requests_of(&person.id, wanted).await?;
                found.retain(|r| {
                    intent.resource.is_none() || r.resource() == intent.resource.as_deref()
                });
                match found.len() {
                    1 => found.remove(0),
                    0 => {
                        return Err(user_error(
                            "I can't find a matching request of yours. `/access status` lists them.",
                        ));
                    }
                    _ => {
                        return Err(user_error(format!(
                            "You have several matching requests ({}). Which one?",
                            found
                                .iter()
                                .map(|r| r.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
            }
        };
        match action {
            Action::Cancel => self.cancel(&req, person, vec![], Some(event)).await,
            Action::Revoke => {
                self.revoke_early(&req, &person.id, "revoked by the requester", Some(event))
                    .await
            }
            _ => self.extend(event, person, &req, intent).await,
        }
    }

    /// The scope a request lives in.
    pub(crate) fn scope_of(&self, req: &Request) -> Scope {
        Scope {
            platform: req.origin.platform,
            workspace: req.origin.workspace.clone(),
            channel: req.origin.channel.clone(),
            thread: req.origin.thread.clone(),
            kind: req.origin.kind,
        }
    }

    /// Says something in a request's conversation and logs it, as its own change.
    pub(crate) async fn send_logged(&self, req: &Request, text: &str) {
        let id = req.id.to_string();
        let text = text.to_string();
        let result = self
            .change_request(&id, |_| {
                Ok(Some(
                    super::Step::new(crate::store::Change::none()).tell(text.clone()),
                ))
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(request = %req.id, error = ?e, "failed to log an outgoing message");
            self.send_unlogged(&self.scope_of(req), &text).await;
        }
    }
}
