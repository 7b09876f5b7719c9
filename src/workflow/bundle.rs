//! Several resources in one ask: one request per item, linked by the lead's id, confirmed
//! together on the lead's card; each item is then decided, granted and revoked on its own.

use super::intake::Draft;
use super::step::Step;
use super::{Engine, Handled, UserError, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Entry, Evidence, Intent, Job, Patch, Person, Request, RequestEvent, RequestId, RequestState,
    format_duration,
};
use crate::policy::SubjectInput;
use crate::store::{Change, Committed};

impl Engine {
    /// Stores the lead (the draft the words came in on) and one request per further item, all
    /// awaiting confirmation, then shows the one card that lists them.
    pub(super) async fn propose_bundle(
        &self,
        target: Draft,
        person: &Person,
        intent: Intent,
        step: Step,
        skip_confirmation: bool,
    ) -> anyhow::Result<Handled> {
        let parts = intent.split();
        for part in &parts {
            self.refuse_if_frozen(target.req().subject(), part.resource.as_deref())
                .await?;
        }
        let lead_id = target.req().id.clone();
        let mut step = step;
        step.change.patch.bundle_id = Some(lead_id.clone());
        let Some(lead) = self.persist(&target, step).await? else {
            return Ok(Handled::Done);
        };
        let deadline = lead.deadline_at.unwrap_or_else(|| self.now_ms());
        // Items are listed by `created_at` (`Store::requests_in_bundle`): each is created a
        // millisecond after the one before at least, so the order is the ask's, never the ids'
        // (random) when the clock has not moved between two creates.
        let mut after = lead.created_at;
        for part in &parts[1..] {
            after = self.create_item(&lead, part, deadline, after).await?;
        }
        if skip_confirmation {
            return self.submit_bundle(&lead, person, None).await;
        }
        self.show_confirmation(&lead, &intent).await;
        self.share_thread(&lead.id).await;
        Ok(Handled::Done)
    }

    /// One further item: a request of its own in the lead's conversation, awaiting the same
    /// confirmation (and expiring with it if nobody confirms).
    async fn create_item(
        &self,
        lead: &Request,
        intent: &Intent,
        deadline: i64,
        after: i64,
    ) -> anyhow::Result<i64> {
        let created_at = self.now_ms().max(after + 1);
        let draft = Request::draft(
            RequestId::generate(),
            lead.origin.clone(),
            lead.requester_id.clone(),
            lead.requester_account.clone(),
            created_at,
        );
        let change = Change::event(RequestEvent::IntentReady)
            .log(Entry::warden(Evidence::IntentProposed {
                intent: serde_json::to_value(intent)?,
            }))
            .schedule(Job::ConfirmExpire, deadline)
            .patch(Patch {
                intent: Some(intent.clone()),
                deadline_at: Some(Some(deadline)),
                bundle_id: Some(lead.id.clone()),
                ..Default::default()
            });
        match self.create_with_step(&draft, Step::new(change)).await? {
            Committed::Applied(_) | Committed::Duplicate => Ok(created_at),
            Committed::Conflict | Committed::Refused(_) => Err(user_error(format!(
                "Part of request {} could not be stored; nothing will be granted for it. Cancel it and ask again.",
                lead.id
            ))),
        }
    }

    /// A slash command's card starts the lead's thread after the items were stored: the items
    /// follow it there, so what they say later lands in the same conversation.
    async fn share_thread(&self, lead: &RequestId) {
        let Ok(Some(lead)) = self.store.get_request(lead.as_str()).await else {
            return;
        };
        let Some(thread) = lead.origin.thread.clone() else {
            return;
        };
        let Ok(items) = self.store.requests_in_bundle(&lead.id).await else {
            return;
        };
        for item in items.iter().filter(|i| i.origin.thread.is_none()) {
            let thread = thread.clone();
            let moved = self
                .change_request(item.id.as_str(), |_| {
                    Ok(Some(Step::new(Change::none().patch(Patch {
                        thread: Some(thread.clone()),
                        ..Default::default()
                    }))))
                })
                .await;
            if let Err(e) = moved {
                tracing::warn!(request = %item.id, error = ?e, "failed to move a bundle item into its thread");
            }
        }
    }

