//! De-duplication records (handled deliveries, finished jobs) and expired admin sessions are
//! pruned after their window and not before; on SQLite and PostgreSQL.

use super::app::TestApp;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use warden::admin::prune::DedupPruner;

on_both_databases!(deliveries_and_finished_jobs_are_pruned_after_the_window_and_not_before,);

async fn delivery_ids(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM processed_events ORDER BY id")
        .fetch_all(app.store().pool())
        .await
        .unwrap()
}

async fn finished_jobs(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
        .fetch_one(app.store().pool())
        .await
        .unwrap()
}

async fn deliveries_and_finished_jobs_are_pruned_after_the_window_and_not_before(db: TestDb) {
    let app = TestApp::spawn_on(db).await;
    app.seed().await;
    super::pages::sign_in(&app, &app.tokens.viewer, false).await;
    let old = delivery_ids(&app).await;
    assert!(!old.is_empty(), "the seed handled deliveries");
    assert!(finished_jobs(&app).await > 0, "the seed finished jobs");
    let pruner = DedupPruner::new(app.engine().clone(), chrono::Duration::hours(24));
    app.clock.advance(chrono::Duration::hours(23));
    assert_eq!(
        pruner.run_once().await.unwrap().total(),
        0,
        "inside the window nothing goes"
    );
    assert_eq!(delivery_ids(&app).await, old);

    app.clock.advance(chrono::Duration::hours(2));
    let fresh = app
        .request("carol", "need read on grafana for 1h to check the alerts")
        .await;
    let fresh_ids: Vec<String> = delivery_ids(&app)
        .await
        .into_iter()
        .filter(|id| !old.contains(id))
        .collect();
    assert!(!fresh_ids.is_empty());
    let pruned = pruner.run_once().await.unwrap();
    assert_eq!(pruned.deliveries, old.len() as u64);
    assert_eq!(
        pruned.sessions, 0,
        "an 8-hour session is kept a window past its expiry"
    );
    assert!(pruned.jobs > 0, "{pruned:?}");
    assert_eq!(
        delivery_ids(&app).await,
        fresh_ids,
        "only the old ones went"
    );
    for id in &fresh_ids {
        assert!(
            app.store().seen_delivery(id).await.unwrap(),
            "a redelivery inside the window is still a duplicate"
        );
    }
    // The request made inside the window keeps its jobs, and the engine still works on it.
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE request_id = $1 AND status <> 'done'")
            .bind(&fresh)
            .fetch_one(app.store().pool())
            .await
            .unwrap();
    assert!(pending > 0, "live jobs are never pruned");
    assert_eq!(pruner.run_once().await.unwrap().total(), 0);
    app.clock.advance(chrono::Duration::hours(8));
    assert_eq!(pruner.run_once().await.unwrap().sessions, 1);
}
