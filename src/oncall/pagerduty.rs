//! PagerDuty: who is on call now, from `GET /oncalls` filtered to the person's PagerDuty user
//! and the schedules and escalation policies of the configured services.
//!
//! A person's PagerDuty user is the id in the directory's `target_ids.pagerduty`, else the user
//! whose email matches theirs (`GET /users?query=<email>`, exact match, remembered).

use super::http::get_json;
use super::{OnCallError, OnCallSource};
use crate::config::OnCallService;
use crate::domain::Person;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// PagerDuty's page size limit for list endpoints.
const PAGE: usize = 100;
/// Pages read before giving up: a person is on a handful of on-calls, never thousands.
const MAX_PAGES: usize = 20;

pub struct PagerDuty {
    http: reqwest::Client,
    base: url::Url,
    token: SecretString,
    services: Vec<OnCallService>,
    /// Email → PagerDuty user id, once found.
    users: Mutex<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct Ref {
    id: String,
}

#[derive(Deserialize)]
struct OnCallEntry {
    #[serde(default)]
    escalation_policy: Option<Ref>,
    /// `null` when the escalation rule targets the user directly.
    #[serde(default)]
    schedule: Option<Ref>,
}

#[derive(Deserialize)]
struct OnCallsPage {
    oncalls: Vec<OnCallEntry>,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
struct UsersPage {
    users: Vec<User>,
}

impl PagerDuty {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        token: SecretString,
        services: Vec<OnCallService>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http,
            base: url::Url::parse(base.trim_end_matches('/'))?,
            token,
            services,
            users: Mutex::default(),
        })
    }

    fn url(&self, path: &str) -> url::Url {
        let mut u = self.base.clone();
        let base_path = u.path().trim_end_matches('/').to_string();
        u.set_path(&format!("{base_path}{path}"));
        u
    }

    fn headers(&self) -> [(&'static str, String); 2] {
        [
            (
                "authorization",
                format!("Token token={}", self.token.expose_secret()),
            ),
            (
                "accept",
                "application/vnd.pagerduty+json;version=2".to_string(),
            ),
        ]
    }

    /// The person's PagerDuty user id; `None`: PagerDuty has no user for them.
    async fn user_id(&self, person: &Person) -> Result<Option<String>, OnCallError> {
        if let Some(id) = person.target_ids.get("pagerduty") {
            return Ok(Some(id.clone()));
        }
        let Some(email) = person.email.as_deref().map(str::to_lowercase) else {
            return Ok(None);
        };
        if let Some(id) = self.users.lock().expect("not poisoned").get(&email) {
            return Ok(Some(id.clone()));
        }
        let mut url = self.url("/users");
        url.query_pairs_mut().append_pair("query", &email);
        let body = get_json(&self.http, url, &self.headers()).await?;
        let page: UsersPage = parse(body)?;
        // `query` matches names and emails by prefix; only the exact email is this person.
        let found = page
            .users
            .into_iter()
            .find(|u| u.email.eq_ignore_ascii_case(&email))
            .map(|u| u.id);
        if let Some(id) = &found {
            self.users
                .lock()
                .expect("not poisoned")
                .insert(email, id.clone());
        }
        Ok(found)
    }
}

impl PagerDuty {
    /// The user's on-calls covering `at` among `ids` of one filter kind, every page.
    async fn oncalls(
        &self,
        user: &str,
        filter: &str,
        ids: &[&String],
        at: &str,
    ) -> Result<Vec<OnCallEntry>, OnCallError> {
        let mut all: Vec<OnCallEntry> = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut url = self.url("/oncalls");
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("user_ids[]", user);
                for id in ids {
                    q.append_pair(filter, id);
                }
                // The same instant twice: the on-calls that cover "now".
                q.append_pair("since", at)
                    .append_pair("until", at)
                    .append_pair("limit", &PAGE.to_string())
                    // Where the last page ended: the server may cap `limit` lower.
                    .append_pair("offset", &all.len().to_string());
            }
            let body: OnCallsPage = parse(get_json(&self.http, url, &self.headers()).await?)?;
            let empty = body.oncalls.is_empty();
            all.extend(body.oncalls);
            if !body.more || empty {
                return Ok(all);
            }
        }
        // More pages than any one person has: something is off; say so rather than guess.
        Err(OnCallError::Unexpected {
            status: 200,
            message: format!("more than {MAX_PAGES} pages of on-calls"),
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, OnCallError> {
    serde_json::from_value(body).map_err(|e| OnCallError::Unexpected {
        status: 200,
        message: format!("the answer does not have PagerDuty's shape: {e}"),
    })
}

#[async_trait]
impl OnCallSource for PagerDuty {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    async fn services(
        &self,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<String>, OnCallError> {
        let Some(user) = self.user_id(person).await? else {
            return Ok(BTreeSet::new());
        };
        let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        // PagerDuty intersects filters of different kinds, so schedules and escalation
        // policies are asked separately (a service is usually covered by one kind).
        let schedules: Vec<&String> = self.services.iter().flat_map(|s| &s.schedules).collect();
        let policies: Vec<&String> = self
            .services
            .iter()
            .flat_map(|s| &s.escalation_policies)
            .collect();
        let mut found = BTreeSet::new();
        for (filter, ids) in [
            ("schedule_ids[]", schedules),
            ("escalation_policy_ids[]", policies),
        ] {
            if ids.is_empty() {
                continue;
            }
            for entry in self.oncalls(&user, filter, &ids, &at).await? {
                for service in &self.services {
                    let by_schedule = entry
                        .schedule
                        .as_ref()
                        .is_some_and(|s| service.schedules.contains(&s.id));
                    let by_policy = entry
                        .escalation_policy
                        .as_ref()
                        .is_some_and(|e| service.escalation_policies.contains(&e.id));
                    if by_schedule || by_policy {
                        found.insert(service.name.clone());
                    }
                }
            }
        }
        Ok(found)
    }
}
