//! The composed server wired to a fake Slack Web API, driven by signed requests shaped like
//! Slack's.

use crate::support::fakes::slack::FakeSlack;
use crate::support::server::TestServer;
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use warden::config::Settings;
use warden::domain::Request as RequestRow;
use warden::domain::RequestState;
use warden::store::RequestFilter;

pub const TEAM: &str = "T0WARDEN";
pub const BOT: &str = "U0WARDENBOT";
pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A `TestServer` (which it derefs to) that Slack's requests reach.
pub struct TestApp {
    server: TestServer,
    pub slack: FakeSlack,
    seq: AtomicU64,
}

impl Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

pub fn settings(api_url: &str, post_interval_ms: u64) -> Settings {
    let mut s = Settings::default();
    s.database.max_connections = 5;
    s.directory.file = Some(std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/slack/directory.toml"
    )));
    s.slack.api_url = Some(api_url.to_string());
    s.slack.bot_token = Some(SecretString::from("xoxb-test-token"));
    s.slack.signing_secret = Some(SecretString::from(SECRET));
    s.slack.post_interval_ms = post_interval_ms;
    s
}

/// Slack's v0 signature over `v0:timestamp:body`.
pub fn sign(body: &str, ts: &str) -> String {
    sign_with(SECRET, body, ts)
}

