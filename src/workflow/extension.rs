//! Extensions the policy sends to approval: a linked request (its `parent_id` is the grant's
//! request) approved as usual, while the grant stays until its own expiry or the extension's
//! decision, whichever is later. Access is never cut short by an extension in flight.

use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Decision, Entry, Evidence, Intent, Job, Patch, Person, Request, RequestEvent, RequestId,
    RequestState, Resource,
};
use crate::store::{Change, ClaimedJob, Committed};

/// How soon an expiry held back by an approved (granting) extension looks again.
const RECHECK_MS: i64 = 60_000;

impl Engine {
    /// Opens the extension request, already decided (approval needed), and asks its approvers.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn open_extension_approval(
        &self,
        event: &ChatEvent,
        person: &Person,
        parent: &Request,
        resource: &Resource,
        intent: Intent,
        asked: Vec<Entry>,
        decision: Decision,
    ) -> anyhow::Result<Handled> {
        let now = self.now_ms();
        let mut child = Request::draft(
            RequestId::generate(),
            parent.origin.clone(),
            parent.requester_id.clone(),
            parent.requester_account.clone(),
            now,
        );
        child.parent_id = Some(parent.id.clone());
        // Which extension of the parent this is: how its application is recognised once made
        // (a retried grant job never extends twice).
        child.extensions = parent.extensions + 1;
        // Set on the row itself: the decision step's patch replaces any patch given here.
        child.intent = Some(intent.clone());
        let opened = Change::event(RequestEvent::IntentReady)
            .then(RequestEvent::Confirm)
            .logs(asked);
        let (step, approvers) = self
            .decision_step(&child, person, &intent, resource, decision, opened)
            .await?;
        let stored = match self.create_with_step(&child, step.for_event(event)).await? {
            Committed::Applied(r) => *r,
            Committed::Duplicate => return Ok(Handled::Duplicate),
            Committed::Conflict | Committed::Refused(_) => {
                return Err(user_error("Nothing was extended; please try again."));
            }
        };
        let Some(people) = approvers else {
            return Ok(Handled::Done); // Failed (no approvers): it said so; the grant is unchanged.
        };
        let posts = self.approval_posts(&stored, resource, 0, &people).await;
        self.post_and_record(&stored, &posts).await;
        let note = format!(
            "Extending {} needs approval, asked as {}. Your access stays until {} or the extension's decision, whichever is later.",
            parent.id,
            stored.id,
            self.until(parent.expires_at.unwrap_or(now))
        );
        let noted = self
            .change_request(parent.id.as_str(), |_| {
                Ok(Some(Step::new(Change::none()).tell(note.clone())))
            })
            .await;
        if let Err(e) = noted {
            tracing::warn!(request = %parent.id, error = ?e, "could not note a pending extension");
        }
        Ok(Handled::Done)
    }

    /// The approved extension request's grant job: moves the parent's expiry (and the target's
    /// own), then closes the extension request. Refused when the access ended meanwhile.
    pub(super) async fn apply_extension(
        &self,
        job: &ClaimedJob,
        child: Request,
        parent_id: &RequestId,
    ) -> anyhow::Result<()> {
        let parent = self
            .store
            .get_request(parent_id.as_str())
            .await?
            .ok_or_else(|| anyhow::anyhow!("extension {} has no parent {parent_id}", child.id))?;
        let mut applied = parent.extensions >= child.extensions;
        if !applied && parent.state == RequestState::Active {
            applied = self.extend_parent(&child, parent).await?;
        }
        let (event, to, status, told) = if applied {
            (
                RequestEvent::ExtensionApplied,
                RequestState::Applied,
                "Extension approved and applied".to_string(),
                None,
            )
        } else {
            (
                RequestEvent::Fail,
                RequestState::Failed,
                "Approved, but the access had already ended".to_string(),
                Some(format!(
                    "Extension {} was approved, but the access it extends ({parent_id}) had already ended; nothing was extended. Make a new request if you still need it.",
                    child.id
                )),
            )
        };
        let id = child.id.to_string();
        let closed = self
            .change_request_from(&id, Some(child), |seen| {
                if seen.state != RequestState::Approved {
                    return Ok(None);
                }
                let change = Change::event(event)
                    .log(Entry::warden(Evidence::StateChange {
                        from: RequestState::Approved,
                        to,
                        why: Some(format!("extension of {parent_id}")),
                    }))
                    .complete(Some(job.claim.clone()));
                let mut step = Step::new(change).cards(status.clone());
                if let Some(t) = &told {
                    step = step.tell(t.clone());
                }
                Ok(Some(step))
            })
            .await?;
        if closed.is_none() {
            self.store.complete_job(&job.claim).await?;
        }
        Ok(())
    }

    /// Moves the active parent's expiry by the extension's duration (within the resource's
    /// maximum from now); false when it is no longer active.
    async fn extend_parent(&self, child: &Request, parent: Request) -> anyhow::Result<bool> {
        let resource = self.resource_of(&parent)?.clone();
        let max = resource.max_duration_for(parent.role().unwrap_or_default());
        let wanted = child.duration_secs().unwrap_or(3600).min(max) as i64;
        let now = self.now_ms();
        let warn_before = (self.options.expiry_warning_before_secs as i64) * 1000;
        let (n, child_id) = (child.extensions, child.id.clone());
        let id = parent.id.to_string();
        let extended = self
            .change_request_from(&id, Some(parent), |seen| {
                if seen.state != RequestState::Active || seen.extensions >= n {
                    return Ok(None);
                }
                let new_end = (seen.expires_at.unwrap_or(now).max(now) + wanted * 1000)
                    .min(now + (max as i64) * 1000);
                let mut change = Change::none()
                    .patch(Patch {
                        expires_at: Some(Some(new_end)),
                        extensions: Some(n),
                        ..Default::default()
                    })
                    .log(Entry::warden(Evidence::Extended {
                        extended_to: new_end,
                        extension: n,
                    }))
                    .schedule(Job::Expire, new_end);
                if new_end - warn_before > now {
                    change = change.schedule(Job::Warn, new_end - warn_before);
                }
                let told = format!(
                    "Extension {child_id} was approved: request {} now lasts {}.",
                    seen.id,
                    self.until(new_end)
                );
                Ok(Some(Step::new(change).tell(told)))
            })
            .await?;
        match extended {
            Some(p) => {
                Box::pin(self.move_target_expiry(&p)).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// For an expiry that is due: the time to look again while an extension of `req` waits for
    /// its decision (its approval deadline, or shortly while it is being applied).
    pub(super) async fn extension_holds_expiry(
        &self,
        req: &Request,
    ) -> anyhow::Result<Option<i64>> {
        let Some(child) = self.store.pending_extension(&req.id).await? else {
            return Ok(None);
        };
        let now = self.now_ms();
        let at = match (child.state, child.deadline_at) {
            (RequestState::PendingApproval, Some(deadline)) => deadline,
            _ => now + RECHECK_MS,
        };
        Ok(Some(at.max(now + 1000)))
    }

    /// An extension request ended without being applied (denied, timed out, cancelled, failed):
    /// the grant it held open ends at its own expiry, or now if that has passed.
    pub(super) async fn release_held_expiry(&self, child: &Request) {
        let Some(parent_id) = child.parent_id.as_ref() else {
            return;
        };
        let now = self.now_ms();
        let child_id = child.id.clone();
        let released = self
            .change_request(parent_id.as_str(), |seen| {
                if seen.state != RequestState::Active {
                    return Ok(None);
                }
                let at = seen.expires_at.unwrap_or(now).max(now);
                let mut change = Change::none();
                change = match at <= now {
                    // Due now: run it right after this commit, on this worker.
                    true => {
                        change.schedule_claimed(Job::Expire, at, self.claim(&Job::Expire, seen))
                    }
                    false => change.schedule(Job::Expire, at),
                };
                let told = format!(
                    "Extension {child_id} was not approved; request {} ends {}.",
                    seen.id,
                    self.until(at)
                );
                Ok(Some(Step::new(change).tell(told)))
            })
            .await;
        if let Err(e) = released {
            // The expiry job still runs at the extension's deadline, when it looks again.
            tracing::error!(request = %parent_id, error = ?e, "could not release an expiry held by an extension");
        }
    }
}
