//! The composed server wired to a fake Discord REST API, with a manual clock and a signing key
//! the server trusts.

use crate::support::fakes::discord::FakeDiscord;
use crate::support::fakes::discord::interactions::{self as fixtures, Keys};
use crate::support::server::TestServer;
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use secrecy::SecretString;
use std::ops::Deref;
use std::sync::Arc;
use warden::clock::ManualClock;
use warden::config::Settings;
use warden::domain::Request as RequestRow;
use warden::domain::RequestState;
use warden::store::RequestFilter;

pub const CATALOG: &str = r#"
[[resource]]
id = "game-servers"
name = "Game servers console"
aliases = ["game servers"]
roles = ["read", "admin"]
owners = ["carol"]
risk = "medium"
max_duration = "8h"
default_duration = "1h"
grant = { backend = "discord_role", role = "7001", roles = { admin = "7002" } }

[[resource]]
id = "build-farm"
name = "Build farm"
aliases = ["build farm"]
roles = ["read"]
owners = ["carol"]
risk = "medium"
max_duration = "8h"
default_duration = "1h"
grant = { backend = "discord_role", role = "7003" }
"#;

pub fn directory() -> String {
    let person = |id: &str, name: &str, manager: Option<&str>, user: &str| {
        let manager = manager
            .map(|m| format!("manager = \"{m}\"\n"))
            .unwrap_or_default();
        format!(
            "[[person]]\nid = \"{id}\"\ndisplay_name = \"{name}\"\n{manager}groups = [\"engineering\"]\naccounts = [{{ platform = \"discord\", workspace = \"{}\", user_id = \"{user}\" }}]\n\n",
            fixtures::GUILD
        )
    };
    [
        person("alice", "Alice Ng", Some("dana"), fixtures::ALICE),
        person("dana", "Dana Scully", Some("frank"), fixtures::DANA),
        person("carol", "Carol Diaz", Some("frank"), fixtures::CAROL),
        person("frank", "Frank Oduya", None, "1004"),
    ]
    .concat()
}

/// What a server is wired to, kept apart from the server so another one (a restart after a
/// crash) can be started over the same fake Discord, keys and files.
#[derive(Clone)]
pub struct Setup {
    pub fake: Arc<FakeDiscord>,
    fake_url: String,
    pub keys: Arc<Keys>,
    dir: Arc<tempfile::TempDir>,
    /// Connect to Discord's gateway too (`discord.gateway`), found through `GET /gateway`.
    gateway: bool,
}

impl Setup {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (fake, fake_url) = FakeDiscord::start().await;
        std::fs::write(dir.path().join("catalog.toml"), CATALOG).unwrap();
        std::fs::write(dir.path().join("directory.toml"), directory()).unwrap();
        Self {
            fake,
            fake_url,
            keys: Arc::new(Keys::generate()),
            dir: Arc::new(dir),
            gateway: false,
        }
    }

    /// The same deployment with `catalog` (TOML) in place of `CATALOG`.
    pub async fn with_catalog(catalog: &str) -> Self {
        let setup = Self::new().await;
        std::fs::write(setup.dir.path().join("catalog.toml"), catalog).unwrap();
        setup
    }

    /// The same as a gateway-only deployment (no interactions endpoint), the fake Discord
    /// pointing at `gateway_url`.
    pub async fn with_gateway(gateway_url: &str) -> Self {
        let setup = Self::new().await;
        setup.fake.set_gateway_url(gateway_url);
        Self {
            gateway: true,
            ..setup
        }
    }

    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        s.catalog.file = Some(self.dir.path().join("catalog.toml"));
        s.directory.file = Some(self.dir.path().join("directory.toml"));
        s.discord.api_url = Some(self.fake_url.clone());
        s.discord.bot_token = Some(SecretString::from("test-bot-token"));
        s.discord.public_key = Some(self.keys.public_hex());
        s.discord.application_id = Some(fixtures::APP_ID.into());
        s.discord.guild_id = Some(fixtures::GUILD.into());
        s.discord.gateway = self.gateway;
        if self.gateway {
            // A gateway-only deployment (no public URL): Discord sends interactions over the
            // gateway, so there is no endpoint and no key to verify with.
            s.discord.public_key = None;
        }
        s
    }
}

/// A `TestServer` (which it derefs to) that Discord's interactions reach.
pub struct TestApp {
    server: TestServer,
    pub fake: Arc<FakeDiscord>,
    pub keys: Arc<Keys>,
    pub clock: Arc<ManualClock>,
    _setup: Setup,
}

impl Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

pub struct Answer {
    pub status: u16,
    pub json: serde_json::Value,
}

