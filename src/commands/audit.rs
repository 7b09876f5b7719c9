//! `warden audit list|show|verify|export` over the per-request context logs.

use crate::admin::anchor_check::{self, AnchorLog};
use crate::cli::AuditCommand;
use crate::clock::from_ms;
use crate::config::Settings;
use crate::domain::RequestState;
use crate::store::{ChainStatus, RequestFilter, Store};
use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;

pub async fn run(s: &Settings, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = Store::open(&s.database.url, 2)
        .await?
        .with_chain_key(crate::app::chain_key(s));
    match command {
        AuditCommand::List {
            state,
            requester,
            resource,
            limit,
        } => {
            let state = match state {
                Some(st) => Some(
                    RequestState::parse(&st).with_context(|| format!("unknown state '{st}'"))?,
                ),
                None => None,
            };
            let rows = store
                .list_requests(&RequestFilter {
                    state,
                    requester_id: requester,
                    resource,
                    limit,
                    ..Default::default()
                })
                .await?;
            println!(
                "{:<12} {:<20} {:<10} {:<18} {:<10} {:<22} PLATFORM",
                "ID", "CREATED (UTC)", "REQUESTER", "RESOURCE", "ROLE", "STATE"
            );
            for r in rows {
                println!(
                    "{:<12} {:<20} {:<10} {:<18} {:<10} {:<22} {}",
                    r.id,
                    from_ms(r.created_at).format("%Y-%m-%d %H:%M:%S"),
                    r.requester_id,
                    r.resource().unwrap_or("-"),
                    r.role().unwrap_or("-"),
                    format!(
                        "{}{}",
                        r.state,
                        if r.break_glass { " (break-glass)" } else { "" }
                    ),
                    r.origin.platform
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Show { id } => {
            let req = store
                .get_request(&id)
                .await?
                .with_context(|| format!("no request {id}"))?;
            print!("{}", render_request(&store, &req).await?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { id, anchors } => {
            let anchors = anchors.or_else(|| s.evidence.anchor_file.clone());
            verify(&store, id, anchors.as_deref()).await
        }
        AuditCommand::Export { since, format } => {
            anyhow::ensure!(format == "jsonl", "only --format jsonl is supported");
            let since_ms = match since {
                Some(s) => parse_since(&s)?,
                None => 0,
            };
            export(&store, since_ms, &mut std::io::stdout().lock()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A request with its full timeline, as text.
pub async fn render_request(store: &Store, req: &crate::domain::Request) -> anyhow::Result<String> {
    let mut out = format!(
        "Request {}  state={}  requester={} ({}:{})\n  resource={} role={} duration={}s break_glass={}\n  created={}  decision_id={}\n",
        req.id,
        req.state,
        req.requester_id,
        req.origin.platform,
        req.requester_account,
        req.resource().unwrap_or("-"),
        req.role().unwrap_or("-"),
        req.duration_secs().unwrap_or(0),
        req.break_glass,
        from_ms(req.created_at).to_rfc3339(),
        req.decision
            .as_ref()
            .and_then(|d| d.decision_id())
            .unwrap_or("-"),
    );
    let chain = store.verify_chain(&req.id).await?;
    out.push_str(&format!("  hash chain: {}\n", describe_chain(&chain)));
    for e in store.log_entries(&req.id).await? {
        let payload = e
            .payload
            .map(|p| p.to_string())
            .unwrap_or_else(|| "(purged by retention)".into());
        out.push_str(&format!(
            "  #{:<3} {} {:<18} {:<16} {}\n",
            e.seq,
            from_ms(e.at).format("%H:%M:%S"),
            e.kind,
            e.actor,
            payload
        ));
    }
    Ok(out)
}

pub fn describe_chain(c: &ChainStatus) -> String {
    match c {
        ChainStatus::Intact { entries } => format!("intact ({entries} entries)"),
        ChainStatus::Broken { at_seq, why } => format!("BROKEN at entry {at_seq}: {why}"),
    }
}

async fn verify(
    store: &Store,
    id: Option<String>,
    anchors: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let ids: Vec<String> = match id.clone() {
        Some(id) => vec![id],
        None => {
            sqlx::query_scalar("SELECT id FROM requests ORDER BY created_at")
                .fetch_all(store.pool())
                .await?
        }
    };
    let mut broken = 0;
    for id in &ids {
        let status = store.verify_chain(id).await?;
        if let ChainStatus::Broken { .. } = status {
            broken += 1;
            println!("{id}: {}", describe_chain(&status));
        }
    }
    println!(
        "{} request(s) checked, {} intact, {} broken",
        ids.len(),
        ids.len() - broken,
        broken
    );
    let mut departures = 0;
    if let Some(path) = anchors {
        let log = AnchorLog::read(path, store.chain_key())?;
        let findings = anchor_check::check(store, &log).await?;
        for f in findings.iter().filter(|f| {
            id.as_ref()
                .is_none_or(|id| f.starts_with(&format!("{id}:")))
        }) {
            departures += 1;
            println!("{f}");
        }
        println!(
            "anchors: {} line(s), {} request(s) anchored, {} finding(s)",
            log.lines,
            log.heads.len(),
            departures
        );
    }
    Ok(if broken == 0 && departures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_since(s: &str) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("--since '{s}' is neither RFC 3339 nor YYYY-MM-DD"))?;
    Ok(d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0))
}

/// Streams entries as JSON lines, oldest first, in pages.
pub async fn export(store: &Store, since_ms: i64, out: &mut impl Write) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut cursor: (i64, String, i64) = (since_ms, String::new(), 0);
    loop {
        let rows = sqlx::query(
            "SELECT request_id, seq, at, kind, actor, payload, payload_digest, prev_hash, hash, scheme FROM context_log \
             WHERE at > $1 OR (at = $1 AND (request_id > $2 OR (request_id = $2 AND seq > $3))) ORDER BY at, request_id, seq LIMIT 1000",
        )
        .bind(cursor.0)
        .bind(&cursor.1)
        .bind(cursor.2)
        .fetch_all(store.pool())
        .await?;
        if rows.is_empty() {
            return Ok(n);
        }
        for r in &rows {
            use sqlx::Row;
            let payload: Option<String> = r.try_get("payload")?;
            let line = serde_json::json!({
                "request_id": r.try_get::<String, _>("request_id")?,
                "seq": r.try_get::<i64, _>("seq")?,
                "at": from_ms(r.try_get::<i64, _>("at")?).to_rfc3339(),
                "kind": r.try_get::<String, _>("kind")?,
                "actor": r.try_get::<String, _>("actor")?,
                "payload": payload.as_deref().map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap_or_default()),
                "payload_digest": r.try_get::<String, _>("payload_digest")?,
                "prev_hash": r.try_get::<String, _>("prev_hash")?,
                "hash": r.try_get::<String, _>("hash")?,
                "scheme": r.try_get::<String, _>("scheme")?,
            });
            writeln!(out, "{line}")?;
            cursor = (
                r.try_get("at")?,
                r.try_get("request_id")?,
                r.try_get("seq")?,
            );
            n += 1;
        }
    }
}
