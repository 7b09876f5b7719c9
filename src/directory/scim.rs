//! A SCIM 2.0 directory client: users by id or by an account attribute, groups by name,
//! the enterprise extension's manager. Answers are cached briefly; every call has a timeout.
//!
//! Platform accounts are matched through a filter on a configurable attribute (default
//! `externalId eq "<platform>:<workspace>:<user id>"`), never by display name or email. A
//! filter that matches more than one user is ambiguous and resolves to nobody.

use super::{Directory, DirectoryError};
use crate::config::DirectorySettings;
use crate::domain::{Person, Platform, PlatformUser};
use crate::http_client::HttpOptions;
use anyhow::Context;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct ScimDirectory {
    client: reqwest::Client,
    base: url::Url,
    token: Option<SecretString>,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, CachedAnswer)>>,
}

#[derive(Clone)]
enum CachedAnswer {
    Person(Option<Person>),
    Members(Vec<Person>),
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(rename = "Resources", default)]
    resources: Vec<ScimUser>,
}

#[derive(Deserialize)]
struct ScimUser {
    id: String,
    #[serde(rename = "userName", default)]
    user_name: String,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
    #[serde(rename = "externalId", default)]
    external_id: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    emails: Vec<ScimValue>,
    #[serde(default)]
    groups: Vec<ScimGroupRef>,
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        default
    )]
    enterprise: Option<EnterpriseExt>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ScimValue {
    value: String,
    #[serde(default)]
    primary: bool,
}

#[derive(Deserialize)]
struct ScimGroupRef {
    #[serde(default)]
    display: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct EnterpriseExt {
    #[serde(default)]
    manager: Option<ManagerRef>,
}

#[derive(Deserialize)]
struct ManagerRef {
    value: String,
}

#[derive(Deserialize)]
struct GroupList {
    #[serde(rename = "Resources", default)]
    resources: Vec<ScimGroup>,
}

#[derive(Deserialize)]
struct ScimGroup {
    #[serde(default)]
    members: Vec<ScimMember>,
}

#[derive(Deserialize)]
struct ScimMember {
    value: String,
}

impl ScimUser {
    fn into_person(self) -> Person {
        let accounts = self
            .external_id
            .as_deref()
            .and_then(parse_account)
            .into_iter()
            .collect();
        let email = self
            .emails
            .iter()
            .find(|e| e.primary)
            .or(self.emails.first())
            .map(|e| e.value.clone());
        Person {
            display_name: self.display_name.unwrap_or_else(|| self.user_name.clone()),
            id: self.id,
            email,
            manager: self.enterprise.and_then(|e| e.manager).map(|m| m.value),
            groups: self
                .groups
                .into_iter()
                .filter_map(|g| g.display.or(g.value))
                .collect(),
            accounts,
            sso_subject: None,
            target_ids: Default::default(),
            active: self.active,
        }
    }
}

/// `slack:T123:U456` → the account it names.
fn parse_account(s: &str) -> Option<PlatformUser> {
    let mut parts = s.splitn(3, ':');
    let platform = Platform::parse(parts.next()?)?;
    Some(PlatformUser::new(platform, parts.next()?, parts.next()?))
}

/// SCIM filter values are quoted strings; refuse anything that could break out of the quotes.
fn filter_value(s: &str) -> Result<&str, DirectoryError> {
    if s.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(DirectoryError::Invalid(
            "identifier contains characters not allowed in a SCIM filter".into(),
        ));
    }
    Ok(s)
}

pub fn from_settings(s: &DirectorySettings) -> anyhow::Result<Arc<dyn Directory>> {
    let base = url::Url::parse(
        s.scim_url
            .as_deref()
            .context("directory.scim_url is required")?,
    )
    .context("directory.scim_url is not a valid URL")?;
    Ok(Arc::new(ScimDirectory::new(
        base,
        s.scim_token.clone(),
        Duration::from_millis(s.timeout_ms),
        Duration::from_secs(s.cache_secs),
    )?))
}

