//! Passkey step-up: where the policy's decision carries `Obligation::StepUp`, an Approve click
//! does not count yet. The approver gets a private, single-use, short-lived link bound to
//! (approver, request, step); the web page verifies a passkey assertion and hands the proof back
//! here, and the approval goes through the same path as a click (`approve_click`).

use super::approvals::Click;
use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::step_up::{LINK_TTL_MS, StepUpRefusal, hash_token};
use crate::domain::{
    Entry, Evidence, PasskeyProof, Person, Request, RequestState, StepUpLink, StepUpPurpose,
    StepUpToken, format_duration,
};
use crate::store::Change;

/// What the step-up page shows about the request it confirms.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepUpView {
    pub request_id: String,
    pub purpose: &'static str,
    pub requester: String,
    pub resource: String,
    pub role: String,
    pub duration: String,
    pub reasons: Vec<String>,
    /// The approval step, counted from 1 for people.
    pub step: u32,
    pub expires_at: i64,
}

impl Engine {
    /// Sends the approver a step-up link instead of counting their click, and logs that it did
    /// (the click's delivery is recorded with it, so a redelivered click sends no second link).
    pub(crate) async fn ask_step_up(
        &self,
        event: &ChatEvent,
        person: &Person,
        req: &Request,
        purpose: StepUpPurpose,
    ) -> anyhow::Result<Handled> {
        let (verb, what) = match purpose {
            StepUpPurpose::Approve => ("approve", "your approval counts"),
            StepUpPurpose::BreakGlass => ("activate", "your access is granted"),
        };
        let Some(origin) = self.step_up_origin.clone() else {
            // Fail closed: the obligation cannot be met, so the click counts nothing.
            tracing::error!(request = %req.id, person = %person.id, verb, "the policy requires a passkey step-up, but single sign-on with passkeys is not configured ([sso] with a domain redirect_url); refused");
            self.log_refusal(
                req,
                person,
                verb,
                "passkey step-up required, but passkeys are not configured",
            )
            .await;
            return Err(user_error(format!(
                "Request {} needs a passkey confirmation before {what}, but passkey sign-in is not set up on this Warden; nothing was changed. Ask an admin to configure single sign-on.",
                req.id
            )));
        };
        let now = self.now_ms();
        let token = StepUpToken::generate();
        let link = StepUpLink {
            token_hash: token.hash(),
            request_id: req.id.clone(),
            purpose,
            person: person.id.clone(),
            account: event.actor.clone(),
            step: req.current_step,
            created_at: now,
            expires_at: now + LINK_TTL_MS,
            used_at: None,
        };
        self.store.add_step_up_link(&link).await?;
        let asked = Entry::new(
            &person.id,
            Evidence::StepUpAsked {
                purpose: link.purpose,
                step: link.step,
                account: event.actor.clone(),
                expires_at: link.expires_at,
            },
        );
        let step = Step::new(Change::none().log(asked)).for_event(event);
        match self.commit_step(req, step).await? {
            crate::store::Committed::Applied(_) => {}
            crate::store::Committed::Duplicate => return Ok(Handled::Duplicate),
            _ => {
                return Err(user_error(format!(
                    "Request {} changed while you were clicking; nothing was changed.",
                    req.id
                )));
            }
        }
        let text = format!(
            "Request {} needs your passkey before {what}. Open {origin}/admin/step-up/{} within {} — sign in, then confirm with your passkey. The link is only for you and works once.",
            req.id,
            token.as_str(),
            format_duration((LINK_TTL_MS / 1000) as u64)
        );
        self.tell_privately(&event.scope, &event.actor, &text).await;
        tracing::info!(request = %req.id, approver = %person.id, step = link.step, "step-up link sent");
        Ok(Handled::Done)
    }

    /// Checks a presented link for the signed-in `person` and describes what it confirms.
    /// Refusals are `UserError`s with a message for the page; nothing is changed.
    pub async fn step_up_view(&self, token: &str, person: &str) -> anyhow::Result<StepUpView> {
        let (link, req) = self.open_link(token, person).await?;
        let intent = req.intent.as_ref();
        Ok(StepUpView {
            request_id: req.id.to_string(),
            purpose: link.purpose.as_str(),
            requester: req.requester_id.clone(),
            resource: req.resource().unwrap_or("").to_string(),
            role: req.role().unwrap_or("").to_string(),
            duration: intent
                .and_then(|i| i.duration_secs)
                .map(format_duration)
                .unwrap_or_default(),
            reasons: req
                .decision
                .as_ref()
                .map(|d| d.reasons().to_vec())
                .unwrap_or_default(),
            step: link.step + 1,
            expires_at: link.expires_at,
        })
    }

