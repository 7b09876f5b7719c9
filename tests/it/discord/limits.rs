//! Shared rate limits (issue 11 #8) against the fake Discord: a 429 pauses every route Discord
//! puts in the same bucket (`X-RateLimit-Bucket` plus the channel), not only the refused call;
//! another channel goes on; a global 429 pauses everything, across the whole server's callers;
//! edits of one card made while limited become one call with the latest content.

use super::app::TestApp;
use super::flow::{ask, submit};
use crate::on_sqlite;
use crate::support::TestDb;
use crate::support::fakes::discord::interactions::{self as fixtures, CAROL, CHANNEL, DANA, From};
use crate::support::fakes::discord::{Call, FakeDiscord};
use reqwest::Method;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use warden::chat::discord::DiscordChat;
use warden::chat::discord::rest::{DiscordRest, Route};
use warden::chat::{Card, CardKind, ChatPort, MessageRef, Scope, ScopeKind};
use warden::domain::RequestState;
use warden::domain::{Platform, RequestId};

on_sqlite!(a_global_429_met_by_an_interaction_reply_pauses_the_servers_card_edits_too);

async fn client() -> (Arc<FakeDiscord>, Arc<DiscordRest>, Arc<DiscordChat>) {
    warden::app::install_crypto();
    let (fake, url) = FakeDiscord::start().await;
    let rest = Arc::new(
        DiscordRest::new(
            Some(&url),
            Some(SecretString::from("test-bot-token")),
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    let chat = Arc::new(DiscordChat::new(rest.clone()));
    (fake, rest, chat)
}

fn channel(id: &str) -> Scope {
    Scope {
        platform: Platform::Discord,
        workspace: "G1".into(),
        channel: id.into(),
        thread: None,
        kind: ScopeKind::Channel,
    }
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

fn message(channel: &str, id: &str) -> MessageRef {
    MessageRef {
        platform: Platform::Discord,
        channel: channel.into(),
        message_id: id.into(),
    }
}

fn the_429(fake: &FakeDiscord) -> Call {
    fake.calls()
        .into_iter()
        .find(|c| c.status == 429)
        .expect("one call was refused with 429")
}

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
async fn a_429_pauses_other_routes_of_the_same_bucket_but_not_another_channel() {
    let (fake, _rest, chat) = client().await;
    // Discord names the bucket in its headers; the first post teaches it.
    chat.send(&channel("100"), "hello").await.unwrap();
    fake.rate_limit_next("PATCH", "/channels/100/messages/", 1.0);
    let c = chat.clone();
    let edit =
        started(async move { c.update_card(&message("100", "555"), &card("edited")).await }).await;
    let refused_at = the_429(&fake).at;

    // Another channel is another bucket: no wait.
    chat.send(&channel("200"), "elsewhere").await.unwrap();
    // A post in the same channel is a different route in the same bucket: it waits.
    chat.send(&channel("100"), "same bucket").await.unwrap();
    edit.await.unwrap().unwrap();

    let posted = |ch: &str, text: &str| {
        fake.find("POST", &format!("/channels/{ch}/messages"))
            .into_iter()
            .find(|c| c.body.to_string().contains(text))
            .unwrap_or_else(|| panic!("no post of {text:?}"))
    };
    let elsewhere = posted("200", "elsewhere");
    assert!(
        elsewhere.at - refused_at < Duration::from_millis(700),
        "another channel waited for this channel's limit"
    );
    let same = posted("100", "same bucket");
    assert!(
        same.at - refused_at >= Duration::from_millis(900),
        "the post in the limited bucket went out {:?} after the 429 (retry_after 1.0)",
        same.at - refused_at
    );
    assert_eq!(
        fake.calls().iter().filter(|c| c.status == 429).count(),
        1,
        "no call was sent into the limit"
    );
}

#[tokio::test]
async fn a_global_429_pauses_every_route() {
    let (fake, rest, chat) = client().await;
    fake.rate_limit_globally_next(1.0);
    let c = chat.clone();
    let first = started(async move { c.send(&channel("100"), "first").await }).await;
    let refused_at = the_429(&fake).at;
    rest.call(
        Method::PUT,
        Route::new("member_role", "G1"),
        "/guilds/G1/members/U1/roles/R1",
        None::<&()>,
        None,
    )
    .await
    .unwrap();
    first.await.unwrap().unwrap();
    let role = fake.find("PUT", "/guilds/G1/members/U1/roles/R1").remove(0);
    assert!(
        role.at - refused_at >= Duration::from_millis(900),
        "a call on another route went out {:?} after a global 429",
        role.at - refused_at
    );
}

#[tokio::test]
async fn edits_of_one_discord_card_while_limited_become_one_call_with_the_latest_content() {
    let (fake, _rest, chat) = client().await;
    fake.rate_limit_next("PATCH", "/channels/100/messages/777", 1.0);
    let c = chat.clone();
    let first =
        started(async move { c.update_card(&message("100", "777"), &card("v1")).await }).await;
    the_429(&fake);
    let mut later = Vec::new();
    for v in 2..=5 {
        let c = chat.clone();
        later.push(tokio::spawn(async move {
            c.update_card(&message("100", "777"), &card(&format!("v{v}")))
                .await
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.await.unwrap().unwrap();
    for h in later {
        h.await.unwrap().unwrap();
    }
    let sent: Vec<Call> = fake
        .find("PATCH", "/channels/100/messages/777")
        .into_iter()
        .filter(|c| c.status == 200)
        .collect();
    assert_eq!(sent.len(), 1, "one call after the limit, not one per edit");
    let body = sent[0].body.to_string();
    assert!(body.contains("v5"), "the latest content won: {body}");
}

/// The interactions endpoint, the chat port and the role backend share one client, so a global
/// limit met by one of them holds for all.
async fn a_global_429_met_by_an_interaction_reply_pauses_the_servers_card_edits_too(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    let approval = submit(&app, &id, &card).await;
    app.settle().await;
    app.fake.rate_limit_globally_next(1.0);
    // Carol is no approver: her refusal goes out on the interaction's webhook and meets the 429.
    let refused = fixtures::click(
        &From::guild(CAROL),
        &format!("warden:approve:{id}"),
        CHANNEL,
        &approval,
    );
    app.send(&refused).await;
    let limited = wait_for_429(&app.fake).await;
    // Dana approves: the grant and the card edits go through the chat port's client.
    app.send(&fixtures::click(
        &From::guild(DANA),
        &format!("warden:approve:{id}"),
        CHANNEL,
        &approval,
    ))
    .await;
    app.state_becomes(&id, RequestState::Active).await;
    app.settle().await;
    let early: Vec<String> = app
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.at > limited.at && c.at - limited.at < Duration::from_millis(900))
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(
        early.is_empty(),
        "calls went out during the global limit: {early:?}"
    );
}

async fn wait_for_429(fake: &FakeDiscord) -> Call {
    crate::support::wait_until(crate::support::wait::PATIENCE, "a 429", || async {
        fake.calls().into_iter().find(|c| c.status == 429)
    })
    .await
}
