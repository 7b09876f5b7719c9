//! A directory read from a TOML file: the default, and what the demo uses.

use super::{Directory, DirectoryError};
use crate::domain::{Person, PlatformUser};
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    #[serde(rename = "person", default)]
    people: Vec<Person>,
}

#[derive(Debug, Clone)]
pub struct FileDirectory {
    people: HashMap<String, Person>,
    by_account: HashMap<PlatformUser, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileDirectoryError {
    #[error("directory file is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("person '{0}' is listed twice")]
    Duplicate(String),
    #[error("account {account} is linked to both '{first}' and '{second}'")]
    SharedAccount {
        account: PlatformUser,
        first: String,
        second: String,
    },
    #[error("one sso_subject is bound to both '{first}' and '{second}'")]
    SharedSubject { first: String, second: String },
    #[error("person '{person}' has manager '{manager}', who is not in the directory")]
    UnknownManager { person: String, manager: String },
}

impl FileDirectory {
    pub fn from_toml(text: &str) -> Result<Self, FileDirectoryError> {
        let file: DirectoryFile = toml::from_str(text)?;
        Self::new(file.people)
    }

    pub fn new(list: Vec<Person>) -> Result<Self, FileDirectoryError> {
        let mut people = HashMap::new();
        let mut by_account = HashMap::new();
        let mut people_by_subject = HashMap::new();
        for p in list {
            for a in &p.accounts {
                // An account linked twice would make identity ambiguous: refuse the file.
                if let Some(first) = by_account.insert(a.clone(), p.id.clone()) {
                    return Err(FileDirectoryError::SharedAccount {
                        account: a.clone(),
                        first,
                        second: p.id.clone(),
                    });
                }
            }
            if let Some(sub) = &p.sso_subject
                && let Some(first) = people_by_subject.insert(sub.clone(), p.id.clone())
            {
                return Err(FileDirectoryError::SharedSubject {
                    first,
                    second: p.id.clone(),
                });
            }
            let id = p.id.clone();
            if people.insert(id.clone(), p).is_some() {
                return Err(FileDirectoryError::Duplicate(id));
            }
        }
        for p in people.values() {
            if let Some(m) = &p.manager
                && !people.contains_key(m)
            {
                return Err(FileDirectoryError::UnknownManager {
                    person: p.id.clone(),
                    manager: m.clone(),
                });
            }
        }
        Ok(Self { people, by_account })
    }

    pub fn people(&self) -> impl Iterator<Item = &Person> {
        self.people.values()
    }
}

#[async_trait]
impl Directory for FileDirectory {
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, DirectoryError> {
        Ok(self
            .by_account
            .get(account)
            .and_then(|id| self.people.get(id))
            .filter(|p| p.active)
            .cloned())
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, DirectoryError> {
        Ok(self.people.get(id).filter(|p| p.active).cloned())
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Person>, DirectoryError> {
        let mut members: Vec<Person> = self
            .people
            .values()
            .filter(|p| p.active && p.in_group(group))
            .cloned()
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }

    async fn person_by_email(&self, email: &str) -> Result<Option<Person>, DirectoryError> {
        let mut found = self.people.values().filter(|p| {
            p.active
                && p.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        // An email shared by two people identifies nobody.
        match (found.next(), found.next()) {
            (Some(p), None) => Ok(Some(p.clone())),
            _ => Ok(None),
        }
    }

    async fn person_by_sso_subject(&self, subject: &str) -> Result<Option<Person>, DirectoryError> {
        Ok(self
            .people
            .values()
            .find(|p| p.sso_subject.as_deref() == Some(subject))
            .filter(|p| p.active)
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;

    const SAMPLE: &str = r#"
[[person]]
id = "dana"
display_name = "Dana"
groups = ["sre"]
accounts = [{ platform = "slack", workspace = "T1", user_id = "U1" }]

[[person]]
id = "ed"
display_name = "Ed"
manager = "dana"
accounts = [{ platform = "slack", workspace = "T1", user_id = "U2" }]

[[person]]
id = "gone"
display_name = "Gone"
active = false
groups = ["sre"]
"#;

    #[tokio::test]
    async fn finds_people_by_verified_account_only() {
        let d = FileDirectory::from_toml(SAMPLE).unwrap();
        let ed = d
            .person_by_account(&PlatformUser::new(Platform::Slack, "T1", "U2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ed.manager.as_deref(), Some("dana"));
        // Same user id in another workspace is someone else.
        assert!(
            d.person_by_account(&PlatformUser::new(Platform::Slack, "T9", "U2"))
                .await
                .unwrap()
                .is_none()
        );
        let sre: Vec<String> = d
            .group_members("sre")
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(sre, vec!["dana"]);
    }

    #[tokio::test]
    async fn finds_active_people_by_email_ignoring_case() {
        let text = SAMPLE.replace(
            "display_name = \"Ed\"",
            "display_name = \"Ed\"\nemail = \"ed@example.com\"",
        );
        let d = FileDirectory::from_toml(&text).unwrap();
        assert_eq!(
            d.person_by_email("Ed@Example.com")
                .await
                .unwrap()
                .map(|p| p.id)
                .as_deref(),
            Some("ed")
        );
        assert!(
            d.person_by_email("nobody@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn refuses_an_account_linked_twice_and_unknown_managers() {
        let twice = SAMPLE.replace("user_id = \"U2\"", "user_id = \"U1\"");
        assert!(matches!(
            FileDirectory::from_toml(&twice),
            Err(FileDirectoryError::SharedAccount { .. })
        ));
        let orphan = SAMPLE.replace("manager = \"dana\"", "manager = \"zed\"");
        assert!(matches!(
            FileDirectory::from_toml(&orphan),
            Err(FileDirectoryError::UnknownManager { .. })
        ));
    }
}