    /// Counts the approval a link was sent for, now that `person` proved a passkey: spends the
    /// link (once), then approves through the one approval path with the proof.
    pub async fn confirm_step_up(
        &self,
        token: &str,
        person: &str,
        proof: &PasskeyProof,
    ) -> anyhow::Result<Handled> {
        let (link, req) = self.open_link(token, person).await?;
        if !proof.user_verified {
            return Err(self
                .refuse_link(
                    &link,
                    person,
                    StepUpRefusal::NoUserVerification,
                    "The passkey did not verify you (user verification is required); nothing was changed.",
                )
                .await);
        }
        let approver = match self.approver(person).await {
            Ok(a) => a,
            Err(e) => {
                self.refuse_link(&link, person, StepUpRefusal::NotInDirectory, "")
                    .await;
                return Err(e);
            }
        };
        if !self
            .store
            .spend_step_up_link(&link.token_hash, person, self.now_ms())
            .await?
        {
            // Lost a race with another confirmation, or expired in between.
            return Err(self
                .refuse_link(
                    &link,
                    person,
                    StepUpRefusal::LinkUsed,
                    "This link was used already or has expired; nothing was changed.",
                )
                .await);
        }
        tracing::info!(request = %req.id, approver = person, credential = %proof.credential_id, "step-up confirmed with a passkey");
        match link.purpose {
            StepUpPurpose::Approve => {
                let click = Click {
                    actor: &link.account,
                    delivery: format!("stepup:{}", link.token_hash),
                    passkey: Some(proof),
                    at_step: Some(link.step),
                };
                self.approve_click(&approver, &req.id, &click, None).await
            }
            StepUpPurpose::BreakGlass => {
                if req.requester_id != approver.id {
                    anyhow::bail!(
                        "break-glass step-up link of {} is not the requester's",
                        req.id
                    );
                }
                self.submit_with_passkey(&req, &approver, proof).await
            }
        }
    }

    /// The link behind `token` if it is open, `person`'s, and its request still waits for it.
    /// Each refusal of a real link is written to its request's context log.
    async fn open_link(&self, token: &str, person: &str) -> anyhow::Result<(StepUpLink, Request)> {
        let gone = || {
            user_error(
                "This step-up link is not valid. Press Approve again in chat to get a new one.",
            )
        };
        let link = self
            .store
            .step_up_link(&hash_token(token))
            .await?
            .ok_or_else(gone)?;
        if link.person != person {
            tracing::warn!(request = %link.request_id, link_for = %link.person, opened_by = person, "a step-up link was opened by someone else; refused");
            return Err(self
                .refuse_link(
                    &link,
                    person,
                    StepUpRefusal::OtherPerson,
                    "This link was sent to someone else; only they can use it. Nothing was changed.",
                )
                .await);
        }
        if link.used_at.is_some() {
            return Err(self
                .refuse_link(
                    &link,
                    person,
                    StepUpRefusal::LinkUsed,
                    "This link was used already; it works once. Nothing was changed.",
                )
                .await);
        }
        if !link.open_at(self.now_ms()) {
            return Err(self
                .refuse_link(
                    &link,
                    person,
                    StepUpRefusal::Expired,
                    "This link has expired. Press Approve again in chat to get a new one; nothing was changed.",
                )
                .await);
        }
        let req = self.request_by_id(&link.request_id).await?;
        let waiting = match link.purpose {
            StepUpPurpose::Approve => RequestState::PendingApproval,
            StepUpPurpose::BreakGlass => RequestState::AwaitingConfirmation,
        };
        if req.state != waiting {
            let msg = format!(
                "Request {} is already resolved ({}); nothing was changed.",
                req.id,
                req.state.label()
            );
            return Err(self
                .refuse_link(&link, person, StepUpRefusal::RequestResolved, &msg)
                .await);
        }
        if link.purpose == StepUpPurpose::Approve && req.current_step != link.step {
            let msg = format!(
                "Request {} moved on to another approval step; this link was for an earlier one. Nothing was changed.",
                req.id
            );
            return Err(self
                .refuse_link(&link, person, StepUpRefusal::StepPassed, &msg)
                .await);
        }
        Ok((link, req))
    }

    /// Records that the page refused `person` on a link (why, never the link or an assertion)
    /// in the link's request log, and returns the refusal for the page.
    async fn refuse_link(
        &self,
        link: &StepUpLink,
        person: &str,
        why: StepUpRefusal,
        msg: &str,
    ) -> anyhow::Error {
        let entry = Entry::new(
            person,
            Evidence::StepUpRefused {
                purpose: link.purpose,
                step: link.step,
                reason: why,
            },
        );
        let logged = self
            .change_request(link.request_id.as_str(), |_| {
                Ok(Some(Step::new(Change::none().log(entry.clone()))))
            })
            .await;
        if let Err(err) = logged {
            tracing::warn!(request = %link.request_id, error = ?err, "failed to log a step-up refusal");
        }
        tracing::info!(request = %link.request_id, person, why = why.as_str(), "step-up refused");
        user_error(msg)
    }

    /// The page's passkey check refused `person`'s assertion on the link behind `token` (an
    /// unregistered credential, no user verification, an unreadable answer): logged in the
    /// request's context log. A token that opens no link, or not theirs, logs nothing more.
    pub async fn step_up_assertion_refused(&self, token: &str, person: &str, why: StepUpRefusal) {
        match self.store.step_up_link(&hash_token(token)).await {
            Ok(Some(link)) if link.person == person => {
                let _ = self.refuse_link(&link, person, why, "").await;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = ?err, "failed to read a step-up link to log a refusal")
            }
        }
    }

    /// The directory person behind an SSO session, active.
    async fn approver(&self, person: &str) -> anyhow::Result<Person> {
        match self.directory.person(person).await {
            Ok(Some(p)) if p.active => Ok(p),
            Ok(_) => Err(user_error(
                "You are not in the company directory as an active person; nothing was changed.",
            )),
            Err(e) => {
                tracing::warn!(error = ?e, "directory lookup failed");
                Err(user_error(
                    "The company directory is not answering right now; nothing was changed. Please try again shortly.",
                ))
            }
        }
    }
}