    /// The items of the bundle `lead` leads, refused unless every item the ask named is there
    /// (a crash between storing the lead and its items leaves nothing to submit half-way).
    async fn bundle_items(&self, lead: &Request) -> anyhow::Result<Vec<Request>> {
        let items = self.store.requests_in_bundle(&lead.id).await?;
        let named = lead.intent.as_ref().map_or(0, |i| i.items.len());
        if items.len() != named || items.first().map(|i| &i.id) != Some(&lead.id) {
            return Err(user_error(format!(
                "Request {} is incomplete, so none of it was submitted. Cancel it and ask again.",
                lead.id
            )));
        }
        Ok(items)
    }

    /// Submit on the lead's card: every item still awaiting confirmation goes to policy on its
    /// own, the lead first (it carries the click's delivery record, so a redelivered click
    /// commits nothing twice); then the requester gets one summary.
    pub(super) async fn submit_bundle(
        &self,
        lead: &Request,
        person: &Person,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        if lead.requester_id != person.id {
            return Err(user_error("Only the requester can submit this request."));
        }
        let items = self.bundle_items(lead).await?;
        let auto = event.is_none();
        let waiting: Vec<(Request, Option<&ChatEvent>)> = items
            .into_iter()
            .enumerate()
            .filter(|(_, item)| item.state == RequestState::AwaitingConfirmation)
            .map(|(n, item)| (item, if n == 0 { event } else { None }))
            .collect();
        self.submit_items(lead, person, auto, waiting).await
    }

    /// Submits items of one bundle, each on its own; then asks every approver once for the
    /// items that need them, and tells the requester where each item stands in one message.
    pub(super) async fn submit_items(
        &self,
        lead: &Request,
        person: &Person,
        auto: bool,
        items: Vec<(Request, Option<&ChatEvent>)>,
    ) -> anyhow::Result<Handled> {
        let mut refused = Vec::new();
        let mut asks = Vec::new();
        for (item, event) in &items {
            let outcome = self
                .submit_deciding(item, person, auto, *event, SubjectInput::Person, None)
                .await;
            match outcome {
                Ok((_, Some(ask))) => asks.push(ask),
                Ok((_, None)) => {}
                Err(e) => {
                    // One item refused (frozen, no account on its target) leaves the others to go on.
                    let why = match e.downcast_ref::<UserError>() {
                        Some(UserError(msg)) => msg.clone(),
                        None => {
                            tracing::error!(request = %item.id, error = ?e, "failed to submit a bundle item");
                            "it could not be submitted; the cause is in Warden's log".into()
                        }
                    };
                    refused.push(format!("{}: {why}", item.id));
                }
            }
        }
        self.ask_bundle_approvers(asks).await;
        self.summarise_bundle(lead, &refused).await;
        Ok(Handled::Done)
    }

    /// Cancel on the lead's card cancels every item not yet decided.
    pub(super) async fn cancel_bundle(
        &self,
        lead: &Request,
        person: &Person,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        let items = self.store.requests_in_bundle(&lead.id).await?;
        let handled = self.cancel(lead, person, vec![], event).await?;
        for item in items.iter().filter(|i| i.id != lead.id) {
            if matches!(
                item.state,
                RequestState::Draft | RequestState::AwaitingConfirmation
            ) && let Err(e) = self.cancel(item, person, vec![], None).await
            {
                tracing::warn!(request = %item.id, error = ?e, "failed to cancel a bundle item");
            }
        }
        Ok(handled)
    }

    /// One message with where every item stands.
    async fn summarise_bundle(&self, lead: &Request, refused: &[String]) {
        let Ok(items) = self.store.requests_in_bundle(&lead.id).await else {
            return;
        };
        let mut lines = vec![format!("Request {} ({} items):", lead.id, items.len())];
        for item in &items {
            lines.push(format!("• {}: {}", item_label(item), item.state.label()));
        }
        for r in refused {
            lines.push(format!("Not submitted: {r}"));
        }
        // One question for every item the policy wants a reason for, answered once.
        let lacking: Vec<String> = items
            .iter()
            .filter(|i| super::reason::waiting_for_reason(i))
            .map(item_label)
            .collect();
        if !lacking.is_empty() {
            lines.push(format!(
                "The access policy needs a reason before {} can be decided: what do you need it for? Reply here; a sentence or a ticket number is enough.",
                lacking.join(", ")
            ));
        }
        self.send_logged(lead, &lines.join("\n")).await;
    }
}

/// "AR-7K3D9QX2 prod-billing-db read for 2h".
pub(crate) fn item_label(req: &Request) -> String {
    format!(
        "{} {} {} for {}",
        req.id,
        req.resource().unwrap_or("?"),
        req.role().unwrap_or("?"),
        req.duration_secs()
            .map_or_else(|| "?".into(), format_duration)
    )
}
