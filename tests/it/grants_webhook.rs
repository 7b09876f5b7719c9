//! The signed webhook grant backend against a fake receiver over real HTTP.

use crate::support::fakes::receiver::Receiver;
use crate::support::fakes::scripted::Reply;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use std::time::Duration;
use warden::domain::{Catalog, Platform, PlatformUser};
use warden::grants::webhook::WebhookGrantor;
use warden::grants::{GrantCall, GrantError, GrantOp, Grantor};

fn call() -> GrantCall {
    let catalog = Catalog::from_toml(warden::app::EXAMPLE_CATALOG).unwrap();
    let wiki = catalog.get("wiki").unwrap();
    GrantCall::new(
        GrantOp::Grant,
        "AR-TESTTEST",
        wiki,
        "edit",
        "alice",
        &PlatformUser::new(Platform::Console, "local", "alice"),
        chrono::Utc::now(),
        None,
    )
}

fn grantor(receiver: &Receiver) -> WebhookGrantor {
    warden::app::install_crypto();
    let url = url::Url::parse(&receiver.url()).unwrap();
    WebhookGrantor::new(
        url,
        SecretString::from("s3cret"),
        Duration::from_millis(300),
    )
    .unwrap()
    .with_retries(3, Duration::from_millis(10))
}

#[tokio::test]
async fn a_grant_is_posted_signed_with_an_idempotency_key() {
    let receiver = Receiver::start("/grants").await;
    receiver.answer(Reply::ok(serde_json::json!({"ok": true})));
    let receipt = grantor(&receiver).grant(&call()).await.unwrap();
    assert_eq!(receipt.detail["status"], 200);
    let reqs = receiver.calls();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        r.headers.get("idempotency-key").unwrap(),
        "AR-TESTTEST:grant"
    );
    let ts = r
        .headers
        .get("x-warden-timestamp")
        .unwrap()
        .to_str()
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&r.raw);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        r.headers
            .get("x-warden-signature")
            .unwrap()
            .to_str()
            .unwrap(),
        expected
    );
    let body = &r.body;
    assert_eq!(
        (
            body["op"].as_str(),
            body["person"].as_str(),
            body["resource"].as_str()
        ),
        (Some("grant"), Some("alice"), Some("wiki"))
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_key_until_success() {
    let receiver = Receiver::start("/grants").await;
    receiver.push(Reply::empty(503));
    receiver.push(Reply::empty(503));
    grantor(&receiver).grant(&call()).await.unwrap();
    let reqs = receiver.calls();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
    assert!(
        reqs.iter()
            .all(|r| r.header("idempotency-key") == Some("AR-TESTTEST:grant"))
    );
}

#[tokio::test]
async fn a_client_error_is_permanent_and_not_retried() {
    let receiver = Receiver::start("/grants").await;
    receiver.answer(Reply::empty(400));
    let err = grantor(&receiver).grant(&call()).await.unwrap_err();
    assert!(matches!(err, GrantError::Permanent(_)), "{err:?}");
    assert_eq!(receiver.calls().len(), 1);
}

#[tokio::test]
async fn a_timeout_is_transient_after_the_retries() {
    let receiver = Receiver::start("/grants").await;
    receiver.answer(Reply::empty(200).after(Duration::from_secs(2)));
    let err = grantor(&receiver).grant(&call()).await.unwrap_err();
    assert!(
        matches!(err, GrantError::Transient(ref m) if m.contains("timeout")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refusal_after_a_timed_out_attempt_is_uncertain_not_permanent() {
    let receiver = Receiver::start("/grants").await;
    // The first delivery may have been applied; its answer never arrived in time.
    receiver.push(Reply::empty(200).after(Duration::from_secs(2)));
    receiver.answer(Reply::empty(409));
    let err = grantor(&receiver).grant(&call()).await.unwrap_err();
    assert!(matches!(err, GrantError::Uncertain(_)), "{err:?}");
    assert!(err.may_have_applied());
}

#[tokio::test]
async fn a_receiver_that_found_the_access_in_place_says_so_in_the_receipt() {
    let receiver = Receiver::start("/grants").await;
    receiver.answer(Reply::ok(serde_json::json!({ "effect": "already_held" })));
    let receipt = grantor(&receiver).grant(&call()).await.unwrap();
    assert_eq!(receipt.effect, warden::grants::GrantEffect::AlreadyHeld);
}
