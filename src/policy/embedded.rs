//! Embedded Rego policy evaluated in-process with regorus.
//!
//! The policy is parsed and prepared once, at construction; each decision evaluates a clone of
//! the prepared engine, so evaluations share nothing and need no lock. Anything but a well-formed
//! `RegoDecision` document at `data.access.decision` denies.

use super::admin::{ADMIN_RULE, AdminActionInput};
use super::{Decision, PolicyEngine, PolicyInput, RegoDecision};
use anyhow::{Context, Result, anyhow, bail};
use async_trait::async_trait;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

/// The rule every policy must define.
pub const DECISION_RULE: &str = "data.access.decision";

/// The package `run_rego_tests` looks for test rules in.
pub const TEST_PACKAGE: &str = "access_test";

/// The policy Warden ships with, built into the binary.
pub const SHIPPED_POLICY: &str = include_str!("../../policies/access.rego");

/// The shipped policy's Rego unit tests.
pub const SHIPPED_POLICY_TESTS: &str = include_str!("../../policies/access_test.rego");

/// Longest a single evaluation may run before it is abandoned (and denied).
const EVAL_TIME_LIMIT: Duration = Duration::from_secs(1);

/// Longest policy error kept in a decision's fault detail.
const MAX_REASON_CHARS: usize = 160;

/// A Rego policy evaluated in-process.
#[derive(Clone)]
pub struct EmbeddedPolicy {
    /// Loaded, data added, prepared: cloned for every evaluation.
    engine: Engine,
    source_name: String,
}

impl std::fmt::Debug for EmbeddedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPolicy")
            .field("source", &self.source_name)
            .finish_non_exhaustive()
    }
}

impl EmbeddedPolicy {
    /// The shipped policy (`policies/access.rego`, compiled into the binary).
    pub fn shipped() -> Result<Self> {
        Self::from_source("policies/access.rego", SHIPPED_POLICY)
    }

    /// Loads a policy file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy file {}", path.display()))?;
        Self::from_source(&path.display().to_string(), &text)
    }

    /// Loads a policy file, or every `*.rego` module of a directory except `*_test.rego`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.is_dir() {
            return Self::from_file(path);
        }
        let mut modules = Vec::new();
        for entry in std::fs::read_dir(path)
            .with_context(|| format!("cannot read policy directory {}", path.display()))?
        {
            let file = entry?.path();
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.ends_with(".rego") && !name.ends_with("_test.rego") {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read policy file {}", file.display()))?;
                modules.push((file.display().to_string(), text));
            }
        }
        anyhow::ensure!(
            !modules.is_empty(),
            "policy directory {} has no .rego files",
            path.display()
        );
        modules.sort();
        Self::from_modules(&path.display().to_string(), modules)
    }

    /// Parses a policy from text; `name` labels it in error messages.
    pub fn from_source(name: &str, text: &str) -> Result<Self> {
        Self::from_modules(name, vec![(name.to_string(), text.to_string())])
    }

    /// Parses Rego modules (file name, text) into one policy named `name`.
    fn from_modules(name: &str, modules: Vec<(String, String)>) -> Result<Self> {
        let mut engine = Engine::new();
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVAL_TIME_LIMIT,
            check_interval: NonZeroU32::new(256).expect("non-zero"),
        });
        for (file, text) in modules {
            engine
                .add_policy(file.clone(), text)
                .map_err(|e| anyhow!("policy {file} does not parse: {e}"))?;
        }
        let mut policy = Self {
            engine,
            source_name: name.to_string(),
        };
        policy.prepare()?;
        Ok(policy)
    }

    /// Adds a data document (merged into `data`), e.g. `{"warden": {"config": {...}}}`.
    pub fn with_data(mut self, data: serde_json::Value) -> Result<Self> {
        let value = Value::from_json_str(&data.to_string())
            .map_err(|e| anyhow!("policy data is not valid: {e}"))?;
        self.engine
            .add_data(value)
            .map_err(|e| anyhow!("policy data cannot be added: {e}"))?;
        self.prepare()?;
        Ok(self)
    }

    /// Where the policy came from, for logs.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Checks that the decision rule exists and leaves the engine prepared (analysed and
    /// scheduled), so that clones do not repeat that work on every evaluation.
    fn prepare(&mut self) -> Result<()> {
        self.engine.set_input(Value::new_object());
        self.engine
            .eval_rule(DECISION_RULE.to_string())
            .map_err(|e| {
                anyhow!(
                    "policy {} cannot evaluate {DECISION_RULE}: {e}",
                    self.source_name
                )
            })?;
        Ok(())
    }

    /// Evaluates synchronously. Never fails: faults deny. Each call gets a fresh decision id.
    pub fn evaluate(&self, input: &PolicyInput) -> Decision {
        let decision_id = uuid::Uuid::new_v4().to_string();
        match self.eval_document(input) {
            Ok(doc) => doc.into_decision(Some(decision_id)),
            Err(reason) => {
                tracing::warn!(policy = %self.source_name, %decision_id, error = %reason, "embedded policy fault; denying");
                fault_with_id(short(&reason), decision_id)
            }
        }
    }

    /// Evaluates the admin-action rule (`data.access.admin_decision`). Never fails: a policy
    /// without the rule answers undefined, a fault.
    pub fn evaluate_admin(&self, input: &AdminActionInput) -> Decision {
        let decision_id = uuid::Uuid::new_v4().to_string();
        match self.eval_rule(input, &format!("data.access.{ADMIN_RULE}")) {
            Ok(doc) => doc.into_decision(Some(decision_id)),
            Err(reason) => {
                tracing::warn!(policy = %self.source_name, %decision_id, error = %reason, "embedded admin-action policy fault");
                fault_with_id(short(&reason), decision_id)
            }
        }
    }

    fn eval_document(&self, input: &PolicyInput) -> Result<RegoDecision> {
        self.eval_rule(input, DECISION_RULE)
    }

    fn eval_rule(&self, input: &impl serde::Serialize, rule: &str) -> Result<RegoDecision> {
        // Straight from the serde tree into a regorus value: no JSON text in between.
        let json = serde_json::to_value(input).context("cannot serialise the input")?;
        let input = serde_json::from_value::<Value>(json).context("cannot convert the input")?;
        let mut engine = self.engine.clone();
        engine.set_input(input);
        let value = engine
            .eval_rule(rule.to_string())
            .map_err(|e| anyhow!("evaluation failed: {}", regorus_error(&e)))?;
        if value == Value::Undefined {
            bail!("undefined result");
        }
        let text = value
            .to_json_str()
            .map_err(|e| anyhow!("result is not JSON: {e}"))?;
        serde_json::from_str::<RegoDecision>(&text).map_err(|e| anyhow!("malformed result: {e}"))
    }
}

