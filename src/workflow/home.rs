//! A person's home, read from the store: built for `/access status`, published to the Home tab
//! when it is opened, and republished after a change to any request on it.

use super::{Engine, Handled};
use crate::chat::home::{HomeItem, HomeSection, SectionKind};
use crate::chat::{Button, ButtonStyle, CardAction, ChatEvent, Home, Scope};
use crate::domain::{Person, PlatformUser, Request, RequestState, Verdict, format_duration};
use crate::store::RequestFilter;

/// How far back "your recent decisions" looks.
const DECISIONS_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

fn button(label: &str, action: CardAction, style: ButtonStyle) -> Button {
    Button {
        label: label.into(),
        action,
        style,
    }
}

/// "read on prod-db" from the request's validated fields.
fn what(r: &Request) -> String {
    match (r.role(), r.resource()) {
        (Some(role), Some(res)) => format!("{role} on {res}"),
        _ => "details still needed".into(),
    }
}

impl Engine {
    /// The person's home as it stands now.
    pub(crate) async fn home_of(&self, person: &str) -> anyhow::Result<Home> {
        let mine = self
            .store
            .list_requests(&RequestFilter {
                requester_id: Some(person.to_string()),
                limit: 200,
                ..Default::default()
            })
            .await?;
        let waiting = self
            .waiting_on_id(person)
            .await?
            .iter()
            .map(|r| HomeItem {
                request_id: r.id.clone(),
                text: format!(
                    "{} — {} wants {} for {}",
                    r.id,
                    r.requester_id,
                    what(r),
                    r.duration_secs().map(format_duration).unwrap_or_default()
                ),
                buttons: vec![
                    button("Approve", CardAction::Approve, ButtonStyle::Primary),
                    button("Deny", CardAction::Deny, ButtonStyle::Danger),
                ],
            })
            .collect();
        let mut active: Vec<&Request> = mine
            .iter()
            .filter(|r| r.state == RequestState::Active)
            .collect();
        active.sort_by_key(|r| r.expires_at.unwrap_or(i64::MAX));
        let active = active
            .into_iter()
            .map(|r| HomeItem {
                request_id: r.id.clone(),
                text: format!(
                    "{} — {}, {}",
                    r.id,
                    what(r),
                    r.expires_at.map(|e| self.until(e)).unwrap_or_default()
                ),
                buttons: vec![
                    button("Extend", CardAction::Extend, ButtonStyle::Primary),
                    button("Revoke", CardAction::Revoke, ButtonStyle::Danger),
                ],
            })
            .collect();
        let open = mine
            .iter()
            .filter(|r| r.state.is_open())
            .map(|r| {
                let how_long = r
                    .duration_secs()
                    .map(|d| format!(" for {}", format_duration(d)))
                    .unwrap_or_default();
                HomeItem {
                    request_id: r.id.clone(),
                    text: format!("{} — {}{how_long} ({})", r.id, what(r), r.state.label()),
                    buttons: vec![],
                }
            })
            .collect();
        let decisions = self.decisions_of(person).await?;
        Ok(Home {
            sections: vec![
                HomeSection::new(SectionKind::WaitingForYou, waiting),
                HomeSection::new(SectionKind::Active, active),
                HomeSection::new(SectionKind::Open, open),
                HomeSection::new(SectionKind::Decisions, decisions),
            ],
        })
    }

    /// The approvals and denials this person gave in the last 7 days, newest first, read from
    /// the requests created in that window.
    async fn decisions_of(&self, person: &str) -> anyhow::Result<Vec<HomeItem>> {
        let since = self.now_ms() - DECISIONS_WINDOW_MS;
        let recent = self
            .store
            .list_requests(&RequestFilter {
                created_from: Some(since),
                limit: 500,
                ..Default::default()
            })
            .await?;
        let mut given: Vec<(i64, HomeItem)> = recent
            .iter()
            .flat_map(|r| {
                r.approvals
                    .iter()
                    .filter(|a| a.approver_id == person && a.at >= since)
                    .map(move |a| {
                        let verdict = match a.verdict {
                            Verdict::Approve => "approved",
                            Verdict::Deny => "denied",
                        };
                        let item = HomeItem {
                            request_id: r.id.clone(),
                            text: format!(
                                "{} — you {verdict} {}'s {} (now {})",
                                r.id,
                                r.requester_id,
                                what(r),
                                r.state.label()
                            ),
                            buttons: vec![],
                        };
                        (a.at, item)
                    })
            })
            .collect();
        given.sort_by_key(|g| std::cmp::Reverse(g.0));
        Ok(given.into_iter().map(|(_, i)| i).collect())
    }

    /// `/access status`: the home, privately, with buttons where the platform has them.
    pub(super) async fn show_status(
        &self,
        scope: &Scope,
        actor: &PlatformUser,
        person: &Person,
    ) -> anyhow::Result<Handled> {
        let home = self.home_of(&person.id).await?;
        let shown = match self.chat(scope.platform) {
            Some(chat) => chat.show_home(scope, actor, &home).await.unwrap_or_else(|e| {
                tracing::warn!(error = ?e, "failed to show a home with buttons; sending its text");
                false
            }),
            None => false,
        };
        if !shown {
            self.tell_privately(scope, actor, &home.to_text()).await;
        }
        Ok(Handled::Done)
    }

    /// The Home tab was opened: remember who has one, and publish it.
    pub(super) async fn on_home_opened(&self, event: &ChatEvent) -> anyhow::Result<Handled> {
        let person = self.principal(&event.actor).await?;
        self.store
            .record_home_viewer(&event.actor, &person.id, self.now_ms())
            .await?;
        self.publish_home(&event.actor, &person.id).await;
        Ok(Handled::Done)
    }

    async fn publish_home(&self, account: &PlatformUser, person: &str) {
        let Some(chat) = self.chat(account.platform) else {
            return;
        };
        let home = match self.home_of(person).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(person, error = ?e, "failed to read a home");
                return;
            }
        };
        if let Err(e) = chat.publish_home(account, &home).await {
            tracing::warn!(person, error = ?e, "failed to publish a home");
        }
    }

    /// After a change to `req`: republishes the homes it is on (its requester, its approvers,
    /// whoever decided on it) for the people who opened their Home tab.
    pub(super) async fn refresh_homes(&self, req: &Request) {
        if !self.chats.values().any(|c| c.has_home_tab()) {
            return;
        }
        let mut people = vec![req.requester_id.clone()];
        if let Some(plan) = &req.approval_plan {
            people.extend(plan.steps.iter().flat_map(|s| s.eligible.iter().cloned()));
        }
        people.extend(req.approvals.iter().map(|a| a.approver_id.clone()));
        people.sort();
        people.dedup();
        let viewers = match self.store.home_viewers(&people).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(request = %req.id, error = ?e, "failed to list Home tab viewers");
                return;
            }
        };
        for v in viewers {
            self.publish_home(&v.account, &v.person).await;
        }
    }
}
