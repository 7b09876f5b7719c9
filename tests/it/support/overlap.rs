//! The overlapping-grant scenario every backend with an access key runs through the engine:
//! two grants of one access, the first ended early, the access kept until the last one ends.

use super::console::Drive;
use super::engine::TestEngine;
use warden::domain::RequestState;

/// Asks for and gets `requests` (two messages for the two resources sharing one access), both
/// granted and active; their ids in order.
pub async fn both_active(t: &TestEngine, who: &str, requests: [&str; 2]) -> (String, String) {
    let mut ids = Vec::with_capacity(2);
    for words in requests {
        let id = t.request(who, words).await;
        assert_eq!(
            t.state(&id).await,
            RequestState::Active,
            "{words}: {}",
            t.transcript()
        );
        ids.push(id);
    }
    (ids.remove(0), ids.remove(0))
}

/// Alice gets `requests` (the first for 1h, the second for 2h), revokes the first early: the
/// access stays (`holds`), nothing is removed (`removals`); when the second expires the access
/// goes, removed exactly once.
pub async fn first_revoked_early_then_second_expires(
    t: &TestEngine,
    requests: [&str; 2],
    holds: impl Fn() -> bool,
    removals: impl Fn() -> usize,
) {
    let (a, b) = both_active(t, "alice", requests).await;
    assert!(holds(), "both grants hold the access");

    t.say("alice", &format!("I'm done, please revoke {a}"))
        .await;
    assert_eq!(
        t.state(&a).await,
        RequestState::Revoked,
        "{}",
        t.transcript()
    );
    assert!(holds(), "the second grant still holds the access");
    assert_eq!(removals(), 0);

    t.advance(121).await;
    assert_eq!(
        t.state(&b).await,
        RequestState::Expired,
        "{}",
        t.transcript()
    );
    assert!(!holds(), "the last holder's end removes it");
    assert_eq!(removals(), 1, "removed exactly once");
}
