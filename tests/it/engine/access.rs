//! Time-bound access once granted: extensions up to the maximum, early revocation, break-glass.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use warden::chat::CardAction;
use warden::domain::{Platform, RequestState};
use warden::workflow::{Handled, WorkflowOptions};

on_both_databases!(
    extensions_are_allowed_up_to_the_maximum,
    early_revocation_ends_access_at_once,
    break_glass_is_announced_short_and_reviewed,
);

async fn extensions_are_allowed_up_to_the_maximum(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 2h").await;
    let first_end = t.row(&id).await.expires_at.unwrap();
    t.say("alice", &format!("extend {id} by 1h")).await;
    let row = t.row(&id).await;
    assert_eq!(row.extensions, 1, "{}", t.console.text());
    assert!(row.expires_at.unwrap() >= first_end + 3_600_000 - 10);
    t.say("alice", &format!("extend {id} by 1h")).await;
    assert_eq!(t.row(&id).await.extensions, 2);
    let third = t.say("alice", &format!("extend {id} by 1h")).await;
    assert!(
        matches!(third, Handled::Refused(ref m) if m.contains("most allowed")),
        "{third:?}"
    );
    assert_eq!(t.row(&id).await.extensions, 2);
    // The extended expiry holds: not revoked at the original end, revoked at the new one.
    t.advance(2 * 60 + 5).await;
    assert_eq!(t.state(&id).await, RequestState::Active);
    t.advance(2 * 60).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(t.revokes(), 1);
}

async fn early_revocation_ends_access_at_once(db: TestDb) {
    let t = TestEngine::start(db, Setup::default()).await;
    let id = t.request("alice", "need edit on the wiki for 4h").await;
    t.say("alice", &format!("I'm done, please revoke {id}"))
        .await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Revoked,
        "{}",
        t.console.text()
    );
    assert_eq!(t.revokes(), 1);
    t.advance(5 * 60).await;
    assert_eq!(t.revokes(), 1, "the expiry job finds nothing to do");
    assert_eq!(t.store.grant(&id).await.unwrap().unwrap().status, "revoked");
}

async fn break_glass_is_announced_short_and_reviewed(db: TestDb) {
    let options = WorkflowOptions {
        security_channel: Some((Platform::Console, "security".into())),
        break_glass_secs: 1800,
        ..WorkflowOptions::default()
    };
    let t = TestEngine::start(
        db,
        Setup {
            options,
            ..Setup::default()
        },
    )
    .await;
    // gina is on call; prod-billing-db allows break-glass.
    let id = t
        .request(
            "gina",
            "break-glass prod-db read for 4h because SEV1 billing outage",
        )
        .await;
    let row = t.row(&id).await;
    assert_eq!(row.state, RequestState::Active, "{}", t.console.text());
    assert!(row.break_glass && row.review_open);
    let granted_for =
        row.expires_at.unwrap() - t.store.grant(&id).await.unwrap().unwrap().granted_at;
    assert_eq!(
        granted_for, 1_800_000,
        "break-glass is short whatever was asked"
    );
    let text = t.console.text();
    assert!(
        text.contains("#security") && text.contains("BREAK-GLASS"),
        "{text}"
    );
    assert!(text.contains("@carol (DM)"), "the owner is told: {text}");
    assert!(
        matches!(
            t.click("gina", CardAction::Review, &id).await,
            Handled::Refused(_)
        ),
        "no self-review"
    );
    assert!(matches!(
        t.click("bob", CardAction::Review, &id).await,
        Handled::Refused(_)
    ));
    assert_eq!(
        t.click("carol", CardAction::Review, &id).await,
        Handled::Done
    );
    assert!(!t.row(&id).await.review_open);
    let kinds: Vec<String> = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"alert".to_string()) && kinds.contains(&"review".to_string()),
        "{kinds:?}"
    );
    // Someone not on call is refused break-glass.
    let refused = t
        .request("alice", "break-glass prod-db read because curious")
        .await;
    assert_eq!(t.state(&refused).await, RequestState::Denied);
}
