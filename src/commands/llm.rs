//! `warden llm probe`: which output modes the configured model server honours.

use crate::config::Settings;
use anyhow::Context;
use std::process::ExitCode;

pub async fn probe(s: &Settings) -> anyhow::Result<ExitCode> {
    s.llm
        .base_url
        .as_deref()
        .context("llm.base_url is not set: there is no model server to probe")?;
    let (lines, problems) = run(s).await?;
    for l in &lines {
        println!("✓ {l}");
    }
    for p in &problems {
        println!("✗ {p}");
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The probe's lines and problems, for this command and `config check --online`.
pub async fn run(s: &Settings) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let reports = crate::intake::llm::probe::probe(&s.llm).await?;
    Ok(crate::intake::llm::probe::render(&reports, &s.llm.output))
}
