//! Leases in the store: exclusive while held, taken over once run out, on SQLite and PostgreSQL.

use crate::on_both_databases;
use crate::support::TestDb;
use warden::store::Store;

on_both_databases!(a_lease_is_exclusive_until_released_or_run_out);

async fn a_lease_is_exclusive_until_released_or_run_out(db: TestDb) {
    let a = Store::open(db.url(), 2).await.unwrap();
    // A second instance over the same database.
    let b = Store::open(db.url(), 2).await.unwrap();
    assert!(a.try_lease("group:S1", "a-1", 1_000, 61_000).await.unwrap());
    assert!(
        !b.try_lease("group:S1", "b-1", 2_000, 62_000).await.unwrap(),
        "held"
    );
    assert!(
        b.try_lease("group:S2", "b-1", 2_000, 62_000).await.unwrap(),
        "another key is free"
    );
    // Releasing by someone else changes nothing.
    b.release_lease("group:S1", "b-1").await.unwrap();
    assert!(!b.try_lease("group:S1", "b-2", 3_000, 63_000).await.unwrap());
    a.release_lease("group:S1", "a-1").await.unwrap();
    assert!(
        b.try_lease("group:S1", "b-3", 4_000, 64_000).await.unwrap(),
        "released"
    );
    // A holder that died: its lease runs out and is taken over.
    assert!(
        !a.try_lease("group:S1", "a-2", 64_000, 124_000)
            .await
            .unwrap()
    );
    assert!(
        a.try_lease("group:S1", "a-2", 64_001, 124_001)
            .await
            .unwrap()
    );
    a.close().await;
    b.close().await;
}
