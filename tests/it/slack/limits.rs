//! Shared rate limits (issue 11 #8) against the fake Slack: a 429 with Retry-After pauses every
//! call of that method in the workspace, not only the refused one; other methods go on; edits of
//! one card made while limited become one call with the latest content.

use crate::support::fakes::slack::{Call, FakeSlack};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden::chat::slack::SlackChat;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::{Card, CardKind, ChatPort, MessageRef, Scope, ScopeKind};
use warden::domain::{Platform, RequestId};

async fn chat() -> (FakeSlack, Arc<SlackChat>) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    let options = ApiOptions {
        post_interval: Duration::ZERO,
        ..ApiOptions::default()
    };
    let api = SlackApi::new(Some(&url), &SecretString::from("xoxb-test-token"), options).unwrap();
    (fake, Arc::new(SlackChat::new(Arc::new(api))))
}

fn card(status: &str) -> Card {
    Card {
        kind: CardKind::Approval,
        request_id: RequestId::from_stored("AR-LIMITS".into()),
        title: "Access request needs your approval".into(),
        fields: vec![("Resource".into(), "billing-db".into())],
        status: Some(status.into()),
        buttons: vec![],
        items: vec![],
    }
}

fn message(ts: &str) -> MessageRef {
    MessageRef {
        platform: Platform::Slack,
        channel: "C0APPROVERS".into(),
        message_id: ts.into(),
    }
}

fn the_429(fake: &FakeSlack) -> Call {
    fake.calls()
        .into_iter()
        .find(|c| c.status == 429)
        .expect("one call was refused with 429")
}

/// Starts `f` in the background and gives it time to reach the fake (and its 429).
async fn started<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = tokio::spawn(f);
    tokio::time::sleep(Duration::from_millis(150)).await;
    handle
}

#[tokio::test]
async fn a_429_pauses_other_calls_of_the_same_method_but_not_other_methods() {
    let (fake, chat) = chat().await;
    fake.throttle("chat.update", 1);
    let c = chat.clone();
    let first = started(async move { c.update_card(&message("1.1"), &card("first")).await }).await;
    let refused_at = the_429(&fake).at;

    // Another method in the same workspace is not limited by chat.update's 429.
    let scope = Scope {
        platform: Platform::Slack,
        workspace: "T0WARDEN".into(),
        channel: "C0APPROVERS".into(),
        thread: None,
        kind: ScopeKind::Channel,
    };
    chat.send(&scope, "unrelated").await.unwrap();
    let post = fake.ok("chat.postMessage").remove(0);
    assert!(
        post.at - refused_at < Duration::from_millis(700),
        "chat.postMessage waited for chat.update's limit"
    );

    // A different message, same method: it waits out the Retry-After too.
    let started_at = Instant::now();
    chat.update_card(&message("2.2"), &card("second"))
        .await
        .unwrap();
    first.await.unwrap().unwrap();
    let second = fake
        .ok("chat.update")
        .into_iter()
        .find(|c| c.body["ts"] == "2.2")
        .expect("the second update landed");
    assert!(
        second.at - refused_at >= Duration::from_millis(900),
        "the second chat.update went out {:?} after the 429 (Retry-After: 1)",
        second.at - refused_at
    );
    assert!(started_at.elapsed() < Duration::from_secs(3));
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| c.method == "chat.update" && c.status == 429)
            .count(),
        1,
        "no call was sent into the limit"
    );
}

#[tokio::test]
async fn edits_of_one_card_while_limited_become_one_call_with_the_latest_content() {
    let (fake, chat) = chat().await;
    fake.throttle("chat.update", 1);
    let c = chat.clone();
    let first = started(async move { c.update_card(&message("3.3"), &card("v1")).await }).await;
    the_429(&fake);
    let mut later = Vec::new();
    for v in 2..=5 {
        let c = chat.clone();
        later.push(tokio::spawn(async move {
            c.update_card(&message("3.3"), &card(&format!("v{v}")))
                .await
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.await.unwrap().unwrap();
    for h in later {
        h.await.unwrap().unwrap();
    }
    let sent = fake.ok("chat.update");
    assert_eq!(sent.len(), 1, "one call after the limit, not one per edit");
    let body = sent[0].body.to_string();
    assert!(body.contains("v5"), "the latest content won: {body}");
    assert!(!body.contains("v1"), "{body}");
}