impl ScimDirectory {
    pub fn new(
        base: url::Url,
        token: Option<SecretString>,
        timeout: Duration,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let client = crate::http_client::client(HttpOptions::new(timeout))?;
        Ok(Self {
            client,
            base,
            token,
            ttl,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, key: &str) -> Option<CachedAnswer> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, a)| a.clone())
    }

    fn remember(&self, key: String, answer: CachedAnswer) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (Instant::now(), answer));
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, DirectoryError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| DirectoryError::Invalid("directory.scim_url cannot be a base".into()))?
            .pop_if_empty()
            .extend(path.split('/'));
        let mut req = self
            .client
            .get(url)
            .query(query)
            .header("accept", "application/scim+json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose_secret());
        }
        let resp = req.send().await.map_err(|e| {
            DirectoryError::Unavailable(anyhow::anyhow!(
                "SCIM request failed ({})",
                if e.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                }
            ))
        })?;
        match resp.status() {
            s if s.is_success() => resp
                .json::<T>()
                .await
                .map(Some)
                .map_err(|e| DirectoryError::Invalid(format!("SCIM answer did not parse: {e}"))),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s => Err(DirectoryError::Unavailable(anyhow::anyhow!(
                "SCIM answered {s}"
            ))),
        }
    }

    async fn find_one(&self, filter: String) -> Result<Option<Person>, DirectoryError> {
        let list: ListResponse = self
            .get("Users", &[("filter", &filter)])
            .await?
            .unwrap_or(ListResponse { resources: vec![] });
        match list.resources.len() {
            0 => Ok(None),
            1 => Ok(list.resources.into_iter().next().map(ScimUser::into_person)),
            n => {
                tracing::warn!(
                    matches = n,
                    "SCIM filter matched several users; treating as nobody"
                );
                Ok(None)
            }
        }
    }
}

#[async_trait]
impl Directory for ScimDirectory {
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, DirectoryError> {
        let key = format!("acct:{account}");
        if let Some(CachedAnswer::Person(p)) = self.cached(&key) {
            return Ok(p);
        }
        let value = format!(
            "{}:{}:{}",
            account.platform,
            filter_value(&account.workspace)?,
            filter_value(&account.user_id)?
        );
        let p = self
            .find_one(format!("externalId eq \"{value}\""))
            .await?
            .filter(|p| p.active);
        self.remember(key, CachedAnswer::Person(p.clone()));
        Ok(p)
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, DirectoryError> {
        let key = format!("id:{id}");
        if let Some(CachedAnswer::Person(p)) = self.cached(&key) {
            return Ok(p);
        }
        let user: Option<ScimUser> = self
            .get(&format!("Users/{}", filter_value(id)?), &[])
            .await?;
        let p = user.map(ScimUser::into_person).filter(|p| p.active);
        self.remember(key, CachedAnswer::Person(p.clone()));
        Ok(p)
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Person>, DirectoryError> {
        let key = format!("group:{group}");
        if let Some(CachedAnswer::Members(m)) = self.cached(&key) {
            return Ok(m);
        }
        let filter = format!("displayName eq \"{}\"", filter_value(group)?);
        let groups: GroupList = self
            .get("Groups", &[("filter", &filter)])
            .await?
            .unwrap_or(GroupList { resources: vec![] });
        if groups.resources.len() > 1 {
            return Err(DirectoryError::Invalid(format!(
                "group name '{group}' is ambiguous"
            )));
        }
        let mut people = Vec::new();
        for m in groups.resources.into_iter().flat_map(|g| g.members) {
            if let Some(p) = self.person(&m.value).await? {
                people.push(p);
            }
        }
        self.remember(key, CachedAnswer::Members(people.clone()));
        Ok(people)
    }

    async fn person_by_email(&self, email: &str) -> Result<Option<Person>, DirectoryError> {
        let key = format!("email:{}", email.to_ascii_lowercase());
        if let Some(CachedAnswer::Person(p)) = self.cached(&key) {
            return Ok(p);
        }
        let p = self
            .find_one(format!("emails.value eq \"{}\"", filter_value(email)?))
            .await?
            .filter(|p| p.active);
        self.remember(key, CachedAnswer::Person(p.clone()));
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn finds_a_person_by_email_with_a_scim_filter_and_refuses_quotes() {
        let server = MockServer::start().await;
        let user = serde_json::json!({ "Resources": [{ "id": "2819c223", "userName": "alice", "displayName": "Alice Ng", "emails": [{ "value": "alice@example.com", "primary": true }] }] });
        Mock::given(method("GET"))
            .and(path("/scim/v2/Users"))
            .and(query_param(
                "filter",
                "emails.value eq \"alice@example.com\"",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(user))
            .expect(1)
            .mount(&server)
            .await;
        let base = url::Url::parse(&format!("{}/scim/v2", server.uri())).unwrap();
        let d = ScimDirectory::new(base, None, Duration::from_secs(2), Duration::from_secs(60))
            .unwrap();
        let p = d
            .person_by_email("alice@example.com")
            .await
            .unwrap()
            .expect("found");
        assert_eq!(
            (p.id.as_str(), p.email.as_deref()),
            ("2819c223", Some("alice@example.com"))
        );
        // Cached: the mock's expect(1) fails the test if this calls again.
        assert!(
            d.person_by_email("alice@example.com")
                .await
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            d.person_by_email("x\" or userName pr \"").await,
            Err(DirectoryError::Invalid(_))
        ));
    }
}
