//! From words to a proposed intent: new requests, replies in a request's thread, edits.

use super::{Engine, Handled, user_error};
use crate::chat::{CardAction, CardKind, CardTarget, ChatEvent, EditFields, Scope};
use crate::domain::intent::DraftIntent;
use crate::domain::{
    Action, Intent, IntentError, Person, Platform, RequestEvent, RequestId, RequestState,
};
use crate::intake::{IntakeContext, IntakeResult, ThreadMessage};
use crate::store::{LogKind, NewJob, NewLogEntry, NewRequest, RequestChanges, RequestRow};

impl Engine {
    pub(super) async fn on_message(
        &self,
        event: &ChatEvent,
        text: &str,
        message_id: Option<&String>,
    ) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        let text = self.redact_inbound(text);
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
            return self
                .follow_up(event, &person, req, &text.text, text.masked)
                .await;
        }
        let thread = [ThreadMessage {
            author: "requester".into(),
            text: text.text.clone(),
        }];
        let result = self.run_intake(&thread, &person).await;
        match result.draft.action {
            Some(Action::Status) => {
                let status = self.status_text(&person).await?;
                self.reply(event, &status).await;
                Ok(Handled::Done)
            }
            Some(action @ (Action::Revoke | Action::Cancel | Action::Extend)) => {
                let intent = result
                    .validate(&self.catalog)
                    .map_err(|q| user_error(q.question))?;
                self.act_on_existing(event, &person, action, &intent).await
            }
            _ => {
                self.new_request(event, &person, &text.text, text.masked, message_id, result)
                    .await
            }
        }
    }

    async fn new_request(
        &self,
        event: &ChatEvent,
        person: &Person,
        text: &str,
        masked: usize,
        message_id: Option<&String>,
        result: IntakeResult,
    ) -> anyhow::Result<Handled> {
        let id = RequestId::generate();
        let thread = match event.scope.platform {
            Platform::Console => Some(id.to_string()),
            _ => event.scope.thread.clone().or_else(|| message_id.cloned()),
        };
        let now = self.now_ms();
        let new = NewRequest {
            id: id.to_string(),
            platform: event.scope.platform,
            workspace: event.scope.workspace.clone(),
            channel: event.scope.channel.clone(),
            thread,
            scope_kind: event.scope.kind.clone(),
            requester_id: person.id.clone(),
            requester_account: event.actor.user_id.clone(),
            state: RequestState::Draft,
            parent_id: None,
            now_ms: now,
        };
        let mut entries = vec![NewLogEntry::new(
            LogKind::MessageIn,
            &person.id,
            serde_json::json!({ "text": text, "account": event.actor, "event_id": event.id }),
        )];
        if masked > 0 {
            entries.push(NewLogEntry::new(
                LogKind::Redaction,
                "warden",
                serde_json::json!({ "masked_secrets": masked }),
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.insert_request(&new).await?;
        tx.append_log(new.id.as_str(), now, &entries).await?;
        tx.commit().await?;
        self.metrics.inc(
            "warden_requests_created_total",
            &format!("platform=\"{}\"", event.scope.platform),
            1,
        );
        let req = self
            .store
            .get_request(id.as_str())
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished after insert"))?;
        self.advance_draft(&req, person, result).await
    }

    /// A message in a request's own thread: more detail for a draft, or context for the log.
    async fn follow_up(
        &self,
        event: &ChatEvent,
        person: &Person,
        req: RequestRow,
        text: &str,
        masked: usize,
    ) -> anyhow::Result<Handled> {
        let mut entries = vec![NewLogEntry::new(
            LogKind::MessageIn,
            &person.id,
            serde_json::json!({ "text": text, "account": event.actor, "event_id": event.id }),
        )];
        if masked > 0 {
            entries.push(NewLogEntry::new(
                LogKind::Redaction,
                "warden",
                serde_json::json!({ "masked_secrets": masked }),
            ));
        }
        self.store
            .append_log(&req.id, self.now_ms(), &entries)
            .await?;
        if person.id != req.requester_id {
            return Ok(Handled::Done);
        }
        if !matches!(
            req.state,
            RequestState::Draft | RequestState::AwaitingConfirmation
        ) {
            let msg = format!(
                "Request {} is {}. To ask for something new, send a new message outside this thread.",
                req.id,
                req.state.label()
            );
            self.say(&req.id, &self.scope_of(&req), &msg).await;
            return Ok(Handled::Done);
        }
        let thread = self.thread_messages(&req).await?;
        let result = self.run_intake(&thread, person).await;
        if let Some(Action::Cancel) = result.draft.action {
            self.cancel(&req.id, person).await?;
            return Ok(Handled::Done);
        }
        // Earlier turns already set the action; a reply like "read" only fills a field.
        self.advance_draft(&req, person, result).await
    }

    /// This request's own conversation, oldest first. Nothing from any other request.
    pub(crate) async fn thread_messages(
        &self,
        req: &RequestRow,
    ) -> anyhow::Result<Vec<ThreadMessage>> {
        let entries = self.store.log_entries(&req.id).await?;
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                let text = e.payload.as_ref()?.get("text")?.as_str()?.to_string();
                match e.kind.as_str() {
                    "message_in" if e.actor == req.requester_id => Some(ThreadMessage {
                        author: "requester".into(),
                        text,
                    }),
                    "message_out" => Some(ThreadMessage {
                        author: "warden".into(),
                        text,
                    }),
                    _ => None,
                }
            })
            .collect())
    }

    /// Runs the configured intake; on any failure the parser takes over and the reason is kept.
    pub(crate) async fn run_intake(
        &self,
        thread: &[ThreadMessage],
        person: &Person,
    ) -> IntakeResult {
        let ctx = IntakeContext {
            thread,
            requester: person,
            catalog: &self.catalog,
        };
        match self.intake.extract(&ctx).await {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(error = ?err, intake = %self.intake.name(), "intake failed; falling back to the parser");
                self.metrics.inc("warden_intake_fallbacks_total", "", 1);
                let mut r = match self.parser.extract(&ctx).await {
                    Ok(r) => r,
                    Err(_) => IntakeResult {
                        draft: DraftIntent::default(),
                        trace: Default::default(),
                    },
                };
                r.trace.fallback_reason = Some(format!("{err:#}").chars().take(300).collect());
                r
            }
        }
    }

    /// Validates what the intake found: propose it, or ask one clarifying question.
    async fn advance_draft(
        &self,
        req: &RequestRow,
        person: &Person,
        result: IntakeResult,
    ) -> anyhow::Result<Handled> {
        let mut draft = result.draft.clone();
        if draft.action.is_none() && (draft.resource.is_some() || draft.role.is_some()) {
            draft.action = Some(Action::Request);
        }
        let trace = serde_json::to_value(&result.trace)?;
        // Logged in the same transaction as what it led to (a proposal or a question).
        let run = NewLogEntry::new(
            LogKind::IntakeRun,
            "warden",
            serde_json::json!({ "trace": trace, "draft": draft }),
        );
        // The fallback's trace comes from the parser, so its reason is what marks a model outage.
        if result.trace.fallback_reason.is_some() {
            self.say(&req.id, &self.scope_of(req), "The language assistant is unavailable, so I read your message with the command parser instead.").await;
        }
        match draft.validate(&self.catalog) {
            Ok(intent) if intent.action == Action::Request => {
                self.propose(req, person, intent, run).await
            }
            Ok(_) => {
                self.store
                    .append_log(&req.id, self.now_ms(), &[run])
                    .await?;
                let msg = "This thread is for one access request. For status, revoke or extend, send a new message outside it.";
                self.say(&req.id, &self.scope_of(req), msg).await;
                Ok(Handled::Done)
            }
            Err(question) => self.clarify(req, question, run).await,
        }
    }

    async fn clarify(
        &self,
        req: &RequestRow,
        question: IntentError,
        run: NewLogEntry,
    ) -> anyhow::Result<Handled> {
        let turns = req.clarify_turns + 1;
        let scope = self.scope_of(req);
        if turns > i64::from(self.options.max_clarify_turns) {
            let mut tx = self.store.begin().await?;
            let mut entries = vec![run];
            if tx
                .transition(
                    &req.id,
                    req.state,
                    RequestEvent::Cancel,
                    &RequestChanges::default(),
                    self.now_ms(),
                )
                .await?
                .is_some()
            {
                entries.push(NewLogEntry::new(
                    LogKind::StateChange,
                    "warden",
                    serde_json::json!({ "to": "cancelled", "why": "too many clarifying turns" }),
                ));
            }
            tx.append_log(&req.id, self.now_ms(), &entries).await?;
            tx.commit().await?;
            let msg = "I still can't tell exactly what you need, so I've closed this draft. Try the structured form: `/access request <resource> <role> for <duration> because <reason>` (e.g. `/access request prod-db read for 2h because INC-42`).";
            self.say(&req.id, &scope, msg).await;
            return Ok(Handled::Done);
        }
        let changes = RequestChanges {
            clarify_turns: Some(turns),
            ..Default::default()
        };
        let mut tx = self.store.begin().await?;
        tx.update_in_state(&req.id, req.state, &changes, self.now_ms())
            .await?;
        tx.append_log(
            &req.id,
            self.now_ms(),
            &[
                run,
                NewLogEntry::new(
                    LogKind::Clarification,
                    "warden",
                    serde_json::json!({ "question": question, "turn": turns }),
                ),
            ],
        )
        .await?;
        tx.commit().await?;
        let mut msg = question.question.clone();
        if !question.options.is_empty() {
            msg.push_str(&format!(" Options: {}.", question.options.join(", ")));
        }
        self.say(&req.id, &scope, &msg).await;
        Ok(Handled::Done)
    }

    /// Shows the requester what was understood, with Submit / Edit / Cancel.
    async fn propose(
        &self,
        req: &RequestRow,
        person: &Person,
        intent: Intent,
        run: NewLogEntry,
    ) -> anyhow::Result<Handled> {
        let now = self.now_ms();
        let deadline = now + (self.options.confirm_ttl_secs as i64) * 1000;
        let changes = RequestChanges {
            action: Some(intent.action.as_str().into()),
            resource: intent.resource.clone(),
            role: intent.role.clone(),
            duration_secs: intent.duration_secs.map(|d| d as i64),
            justification: Some(intent.justification.clone()),
            ticket: Some(intent.ticket.clone()),
            intent_json: Some(serde_json::to_string(&intent)?),
            break_glass: Some(intent.break_glass),
            deadline_at: Some(Some(deadline)),
            ..Default::default()
        };
        let mut tx = self.store.begin().await?;
        if tx
            .transition(&req.id, req.state, RequestEvent::IntentReady, &changes, now)
            .await?
            .is_none()
        {
            return Ok(Handled::Done);
        }
        tx.append_log(
            &req.id,
            now,
            &[
                run,
                NewLogEntry::new(
                    LogKind::IntentProposed,
                    "warden",
                    serde_json::json!({ "intent": intent }),
                ),
            ],
        )
        .await?;
        tx.enqueue(&NewJob {
            id: format!("confirm_expire:{}", req.id),
            kind: "confirm_expire".into(),
            request_id: Some(req.id.clone()),
            run_at: deadline,
            priority: 0,
            payload: None,
        })
        .await?;
        tx.commit().await?;
        let skip_confirmation = match self.options.confirm {
            super::ConfirmMode::Always => false,
            super::ConfirmMode::Never => true,
            super::ConfirmMode::ApprovalOnly => self.preview_allows(req, person, &intent).await,
        };
        if skip_confirmation {
            return self.submit(&req.id, person, true).await;
        }
        let row = self
            .store
            .get_request(&req.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
        let card = self.confirmation_card(&row, &intent, None);
        let scope = self.scope_of(&row);
        self.post_card(
            &row,
            &CardTarget::Scope(scope),
            &card,
            CardKind::Confirmation,
        )
        .await;
        Ok(Handled::Done)
    }

    /// The requester edited the proposed fields in a form.
    pub(super) async fn on_edit(
        &self,
        event: &ChatEvent,
        request_id: &RequestId,
        fields: &EditFields,
    ) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        let req = self.request_for_requester(request_id, &person).await?;
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
        let earlier: Option<Intent> = req
            .intent_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let base = DraftIntent {
            action: Some(Action::Request),
            resource: earlier.as_ref().and_then(|i| i.resource.clone()),
            role: earlier.as_ref().and_then(|i| i.role.clone()),
            duration: earlier
                .as_ref()
                .and_then(|i| i.duration_secs)
                .map(crate::domain::format_duration),
            justification: earlier.as_ref().and_then(|i| i.justification.clone()),
            ticket: earlier.as_ref().and_then(|i| i.ticket.clone()),
            ..Default::default()
        };
        let edited = DraftIntent {
            resource: fields.resource.clone().filter(|s| !s.trim().is_empty()),
            role: fields.role.clone().filter(|s| !s.trim().is_empty()),
            duration: fields.duration.clone().filter(|s| !s.trim().is_empty()),
            justification: fields
                .justification
                .clone()
                .filter(|s| !s.trim().is_empty()),
            ..Default::default()
        };
        let draft = base.merge(edited);
        self.store
            .append_log(
                &req.id,
                self.now_ms(),
                &[NewLogEntry::new(
                    LogKind::MessageIn,
                    &person.id,
                    serde_json::json!({ "edit": fields, "account": event.actor }),
                )],
            )
            .await?;
        let trace = crate::intake::IntakeTrace {
            source: "edit form".into(),
            ..Default::default()
        };
        self.advance_draft(&req, &person, IntakeResult { draft, trace })
            .await
    }

    /// Buttons on cards.
    pub(super) async fn on_action(
        &self,
        event: &ChatEvent,
        action: CardAction,
        request_id: &RequestId,
        reason: Option<&str>,
    ) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        match action {
            CardAction::Submit => {
                self.request_for_requester(request_id, &person).await?;
                self.submit(request_id.as_str(), &person, false).await
            }
            CardAction::Cancel => {
                let req = self.request_for_requester(request_id, &person).await?;
                self.cancel(&req.id, &person).await
            }
            CardAction::Edit => {
                let req = self.request_for_requester(request_id, &person).await?;
                let msg = "Reply in this thread with what to change (for example \"make it 2h\" or \"role write\"), and I'll show the card again.";
                self.say(&req.id, &self.scope_of(&req), msg).await;
                Ok(Handled::Done)
            }
            CardAction::Approve => self.approve(event, &person, request_id).await,
            CardAction::Deny => self.deny(event, &person, request_id, reason).await,
            CardAction::Revoke => {
                let req = self.request_for_requester(request_id, &person).await?;
                self.revoke_early(&req.id, &person.id, "revoked by the requester")
                    .await
            }
            CardAction::Extend => {
                let req = self.request_for_requester(request_id, &person).await?;
                let intent = Intent {
                    action: Action::Extend,
                    resource: req.resource.clone(),
                    role: req.role.clone(),
                    duration_secs: None,
                    justification: None,
                    ticket: None,
                    request_id: Some(request_id.clone()),
                    break_glass: false,
                    notes: vec![],
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
    ) -> anyhow::Result<RequestRow> {
        match self.store.get_request(id.as_str()).await? {
            Some(r) if r.requester_id == person.id => Ok(r),
            _ => Err(user_error(format!("I can't find a request {id} of yours."))),
        }
    }

    /// Revoke / cancel / extend from a new message, by id or by resource.
    async fn act_on_existing(
        &self,
        event: &ChatEvent,
        person: &Person,
        action: Action,
        intent: &Intent,
    ) -> anyhow::Result<Handled> {
        let req = match &intent.request_id {
            Some(id) => self.request_for_requester(id, person).await?,
            None => {
                let wanted = match action {
                    Action::Cancel => vec![
                        RequestState::Draft,
                        RequestState::AwaitingConfirmation,
                        RequestState::PendingApproval,
                    ],
                    _ => vec![RequestState::Active],
                };
                let mut found = self.store.requests_of(&person.id, &wanted).await?;
                found.retain(|r| intent.resource.is_none() || r.resource == intent.resource);
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
            Action::Cancel => self.cancel(&req.id, person).await,
            Action::Revoke => {
                self.revoke_early(&req.id, &person.id, "revoked by the requester")
                    .await
            }
            _ => self.extend(event, person, &req, intent).await,
        }
    }

    /// Replies where the event came from (not tied to a request).
    pub(crate) async fn reply(&self, event: &ChatEvent, text: &str) {
        if let Some(chat) = self.chat(event.scope.platform)
            && let Err(e) = chat.send(&event.scope, text).await
        {
            tracing::warn!(error = ?e, "failed to reply");
        }
    }

    /// The scope a request lives in.
    pub(crate) fn scope_of(&self, req: &RequestRow) -> Scope {
        Scope {
            platform: req.platform().unwrap_or(Platform::Console),
            workspace: req.workspace.clone(),
            channel: req.channel.clone(),
            thread: req.thread.clone(),
            kind: req.scope_kind.clone(),
        }
    }
}
