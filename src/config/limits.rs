//! `[limits]`: what one person's words may cost, with defaults no real workspace hits by accident.

use serde::Deserialize;

/// Per-person limits, checked by the workflow before any model call (`workflow::limits`).
/// Over a limit the person gets a short answer saying which limit and what to do; nothing is
/// changed, and no model is called.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Requests one person may have open at once (draft, awaiting confirmation, submitted,
    /// pending approval, approved). Counted in the database, so it holds across instances.
    pub open_requests_per_person: u32,
    /// Model calls one person may cause per rolling hour (counted per process).
    pub model_calls_per_person_per_hour: u32,
    /// Messages Warden reads in one request's thread.
    pub messages_per_request_thread: u32,
    /// Longest message read, in characters (Slack allows 40,000).
    pub max_input_chars: u32,
    /// Most turns of a thread given to the intake (the requester's and Warden's messages).
    pub max_thread_turns: u32,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            open_requests_per_person: 20,
            model_calls_per_person_per_hour: 60,
            messages_per_request_thread: 100,
            max_input_chars: 4000,
            max_thread_turns: 40,
        }
    }
}

impl LimitsSettings {
    /// Limits of 0 would refuse everyone: a configuration mistake, reported by `config check`.
    pub fn problems(&self) -> Vec<String> {
        [
            ("open_requests_per_person", self.open_requests_per_person),
            (
                "model_calls_per_person_per_hour",
                self.model_calls_per_person_per_hour,
            ),
            (
                "messages_per_request_thread",
                self.messages_per_request_thread,
            ),
            ("max_input_chars", self.max_input_chars),
            ("max_thread_turns", self.max_thread_turns),
        ]
        .into_iter()
        .filter(|(_, v)| *v == 0)
        .map(|(k, _)| format!("limits.{k} must be at least 1"))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::LimitsSettings;

    #[test]
    fn defaults_are_usable_and_a_zero_limit_is_a_problem() {
        assert!(LimitsSettings::default().problems().is_empty());
        let zero = LimitsSettings {
            max_input_chars: 0,
            ..LimitsSettings::default()
        };
        assert_eq!(
            zero.problems(),
            ["limits.max_input_chars must be at least 1"]
        );
    }

    #[test]
    fn the_section_reads_from_toml_and_rejects_unknown_keys() {
        let l: LimitsSettings = toml::from_str("open_requests_per_person = 3").unwrap();
        assert_eq!(l.open_requests_per_person, 3);
        assert_eq!(
            l.max_thread_turns,
            LimitsSettings::default().max_thread_turns
        );
        assert!(toml::from_str::<LimitsSettings>("open_requests = 3").is_err());
    }
}
