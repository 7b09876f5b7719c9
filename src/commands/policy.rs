//! `warden policy eval FILE.json` (the configured PDP's decision for an input document) and
//! `warden policy replay` (past decisions against another policy).

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

pub async fn replay(
    s: &Settings,
    since: &str,
    policy: Option<&Path>,
    format: &str,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        matches!(format, "text" | "json"),
        "--format must be text or json (got '{format}')"
    );
    let secs = crate::domain::duration::parse_duration(since)
        .with_context(|| format!("--since must be a duration like 30d or 12h (got '{since}')"))?;
    let (engine, label): (std::sync::Arc<dyn crate::policy::PolicyEngine>, String) = match policy {
        Some(path) => (
            std::sync::Arc::new(crate::policy::embedded::EmbeddedPolicy::from_path(path)?),
            path.display().to_string(),
        ),
        None => (
            crate::app::build_policy(s).await?,
            "the configured policy".to_string(),
        ),
    };
    let store = crate::store::Store::open(&s.database.url, 2).await?;
    let since_ms = chrono::Utc::now().timestamp_millis() - (secs as i64) * 1000;
    let report = crate::policy::replay::replay(&store, engine.as_ref(), &label, since_ms).await?;
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&report)?),
        _ => print!("{}", report.to_text()),
    }
    Ok(ExitCode::SUCCESS)
}
