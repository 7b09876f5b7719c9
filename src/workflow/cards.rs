//! Platform-free cards built from stored, validated fields only (never model prose); posting
//! them and keeping posted copies current is `card_posts.rs`.

use super::Engine;
use super::plan::describe;
use crate::chat::{Button, ButtonStyle, Card, CardAction, CardKind};
use crate::clock::from_ms;
use crate::domain::{Intent, Request, RequestState, Resource, format_duration};

/// The deterministic fields shown for a request on any card.
pub fn request_card_fields(req: &Request, resource: Option<&Resource>) -> Vec<(String, String)> {
    let mut f = Vec::new();
    let res = match resource {
        Some(r) => format!("{} ({})", r.name, r.id),
        None => req.resource().unwrap_or("?").to_string(),
    };
    f.push(("Resource".into(), res));
    f.push(("Role".into(), req.role().unwrap_or("?").to_string()));
    f.push((
        "Duration".into(),
        req.duration_secs()
            .map(format_duration)
            .unwrap_or_else(|| "?".into()),
    ));
    f.push((
        "Reason".into(),
        req.justification().unwrap_or("—").to_string(),
    ));
    if let Some(t) = req.ticket() {
        f.push(("Ticket".into(), t.to_string()));
    }
    if let (Some(bundle), Some(intent)) = (&req.bundle_id, &req.intent)
        && intent.items.len() > 1
    {
        // An approver decides this item only; the rest of the ask is context.
        f.push((
            "Part of".into(),
            format!(
                "{bundle}, one of {} items asked together (this card is for this item only)",
                intent.items.len()
            ),
        ));
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
        req: &Request,
        intent: &Intent,
        status: Option<String>,
    ) -> Card {
        let resource = req.resource().and_then(|r| self.catalog.get(r));
        let mut fields = match intent.items.len() > 1 {
            true => self.items_fields(req, intent),
            false => request_card_fields(req, resource),
        };
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
            request_id: req.id.clone(),
            title: "Is this what you need?".into(),
            fields,
            status,
            buttons,
            items: vec![],
        }
    }

    /// A multi-item ask on its one confirmation card: every item on a line, then the reason.
    fn items_fields(&self, req: &Request, intent: &Intent) -> Vec<(String, String)> {
        let lines: Vec<String> = intent
            .items
            .iter()
            .map(|item| {
                let name = self
                    .catalog
                    .get(&item.resource)
                    .map_or(item.resource.clone(), |r| format!("{} ({})", r.name, r.id));
                format!(
                    "{name}: {} for {}",
                    item.role,
                    format_duration(item.duration_secs)
                )
            })
            .collect();
        let mut f = vec![(format!("Items ({})", lines.len()), lines.join("\n"))];
        f.push((
            "Reason".into(),
            req.justification().unwrap_or("—").to_string(),
        ));
        if let Some(t) = req.ticket() {
            f.push(("Ticket".into(), t.to_string()));
        }
        f.push((
            "Decided".into(),
            "each item on its own: some may be granted at once, others need approval".into(),
        ));
        f
    }

    pub(crate) fn approval_card(
        &self,
        req: &Request,
        resource: &Resource,
        step: usize,
        status: Option<String>,
        requester: &str,
    ) -> Card {
        let mut fields = vec![("Requester".into(), requester.to_string())];
        fields.extend(request_card_fields(req, Some(resource)));
        fields.push((
            "Risk".into(),
            resource
                .risk_for(req.role().unwrap_or_default())
                .as_str()
                .into(),
        ));
        if let Some(d) = &req.decision
            && !d.reasons().is_empty()
        {
            fields.push(("Policy".into(), d.reasons().join("; ")));
        }
        if let Some(plan) = &req.approval_plan
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
        if let Some(parent) = &req.parent_id {
            fields.push(("Extends".into(), parent.to_string()));
        }
        let buttons = if status.is_some() && req.state != RequestState::PendingApproval {
            vec![]
        } else {
            vec![
                button("Approve", CardAction::Approve, ButtonStyle::Primary),
                button("Deny", CardAction::Deny, ButtonStyle::Danger),
            ]
        };
        Card {
            kind: CardKind::Approval,
            request_id: req.id.clone(),
            title: if req.is_agent() {
                "An agent's access request needs your approval".into()
            } else {
                "Access request needs your approval".into()
            },
            fields,
            status,
            buttons,
            items: vec![],
        }
    }

    /// Who asked, as an approval card says it: "Alice Ng (alice)", or for an agent "requested
    /// by agent Billing migrations (ci-migrate) (owned by Carol Diaz) for task: …".
    pub(crate) async fn requester_label(&self, req: &Request) -> String {
        if !req.is_agent() {
            let name = self.display_name(&req.requester_id).await;
            return format!("{name} ({})", req.requester_id);
        }
        let (agent, owner) = match self.agents.get(&req.requester_id) {
            Some(a) => (
                format!("{} ({})", a.name, a.id),
                self.display_name(&a.owner).await,
            ),
            // Unregistered since: say so rather than guess an owner.
            None => (req.requester_id.clone(), "no registered owner".into()),
        };
        format!(
            "requested by agent {agent} (owned by {owner}) for task: {}",
            req.justification().unwrap_or("—")
        )
    }

    /// Best effort: the directory's display name is a nicety on a card, never an identity.
    pub(crate) async fn display_name(&self, id: &str) -> String {
        match self.directory.person(id).await {
            Ok(Some(p)) => crate::domain::text::sanitize_free_text(&p.display_name, 60),
            _ => id.to_string(),
        }
    }

    pub(crate) async fn render_stored_card(
        &self,
        req: &Request,
        kind: CardKind,
        status: Option<String>,
    ) -> Option<Card> {
        match kind {
            CardKind::Confirmation => {
                let intent = req.intent.as_ref()?;
                Some(self.confirmation_card(
                    req,
                    intent,
                    status.or_else(|| Some(req.state.label().to_string())),
                ))
            }
            CardKind::Approval | CardKind::Alert => {
                let resource = self.catalog.get(req.resource()?)?;
                let name = self.requester_label(req).await;
                let mut card =
                    self.approval_card(req, resource, req.current_step as usize, status, &name);
                if kind == CardKind::Alert {
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
            CardKind::Grant | CardKind::BundleApproval => None,
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
