//! A schedule file: shifts (service, person, start, end) in TOML, for teams without PagerDuty
//! or Opsgenie, or a rotation exported from elsewhere. Read again at each (cached) lookup, so an
//! edit applies without a restart; a file that does not parse is "not known", never on call.

use super::{OnCallError, OnCallSource};
use crate::domain::Person;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    #[serde(default)]
    shift: Vec<Shift>,
}

/// One person on call for one service from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub service: String,
    /// The person's directory id or email.
    pub person: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Shift {
    fn covers(&self, person: &Person, now: DateTime<Utc>) -> bool {
        let who = self.person.trim();
        let is_them = who == person.id
            || person
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(who));
        is_them && self.start <= now && now < self.end
    }
}

pub struct ScheduleFileSource {
    path: PathBuf,
}

impl ScheduleFileSource {
    /// Checks the file once now, so a broken one stops the start instead of a later lookup.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        load(path).map_err(|e| anyhow::anyhow!("oncall.file: {e}"))?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }
}

fn load(path: &Path) -> Result<Vec<Shift>, OnCallError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| OnCallError::File(format!("cannot read {}: {e}", path.display())))?;
    let file: ScheduleFile =
        toml::from_str(&text).map_err(|e| OnCallError::File(format!("{}: {e}", path.display())))?;
    if let Some(bad) = file.shift.iter().find(|s| s.end <= s.start) {
        return Err(OnCallError::File(format!(
            "{}: the shift of {} on {} ends before it starts",
            path.display(),
            bad.person,
            bad.service
        )));
    }
    Ok(file.shift)
}

#[async_trait]
impl OnCallSource for ScheduleFileSource {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn services(
        &self,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<BTreeSet<String>, OnCallError> {
        let path = self.path.clone();
        let shifts = tokio::task::spawn_blocking(move || load(&path))
            .await
            .map_err(|e| OnCallError::File(e.to_string()))??;
        Ok(shifts
            .iter()
            .filter(|s| s.covers(person, now))
            .map(|s| s.service.clone())
            .collect())
    }
}
