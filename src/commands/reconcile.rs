//! `warden reconcile [--resource R] [--format json]`: one drift reconciliation run, printed.

use crate::app::build_engine;
use crate::cli::OutputFormat;
use crate::clock::{SystemClock, from_ms};
use crate::config::Settings;
use crate::workflow::{ReconcileOutcome, ReconcileReport, UserError};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status 0: no open drift; 1: drift found (so a cron job or CI step can alert on it).
pub async fn run(
    s: &Settings,
    resource: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let engine = build_engine(s, Arc::new(SystemClock)).await?;
    let report =
        engine
            .reconcile(resource)
            .await
            .map_err(|e| match e.downcast_ref::<UserError>() {
                Some(UserError(msg)) => anyhow::anyhow!("{msg}"),
                None => e,
            })?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", text(&report)),
    }
    engine.store().close().await;
    Ok(if report.findings().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per resource, then one per finding.
pub fn text(report: &ReconcileReport) -> String {
    let mut out = String::new();
    for r in &report.resources {
        let status = match &r.outcome {
            ReconcileOutcome::Checked if r.findings.is_empty() => {
                format!("no drift ({} holders)", r.holders)
            }
            ReconcileOutcome::Checked => format!("{} finding(s)", r.findings.len()),
            ReconcileOutcome::Off => "reconcile = off".into(),
            ReconcileOutcome::NotListable => "backend cannot list holders".into(),
            ReconcileOutcome::Busy => "skipped: another run holds it".into(),
            ReconcileOutcome::Failed(why) => format!("FAILED: {why}"),
        };
        out.push_str(&format!(
            "{} [{}, {}]: {status}\n",
            r.resource,
            r.backend,
            r.mode.as_str()
        ));
        for f in &r.findings {
            out.push_str(&format!(
                "  {} {} (since {}): {}{}\n",
                f.kind.as_str(),
                f.holder,
                from_ms(f.first_seen).to_rfc3339(),
                f.action.as_str(),
                f.detail
                    .as_deref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}
