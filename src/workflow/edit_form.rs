//! What chat adapters ask the engine before there is an event: the Edit form's contents, and
//! whether a thread belongs to a request. Adapters never read the store themselves.

use super::{Engine, UserError, user_error};
use crate::chat::{EditFields, EditForm, Scope};
use crate::domain::{PlatformUser, RequestId, RequestState, format_duration};

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
        let req = self.request_for_requester(id, &person).await?;
        // The same states `on_edit` accepts when the form comes back.
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
        Ok(EditFields {
            resource: req.resource,
            role: req.role,
            duration: req.duration_secs.map(|d| format_duration(d.max(0) as u64)),
            justification: req.justification,
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
}
