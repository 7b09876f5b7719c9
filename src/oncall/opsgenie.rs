//! Opsgenie: who is on call now, from `GET /v2/schedules/{schedule}/on-calls?flat=true&date=…`
//! for each schedule of the configured services (`data.onCallRecipients`, usernames).
//!
//! A person's Opsgenie username is `target_ids.opsgenie` in the directory, else their email
//! (Opsgenie usernames are email addresses).

use super::http::get_json;
use super::{OnCallError, OnCallSource};
use crate::config::OnCallService;
use crate::domain::Person;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;

pub struct Opsgenie {
    http: reqwest::Client,
    base: url::Url,
    key: SecretString,
    services: Vec<OnCallService>,
}

impl Opsgenie {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        key: SecretString,
        services: Vec<OnCallService>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http,
            base: url::Url::parse(base.trim_end_matches('/'))?,
            key,
            services,
        })
    }

    /// The usernames on call for one schedule (by id when it is a UUID, else by name) at `at`.
    async fn recipients(&self, schedule: &str, at: &str) -> Result<Vec<String>, OnCallError> {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!(
            "{base_path}/v2/schedules/{}/on-calls",
            url_segment(schedule)
        ));
        let kind = match uuid::Uuid::parse_str(schedule) {
            Ok(_) => "id",
            Err(_) => "name",
        };
        url.query_pairs_mut()
            .append_pair("scheduleIdentifierType", kind)
            .append_pair("flat", "true")
            .append_pair("date", at);
        let headers = [(
            "authorization",
            format!("GenieKey {}", self.key.expose_secret()),
        )];
        let body = get_json(&self.http, url, &headers).await?;
        let recipients = body
            .pointer("/data/onCallRecipients")
            .and_then(|v| v.as_array())
            .ok_or_else(|| OnCallError::Unexpected {
                status: 200,
                message: "no data.onCallRecipients in the answer".into(),
            })?;
        Ok(recipients
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect())
    }
}

/// A schedule name may hold spaces or slashes; it is one path segment.
fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[async_trait]
impl OnCallSource for Opsgenie {
    fn name(&self) -> &'static str {
        "opsgenie"
    }

    async fn services(
        &self,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<String>, OnCallError> {
        let username = person
            .target_ids
            .get("opsgenie")
            .or(person.email.as_ref())
            .map(|u| u.to_lowercase());
        let Some(username) = username else {
            return Ok(BTreeSet::new());
        };
        let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut found = BTreeSet::new();
        for service in &self.services {
            for schedule in &service.schedules {
                if found.contains(&service.name) {
                    break;
                }
                let on_call = self.recipients(schedule, &at).await?;
                if on_call.iter().any(|r| r.eq_ignore_ascii_case(&username)) {
                    found.insert(service.name.clone());
                }
            }
        }
        Ok(found)
    }
}
