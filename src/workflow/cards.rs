//! Platform-free cards built from stored, validated fields only (never model prose).

use super::Engine;
use super::plan::{ApprovalPlan, describe};
use crate::chat::{Button, ButtonStyle, Card, CardAction, CardKind, CardTarget, MessageRef};
use crate::clock::from_ms;
use crate::domain::{Intent, Platform, RequestId, Resource, format_duration};
use crate::store::{LogKind, NewJob, NewLogEntry, RequestRow};

/// The deterministic fields shown for a request on any card.
pub fn request_card_fields(req: &RequestRow, resource: Option<&Resource>) -> Vec<(String, String)> {
    let mut f = Vec::new();
    let res = match resource {
        Some(r) => format!("{} ({})", r.name, r.id),
        None => req.resource.clone().unwrap_or_else(|| "?".into()),
    };
    f.push(("Resource".into(), res));
    f.push((
        "Role".into(),
        req.role.clone().unwrap_or_else(|| "?".into()),
    ));
    f.push((
        "Duration".into(),
        req.duration_secs
            .map(|d| format_duration(d.max(0) as u64))
            .unwrap_or_else(|| "?".into()),
    ));
    f.push((
        "Reason".into(),
        req.justification.clone().unwrap_or_else(|| "—".into()),
    ));
    if let Some(t) = &req.ticket {
        f.push(("Ticket".into(), t.clone()));
    }
    f
}

fn button(label: &str, action: CardAction, style: ButtonStyle) -> Button {
    Button {
        label: label.into(),
        action,
        style,
    }
}

impl Engine {
    pub(crate) fn confirmation_card(
        &self,
        req: &RequestRow,
        intent: &Intent,
        status: Option<String>,
    ) -> Card {
        let resource = req.resource.as_deref().and_then(|r| self.catalog.get(r));
        let mut fields = request_card_fields(req, resource);
        if intent.break_glass {
            fields.push((
                "Emergency".into(),
                "break-glass (announced to security, reviewed afterwards)".into(),
            ));
        }
        for note in &intent.notes {
            fields.push(("Note".into(), note.clone()));
        }
        let buttons = if status.is_some() {
            vec![]
        } else {
            vec![
                button("Submit", CardAction::Submit, ButtonStyle::Primary),
                button("Edit", CardAction::Edit, ButtonStyle::Default),
                button("Cancel", CardAction::Cancel, ButtonStyle::Danger),
            ]
        };
        Card {
            kind: CardKind::Confirmation,
            request_id: RequestId::from_stored(req.id.clone()),
            title: "Is this what you need?".into(),
            fields,
            status,
            buttons,
        }
    }