#[async_trait]
impl PolicyEngine for EmbeddedPolicy {
    fn name(&self) -> &'static str {
        "embedded"
    }

    /// Evaluated inline: a decision costs tens of microseconds (a clone of the prepared engine
    /// and one rule evaluation), less than handing it to the blocking pool would.
    async fn decide(&self, input: &PolicyInput) -> Decision {
        self.evaluate(input)
    }

    async fn decide_admin(&self, input: &AdminActionInput) -> Decision {
        self.evaluate_admin(input)
    }
}

/// A deny that keeps the evaluation's id, so the log can cite the faulty evaluation.
pub(super) fn fault_with_id(reason: String, decision_id: String) -> Decision {
    match Decision::fault(reason) {
        Decision::Deny { reasons, fault, .. } => Decision::Deny {
            decision_id: Some(decision_id),
            reasons,
            fault,
        },
        other => other,
    }
}

/// A regorus error in one line: its message and where in the policy. Regorus errors span several
/// lines (`--> file:line:col`, a source excerpt, `error: message`).
fn regorus_error(err: &anyhow::Error) -> String {
    let text = err.to_string();
    let message = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .map(str::trim);
    let location = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("-->"))
        .map(str::trim);
    match (message, location) {
        (Some(m), Some(at)) => format!("{m} at {at}"),
        (Some(m), None) => m.to_string(),
        _ => text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown error")
            .to_string(),
    }
}

/// One line, bounded: a fault's detail ends up in the log and the request's evidence.
fn short(err: &anyhow::Error) -> String {
    let text = err.to_string();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error");
    if line.chars().count() > MAX_REASON_CHARS {
        let cut: String = line.chars().take(MAX_REASON_CHARS).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// Runs every `test_*` rule of package `access_test` against the policy, like `opa test`.
/// Returns each test's name and whether it passed (evaluated to `true`), in source order.
/// Errors only when a file does not parse.
pub fn run_rego_tests(policy_text: &str, test_text: &str) -> Result<Vec<(String, bool)>> {
    let mut engine = Engine::new();
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: Duration::from_secs(10),
        check_interval: NonZeroU32::new(256).expect("non-zero"),
    });
    engine
        .add_policy("access.rego".to_string(), policy_text.to_string())
        .map_err(|e| anyhow!("policy does not parse: {e}"))?;
    let package = engine
        .add_policy("access_test.rego".to_string(), test_text.to_string())
        .map_err(|e| anyhow!("tests do not parse: {e}"))?;
    if package != format!("data.{TEST_PACKAGE}") {
        bail!(
            "the tests must be in package {TEST_PACKAGE}, not {}",
            package.trim_start_matches("data.")
        );
    }
    engine.set_input(Value::new_object());

    let mut names = test_rule_names(test_text);
    // Cross-check: tests the scan missed (unusual layout) but that evaluate to true.
    if let Ok(Value::Object(package)) = eval_test_package(&mut engine.clone()) {
        for key in package.keys() {
            if let Ok(name) = key.as_string() {
                if name.starts_with("test_") && !names.iter().any(|n| n.as_str() == name.as_ref()) {
                    names.push(name.to_string());
                }
            }
        }
    }

    let mut results = Vec::with_capacity(names.len());
    for name in names {
        let passed = matches!(
            engine
                .clone()
                .eval_rule(format!("data.{TEST_PACKAGE}.{name}")),
            Ok(Value::Bool(true))
        );
        results.push((name, passed));
    }
    Ok(results)
}

/// Evaluates the whole test package: the values of the rules that are defined.
fn eval_test_package(engine: &mut Engine) -> Result<Value> {
    let results = engine.eval_query(format!("data.{TEST_PACKAGE}"), false)?;
    results
        .result
        .first()
        .and_then(|r| r.expressions.first())
        .map(|e| e.value.clone())
        .ok_or_else(|| anyhow!("the test package is empty"))
}

/// Names of rules that start a line with `test_…` (the layout `opa fmt` produces), deduplicated,
/// in order of first appearance.
fn test_rule_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        if !line.starts_with("test_") {
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let rest = line[name.len()..].trim_start();
        let is_rule = rest.is_empty()
            || rest.starts_with("if")
            || rest.starts_with('{')
            || rest.starts_with(":=")
            || rest.starts_with('=');
        if is_rule && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
