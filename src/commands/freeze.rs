//! `warden freeze` / `warden unfreeze`: the kill switch from a shell, with revoke progress.

use crate::app::build_engine;
use crate::cli::{FreezeArgs, ScopeArgs, UnfreezeArgs};
use crate::clock::{SystemClock, from_ms};
use crate::config::Settings;
use crate::domain::{Freeze, FreezeScope};
use crate::store::{Frozen, Store};
use crate::workflow::{AdminActor, AdminVia, Engine, RevokeProgress, StepUpRequired, UserError};
use std::process::ExitCode;
use std::sync::Arc;

/// The scope the flags name; `None` when none is given.
pub fn scope_of(flags: &ScopeArgs) -> anyhow::Result<Option<FreezeScope>> {
    let parsed = match flags {
        ScopeArgs {
            agent: Some(id), ..
        } => FreezeScope::parse("agent", Some(id)),
        ScopeArgs {
            resource: Some(id), ..
        } => FreezeScope::parse("resource", Some(id)),
        ScopeArgs {
            all_agents: true, ..
        } => Ok(FreezeScope::AllAgents),
        ScopeArgs {
            everything: true, ..
        } => Ok(FreezeScope::Everything),
        _ => return Ok(None),
    };
    Ok(Some(parsed?))
}

pub async fn freeze(s: &Settings, args: FreezeArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        return list(s).await;
    }
    let scope = scope_of(&args.scope)?.ok_or_else(|| {
        anyhow::anyhow!(
            "say what to freeze: --agent ID, --all-agents, --resource ID or --everything (or --list)"
        )
    })?;
    let reason = args
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("--reason is required: it is recorded with the freeze"))?;
    let actor = format!("cli:{}", args.actor);
    let who = AdminActor::new(&actor, None, AdminVia::Cli);
    let engine = engine(s).await?;
    let frozen = if args.break_glass_local {
        engine
            .freeze_locally(&scope, &who, &reason, &host_user())
            .await
    } else {
        engine.freeze(&scope, &who, &reason).await
    }
    .map_err(shown)?;
    let f = frozen.freeze();
    match &frozen {
        Frozen::New(_) => println!("Frozen: {} ({}). New grants there stop now.", f.scope, f.id),
        Frozen::Existing(_) => println!(
            "Already frozen: {} ({}, by {} since {}).",
            f.scope,
            f.id,
            f.actor,
            from_ms(f.created_at).to_rfc3339()
        ),
    }
    if !args.revoke {
        return Ok(ExitCode::SUCCESS);
    }
    let print = |p: &RevokeProgress| {
        println!(
            "[{}/{}] {} {}",
            p.done,
            p.total,
            p.request_id,
            serde_json::to_value(p.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )
    };
    let summary = engine
        .revoke_frozen(f, &actor, args.concurrency, &print)
        .await?;
    println!(
        "Revoked {} of {} active grants in {} ms ({} had already ended).",
        summary.revoked, summary.total, summary.elapsed_ms, summary.already_ended
    );
    if summary.still_active.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Still active (the backend is failing; Warden keeps retrying and alerting): {}",
        summary.still_active.join(", ")
    );
    Ok(ExitCode::FAILURE)
}

pub async fn unfreeze(s: &Settings, args: UnfreezeArgs) -> anyhow::Result<ExitCode> {
    let actor = format!("cli:{}", args.actor);
    let engine = engine(s).await?;
    let id = match (&args.id, scope_of(&args.scope)?) {
        (Some(id), None) => id.clone(),
        (None, Some(scope)) => engine
            .store()
            .active_freezes()
            .await?
            .into_iter()
            .find(|f| f.scope == scope)
            .map(|f| f.id)
            .ok_or_else(|| anyhow::anyhow!("{scope} is not frozen"))?,
        _ => anyhow::bail!("name the freeze to lift: its id (FZ-…) or its scope, not both"),
    };
    let who = AdminActor::new(&actor, None, AdminVia::Cli);
    let lifted = if args.break_glass_local {
        engine
            .unfreeze_locally(&id, &who, &args.reason, &host_user())
            .await
    } else {
        engine.unfreeze(&id, &who, &args.reason).await
    };
    match lifted.map_err(shown)? {
        Some(f) => {
            println!(
                "Lifted: {} ({}). New grants there may go ahead.",
                f.scope, f.id
            );
            Ok(ExitCode::SUCCESS)
        }
        None => anyhow::bail!("no active freeze has id {id}"),
    }
}

async fn list(s: &Settings) -> anyhow::Result<ExitCode> {
    let store = Store::open(&s.database.url, 1).await?;
    let freezes = store.list_freezes(200).await?;
    if freezes.is_empty() {
        println!("Nothing is frozen.");
    }
    for f in &freezes {
        println!("{}", line(f));
    }
    Ok(ExitCode::SUCCESS)
}

fn line(f: &Freeze) -> String {
    let set = format!(
        "{:<12} {:<28} set {} by {}: {}",
        f.id,
        f.scope.to_string(),
        from_ms(f.created_at).to_rfc3339(),
        f.actor,
        f.reason
    );
    match &f.lifted {
        None => format!("ACTIVE  {set}"),
        Some(l) => format!(
            "lifted  {set}; lifted {} by {}: {}",
            from_ms(l.at).to_rfc3339(),
            l.by,
            l.reason
        ),
    }
}

/// The engine `serve` runs (without its inbound adapters), so revokes go through the configured
/// backends and people are told.
async fn engine(s: &Settings) -> anyhow::Result<Arc<Engine>> {
    Ok(Arc::new(build_engine(s, Arc::new(SystemClock)).await?))
}

/// The account on the host that ran the command, for a local override's record.
fn host_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// A refusal meant for the operator, without the "error:" cause chain decoration.
fn shown(e: anyhow::Error) -> anyhow::Error {
    if let Some(StepUpRequired(action)) = e.downcast_ref::<StepUpRequired>() {
        return anyhow::anyhow!(
            "the policy requires a passkey confirmation to {action}, which a shell cannot present. Do it in the admin web UI (/admin/freezes) signed in with single sign-on, or, if the web UI or single sign-on is down, run this again on the host with --break-glass-local (recorded on the freeze and logged as an alert). Nothing was changed.",
            action = action.as_str()
        );
    }
    match e.downcast_ref::<UserError>() {
        Some(UserError(msg)) => anyhow::anyhow!("{msg}"),
        None => e,
    }
}
