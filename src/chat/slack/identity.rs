//! Identity: team id + user id map to a directory person. Only when `slack.trust_email` is set
//! does an unlinked account fall back to the email `users.info` reports.

use super::api::SlackApi;
use crate::directory::{Directory, DirectoryError};
use crate::domain::{Person, Platform, PlatformUser};
use async_trait::async_trait;
use std::sync::Arc;

/// Wraps the directory: linked accounts first, then Slack's email for this workspace's people.
pub struct EmailTrustingDirectory {
    inner: Arc<dyn Directory>,
    api: Arc<SlackApi>,
}

impl EmailTrustingDirectory {
    pub fn new(inner: Arc<dyn Directory>, api: Arc<SlackApi>) -> Self {
        Self { inner, api }
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
        let email = self
            .api
            .user_email(&account.workspace, &account.user_id)
            .await
            .map_err(|e| {
                DirectoryError::Unavailable(
                    anyhow::Error::new(e).context("Slack users.info failed"),
                )
            })?;
        let Some(email) = email else { return Ok(None) };
        let Some(mut person) = self.inner.person_by_email(&email).await? else {
            return Ok(None);
        };
        tracing::info!(account = %account, person = %person.id, "mapped a Slack account to a person by its email");
        if !person.accounts.contains(account) {
            person.accounts.push(account.clone());
        }
        Ok(Some(person))
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
