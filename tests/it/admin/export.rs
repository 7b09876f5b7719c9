//! SIEM export to a fake SIEM over real HTTP, and the retention purge; on SQLite and PostgreSQL.

use super::app::TestApp;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::fakes::receiver::Receiver;
use crate::support::fakes::scripted::Reply;
use serde_json::Value;
use std::collections::HashMap;
use warden::admin::export::SiemShipper;
use warden::admin::retention::Retention;
use warden::clock::Clock;
use warden::store::ChainStatus;

on_both_databases!(
    a_blank_payload_is_valid_only_where_retention_purged_it_after_its_age_and_its_export,
    siem_export_delivers_each_entry_once_in_order_across_a_restart,
    retention_purges_bodies_and_prompts_but_keeps_the_decision_record_and_the_chain,
);

/// The ids of the log entries the SIEM accepted, in order.
fn ids(siem: &Receiver) -> Vec<String> {
    siem.accepted_json_lines()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

async fn drain(shipper: &SiemShipper) -> usize {
    let mut total = 0;
    loop {
        match shipper.ship_once().await.expect("shipped") {
            0 => return total,
            n => total += n,
        }
    }
}

async fn stored_entries(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM context_log")
        .fetch_one(app.store().pool())
        .await
        .unwrap()
}

async fn siem_export_delivers_each_entry_once_in_order_across_a_restart(db: TestDb) {
    let app = TestApp::spawn_on(db).await;
    let siem = Receiver::start("/ingest").await;
    let url = siem.url();
    app.seed().await;
    let first = SiemShipper::new(app.store().clone(), &url).unwrap();
    let shipped = drain(&first).await;
    assert_eq!(shipped as i64, stored_entries(&app).await);
    // A restart: a new shipper over the same database finds nothing new to send.
    drop(first);
    let second = SiemShipper::new(app.store().clone(), &url).unwrap();
    assert_eq!(drain(&second).await, 0);
    // New activity, then a failing SIEM: nothing is marked as sent.
    let more = app
        .request("carol", "need read on grafana for 1h to check the alerts")
        .await;
    siem.answer(Reply::empty(503));
    assert!(second.ship_once().await.is_err());
    siem.answer(Reply::empty(200));
    let third = SiemShipper::new(app.store().clone(), &url).unwrap();
    assert!(drain(&third).await > 0);
    let ids = ids(&siem);
    assert_eq!(
        ids.len() as i64,
        stored_entries(&app).await,
        "every stored entry delivered"
    );
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "none delivered twice");
    let mut last_seq: HashMap<String, i64> = HashMap::new();
    for l in siem.accepted_json_lines().iter() {
        let (req, seq) = (
            l["request_id"].as_str().unwrap().to_string(),
            l["seq"].as_i64().unwrap(),
        );
        let prev = last_seq.insert(req.clone(), seq).unwrap_or(0);
        assert_eq!(seq, prev + 1, "{req}: entries arrive in chain order");
        assert!(l["hash"].as_str().is_some_and(|h| h.len() == 64));
    }
    assert!(last_seq.contains_key(&more));
}

async fn retention_purges_bodies_and_prompts_but_keeps_the_decision_record_and_the_chain(
    db: TestDb,
) {
    let app = TestApp::spawn_on(db).await;
    let s = app.seed().await;
    let retention = Retention::new(app.engine().clone(), 30);
    assert_eq!(retention.run_once().await.unwrap(), 0, "nothing is old yet");
    app.clock.advance(chrono::Duration::days(31));
    let purged = retention.run_once().await.unwrap();
    assert!(purged > 0);
    for id in [&s.wiki, &s.prod, &s.denied] {
        let log = app.store().log_entries(id).await.unwrap();
        for e in &log {
            let purgeable = warden::admin::retention::PURGEABLE.contains(&e.kind.as_str());
            assert_eq!(e.payload.is_none(), purgeable, "{id} #{} {}", e.seq, e.kind);
        }
        assert!(log.iter().any(|e| {
            e.kind == "policy_decision"
                && e.payload
                    .as_ref()
                    .is_some_and(|p| p.get("outcome").is_some())
        }));
        assert_eq!(
            app.store().verify_chain(id).await.unwrap(),
            ChainStatus::Intact {
                entries: log.len() as i64
            },
            "{id}"
        );
    }
    let prod = app.store().log_entries(&s.prod).await.unwrap();
    assert!(
        prod.iter()
            .any(|e| e.kind == "approval" && e.actor == "dana" && e.payload.is_some())
    );
    assert!(
        prod.iter()
            .any(|e| e.kind == "grant_call" && e.payload.is_some())
    );
    // Still provable: editing a kept entry after the purge is detected.
    let decision = prod
        .iter()
        .find(|e| e.kind == "policy_decision")
        .unwrap()
        .seq;
    app.tamper(&s.prod, decision).await;
    assert!(
        matches!(app.store().verify_chain(&s.prod).await.unwrap(), ChainStatus::Broken { at_seq, .. } if at_seq == decision)
    );
    assert_eq!(
        retention.run_once().await.unwrap(),
        0,
        "a second pass has nothing left to purge"
    );
}

