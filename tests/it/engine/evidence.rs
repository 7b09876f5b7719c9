//! The context log is tamper-evident: edited, deleted or blanked entries break the hash chain,
//! while the purges retention may make do not.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use warden::store::ChainStatus;

on_both_databases!(the_hash_chain_detects_an_edited_or_deleted_entry,);

async fn the_hash_chain_detects_an_edited_or_deleted_entry(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    let n = match t.store.verify_chain(&id).await.unwrap() {
        ChainStatus::Intact { entries } => entries,
        other => panic!("fresh chain broken: {other:?}"),
    };
    assert!(n >= 6, "{n}");
    let pool = t.store.pool();
    sqlx::query("UPDATE context_log SET payload = $1 WHERE request_id = $2 AND seq = 3")
        .bind("{\"edited\":true}")
        .bind(&id)
        .execute(pool)
        .await
        .unwrap();
    assert!(matches!(
        t.store.verify_chain(&id).await.unwrap(),
        ChainStatus::Broken { at_seq: 3, .. }
    ));
    // An attacker who also fixes the digest still breaks the hash.
    let digest = warden::store::log::sha256_hex(b"{\"edited\":true}");
    sqlx::query("UPDATE context_log SET payload_digest = $1 WHERE request_id = $2 AND seq = 3")
        .bind(&digest)
        .bind(&id)
        .execute(pool)
        .await
        .unwrap();
    assert!(matches!(
        t.store.verify_chain(&id).await.unwrap(),
        ChainStatus::Broken { at_seq: 3, .. }
    ));

    let other = t.request("alice", "need edit on the wiki for 1h").await;
    sqlx::query("DELETE FROM context_log WHERE request_id = $1 AND seq = (SELECT MAX(seq) FROM context_log WHERE request_id = $1)").bind(&other).execute(pool).await.unwrap();
    assert!(
        matches!(
            t.store.verify_chain(&other).await.unwrap(),
            ChainStatus::Broken { .. }
        ),
        "a deleted last entry is detected"
    );
}

on_both_databases!(blanking_a_decision_payload_or_an_unpurged_message_breaks_the_chain,);

async fn blanking_a_decision_payload_or_an_unpurged_message_breaks_the_chain(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    let pool = t.store.pool();
    // No retention pass purged it: a blank message body is tampering, whatever its kind.
    sqlx::query(
        "UPDATE context_log SET payload = NULL WHERE request_id = $1 AND kind = 'message_in'",
    )
    .bind(&id)
    .execute(pool)
    .await
    .unwrap();
    assert!(
        matches!(t.store.verify_chain(&id).await.unwrap(), ChainStatus::Broken { ref why, .. } if why.contains("no retention")),
        "a message blanked by hand is reported: {:?}",
        t.store.verify_chain(&id).await.unwrap()
    );
    let other = t.request("alice", "need edit on the wiki for 1h").await;
    sqlx::query(
        "UPDATE context_log SET payload = NULL WHERE request_id = $1 AND kind = 'policy_decision'",
    )
    .bind(&other)
    .execute(pool)
    .await
    .unwrap();
    assert!(
        matches!(t.store.verify_chain(&other).await.unwrap(), ChainStatus::Broken { ref why, .. } if why.contains("removed")),
        "the decision record may not vanish"
    );
}
