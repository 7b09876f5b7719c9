//! The directory port: people, their managers and groups, and the platform accounts they own.
//!
//! Shaped after SCIM 2.0 (users by id or by an account attribute, groups by name) so that a SCIM
//! client is one more implementation. A fault is an error, never "nobody" or "no approval needed".

use crate::domain::{Person, PlatformUser};
use async_trait::async_trait;

pub mod file;
pub mod scim;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("directory unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("directory answer is invalid: {0}")]
    Invalid(String),
    /// The account is not one this deployment may act for; the text is for the person.
    #[error("{0}")]
    Refused(String),
}

#[async_trait]
pub trait Directory: Send + Sync {
    /// The person a verified platform account belongs to. `Ok(None)` if nobody links it.
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, DirectoryError>;

    /// A person by directory id.
    async fn person(&self, id: &str) -> Result<Option<Person>, DirectoryError>;

    /// Active members of a group.
    async fn group_members(&self, group: &str) -> Result<Vec<Person>, DirectoryError>;

    /// A person by email, for platforms configured to trust the email they verify.
    /// `Ok(None)` where the directory cannot look people up this way.
    async fn person_by_email(&self, email: &str) -> Result<Option<Person>, DirectoryError> {
        let _ = email;
        Ok(None)
    }

    /// The person bound to a single sign-on subject. `Ok(None)` where nobody is bound to it or
    /// the directory cannot look people up this way.
    async fn person_by_sso_subject(&self, subject: &str) -> Result<Option<Person>, DirectoryError> {
        let _ = subject;
        Ok(None)
    }
}
