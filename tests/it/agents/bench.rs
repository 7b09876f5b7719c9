//! `warden bench agents` runs its cycles to the end (figures are printed by the command, not
//! asserted here): every cycle ends revoked, on SQLite and PostgreSQL.

use crate::on_both_databases;
use crate::support::TestDb;

on_both_databases!(the_agent_bench_completes_every_cycle_and_counts_the_store_work);

async fn the_agent_bench_completes_every_cycle_and_counts_the_store_work(db: TestDb) {
    let r = warden::commands::bench_agents::measure(db.url(), 24, 4, 4)
        .await
        .expect("every cycle ends revoked");
    assert_eq!(r.flows, 24);
    assert!(r.store.commits >= 24 * 4, "{:?}", r.store);
}
