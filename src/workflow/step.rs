//! One way to change a request, and one place for what follows a change.
//!
//! A `Step` is a store `Change` plus what people are told about it. `commit_step` logs the
//! messages with the change, commits it, and only then refreshes cards, sends the messages and
//! runs the jobs the change claimed for this worker (a grant right after approval).

use super::Engine;
use crate::chat::ChatEvent;
use crate::domain::{Entry, Evidence, Platform, Request};
use crate::store::{Change, ClaimedJob, Committed};

/// A change to one request and what follows it.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub change: Change,
    /// Said in the request's own conversation after the commit, and logged with it.
    pub tell: Vec<String>,
    /// The status line every posted card of the request shows after the change.
    pub cards: Option<String>,
}

impl Step {
    pub fn new(change: Change) -> Self {
        Self {
            change,
            ..Default::default()
        }
    }

    pub fn tell(mut self, text: impl Into<String>) -> Self {
        self.tell.push(text.into());
        self
    }

    pub fn cards(mut self, status: impl Into<String>) -> Self {
        self.cards = Some(status.into());
        self
    }

    /// Marks the inbound delivery this step handles, so a redelivery commits nothing.
    pub fn for_event(mut self, event: &ChatEvent) -> Self {
        self.change.delivery = Some(delivery_key(event));
        self
    }
}

/// The key an inbound delivery is recorded under, across platforms.
pub(crate) fn delivery_key(event: &ChatEvent) -> String {
    delivery_key_of(event.actor.platform, &event.id)
}

/// The same key from its parts, for a delivery not yet mapped to an event.
pub(crate) fn delivery_key_of(platform: Platform, event_id: &str) -> String {
    format!("{platform}:{event_id}")
}

impl Engine {
    /// Commits a step on the request as `seen` and carries out what follows it.
    pub(crate) async fn commit_step(
        &self,
        seen: &Request,
        step: Step,
    ) -> anyhow::Result<Committed> {
        self.apply_step(seen, step, false).await
    }

    /// Inserts a new request with its first step.
    pub(crate) async fn create_with_step(
        &self,
        draft: &Request,
        step: Step,
    ) -> anyhow::Result<Committed> {
        self.apply_step(draft, step, true).await
    }

    /// The one commit path: the messages and card status go into the change, then the change is
    /// committed (inserting `base` when `new`), then what follows it is done.
    async fn apply_step(&self, base: &Request, step: Step, new: bool) -> anyhow::Result<Committed> {
        let Step {
            mut change,
            tell,
            cards,
        } = step;
        change.log.extend(
            tell.iter()
                .map(|t| Entry::warden(Evidence::MessageOut { text: t.clone() })),
        );
        change.patch.card_status = cards.clone();
        let claimed = claimed_jobs(&change, base);
        let moved = !change.events.is_empty();
        let outcome = if new {
            self.store.create(base, change).await?
        } else {
            self.store.commit(base, change, self.now_ms()).await?
        };
        if let Committed::Applied(req) = &outcome {
            let homes = new || shows_differently(base, req);
            Box::pin(self.after_change(req, &tell, cards, claimed, homes)).await;
            // An extension request that ended unapplied lets go of the expiry it held back.
            if moved
                && req.parent_id.is_some()
                && req.state.is_terminal()
                && req.state != crate::domain::RequestState::Applied
            {
                Box::pin(self.release_held_expiry(req)).await;
            }
        }
        Ok(outcome)
    }

    /// What follows every committed change: cards, homes, messages, then inline jobs.
    async fn after_change(
        &self,
        req: &Request,
        tell: &[String],
        cards: Option<String>,
        claimed: Vec<ClaimedJob>,
        homes: bool,
    ) {
        if cards.is_some() {
            self.refresh_cards(req).await;
        }
        if homes {
            self.refresh_homes(req).await;
        }
        let scope = self.scope_of(req);
        for text in tell {
            self.send_unlogged(&scope, text).await;
        }
        for job in claimed {
            Box::pin(self.run_job_on(job, req.clone())).await;
        }
    }

    /// Commits a step built from the current request, re-reading and rebuilding on a conflict
    /// (another actor changed the request meanwhile). `build` returns `None` to do nothing.
    pub(crate) async fn change_request<F>(
        &self,
        id: &str,
        build: F,
    ) -> anyhow::Result<Option<Request>>
    where
        F: FnMut(&Request) -> anyhow::Result<Option<Step>>,
    {
        self.change_request_from(id, None, build).await
    }

    /// As `change_request`, starting from a request already read (no read unless it conflicts).
    pub(crate) async fn change_request_from<F>(
        &self,
        id: &str,
        mut seen: Option<Request>,
        mut build: F,
    ) -> anyhow::Result<Option<Request>>
    where
        F: FnMut(&Request) -> anyhow::Result<Option<Step>>,
    {
        for _ in 0..8 {
            let current = match seen.take() {
                Some(r) => r,
                None => self
                    .store
                    .get_request(id)
                    .await?
                    .ok_or_else(|| super::user_error(format!("I can't find request {id}.")))?,
            };
            let Some(step) = build(&current)? else {
                return Ok(None);
            };
            match self.commit_step(&current, step).await? {
                Committed::Applied(r) => return Ok(Some(*r)),
                Committed::Conflict => continue,
                Committed::Duplicate => return Ok(None),
                Committed::Refused(e) => {
                    return Err(super::user_error(format!(
                        "Request {id} can't do that now: it is {}.",
                        e.from.label()
                    )));
                }
            }
        }
        anyhow::bail!("request {id} kept changing; gave up after 8 attempts")
    }
}

/// Whether a change moved anything a home shows: the state, the expiry, the approval step or
/// the decisions on the request. (A log entry alone does not.)
fn shows_differently(before: &Request, after: &Request) -> bool {
    before.state != after.state
        || before.expires_at != after.expires_at
        || before.current_step != after.current_step
        || before.approvals.len() != after.approvals.len()
        || before.resource() != after.resource()
        || before.role() != after.role()
        || before.duration_secs() != after.duration_secs()
}

/// The jobs a change inserts already claimed by this worker, to run after the commit.
fn claimed_jobs(change: &Change, req: &Request) -> Vec<ClaimedJob> {
    change
        .schedule
        .iter()
        .filter_map(|s| {
            let claim = s.claim.clone()?;
            Some(ClaimedJob {
                claim,
                request_id: Some(req.id.clone()),
                job: Ok(s.job.clone()),
                attempts: 1,
                run_at: s.run_at,
                priority: s.job.kind().priority(),
            })
        })
        .collect()
}