/// Posts a signed interaction with the current time to the server at `base`.
pub async fn send_signed(
    http: &reqwest::Client,
    base: &str,
    keys: &Keys,
    payload: &serde_json::Value,
) -> Answer {
    let body = serde_json::to_vec(payload).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = keys.sign(&ts, &body);
    post_to(http, base, body, &ts, &sig).await
}

async fn post_to(
    http: &reqwest::Client,
    base: &str,
    body: Vec<u8>,
    timestamp: &str,
    signature: &str,
) -> Answer {
    let resp = http
        .post(format!("{base}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", signature)
        .header("x-signature-timestamp", timestamp)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    Answer { status, json }
}

impl TestApp {
    pub async fn start(db: TestDb) -> Self {
        Self::start_on(db, Setup::new().await).await
    }

    /// A server wired to `setup`: a restart when another one ran on it before.
    pub async fn start_on(db: TestDb, setup: Setup) -> Self {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        Self {
            server: TestServer::start(setup.settings(), db, clock.clone()).await,
            fake: setup.fake.clone(),
            keys: setup.keys.clone(),
            clock,
            _setup: setup,
        }
    }

    /// Posts a signed interaction with the current time.
    pub async fn send(&self, payload: &serde_json::Value) -> Answer {
        send_signed(&self.http, &self.base, &self.keys, payload).await
    }

    pub async fn post_raw(&self, body: Vec<u8>, timestamp: &str, signature: &str) -> Answer {
        post_to(&self.http, &self.base, body, timestamp, signature).await
    }

    pub async fn latest_request(&self, person: &str) -> Option<RequestRow> {
        let rows = self
            .store()
            .list_requests(&RequestFilter {
                requester_id: Some(person.into()),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        rows.into_iter().next()
    }

    pub async fn request_count(&self) -> usize {
        self.store()
            .list_requests(&RequestFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }

    /// Waits for a request to reach a state (the engine works after the acknowledgement). On
    /// timeout it says the state the request was last seen in and what the bot said meanwhile.
    pub async fn state_becomes(&self, id: &str, state: RequestState) -> RequestRow {
        let last = std::sync::Mutex::new(None);
        let what = Lazy(|f: &mut std::fmt::Formatter<'_>| {
            write!(
                f,
                "{id} to become {state:?} (last seen {:?}); the bot said: {}",
                last.lock().unwrap(),
                self.said()
            )
        });
        wait_until(PATIENCE, what, || async {
            let row = self.store().get_request(id).await.unwrap();
            *last.lock().unwrap() = row.as_ref().map(|r| r.state);
            row.filter(|r| r.state == state)
        })
        .await
    }

    /// The text of every message the bot posted or edited, in order (for failure messages).
    pub fn said(&self) -> String {
        let texts: Vec<String> = self
            .fake
            .calls()
            .into_iter()
            .filter(|c| c.method == "POST" || c.method == "PATCH")
            .filter_map(|c| {
                let content = c.body["content"].as_str().map(str::to_string);
                content.or_else(|| c.body.get("embeds").map(|e| e.to_string()))
            })
            .collect();
        texts.join(" | ")
    }

    /// Waits for at least `n` recorded calls of `method` on paths starting with `prefix`.
    pub async fn calls(
        &self,
        method: &str,
        prefix: &str,
        n: usize,
    ) -> Vec<crate::support::fakes::discord::Call> {
        wait_until(PATIENCE, format!("{n} x {method} {prefix}"), || async {
            let found = self.fake.find(method, prefix);
            (found.len() >= n).then_some(found)
        })
        .await
    }

    /// Waits for a recorded call whose JSON body mentions `text`.
    pub async fn call_with(
        &self,
        method: &str,
        prefix: &str,
        text: &str,
    ) -> crate::support::fakes::discord::Call {
        wait_until(
            PATIENCE,
            format!("{method} {prefix} with \"{text}\""),
            || async {
                self.fake
                    .find(method, prefix)
                    .into_iter()
                    .find(|c| c.body.to_string().contains(text))
            },
        )
        .await
    }

    /// Lets the background work started by earlier interactions finish.
    /// Waits until every accepted event has been handled: interactions are stored in the
    /// durable inbox and handled by its workers, not by the tasks the endpoint spawns, so both
    /// must be empty (a stored event is removed only after its handling, replies included).
    pub async fn settle(&self) {
        wait_until(PATIENCE, "background work to finish", || async {
            self.state.tasks.is_empty() && self.store().inbox_depth().await.unwrap() == 0
        })
        .await
    }
}

/// Display by a closure, so a wait's description is formatted only when it is shown.
struct Lazy<F>(F);

impl<F: Fn(&mut std::fmt::Formatter<'_>) -> std::fmt::Result> std::fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (self.0)(f)
    }
}
