//! From words to a proposed intent: new requests, replies in a request's thread, edits.

use super::limits::Words;
use super::reading::thread_of;
use super::step::Step;
use super::{ConfirmMode, Engine, Handled, user_error};
use crate::chat::{CardTarget, ChatEvent};
use crate::domain::{
    Action, Entry, Evidence, Intent, IntentError, Job, JobKind, Origin, Patch, Person, Platform,
    Request, RequestEvent, RequestId, RequestState,
};
use crate::intake::{Fallback, IntakeResult, ThreadMessage};
use crate::store::{Change, Committed};

/// A request intake works on: one not stored yet (its first message), or a stored one.
pub(crate) enum Draft {
    New(Request),
    Stored(Request),
}

impl Draft {
    pub(super) fn req(&self) -> &Request {
        match self {
            Draft::New(r) | Draft::Stored(r) => r,
        }
    }
}

impl Engine {
    pub(super) async fn on_message(
        &self,
        event: &ChatEvent,
        text: &str,
        message_id: Option<&String>,
    ) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        if let Some(thread) = &event.scope.thread
            && let Some(req) = self
                .store
                .request_in_thread(
                    event.scope.platform,
                    &event.scope.workspace,
                    &event.scope.channel,
                    thread,
                )
                .await?
        {
            return self.follow_up(event, &person, req, text).await;
        }
        let admitted = self.admit(&person, text, &Words::New).await?;
        let (text, said) = self.said(event, &person, text);
        let thread = [ThreadMessage {
            author: "requester".into(),
            text,
        }];
        let result = self.run_intake(&thread, &person, &admitted).await?;
        match result.draft.action {
            Some(Action::Status) => {
                // It names requests (an approver's queue: other people's): never for the channel.
                self.show_status(&event.scope, &event.actor, &person).await
            }
            Some(action @ (Action::Revoke | Action::Cancel | Action::Extend)) => {
                let intent = result
                    .validate(&self.catalog)
                    .map_err(|q| user_error(q.question))?;
                self.act_on_existing(event, &person, action, &intent).await
            }
            _ => {
                self.may_open(&admitted)?;
                let id = RequestId::generate();
                let thread = match event.scope.platform {
                    Platform::Console => Some(id.to_string()),
                    _ => event.scope.thread.clone().or_else(|| message_id.cloned()),
                };
                let origin = Origin {
                    platform: event.scope.platform,
                    workspace: event.scope.workspace.clone(),
                    channel: event.scope.channel.clone(),
                    thread,
                    kind: event.scope.kind,
                };
                let draft = Request::draft(
                    id,
                    origin,
                    person.id.clone(),
                    event.actor.user_id.clone(),
                    self.now_ms(),
                );
                self.advance_draft(Draft::New(draft), &person, result, said, Some(event))
                    .await
            }
        }
    }

    /// A message in a request's own thread: more detail for a draft, or context for the log.
    async fn follow_up(
        &self,
        event: &ChatEvent,
        person: &Person,
        req: Request,
        text: &str,
    ) -> anyhow::Result<Handled> {
        // A bundle's items were each settled when the ask was read: words in its thread are
        // context, and a change means Cancel and a new ask (never half the items rewritten).
        let drafting = matches!(
            req.state,
            RequestState::Draft | RequestState::AwaitingConfirmation
        ) && req.bundle_id.is_none();
        let entries = self.store.log_entries(req.id.as_str()).await?;
        let messages_before = entries.iter().filter(|e| e.kind == "message_in").count();
        // Only the requester's words on a draft are read; anything else is kept as context.
        let reads = person.id == req.requester_id && drafting;
        let mut thread = reads.then(|| thread_of(&req, entries));
        let words = Words::InThread {
            messages_before,
            turns: thread.as_ref().map(|t| t.len() + 1),
        };
        let admitted = self.admit(person, text, &words).await?;
        let (text, said) = self.said(event, person, text);
        if person.id == req.requester_id
            && req.bundle_id.is_some()
            && let Some(handled) = self
                .answer_bundle_reason(event, person, &req, &text, &said)
                .await?
        {
            return Ok(handled);
        }
        let Some(thread) = thread.as_mut() else {
            let mut step = Step::new(Change::none().logs(said)).for_event(event);
            if person.id == req.requester_id {
                step = step.tell(format!(
                    "Request {} is {}. To ask for something new, send a new message outside this thread.",
                    req.id,
                    req.state.label()
                ));
            }
            self.commit_step(&req, step).await?;
            return Ok(Handled::Done);
        };
        thread.push(ThreadMessage {
            author: "requester".into(),
            text: text.clone(),
        });
        let mut result = self.run_intake(thread, person, &admitted).await?;
        super::reason::reply_as_reason(&req, &mut result, &text);
        if let Some(Action::Cancel) = result.draft.action {
            return self.cancel(&req, person, said, Some(event)).await;
        }
        // Earlier turns already set the action; a reply like "read" only fills a field.
        self.advance_draft(Draft::Stored(req), person, result, said, Some(event))
            .await
    }

    /// Validates what the intake found: propose it, or ask one clarifying question.
    pub(super) async fn advance_draft(
        &self,
        target: Draft,
        person: &Person,
        result: IntakeResult,
        mut entries: Vec<Entry>,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        let draft = result.draft.clone().with_implied_action();
        entries.push(Entry::warden(Evidence::IntakeRun {
            trace: serde_json::to_value(&result.trace)?,
            draft: serde_json::to_value(&draft)?,
        }));
        let mut tell = Vec::new();
        if let Some(kind) = result.trace.fallback {
            tell.push(fallback_notice(kind).to_string());
        }
        let (change, more) = match draft.validate(&self.catalog) {
            Ok(intent) if intent.action == Action::Request => {
                return self
                    .propose(target, person, intent, entries, tell, event)
                    .await;
            }
            Ok(_) => (
                Change::none(),
                "This thread is for one access request. For status, revoke or extend, send a new message outside it.".to_string(),
            ),
            Err(question) => self.clarify(target.req(), question),
        };
        tell.push(more);
        // What was said and read comes first in the log, then what Warden made of it.
        let mut change = change;
        let decided = std::mem::replace(&mut change.log, entries);
        change.log.extend(decided);
        let mut step = Step::new(change);
        step.tell = tell;
        if let Some(e) = event {
            step = step.for_event(e);
        }
        self.persist(&target, step).await?;
        Ok(Handled::Done)
    }

    /// A clarifying question, or closing the draft after too many.
    pub(super) fn clarify(&self, req: &Request, question: IntentError) -> (Change, String) {
        let turns = req.clarify_turns + 1;
        if turns > self.options.max_clarify_turns {
            let change = Change::event(RequestEvent::Cancel)
                .log(Entry::warden(Evidence::StateChange {
                    from: req.state,
                    to: RequestState::Cancelled,
                    why: Some("too many clarifying turns".into()),
                }))
                .cancel(&[JobKind::ConfirmExpire]);
            return (change, "I still can't tell exactly what you need, so I've closed this draft. Try the structured form: `/access request <resource> <role> for <duration> because <reason>` (e.g. `/access request prod-db read for 2h because INC-42`).".into());
        }
        let mut msg = question.question.clone();
        if !question.options.is_empty() {
            msg.push_str(&format!(" Options: {}.", question.options.join(", ")));
        }
        let change = Change::none()
            .patch(Patch {
                clarify_turns: Some(turns),
                ..Default::default()
            })
            .log(Entry::warden(Evidence::Clarification {
                question: serde_json::to_value(&question).unwrap_or_default(),
                turn: turns,
            }));
        (change, msg)
    }

    /// Shows the requester what was understood, with Submit / Edit / Cancel.
    async fn propose(
        &self,
        target: Draft,
        person: &Person,
        intent: Intent,
        mut entries: Vec<Entry>,
        tell: Vec<String>,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        let now = self.now_ms();
        let deadline = now + (self.options.confirm_ttl_secs as i64) * 1000;
        let patch = Patch {
            intent: Some(intent.clone()),
            break_glass: Some(intent.break_glass),
            deadline_at: Some(Some(deadline)),
            ..Default::default()
        };
        entries.push(Entry::warden(Evidence::IntentProposed {
            intent: serde_json::to_value(&intent)?,
        }));
        let req = target.req();
        // The intake's freeze check, once the resource is known and before anything is shown or
        // (for a new ask) stored. Status, cancel and revoke never get here: they work when frozen.
        self.refuse_if_frozen(req.subject(), intent.resource.as_deref())
            .await?;
        // An answer to the policy's reason question was confirmed before: submitted again.
        let resubmit = super::reason::answers_reason_question(req, &intent);
        let bundle = intent.items.len() > 1;
        let skip_confirmation = resubmit
            || match self.options.confirm {
                ConfirmMode::Always => false,
                ConfirmMode::Never => true,
                // Several items are always shown together: a preview per item is not worth its cost.
                ConfirmMode::ApprovalOnly if bundle => false,
                ConfirmMode::ApprovalOnly => self.preview_allows(req, person, &intent).await,
            };
        let change = Change::event(RequestEvent::IntentReady)
            .logs(entries)
            .schedule(Job::ConfirmExpire, deadline)
            .patch(patch);
        let mut step = Step::new(change);
        step.tell = tell;
        if let Some(e) = event {
            step = step.for_event(e);
        }
        if bundle {
            return self
                .propose_bundle(target, person, intent, step, skip_confirmation)
                .await;
        }
        // The request is committed before its card is shown, so a click on the card always
        // finds it (here or on another instance).
        let Some(stored) = self.persist(&target, step).await? else {
            return Ok(Handled::Done);
        };
        if skip_confirmation {
            return self.submit(&stored, person, true, None).await;
        }
        self.show_confirmation(&stored, &intent).await;
        Ok(Handled::Done)
    }

    /// Posts the confirmation card and records it; a slash command's first card starts its thread.
    pub(super) async fn show_confirmation(&self, req: &Request, intent: &Intent) {
        let card = self.confirmation_card(req, intent, None);
        let target = CardTarget::Scope(self.scope_of(req));
        let Some(posted) = self.post_card(req, &target, &card).await else {
            return;
        };
        // Recorded through the commit (the card on the aggregate, the compare-and-set on the
        // request as shown): committed from `req` unchanged means nothing happened between the
        // post and the record, so no read to catch up; a conflict re-reads, and then the card
        // is brought up to the request as it is.
        let starts_thread = req.origin.thread.is_none();
        let recorded = self
            .change_request_from(req.id.as_str(), Some(req.clone()), |_| {
                let change = Change::none().card(posted.clone()).patch(Patch {
                    thread: starts_thread.then(|| posted.message_id.clone()),
                    ..Default::default()
                });
                Ok(Some(Step::new(change)))
            })
            .await;
        match recorded {
            Ok(Some(after)) if after.chain.seq != req.chain.seq => {
                self.update_card(&after, &posted, after.card_status.clone())
                    .await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "failed to record a posted card")
            }
        }
    }

    /// Commits a step on a new or stored draft; `None` when nothing was applied.
    pub(super) async fn persist(
        &self,
        target: &Draft,
        step: Step,
    ) -> anyhow::Result<Option<Request>> {
        let outcome = match target {
            Draft::New(r) => {
                let o = self.create_with_step(r, step).await?;
                if matches!(o, Committed::Applied(_)) {
                    self.metrics.inc(
                        "warden_requests_created_total",
                        &format!("platform=\"{}\"", r.origin.platform),
                        1,
                    );
                }
                o
            }
            Draft::Stored(r) => self.commit_step(r, step).await?,
        };
        match outcome {
            Committed::Applied(r) => Ok(Some(*r)),
            Committed::Duplicate => Ok(None),
            Committed::Conflict | Committed::Refused(_) => Err(user_error(format!(
                "Request {} changed while I was reading your message; nothing was changed. Please send it again.",
                target.req().id
            ))),
        }
    }
}

/// What the requester is told when the parser read their message instead of the model: which
/// of the two happened, since "unavailable" after the model did answer would be untrue.
fn fallback_notice(kind: Fallback) -> &'static str {
    match kind {
        Fallback::Unavailable => {
            "The language assistant is unavailable, so I read your message with the command parser instead."
        }
        Fallback::Rejected => {
            "The language assistant's answer could not be used, so I read your message with the command parser instead."
        }
    }
}