/// Blanks every message body of a request, as someone with database access might.
async fn blank_messages(app: &TestApp, id: &str) {
    sqlx::query(
        "UPDATE context_log SET payload = NULL WHERE request_id = $1 AND kind = 'message_in'",
    )
    .bind(id)
    .execute(app.store().pool())
    .await
    .unwrap();
}

fn broken_by_blank(status: &ChainStatus) -> bool {
    matches!(status, ChainStatus::Broken { why, .. } if why.contains("no retention"))
}

async fn a_blank_payload_is_valid_only_where_retention_purged_it_after_its_age_and_its_export(
    db: TestDb,
) {
    let app = TestApp::spawn_on(db).await;
    let s = app.seed().await;
    let siem = Receiver::start("/ingest").await;
    // Export is on: retention may purge only what the SIEM already holds.
    let retention = Retention::new(app.engine().clone(), 30).export_required(true);
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(
        retention.run_once().await.unwrap(),
        0,
        "nothing is purged before it is exported"
    );
    // Blanked by hand, old enough but never exported: tampering.
    blank_messages(&app, &s.denied).await;
    assert!(broken_by_blank(
        &app.store().verify_chain(&s.denied).await.unwrap()
    ));
    drain(&SiemShipper::new(app.store().clone(), &siem.url()).unwrap()).await;
    assert!(
        retention.run_once().await.unwrap() > 0,
        "exported, then purged"
    );
    for id in [&s.wiki, &s.prod] {
        assert!(
            matches!(
                app.store().verify_chain(id).await.unwrap(),
                ChainStatus::Intact { .. }
            ),
            "{id}: purged by retention after its age and its export"
        );
    }
    // A request from today, blanked by hand: retention records exist, but none covers it.
    let fresh = app
        .request("carol", "need read on grafana for 1h to check the alerts")
        .await;
    drain(&SiemShipper::new(app.store().clone(), &siem.url()).unwrap()).await;
    blank_messages(&app, &fresh).await;
    assert!(broken_by_blank(
        &app.store().verify_chain(&fresh).await.unwrap()
    ));
    // A forged retention record covering everything does not hold: it does not match its own
    // age limit.
    sqlx::query("INSERT INTO retention_purges (id, at, cutoff, days, export_required, entries) VALUES ('forged', $1, $1, 30, 0, 1)")
        .bind(app.clock.now_ms() + 1)
        .execute(app.store().pool())
        .await
        .unwrap();
    assert!(broken_by_blank(
        &app.store().verify_chain(&fresh).await.unwrap()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_export_still_streams_every_entry_as_json_lines() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "audit",
            "export",
            "--since",
            "2000-01-01",
            "--format",
            "jsonl",
        ])
        .env("WARDEN__DATABASE__URL", app.db.url())
        .output()
        .expect("warden runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as i64, stored_entries(&app).await);
}

/// A SIEM URL with secrets in its userinfo and query, on a port nothing listens on.
const SECRET_URL: &str = "http://ingest:hunter2-userinfo@127.0.0.1:9/ingest?token=s3cret-query";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_siem_post_names_no_secret_part_of_the_url() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let shipper = SiemShipper::new(app.store().clone(), SECRET_URL).unwrap();
    let err = shipper
        .ship_once()
        .await
        .expect_err("nothing listens there");
    // What the shipper's warn! line prints: the whole cause chain, in both formats.
    for text in [format!("{err:#}"), format!("{err:?}")] {
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret"),
            "a secret reached the log line: {text}"
        );
    }
    let shown = warden::admin::siem::redacted(&url::Url::parse(SECRET_URL).unwrap());
    assert_eq!(shown, "http://127.0.0.1:9/ingest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_siem_is_authenticated_with_a_header_whose_value_comes_from_a_file() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let siem = Receiver::start("/ingest").await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("siem-auth");
    std::fs::write(&secret_file, "Splunk 0c8f-secret-from-a-file\n").unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[admin]\nsiem_url = \"{}\"\nsiem_auth_header = \"Authorization\"\nsiem_auth_file = \"{}\"\n",
            siem.url(),
            secret_file.display()
        ),
    )
    .unwrap();
    let loaded = warden::config::load(Some(&config)).expect("config loads");
    assert!(
        !format!("{:?}", loaded.settings).contains("0c8f-secret"),
        "the secret never prints"
    );
    let shipper = SiemShipper::from_settings(app.store().clone(), &loaded.settings.admin)
        .unwrap()
        .expect("SIEM configured");
    assert!(drain(&shipper).await > 0);
    let calls = siem.calls();
    assert!(!calls.is_empty());
    for c in &calls {
        assert_eq!(
            c.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some("Splunk 0c8f-secret-from-a-file"),
            "every delivery carries the header"
        );
    }
}
