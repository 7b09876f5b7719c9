//! Emergency access: announced at once to security and reviewers, reviewed afterwards.

use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::{CardKind, CardTarget, ChatEvent, Scope};
use crate::domain::{
    Entry, Evidence, Patch, Person, Request, RequestId, Resource, ScopeKind, format_duration,
};
use crate::store::Change;

impl Engine {
    /// Posts the alert card to the security channel and the reviewers, and logs that it did.
    pub(crate) async fn announce_break_glass(
        &self,
        req: &Request,
        person: &Person,
        resource: &Resource,
    ) {
        let name = crate::domain::text::sanitize_free_text(&person.display_name, 60);
        let status = Some(format!(
            "BREAK-GLASS by {name}: self-activated for at most {}; review required",
            format_duration(self.options.break_glass_secs)
        ));
        if let Some(mut card) = self.render_stored_card(req, CardKind::Alert, status).await {
            card.kind = CardKind::Alert;
            let mut posts = Vec::new();
            if let Some((platform, channel)) = &self.options.security_channel {
                let target = CardTarget::Channel {
                    platform: *platform,
                    workspace: req.origin.workspace.clone(),
                    channel: channel.clone(),
                };
                posts.push((target, card.clone()));
            }
            let platform = req.origin.platform;
            let mut reviewers: Vec<String> = resource.owners.clone();
            if let Some(m) = &person.manager {
                reviewers.push(m.clone());
            }
            reviewers.sort();
            reviewers.dedup();
            for id in reviewers.iter().filter(|r| **r != person.id) {
                if let Ok(Some(p)) = self.directory.person(id).await
                    && let Some(acct) = p.account_on(platform, &req.origin.workspace)
                {
                    posts.push((CardTarget::Direct(acct.clone()), card.clone()));
                }
            }
            self.post_and_record(req, &posts).await;
        }
        let entry = Entry::warden(Evidence::Alert(serde_json::json!({
            "break_glass": true,
            "announced_to": self.options.security_channel.as_ref().map(|(p, c)| format!("{p}:{c}")),
            "review": "open",
        })));
        let logged = self
            .change_request(req.id.as_str(), |_| {
                Ok(Some(Step::new(Change::none().log(entry.clone()))))
            })
            .await;
        if let Err(e) = logged {
            tracing::warn!(request = %req.id, error = ?e, "failed to log the break-glass announcement");
        }
        tracing::warn!(request = %req.id, requester = %person.id, resource = %resource.id, "break-glass access activated");
    }

    /// A message to the security channel, if one is configured.
    pub(crate) async fn alert_security(&self, req: &Request, text: &str) {
        let Some((platform, channel)) = &self.options.security_channel else {
            return;
        };
        let scope = Scope {
            platform: *platform,
            workspace: req.origin.workspace.clone(),
            channel: channel.clone(),
            thread: None,
            kind: ScopeKind::Channel,
        };
        self.send_unlogged(&scope, text).await;
    }

    /// Closes a break-glass review. Reviewers are the resource owners and the requester's manager.
    pub(crate) async fn close_review(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
        notes: Option<&str>,
    ) -> anyhow::Result<Handled> {
        let req = self.request_by_id(id).await?;
        if !req.review_open {
            return Err(user_error(format!("Request {id} has no open review.")));
        }
        if person.id == req.requester_id {
            self.log_refusal(&req, person, "review", "self-review is not allowed")
                .await;
            return Err(user_error("You can't review your own emergency access."));
        }
        let resource = self.resource_of(&req)?;
        let manager = self
            .directory
            .person(&req.requester_id)
            .await
            .ok()
            .flatten()
            .and_then(|p| p.manager);
        let reviewer =
            resource.owners.contains(&person.id) || manager.as_deref() == Some(person.id.as_str());
        if !reviewer {
            self.log_refusal(
                &req,
                person,
                "review",
                "not an owner or the requester's manager",
            )
            .await;
            return Err(user_error(format!(
                "Only the owners of {} or the requester's manager can close this review.",
                resource.name
            )));
        }
        let notes = notes.map(|n| crate::domain::text::sanitize_free_text(n, 500));
        let name = person.display_name.clone();
        let closed = self
            .change_request(id.as_str(), |seen| {
                if !seen.review_open {
                    return Err(user_error(format!(
                        "The review of {id} was already closed."
                    )));
                }
                let change = Change::none()
                    .patch(Patch {
                        review_open: Some(false),
                        ..Default::default()
                    })
                    .log(Entry::new(
                        &person.id,
                        Evidence::Review {
                            notes: notes.clone(),
                            account: event.actor.clone(),
                        },
                    ));
                Ok(Some(
                    Step::new(change)
                        .cards(format!("Reviewed by {name}"))
                        .tell(format!(
                            "{name} reviewed the emergency access of request {}.",
                            seen.id
                        ))
                        .for_event(event),
                ))
            })
            .await?;
        Ok(if closed.is_some() {
            Handled::Done
        } else {
            Handled::Duplicate
        })
    }
}
