//! The keyed chain and its anchors: `warden audit verify` reports a chain recomputed without the
//! key, a deleted request, a truncated chain and a chain rewritten end to end; on SQLite and
//! PostgreSQL.

use super::app::TestApp;
use crate::on_both_databases;
use crate::support::TestDb;
use secrecy::SecretString;
use sqlx::Row;
use std::path::{Path, PathBuf};
use warden::admin::anchor::Anchorer;
use warden::store::ChainStatus;
use warden::store::log::sha256_hex;

on_both_databases!(
    a_keyed_chain_recomputed_without_the_key_is_reported,
    audit_verify_reports_a_deleted_request_a_truncated_chain_and_a_chain_rewritten_end_to_end,
);

const KEY: &str = "0123456789abcdef0123456789abcdef-test-chain-key";

async fn keyed_app(db: TestDb, anchors: &Path) -> TestApp {
    let anchors = anchors.to_path_buf();
    TestApp::spawn_with(db, move |s| {
        s.evidence.chain_key = Some(SecretString::from(KEY));
        s.evidence.anchor_file = Some(anchors);
    })
    .await
}

/// Rewrites a request's chain from `from_seq` on as someone with database access but without
/// the key would: unkeyed SHA-256 throughout, claiming `scheme`, and the head moved to match.
async fn recompute(app: &TestApp, id: &str, scheme: &str) {
    let pool = app.store().pool();
    let rows = sqlx::query("SELECT seq, at, kind, actor, payload_digest FROM context_log WHERE request_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap();
    let mut prev = String::new();
    for r in &rows {
        let (seq, at): (i64, i64) = (r.get("seq"), r.get("at"));
        let (kind, actor, digest): (String, String, String) =
            (r.get("kind"), r.get("actor"), r.get("payload_digest"));
        let hash =
            sha256_hex(format!("{prev}\n{id}\n{seq}\n{at}\n{kind}\n{actor}\n{digest}").as_bytes());
        sqlx::query("UPDATE context_log SET prev_hash = $1, hash = $2, scheme = $3 WHERE request_id = $4 AND seq = $5")
            .bind(&prev)
            .bind(&hash)
            .bind(scheme)
            .bind(id)
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE requests SET log_head = $1 WHERE id = $2")
        .bind(&prev)
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

/// `warden audit verify` as an operator runs it: exit status and what it printed.
fn audit_verify(app: &TestApp, anchors: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["audit", "verify"])
        .env("WARDEN__DATABASE__URL", app.db.url())
        .env("WARDEN__EVIDENCE__CHAIN_KEY", KEY)
        .env("WARDEN__EVIDENCE__ANCHOR_FILE", anchors)
        .output()
        .expect("warden runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn anchor_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("anchors.jsonl")
}

async fn a_keyed_chain_recomputed_without_the_key_is_reported(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = keyed_app(db, &anchor_path(&dir)).await;
    let s = app.seed().await;
    let schemes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT scheme FROM context_log")
        .fetch_all(app.store().pool())
        .await
        .unwrap();
    assert_eq!(schemes, ["hmac-sha256"], "every new entry is keyed");
    assert!(matches!(
        app.store().verify_chain(&s.prod).await.unwrap(),
        ChainStatus::Intact { .. }
    ));
    // Recomputed end to end, still claiming to be keyed: no entry verifies under the key.
    recompute(&app, &s.prod, "hmac-sha256").await;
    assert!(
        matches!(app.store().verify_chain(&s.prod).await.unwrap(), ChainStatus::Broken { at_seq: 1, ref why } if why == "entry edited"),
    );
    // A keyed entry followed by unkeyed ones: the downgrade is reported where it starts.
    sqlx::query("UPDATE context_log SET scheme = 'sha256' WHERE request_id = $1 AND seq > 2")
        .bind(&s.wiki)
        .execute(app.store().pool())
        .await
        .unwrap();
    assert!(
        matches!(app.store().verify_chain(&s.wiki).await.unwrap(), ChainStatus::Broken { at_seq: 3, ref why } if why.contains("unkeyed entry after a keyed one")),
    );
}

async fn audit_verify_reports_a_deleted_request_a_truncated_chain_and_a_chain_rewritten_end_to_end(
    db: TestDb,
) {
    let dir = tempfile::tempdir().unwrap();
    let anchors = anchor_path(&dir);
    let app = keyed_app(db, &anchors).await;
    let s = app.seed().await;
    let anchorer = Anchorer::new(app.engine().clone(), Some(anchors.clone()), None)
        .unwrap()
        .expect("an anchor sink");
    assert_eq!(anchorer.anchor_once().await.unwrap(), 3, "every request");
    assert_eq!(
        anchorer.anchor_once().await.unwrap(),
        0,
        "nothing moved since"
    );
    let (ok, out) = audit_verify(&app, &anchors);
    assert!(ok, "an untouched database verifies: {out}");
    assert!(out.contains("3 request(s) anchored, 0 finding(s)"), "{out}");

    let pool = app.store().pool();
    // 1. A whole request deleted, log and all.
    for sql in [
        "DELETE FROM context_log WHERE request_id = $1",
        "DELETE FROM requests WHERE id = $1",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&s.wiki)
            .execute(pool)
            .await
            .unwrap();
    }
    // 2. The last two entries cut off and the head moved back, so the chain alone looks whole.
    let head: i64 = sqlx::query_scalar("SELECT log_seq FROM requests WHERE id = $1")
        .bind(&s.prod)
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM context_log WHERE request_id = $1 AND seq > $2")
        .bind(&s.prod)
        .bind(head - 2)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE requests SET log_seq = $1, log_head = (SELECT hash FROM context_log WHERE request_id = $2 AND seq = $1) WHERE id = $2")
        .bind(head - 2)
        .bind(&s.prod)
        .execute(pool)
        .await
        .unwrap();
    // 3. An entry edited and the whole chain recomputed, unkeyed, as if written before the key.
    sqlx::query("UPDATE context_log SET payload = $1, payload_digest = $2 WHERE request_id = $3 AND seq = 1")
        .bind(r#"{"text":"nothing to see here"}"#)
        .bind(sha256_hex(br#"{"text":"nothing to see here"}"#))
        .bind(&s.denied)
        .execute(pool)
        .await
        .unwrap();
    recompute(&app, &s.denied, "sha256").await;
    for id in [&s.prod, &s.denied] {
        assert!(
            matches!(
                app.store().verify_chain(id).await.unwrap(),
                ChainStatus::Intact { .. }
            ),
            "{id}: the chain alone cannot tell"
        );
    }

    let (ok, out) = audit_verify(&app, &anchors);
    assert!(!ok, "tampering fails the verification: {out}");
    assert!(
        out.contains(&format!("{}: deleted", s.wiki)),
        "deleted: {out}"
    );
    assert!(
        out.contains(&format!(
            "{}: truncated (anchored at entry {head}; the database holds {})",
            s.prod,
            head - 2
        )),
        "truncated: {out}"
    );
    assert!(
        out.contains(&format!("{}: rewritten", s.denied)),
        "rewritten: {out}"
    );
    assert!(out.contains("3 finding(s)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_or_removed_anchor_line_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let anchors = anchor_path(&dir);
    let app = keyed_app(TestDb::sqlite(), &anchors).await;
    let s = app.seed().await;
    let anchorer = Anchorer::new(app.engine().clone(), Some(anchors.clone()), None)
        .unwrap()
        .unwrap();
    anchorer.anchor_once().await.unwrap();
    crate::support::console::Drive::click(&app, "alice", warden::chat::CardAction::Revoke, &s.wiki)
        .await;
    assert_eq!(
        anchorer.anchor_once().await.unwrap(),
        1,
        "only the moved head"
    );
    let text = std::fs::read_to_string(&anchors).unwrap();
    assert_eq!(text.lines().count(), 2);
    // The second line's head forged to match an edited database: its MAC no longer holds.
    let forged = text.replacen("\"seq\":", "\"seq\":1", 1);
    std::fs::write(&anchors, &forged).unwrap();
    let (ok, out) = audit_verify(&app, &anchors);
    assert!(
        !ok && out.contains("line 1: its MAC does not verify"),
        "{out}"
    );
    // The first line removed: the second no longer follows anything.
    let second = text.lines().nth(1).unwrap();
    std::fs::write(&anchors, format!("{second}\n")).unwrap();
    let (ok, out) = audit_verify(&app, &anchors);
    assert!(!ok && out.contains("line 1: does not follow"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchors_go_to_the_siem_too_and_an_unkeyed_entry_after_a_keyed_anchor_is_reported() {
    use crate::support::console::Drive;
    use crate::support::fakes::receiver::Receiver;
    use warden::admin::siem::SiemTarget;
    let dir = tempfile::tempdir().unwrap();
    let anchors = anchor_path(&dir);
    let app = keyed_app(TestDb::sqlite(), &anchors).await;
    let s = app.seed().await;
    let siem = Receiver::start("/ingest").await;
    let anchorer = Anchorer::new(
        app.engine().clone(),
        Some(anchors.clone()),
        Some(SiemTarget::new(&siem.url()).unwrap()),
    )
    .unwrap()
    .unwrap();
    anchorer.anchor_once().await.unwrap();
    let sent = siem.accepted_json_lines();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["type"], "anchor");
    assert_eq!(sent[0]["heads"].as_array().unwrap().len(), 3);
    let filed: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&anchors).unwrap().trim()).unwrap();
    assert_eq!(filed, sent[0], "the SIEM gets the line the file holds");
    // A request made after the anchor, then its whole chain recomputed without the key.
    let later = app
        .request("carol", "need read on grafana for 1h to check the alerts")
        .await;
    recompute(&app, &later, "sha256").await;
    assert!(matches!(
        app.store().verify_chain(&later).await.unwrap(),
        ChainStatus::Intact { .. }
    ));
    let (ok, out) = audit_verify(&app, &anchors);
    assert!(
        !ok && out.contains(&format!(
            "{later}: entry 1 was written without the chain key"
        )),
        "{out}"
    );
    let _ = s;
}
