//! Two active grants of the same Okta group membership (two resources mapping to one group),
//! through the engine against the fake Okta org: the access ends when the last Warden grant
//! holding it ends, never earlier, exactly once, and access held before Warden is never removed.

use super::okta::by_token;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::okta::{FakeOkta, error};
use crate::support::fakes::saas::Fault;
use crate::support::overlap;
use axum::http::Method;
use std::sync::Arc;
use warden::domain::{Catalog, RequestState};
use warden::store::{Change, Committed, HoldOp};

on_both_databases!(
    revoking_the_first_grant_early_leaves_the_access_to_the_second_until_it_ends,
    the_second_grant_ending_first_leaves_the_access_to_the_first,
    access_held_before_warden_is_never_removed_by_overlapping_grants,
    two_revokes_at_once_remove_the_access_exactly_once,
    a_grant_made_while_the_access_is_being_removed_puts_it_back_after_the_removal,
    two_holders_leaving_at_once_on_one_reading_commit_one_and_conflict_the_other,
);

const GROUP: &str = "00gshared";

/// Two resources whose grants are membership of the one Okta group.
fn shared_catalog() -> Catalog {
    let toml = crate::support::catalogs::sharing_one_access(
        [("app", "SaaS app"), ("ops", "Ops console")],
        &format!(r#"{{ backend = "okta", group_id = "{GROUP}" }}"#),
        "max_duration = \"1d\"\nreconcile = \"report\"",
    );
    Catalog::from_toml(&toml).expect("test catalog parses")
}

async fn start(db: TestDb, members: &[&str]) -> (TestEngine, FakeOkta) {
    let f = FakeOkta::start().await;
    f.user("00ualice", "alice@example.com");
    f.user("00ubob", "bob@example.com");
    f.group(GROUP, members);
    let t = TestEngine::start(
        db,
        Setup {
            catalog: Arc::new(shared_catalog()),
            grantors: vec![Arc::new(by_token(&f))],
            ..Setup::default()
        },
    )
    .await;
    (t, f)
}

fn deletes(f: &FakeOkta) -> usize {
    f.common()
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE")
        .count()
}

/// Grants `who` the saas app for `first` and the ops console for `second`, both active.
async fn two_grants(t: &TestEngine, who: &str, first: &str, second: &str) -> (String, String) {
    overlap::both_active(
        t,
        who,
        [
            &format!("need read on the saas app for {first}"),
            &format!("need read on the ops console for {second}"),
        ],
    )
    .await
}

/// Whether the request's context log has an entry whose payload has `key`.
async fn logged(t: &TestEngine, id: &str, key: &str) -> bool {
    t.store
        .log_entries(id)
        .await
        .unwrap()
        .iter()
        .any(|e| e.payload.as_ref().is_some_and(|p| p.get(key).is_some()))
}

async fn revoking_the_first_grant_early_leaves_the_access_to_the_second_until_it_ends(db: TestDb) {
    let (t, f) = start(db, &[]).await;
    let (a, b) = two_grants(&t, "alice", "1h", "2h").await;
    assert_eq!(f.members(GROUP), ["00ualice"]);

    t.say("alice", &format!("I'm done, please revoke {a}"))
        .await;
    assert_eq!(
        t.state(&a).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    assert_eq!(
        f.members(GROUP),
        ["00ualice"],
        "the second grant still holds the access"
    );
    assert_eq!(deletes(&f), 0);
    assert!(
        logged(&t, &a, "still_held_by").await,
        "the handover is in the first's log"
    );
    assert!(
        logged(&t, &b, "taken_over_from").await,
        "and the takeover in the second's"
    );
    assert!(
        t.transcript()
            .contains(&format!("request {b} still grants the same access")),
        "{}",
        t.transcript()
    );
    // Reconciliation agrees: the member is expected (the second grant) and present.
    let report = t.engine.reconcile(Some("ops")).await.unwrap();
    assert!(report.findings().next().is_none(), "{report:?}");

    t.advance(61).await;
    assert_eq!(t.state(&b).await, RequestState::Active);
    assert_eq!(f.members(GROUP), ["00ualice"]);
    t.advance(60).await;
    assert_eq!(
        t.state(&b).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert!(
        f.members(GROUP).is_empty(),
        "the last holder's end removes it"
    );
    assert_eq!(deletes(&f), 1);
}

async fn the_second_grant_ending_first_leaves_the_access_to_the_first(db: TestDb) {
    let (t, f) = start(db, &[]).await;
    let (a, b) = two_grants(&t, "alice", "2h", "1h").await;
    t.advance(61).await;
    assert_eq!(
        t.state(&b).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert_eq!(
        f.members(GROUP),
        ["00ualice"],
        "the first grant still holds it"
    );
    t.say("alice", &format!("I'm done, please revoke {a}"))
        .await;
    assert_eq!(
        t.state(&a).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    assert!(f.members(GROUP).is_empty());
    assert_eq!(deletes(&f), 1);
}

async fn access_held_before_warden_is_never_removed_by_overlapping_grants(db: TestDb) {
    let (t, f) = start(db, &["00ubob"]).await;
    let (a, b) = two_grants(&t, "bob", "1h", "2h").await;
    t.say("bob", &format!("I'm done, please revoke {a}")).await;
    assert_eq!(
        t.state(&a).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    t.advance(121).await;
    assert_eq!(
        t.state(&b).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert_eq!(
        f.members(GROUP),
        ["00ubob"],
        "held before Warden: left in place"
    );
    assert_eq!(deletes(&f), 0);
}

async fn two_revokes_at_once_remove_the_access_exactly_once(db: TestDb) {
    let (t, f) = start(db, &[]).await;
    let (a, b) = two_grants(&t, "alice", "1h", "2h").await;
    // Two instances on the one database, each revoking one of the grants at the same moment.
    let other = t
        .restart(Setup {
            catalog: Arc::new(shared_catalog()),
            grantors: vec![Arc::new(by_token(&f))],
            ..Setup::default()
        })
        .await;
    let (ra, rb) = (t.row(&a).await, other.row(&b).await);
    let (x, y) = tokio::join!(
        t.engine.revoke_early(&ra, "alice", "done", None),
        other.engine.revoke_early(&rb, "alice", "done", None),
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(
        t.state(&a).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    assert_eq!(
        t.state(&b).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    assert!(f.members(GROUP).is_empty(), "{:?}", f.members(GROUP));
    assert_eq!(deletes(&f), 1, "removed exactly once");
}

async fn a_grant_made_while_the_access_is_being_removed_puts_it_back_after_the_removal(db: TestDb) {
    let (t, f) = start(db, &[]).await;
    let a = t.request("alice", "need read on the saas app for 1h").await;
    assert_eq!(
        t.state(&a).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    // The removal is refused once, so it is still in flight when the second grant comes.
    f.fault(Fault::on(
        Some(Method::DELETE),
        "/api/v1/groups/",
        403,
        error(
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
    ));
    t.say("alice", &format!("I'm done, please revoke {a}"))
        .await;
    assert_eq!(
        t.state(&a).await,
        RequestState::Active,
        "the removal is being retried"
    );
    let b = t
        .request("alice", "need read on the ops console for 2h")
        .await;
    assert_eq!(
        t.state(&b).await,
        RequestState::Approved,
        "the grant waits for the removal: {}",
        t.transcript()
    );
    for _ in 0..6 {
        if t.state(&b).await == RequestState::Active {
            break;
        }
        t.advance(1).await;
    }
    assert_eq!(
        t.state(&a).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    assert_eq!(
        t.state(&b).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert_eq!(f.members(GROUP), ["00ualice"], "put back after the removal");
    t.advance(121).await;
    assert_eq!(
        t.state(&b).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert!(f.members(GROUP).is_empty(), "and removed at its own end");
}

/// Both holders read each other as still holding and leave at once: the store lets one leave
/// and makes the other a conflict (it reads again and finds itself the last), so the access
/// is never left with no holder to remove it.
async fn two_holders_leaving_at_once_on_one_reading_commit_one_and_conflict_the_other(db: TestDb) {
    let (t, _f) = start(db, &[]).await;
    let (a, b) = two_grants(&t, "alice", "1h", "2h").await;
    let key = format!("okta:group:{GROUP}:person:alice");
    let holds = t.store.access_holds(&key).await.unwrap();
    let owns: Vec<(String, bool)> = holds
        .iter()
        .map(|h| (h.request_id.clone(), h.owns))
        .collect();
    assert_eq!(owns, [(a.clone(), true), (b.clone(), false)]);
    let leave = |owned: bool, heir: &str| {
        Change::none().hold(HoldOp::Leave {
            key: key.clone(),
            owned,
            heir: Some(heir.to_string()),
        })
    };
    let (ra, rb) = (t.row(&a).await, t.row(&b).await);
    let now = chrono::Utc::now().timestamp_millis();
    let (x, y) = tokio::join!(
        t.store.commit(&ra, leave(true, &b), now),
        t.store.commit(&rb, leave(false, &a), now),
    );
    let applied = [x.unwrap(), y.unwrap()]
        .iter()
        .filter(|c| matches!(c, Committed::Applied(_)))
        .count();
    assert_eq!(applied, 1, "one leaves, the other conflicts");
    let left = t.store.access_holds(&key).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0].owns,
        "the one left removes the access at its end: {left:?}"
    );
}
