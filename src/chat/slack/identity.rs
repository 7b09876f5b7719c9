//! Identity: team id + user id map to a directory person. Only when `slack.trust_email` is set
//! does an unlinked account fall back to the email `users.info` reports — and only for people of
//! the installed workspace (or its Enterprise Grid org) who are not linked to another account.

use super::api::{Installation, SlackApi, SlackIdentity};
use crate::directory::{Directory, DirectoryError};
use crate::domain::{Person, Platform, PlatformUser};
use async_trait::async_trait;
use std::sync::Arc;

/// Wraps the directory: linked accounts first, then Slack's email for this installation's people.
pub struct EmailTrustingDirectory {
    inner: Arc<dyn Directory>,
    api: Arc<SlackApi>,
}

/// Why an account may not be mapped by its email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailRefusal {
    /// `users.info` names no home team: nothing says the account is ours.
    NoTeam,
    /// A user of another organisation (Slack Connect, or another Grid org).
    Foreign { team: String },
}

impl EmailRefusal {
    /// What the person is told: clear, and no internals.
    pub fn message(&self) -> &'static str {
        match self {
            EmailRefusal::NoTeam | EmailRefusal::Foreign { .. } => {
                "Your Slack account belongs to another organisation (or Slack did not say which), so I can't act for you by your email. Ask an admin of this workspace to link your account."
            }
        }
    }
}

/// The one rule: only members of the installed workspace, or of its Enterprise Grid org, may be
/// mapped by email. A missing team id is a refusal, never a pass.
pub fn may_map_by_email(install: &Installation, user: &SlackIdentity) -> Result<(), EmailRefusal> {
    let Some(team) = &user.team_id else {
        return Err(EmailRefusal::NoTeam);
    };
    let same_org = install.enterprise_id.is_some() && install.enterprise_id == user.enterprise_id;
    let same_team = install.team_id.as_ref() == Some(team);
    if same_team || same_org {
        Ok(())
    } else {
        Err(EmailRefusal::Foreign { team: team.clone() })
    }
}

impl EmailTrustingDirectory {
    pub fn new(inner: Arc<dyn Directory>, api: Arc<SlackApi>) -> Self {
        Self { inner, api }
    }

    /// The person an unlinked account's Slack email names, when the rules allow it.
    async fn by_email(&self, account: &PlatformUser) -> Result<Option<Person>, DirectoryError> {
        let unavailable = |what: &'static str| {
            move |e| DirectoryError::Unavailable(anyhow::Error::new(e).context(what))
        };
        let install = self
            .api
            .installation()
            .await
            .map_err(unavailable("Slack auth.test failed"))?;
        let user = self
            .api
            .user_identity(&account.user_id)
            .await
            .map_err(unavailable("Slack users.info failed"))?;
        if let Err(refusal) = may_map_by_email(&install, &user) {
            tracing::warn!(account = %account, ?refusal, installed_team = ?install.team_id, installed_org = ?install.enterprise_id, "refused to map a Slack account by email: not this installation's user");
            return Err(DirectoryError::Refused(refusal.message().into()));
        }
        // A deactivated account, a bot or an app is nobody, whatever its profile says.
        let (true, Some(email)) = (user.person, user.email) else {
            return Ok(None);
        };
        let Some(mut person) = self.inner.person_by_email(&email).await? else {
            return Ok(None);
        };
        // Someone already linked on Slack is that account only: a second account with the same
        // email is an impostor or a mistake, never the same person.
        if let Some(linked) = person
            .accounts
            .iter()
            .find(|a| a.platform == Platform::Slack && *a != account)
        {
            tracing::warn!(account = %account, person = %person.id, linked = %linked, "refused to map a Slack account by email: the person is linked to another Slack account");
            return Err(DirectoryError::Refused(
                "Your email belongs to someone whose Slack account is already linked, so I can't act for this account. Ask an admin to link it if it is yours.".into(),
            ));
        }
        tracing::info!(account = %account, person = %person.id, "mapped a Slack account to a person by its email");
        person.accounts.push(account.clone());
        Ok(Some(person))
    }
}

#[async_trait]
impl Directory for EmailTrustingDirectory {
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, DirectoryError> {
        if let Some(p) = self.inner.person_by_account(account).await? {
            return Ok(Some(p));
        }
        if account.platform != Platform::Slack {
            return Ok(None);
        }
        self.by_email(account).await
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, DirectoryError> {
        self.inner.person(id).await
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Person>, DirectoryError> {
        self.inner.group_members(group).await
    }

    async fn person_by_email(&self, email: &str) -> Result<Option<Person>, DirectoryError> {
        self.inner.person_by_email(email).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(team: Option<&str>, org: Option<&str>) -> Installation {
        Installation {
            team_id: team.map(str::to_string),
            enterprise_id: org.map(str::to_string),
        }
    }

    fn user(team: Option<&str>, org: Option<&str>) -> SlackIdentity {
        SlackIdentity {
            team_id: team.map(str::to_string),
            enterprise_id: org.map(str::to_string),
            email: Some("x@example.com".into()),
            person: true,
        }
    }

    #[test]
    fn only_the_installed_team_or_grid_org_maps() {
        let ws = install(Some("T1"), None);
        assert!(may_map_by_email(&ws, &user(Some("T1"), None)).is_ok());
        assert!(may_map_by_email(&ws, &user(Some("T2"), None)).is_err());
        assert_eq!(
            may_map_by_email(&ws, &user(None, None)),
            Err(EmailRefusal::NoTeam)
        );
        let grid = install(Some("T1"), Some("E1"));
        assert!(may_map_by_email(&grid, &user(Some("T2"), Some("E1"))).is_ok());
        assert!(may_map_by_email(&grid, &user(Some("T2"), Some("E2"))).is_err());
        // No Grid on either side never matches by "both absent".
        assert!(may_map_by_email(&ws, &user(Some("T2"), None)).is_err());
        // An org-wide install with no team id: only the org's people.
        let org = install(None, Some("E1"));
        assert!(may_map_by_email(&org, &user(Some("T9"), Some("E1"))).is_ok());
        assert!(may_map_by_email(&org, &user(Some("T9"), None)).is_err());
    }
}