/// The same signature with another secret (a forger's).
pub fn sign_with(secret: &str, body: &str, ts: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn now_ts() -> String {
    chrono::Utc::now().timestamp().to_string()
}

impl TestApp {
    pub async fn start(db: TestDb, post_interval_ms: u64) -> Self {
        Self::start_with(db, post_interval_ms, |_| {}).await
    }

    /// The same server with some settings changed (limits, `slack.trust_email`).
    pub async fn start_with(
        db: TestDb,
        post_interval_ms: u64,
        change: impl FnOnce(&mut Settings),
    ) -> Self {
        let (slack, api_url) = FakeSlack::start().await;
        Self::start_on_fake(db, slack, &api_url, post_interval_ms, change).await
    }

    /// The same, on a fake Slack the caller started (and prepared: a Socket Mode address).
    pub async fn start_on_fake(
        db: TestDb,
        slack: FakeSlack,
        api_url: &str,
        post_interval_ms: u64,
        change: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut s = settings(api_url, post_interval_ms);
        change(&mut s);
        Self {
            server: TestServer::start(s, db, Arc::new(warden::clock::SystemClock)).await,
            slack,
            seq: AtomicU64::new(1),
        }
    }

    /// On a listener bound beforehand and a clock the test moves (the step-up tests).
    pub async fn start_on_listener(
        db: TestDb,
        listener: std::net::TcpListener,
        clock: Arc<dyn warden::clock::Clock>,
        change: impl FnOnce(&mut Settings),
    ) -> Self {
        let (slack, api_url) = FakeSlack::start().await;
        let mut s = settings(&api_url, 0);
        change(&mut s);
        Self {
            server: TestServer::start_on(s, db, clock, listener).await,
            slack,
            seq: AtomicU64::new(1),
        }
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// POSTs a body signed now, with extra headers.
    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let ts = now_ts();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sign(body, &ts));
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }

    /// An Events API callback as Slack sends it.
    pub fn event_body(&self, event_id: &str, event: Value) -> String {
        json!({
            "token": "ignored", "team_id": TEAM, "api_app_id": "A0WARDEN", "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": chrono::Utc::now().timestamp(),
            "authorizations": [{ "enterprise_id": null, "team_id": TEAM, "user_id": BOT, "is_bot": true, "is_enterprise_install": false }],
            "is_ext_shared_channel": false, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
        })
        .to_string()
    }

    /// A direct message to Warden; returns the event body (to redeliver) and the message ts.
    pub fn dm_body(&self, user: &str, text: &str) -> (String, String) {
        self.dm_body_from(user, TEAM, text)
    }

    /// A direct message from a user whose home team is `user_team` (Slack Connect: another org's).
    pub fn dm_body_from(&self, user: &str, user_team: &str, text: &str) -> (String, String) {
        let ts = format!("1710000{:03}.{:06}", self.next(), 42);
        let event = json!({
            "type": "message", "channel": format!("D{}", &user[1..]), "user": user, "text": text, "ts": ts,
            "event_ts": ts, "channel_type": "im", "client_msg_id": uuid::Uuid::new_v4().to_string(),
            "team": user_team, "user_team": user_team, "source_team": user_team,
        });
        (self.event_body(&format!("Ev{:08}", self.next()), event), ts)
    }

    /// A mention of Warden in a public channel, as the Events API delivers `app_mention`.
    pub async fn say_in_channel(&self, user: &str, channel: &str, text: &str) -> String {
        let ts = format!("1710000{:03}.{:06}", self.next(), 77);
        let event = json!({
            "type": "app_mention", "channel": channel, "user": user, "text": format!("<@{BOT}> {text}"), "ts": ts,
            "event_ts": ts, "client_msg_id": uuid::Uuid::new_v4().to_string(), "team": TEAM,
        });
        let body = self.event_body(&format!("Ev{:08}", self.next()), event);
        let resp = self
            .post_signed("/slack/events", "application/json", &body, &[])
            .await;
        assert_eq!(resp.status(), 200);
        ts
    }

    pub async fn dm(&self, user: &str, text: &str) -> String {
        let (body, ts) = self.dm_body(user, text);
        let resp = self
            .post_signed("/slack/events", "application/json", &body, &[])
            .await;
        assert_eq!(resp.status(), 200);
        ts
    }

    /// A block_actions payload for one of Warden's buttons, form-encoded as Slack posts it.
    pub fn click_body(
        &self,
        user: &str,
        action: &str,
        request_id: &str,
        channel: &str,
        message_ts: &str,
    ) -> String {
        form_payload(&self.click_payload(user, action, request_id, channel, message_ts))
    }

    /// The block_actions payload itself (as Socket Mode carries it, unencoded).
    pub fn click_payload(
        &self,
        user: &str,
        action: &str,
        request_id: &str,
        channel: &str,
        message_ts: &str,
    ) -> Value {
        json!({
            "type": "block_actions", "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM },
            "api_app_id": "A0WARDEN", "token": "ignored",
            "container": { "type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false },
            "trigger_id": format!("{}.{}.{}", 4_000_000 + self.next(), 1_234_567, uuid::Uuid::new_v4().simple()),
            "team": { "id": TEAM, "domain": "warden-test" }, "enterprise": null, "is_enterprise_install": false,
            "channel": { "id": channel, "name": "directmessage" }, "state": { "values": {} },
            "response_url": "https://hooks.slack.com/actions/T0WARDEN/1/abc",
            "actions": [{ "action_id": format!("warden_{action}"), "block_id": "warden_actions", "text": { "type": "plain_text", "text": action, "emoji": true }, "value": request_id, "type": "button", "action_ts": format!("{}.000200", 1_710_000_000 + self.next()) }],
        })
    }

    pub async fn click(
        &self,
        user: &str,
        action: &str,
        request_id: &str,
        channel: &str,
        message_ts: &str,
    ) {
        let body = self.click_body(user, action, request_id, channel, message_ts);
        let resp = self
            .post_signed(
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                &body,
                &[],
            )
            .await;
        assert_eq!(resp.status(), 200);
    }

    /// Submits a modal Warden opened (as recorded by the fake `views.open`) with these values.
    pub async fn submit_view(&self, user: &str, view: &Value, values: Value) {
        let payload = json!({
            "type": "view_submission", "team": { "id": TEAM, "domain": "warden-test" },
            "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM },
            "api_app_id": "A0WARDEN", "token": "ignored", "trigger_id": format!("{}.1.x", 5_000_000 + self.next()),
            "view": {
                "id": format!("V{:08}", self.next()), "team_id": TEAM, "type": "modal", "blocks": view["blocks"], "private_metadata": view["private_metadata"],
                "callback_id": view["callback_id"], "state": { "values": values }, "hash": "1710000000.abc", "title": view["title"],
                "close": view["close"], "submit": view["submit"], "root_view_id": "V0ROOT", "app_id": "A0WARDEN", "bot_id": "B0WARDEN",
            },
            "response_urls": [], "is_enterprise_install": false, "enterprise": null,
        });
        let resp = self
            .post_signed(
                "/slack/interactions",
                "application/x-www-form-urlencoded",
                &form_payload(&payload),
                &[],
            )
            .await;
        assert_eq!(resp.status(), 200);
    }

    pub async fn requests(&self) -> Vec<RequestRow> {
        self.store()
            .list_requests(&RequestFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("requests listed")
    }

    pub async fn row(&self, id: &str) -> RequestRow {
        self.store()
            .get_request(id)
            .await
            .expect("store answers")
            .expect("request exists")
    }

    /// Waits until the request exists, and returns it.
    pub async fn stored(&self, id: &str) -> RequestRow {
        let what = Sent(&self.slack, format!("request {id} to be stored"));
        wait_until(PATIENCE, what, || async {
            self.store().get_request(id).await.expect("store answers")
        })
        .await
    }

    /// Waits until the request reaches `state`.
    pub async fn wait_state(&self, id: &str, state: RequestState) {
        let what = Sent(&self.slack, format!("request {id} to become {state:?}"));
        wait_until(PATIENCE, what, || async {
            self.row(id).await.state == state
        })
        .await
    }

    /// Waits until `done` holds of the calls the fake Slack received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&FakeSlack) -> bool) {
        wait_until(PATIENCE, Sent(&self.slack, what), || {
            let ok = done(&self.slack);
            async move { ok }
        })
        .await
    }
}

/// What a test waits for, and (when the wait fails) the calls the fake Slack received.
struct Sent<'a, W>(&'a FakeSlack, W);

impl<W: std::fmt::Display> std::fmt::Display for Sent<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let calls = self.0.calls();
        let calls: Vec<_> = calls
            .iter()
            .map(|c| (&c.method, c.status, &c.body))
            .collect();
        write!(f, "{}; calls: {calls:#?}", self.1)
    }
}

pub fn form_payload(payload: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// A posted card: its channel, ts and request id, found by one of its buttons.
pub struct Posted {
    pub channel: String,
    pub ts: String,
    pub request_id: String,
}

/// Cards posted with a given button (successful `chat.postMessage` calls, oldest first).
pub fn cards_with_button(app: &TestApp, action: &str) -> Vec<Posted> {
    let want = format!("warden_{action}");
    app.slack
        .ok("chat.postMessage")
        .iter()
        .filter_map(|c| {
            let actions = c.body["blocks"]
                .as_array()?
                .iter()
                .find(|b| b["type"] == "actions")?;
            let button = actions["elements"]
                .as_array()?
                .iter()
                .find(|b| b["action_id"] == want.as_str())?;
            Some(Posted {
                channel: c.response["channel"].as_str()?.to_string(),
                ts: c.response["ts"].as_str()?.to_string(),
                request_id: button["value"].as_str()?.to_string(),
            })
        })
        .collect()
}