    pub(crate) fn approval_card(
        &self,
        req: &RequestRow,
        resource: &Resource,
        step: usize,
        status: Option<String>,
        requester_name: &str,
    ) -> Card {
        let mut fields = vec![(
            "Requester".into(),
            format!("{requester_name} ({})", req.requester_id),
        )];
        fields.extend(request_card_fields(req, Some(resource)));
        fields.push((
            "Risk".into(),
            resource
                .risk_for(req.role.as_deref().unwrap_or_default())
                .as_str()
                .into(),
        ));
        if let Some(d) = req
            .decision_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<crate::policy::Decision>(j).ok())
        {
            if !d.reasons().is_empty() {
                fields.push(("Policy".into(), d.reasons().join("; ")));
            }
        }
        if let Some(plan) = ApprovalPlan::parse(req.approval_plan_json.as_deref())
            && let Some(s) = plan.steps.get(step)
        {
            fields.push((
                "Step".into(),
                format!(
                    "{} of {}: {}",
                    step + 1,
                    plan.steps.len(),
                    describe(&s.spec, s.count)
                ),
            ));
        }
        if req.parent_id.is_some() {
            fields.push(("Extends".into(), req.parent_id.clone().unwrap_or_default()));
        }
        let buttons =
            if status.is_some() && req.state != crate::domain::RequestState::PendingApproval {
                vec![]
            } else {
                vec![
                    button("Approve", CardAction::Approve, ButtonStyle::Primary),
                    button("Deny", CardAction::Deny, ButtonStyle::Danger),
                ]
            };
        Card {
            kind: CardKind::Approval,
            request_id: RequestId::from_stored(req.id.clone()),
            title: "Access request needs your approval".into(),
            fields,
            status,
            buttons,
        }
    }

    /// Best effort: the directory's display name is a nicety on a card, never an identity.
    pub(crate) async fn display_name(&self, id: &str) -> String {
        match self.directory.person(id).await {
            Ok(Some(p)) => crate::domain::text::sanitize_free_text(&p.display_name, 60),
            _ => id.to_string(),
        }
    }

    /// Posts a card and remembers it so every copy can be updated later.
    pub(crate) async fn post_card(
        &self,
        req: &RequestRow,
        target: &CardTarget,
        card: &Card,
        kind: CardKind,
    ) -> Option<MessageRef> {
        let platform = match target {
            CardTarget::Scope(s) => s.platform,
            CardTarget::Direct(u) => u.platform,
            CardTarget::Channel { platform, .. } => *platform,
        };
        let chat = self.chat(platform)?;
        match chat.post_card(target, card).await {
            Ok(m) => {
                if let Err(e) = self
                    .store
                    .record_card(
                        &req.id,
                        platform,
                        &m.channel,
                        &m.message_id,
                        kind.as_str(),
                        self.now_ms(),
                    )
                    .await
                {
                    tracing::warn!(request = %req.id, error = ?e, "failed to record a posted card");
                }
                // A slash command has no thread yet: the first card starts it.
                if req.thread.is_none()
                    && matches!(target, CardTarget::Scope(_))
                    && let Err(e) = self.store.set_thread(&req.id, &m.message_id).await
                {
                    tracing::warn!(request = %req.id, error = ?e, "failed to record the request's thread");
                }
                Some(m)
            }
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "failed to post a card");
                let entry = NewLogEntry::new(
                    LogKind::Error,
                    "warden",
                    serde_json::json!({ "card_post_failed": kind.as_str() }),
                );
                let _ = self
                    .store
                    .append_log(&req.id, self.now_ms(), &[entry])
                    .await;
                None
            }
        }
    }

    /// Re-renders every posted card of a request with a status line; resolved cards lose their buttons.
    pub(crate) async fn refresh_cards(&self, req: &RequestRow, status: Option<String>) {
        let cards = match self.store.cards(&req.id, None).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "failed to list cards");
                return;
            }
        };
        for c in cards {
            let Some(card) = self.render_stored_card(req, &c.kind, status.clone()).await else {
                continue;
            };
            let platform = Platform::parse(&c.platform).unwrap_or(Platform::Console);
            let msg = MessageRef {
                platform,
                channel: c.channel.clone(),
                message_id: c.message_id.clone(),
            };
            let ok = match self.chat(platform) {
                Some(chat) => chat.update_card(&msg, &card).await.map_err(|e| tracing::warn!(request = %req.id, error = ?e, "card update failed; will retry")).is_ok(),
                None => true,
            };
            if !ok {
                // A card update is never dropped: a job retries it until the platform takes it.
                let job = NewJob {
                    id: format!("card_update:{}:{}", c.channel, c.message_id),
                    kind: "card_update".into(),
                    request_id: Some(req.id.clone()),
                    run_at: self.now_ms() + 2000,
                    priority: 1,
                    payload: Some(serde_json::json!({ "platform": c.platform, "channel": c.channel, "message_id": c.message_id, "kind": c.kind, "status": status }).to_string()),
                };
                if let Err(e) = self.store.enqueue(&job).await {
                    tracing::error!(request = %req.id, error = ?e, "failed to schedule a card update retry");
                }
            }
        }
    }

    pub(crate) async fn render_stored_card(
        &self,
        req: &RequestRow,
        kind: &str,
        status: Option<String>,
    ) -> Option<Card> {
        match kind {
            "confirmation" => {
                let intent = Self::intent_of(req).ok()?;
                Some(self.confirmation_card(
                    req,
                    &intent,
                    status.or_else(|| Some(req.state.label().to_string())),
                ))
            }
            "approval" | "alert" => {
                let resource = self.catalog.get(req.resource.as_deref()?)?;
                let name = self.display_name(&req.requester_id).await;
                let mut card = self.approval_card(
                    req,
                    resource,
                    req.current_step.max(0) as usize,
                    status,
                    &name,
                );
                if kind == "alert" {
                    card.kind = CardKind::Alert;
                    card.title = "Break-glass access".into();
                    card.buttons = if req.review_open {
                        vec![button(
                            "Mark reviewed",
                            CardAction::Review,
                            ButtonStyle::Primary,
                        )]
                    } else {
                        vec![]
                    };
                }
                Some(card)
            }
            _ => None,
        }
    }

    /// "until 14:05 UTC (in 2h)"
    pub(crate) fn until(&self, expires_at_ms: i64) -> String {
        let left_secs = ((expires_at_ms - self.now_ms()).max(0) + 500) / 1000;
        // Whole minutes read better than "1h59m59s".
        let left = if left_secs >= 60 {
            ((left_secs + 30) / 60) * 60
        } else {
            left_secs.max(1)
        };
        format!(
            "until {} ({} from now)",
            from_ms(expires_at_ms).format("%Y-%m-%d %H:%M UTC"),
            format_duration(left as u64)
        )
    }
}
