//! `warden policy eval FILE.json`: the configured PDP's decision for an input document.

use crate::config::Settings;
use crate::policy::PolicyInput;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

pub async fn eval(s: &Settings, file: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("Failed to read {}", file.display()))?;
    let input: PolicyInput = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a policy input document (see docs/policy.md)",
            file.display()
        )
    })?;
    let engine = crate::app::build_policy(s).await?;
    let decision = engine.decide(&input).await;
    println!("{}", serde_json::to_string_pretty(&decision)?);
    Ok(ExitCode::SUCCESS)
}
