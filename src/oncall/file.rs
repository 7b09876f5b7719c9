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

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, email: &str) -> Person {
        toml::from_str(&format!(
            "id = \"{id}\"\ndisplay_name = \"{id}\"\nemail = \"{email}\""
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn shifts_match_by_id_or_email_within_their_hours_and_a_broken_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oncall.toml");
        std::fs::write(
            &path,
            "[[shift]]\nservice = \"billing\"\nperson = \"gina\"\nstart = \"2026-12-01T08:00:00Z\"\nend = \"2026-12-01T20:00:00Z\"\n\
             [[shift]]\nservice = \"search\"\nperson = \"Gina@Example.com\"\nstart = \"2026-12-01T00:00:00Z\"\nend = \"2026-12-02T00:00:00Z\"\n",
        )
        .unwrap();
        let source = ScheduleFileSource::open(&path).unwrap();
        let gina = person("gina", "gina@example.com");
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let both = source
            .services(&gina, at("2026-12-01T12:00:00Z"))
            .await
            .unwrap();
        assert_eq!(both.into_iter().collect::<Vec<_>>(), ["billing", "search"]);
        // The end is exclusive.
        let late = source
            .services(&gina, at("2026-12-01T20:00:00Z"))
            .await
            .unwrap();
        assert_eq!(late.into_iter().collect::<Vec<_>>(), ["search"]);
        let carol = person("carol", "carol@example.com");
        let other = source.services(&carol, at("2026-12-01T12:00:00Z")).await;
        assert!(other.unwrap().is_empty());
        // An edit that breaks the file: the lookup fails (the caller treats it as unknown).
        std::fs::write(&path, "[[shift]]\nservice = \"billing\"\n").unwrap();
        let err = source
            .services(&gina, at("2026-12-01T12:00:00Z"))
            .await
            .unwrap_err();
        assert!(matches!(err, OnCallError::File(_)), "{err:?}");
        assert!(
            ScheduleFileSource::open(&path).is_err(),
            "a broken file stops the start"
        );
    }
}
