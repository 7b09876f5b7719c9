//! Prompt templates: handlebars in strict mode, shipped in the binary, overridable from a directory.
//!
//! Strict mode turns a missing variable into an error instead of an empty string, and every
//! template is rendered once with sample data when it is loaded, so a broken template stops
//! start-up (and `warden config check`) rather than a conversation.

use anyhow::Context;
use handlebars::Handlebars;
use serde::Serialize;
use std::path::Path;

pub const SYSTEM: &str = "system";
pub const EXTRACT: &str = "extract";
pub const CLARIFY: &str = "clarify";

const SHIPPED: [(&str, &str); 3] = [
    (SYSTEM, include_str!("../../../prompts/system.hbs")),
    (EXTRACT, include_str!("../../../prompts/extract.hbs")),
    (CLARIFY, include_str!("../../../prompts/clarify.hbs")),
];

/// Variables of the system prompt.
#[derive(Debug, Clone, Serialize)]
pub struct SystemVars {
    pub delimiter: String,
    pub actions: String,
    pub max_justification: usize,
}

/// Variables of the extraction and clarification prompts. Every value is already quoted data
/// (JSON), except `now` and `delimiter`, which Warden writes itself.
#[derive(Debug, Clone, Serialize)]
pub struct TurnVars {
    pub now: String,
    pub requester: String,
    pub candidates: String,
    pub thread: String,
    pub delimiter: String,
    /// Only used by the clarification prompt.
    pub last_question: String,
}

/// The loaded, checked templates.
#[derive(Debug)]
pub struct Prompts {
    registry: Handlebars<'static>,
    /// Where each template came from ("built in" or a path), for `config check`.
    pub sources: Vec<(String, String)>,
}

impl Prompts {
    /// The shipped templates, with any `system.hbs`, `extract.hbs`, `clarify.hbs` in `dir`
    /// taking their place. Each one is rendered with sample data before this returns.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(d) = dir {
            anyhow::ensure!(
                d.is_dir(),
                "llm.prompts_dir {} is not a directory",
                d.display()
            );
        }
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        let mut sources = Vec::new();
        for (name, shipped) in SHIPPED {
            let file = dir
                .map(|d| d.join(format!("{name}.hbs")))
                .filter(|f| f.exists());
            let (text, source) = match &file {
                Some(f) => (
                    std::fs::read_to_string(f)
                        .with_context(|| format!("Failed to read prompt {}", f.display()))?,
                    f.display().to_string(),
                ),
                None => (shipped.to_string(), "built in".to_string()),
            };
            registry
                .register_template_string(name, text)
                .with_context(|| format!("Prompt template {name} ({source}) does not parse"))?;
            sources.push((name.to_string(), source));
        }
        let prompts = Self { registry, sources };
        prompts
            .check()
            .context("A prompt template does not render with sample data")?;
        Ok(prompts)
    }

    pub fn system(&self, vars: &SystemVars) -> anyhow::Result<String> {
        self.registry
            .render(SYSTEM, vars)
            .context("Failed to render the system prompt")
    }

    /// The extraction prompt for a first message, the clarification prompt once Warden has asked.
    pub fn turn(&self, name: &str, vars: &TurnVars) -> anyhow::Result<String> {
        self.registry
            .render(name, vars)
            .with_context(|| format!("Failed to render the {name} prompt"))
    }

    /// Renders every template with sample data; a missing variable is an error.
    pub fn check(&self) -> anyhow::Result<()> {
        let system = sample_system();
        self.system(&system)?;
        let turn = sample_turn();
        self.turn(EXTRACT, &turn)?;
        self.turn(CLARIFY, &turn)?;
        Ok(())
    }
}

pub fn sample_system() -> SystemVars {
    SystemVars {
        delimiter: "=====DATA=====".into(),
        actions: "request, extend, revoke, cancel, status".into(),
        max_justification: 300,
    }
}

pub fn sample_turn() -> TurnVars {
    TurnVars {
        now: "2026-11-02T09:30Z".into(),
        requester: r#"{"display_name":"Sample Person","groups":["engineering"]}"#.into(),
        candidates: r#"[{"id":"wiki","name":"Wiki","roles":["edit"],"max_duration":"1w"}]"#.into(),
        thread: r#"[{"author":"requester","text":"need edit on the wiki for 2h"}]"#.into(),
        delimiter: "=====DATA=====".into(),
        last_question: r#""Which role do you need?""#.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_templates_render_and_keep_quotes_unescaped() {
        let p = Prompts::load(None).unwrap();
        let text = p.turn(EXTRACT, &sample_turn()).unwrap();
        assert!(
            text.contains(r#"{"author":"requester","text":"need edit on the wiki for 2h"}"#),
            "{text}"
        );
        assert!(
            p.system(&sample_system())
                .unwrap()
                .contains("=====DATA=====")
        );
    }

    #[test]
    fn a_template_with_an_unknown_variable_fails_at_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("extract.hbs"), "{{thread}} {{salary_band}}").unwrap();
        let err = Prompts::load(Some(dir.path())).unwrap_err();
        assert!(format!("{err:#}").contains("salary_band"), "{err:#}");
    }

    #[test]
    fn a_prompts_dir_that_does_not_exist_is_an_error() {
        assert!(Prompts::load(Some(Path::new("/nonexistent/prompts"))).is_err());
    }

    #[test]
    fn an_override_directory_replaces_only_the_templates_it_has() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("system.hbs"),
            "Custom system. Data between {{delimiter}}.",
        )
        .unwrap();
        let p = Prompts::load(Some(dir.path())).unwrap();
        assert_eq!(
            p.system(&sample_system()).unwrap(),
            "Custom system. Data between =====DATA=====."
        );
        assert_eq!(p.sources.iter().filter(|(_, s)| s == "built in").count(), 2);
    }
}
