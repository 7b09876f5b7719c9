//! Editing a proposed request: who may (its requester, while it can change), the prefilled form,
//! and the edited fields coming back. Adapters never read the store themselves.

use super::intake::Draft;
use super::{Engine, Handled, UserError, user_error};
use crate::chat::{ChatEvent, EditFields, EditForm, Scope};
use crate::domain::Person;
use crate::domain::evidence::Inbound;
use crate::domain::intent::DraftIntent;
use crate::domain::{
    Action, Entry, Evidence, PlatformUser, Request, RequestId, RequestState, format_duration,
};
use crate::intake::{IntakeResult, IntakeTrace};

impl Engine {
    /// The Edit form for `id`, for its requester only, while the request can still change.
    ///
    /// Anyone else gets the same answer as for a request that does not exist, so a form never
    /// shows another person's request. `Err` is an internal failure: log it, show a generic line.
    pub async fn edit_form(
        &self,
        actor: &PlatformUser,
        id: &RequestId,
    ) -> anyhow::Result<EditForm> {
        match self.edit_fields(actor, id).await {
            Ok(fields) => Ok(EditForm::Open(fields)),
            Err(err) => match err.downcast::<UserError>() {
                Ok(UserError(why)) => Ok(EditForm::Refused(why)),
                Err(err) => Err(err),
            },
        }
    }

    async fn edit_fields(
        &self,
        actor: &PlatformUser,
        id: &RequestId,
    ) -> anyhow::Result<EditFields> {
        let person = self.principal(actor).await?;
        let req = self.editable_request(id, &person).await?;
        Ok(EditFields {
            resource: req.resource().map(str::to_string),
            role: req.role().map(str::to_string),
            duration: req.duration_secs().map(format_duration),
            justification: req.justification().map(str::to_string),
        })
    }

    /// Whether `scope`'s thread is a request's thread (replies elsewhere are not Warden's).
    pub async fn is_request_thread(&self, scope: &Scope) -> anyhow::Result<bool> {
        let Some(thread) = scope.thread.as_deref() else {
            return Ok(false);
        };
        Ok(self
            .store
            .request_in_thread(scope.platform, &scope.workspace, &scope.channel, thread)
            .await?
            .is_some())
    }

    /// The requester edited the proposed fields in a form.
    pub(super) async fn on_edit(
        &self,
        event: &ChatEvent,
        request_id: &RequestId,
        fields: &EditFields,
    ) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        let req = self.editable_request(request_id, &person).await?;
        let earlier = req.intent.as_ref();
        let base = DraftIntent {
            action: Some(Action::Request),
            resource: earlier.and_then(|i| i.resource.clone()),
            role: earlier.and_then(|i| i.role.clone()),
            duration: earlier
                .and_then(|i| i.duration_secs)
                .map(crate::domain::format_duration),
            justification: earlier.and_then(|i| i.justification.clone()),
            ticket: earlier.and_then(|i| i.ticket.clone()),
            ..Default::default()
        };
        let filled = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let edited = DraftIntent {
            resource: filled(&fields.resource),
            role: filled(&fields.role),
            duration: filled(&fields.duration),
            justification: filled(&fields.justification),
            ..Default::default()
        };
        let said = vec![Entry::new(
            &person.id,
            Evidence::MessageIn(Inbound::Edit {
                edit: serde_json::to_value(fields)?,
                account: event.actor.clone(),
            }),
        )];
        let trace = IntakeTrace {
            source: "edit form".into(),
            ..Default::default()
        };
        let result = IntakeResult {
            draft: base.merge(edited),
            trace,
        };
        self.advance_draft(Draft::Stored(req), &person, result, said, Some(event))
            .await
    }

    /// A request its requester may still edit; anyone else gets the answer for a missing one.
    pub(crate) async fn editable_request(
        &self,
        id: &RequestId,
        person: &Person,
    ) -> anyhow::Result<Request> {
        let req = self.request_for_requester(id, person).await?;
        if !matches!(
            req.state,
            RequestState::Draft | RequestState::AwaitingConfirmation
        ) {
            return Err(user_error(format!(
                "Request {} is {} and can no longer be edited.",
                req.id,
                req.state.label()
            )));
        }
        if req.bundle_id.is_some() {
            return Err(user_error(format!(
                "Request {} asks for several systems at once and can't be edited; Cancel it and ask again.",
                req.bundle_id.as_ref().unwrap_or(&req.id)
            )));
        }
        Ok(req)
    }
}
