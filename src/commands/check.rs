//! `warden config check`: every problem in plain words, exit non-zero if there is one.

use std::path::Path;
use std::process::ExitCode;

pub async fn run(explicit: Option<&Path>, online: bool) -> anyhow::Result<ExitCode> {
    let loaded = match crate::config::load(explicit) {
        Ok(l) => l,
        Err(e) => {
            println!("✗ configuration: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let s = &loaded.settings;
    match &loaded.file {
        Some(f) => println!("config file: {}", f.display()),
        None => println!("config file: none (embedded defaults)"),
    }
    let mut problems = s.problems();
    let mut ok = Vec::new();
    let catalog = match crate::app::load_catalog(s) {
        Ok(c) => {
            ok.push(format!("catalog: {} resources", c.len()));
            Some(c)
        }
        Err(e) => {
            problems.push(format!("catalog: {e:#}"));
            None
        }
    };
    let directory = if s.directory.kind == "file" {
        match crate::app::load_directory(s) {
            Ok(d) => {
                ok.push("directory: file loads".to_string());
                Some(d)
            }
            Err(e) => {
                problems.push(format!("directory: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    if let Some(catalog) = &catalog {
        match crate::app::load_agents(s, catalog) {
            Ok(agents) => {
                let owners = match &directory {
                    Some(d) => crate::app::agent_owner_problems(&agents, d.as_ref()).await,
                    None => Vec::new(),
                };
                if owners.is_empty() {
                    ok.push(format!("agents: {} registered", agents.len()));
                }
                problems.extend(owners.into_iter().map(|p| format!("agents: {p}")));
                problems.extend(
                    crate::agents::credential_problems(s, &agents, catalog)
                        .into_iter()
                        .map(|p| format!("agents: {p}")),
                );
            }
            Err(e) => problems.push(format!("agents: {e:#}")),
        }
    }
    let mut warnings = Vec::new();
    if let Some(catalog) = &catalog {
        warnings.extend(step_up_warning(s, catalog));
    }
    warnings.extend(unfreeze_step_up_warning(s));
    // A remote PDP is contacted (AuthZEN metadata is fetched) only over an allowed transport.
    let remote_pdp = s.policy.url.is_some() || s.policy.evaluation_url.is_some();
    if s.policy.engine == "embedded" || (remote_pdp && s.transport_problems("policy.").is_empty()) {
        match crate::app::build_policy(s).await {
            Ok(p) => ok.push(format!("policy: {} engine ready", p.name())),
            Err(e) => problems.push(format!("policy: {e:#}")),
        }
    }
    match crate::intake::llm::prompts::Prompts::load(s.llm.prompts_dir.as_deref()) {
        Ok(p) => ok.push(format!(
            "prompts: {} render with sample data ({})",
            p.sources.len(),
            p.sources
                .iter()
                .map(|(n, src)| format!("{n}: {src}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => problems.push(format!("prompts: {e:#}")),
    }
    if s.llm.base_url.is_some() && s.problems().is_empty() {
        match crate::intake::llm::LlmIntake::from_settings(&s.llm, Default::default()) {
            Ok(_) => ok.push(format!(
                "llm: {} via {} ({} output)",
                s.llm.model.as_deref().unwrap_or("?"),
                s.llm.base_url.as_deref().unwrap_or("?"),
                s.llm.output
            )),
            Err(e) => problems.push(format!("llm: {e:#}")),
        }
        if online {
            match super::llm::run(s).await {
                Ok((lines, found)) => {
                    ok.extend(lines);
                    problems.extend(found);
                }
                Err(e) => problems.push(format!("llm probe: {e:#}")),
            }
        }
    }
    for line in &ok {
        println!("✓ {line}");
    }
    for w in &warnings {
        println!("! {w}");
    }
    for p in &problems {
        println!("✗ {p}");
    }
    if problems.is_empty() {
        println!("configuration OK");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} problem(s) found", problems.len());
        Ok(ExitCode::FAILURE)
    }
}

/// Whether Warden can run passkey ceremonies: SSO with a domain in `sso.redirect_url`.
fn passkeys_configured(s: &crate::config::Settings) -> bool {
    s.sso.issuer.is_some()
        && crate::admin::passkeys::RelyingParty::from_public_url(s.sso.redirect_url.as_deref())
            .ok()
            .flatten()
            .is_some()
}

/// The shipped policy requires a passkey to lift a freeze; without passkeys only the CLI's
/// `--break-glass-local` can lift one. Not an error: the kill switch itself still works.
fn unfreeze_step_up_warning(s: &crate::config::Settings) -> Option<String> {
    let shipped = s.policy.engine == "embedded" && s.policy.file.is_none();
    (shipped && !passkeys_configured(s)).then(|| {
        "step-up: the shipped policy requires a passkey to lift a freeze, but [sso] (with a domain in sso.redirect_url) is not configured: freezes can then be lifted only on the host with `warden unfreeze --break-glass-local`".to_string()
    })
}

/// The shipped policy requires a passkey (step-up) for critical approvals; without SSO and a
/// passkey origin those approvals are refused (fail closed). Not an error: a catalog may want
/// critical access to stay unapprovable until SSO is set up.
fn step_up_warning(
    s: &crate::config::Settings,
    catalog: &crate::domain::Catalog,
) -> Option<String> {
    let shipped = s.policy.engine == "embedded" && s.policy.file.is_none();
    let critical = catalog.resources().iter().any(|r| {
        r.risk == crate::domain::Risk::Critical
            || r.roles
                .iter()
                .any(|role| role.risk == Some(crate::domain::Risk::Critical))
    });
    (shipped && critical && !passkeys_configured(s)).then(|| {
        "step-up: the shipped policy requires a passkey to approve critical access, but [sso] (with a domain in sso.redirect_url) is not configured: those approvals will be refused".to_string()
    })
}
