//! The Slack Web API client: slack-morphism's client plus what Warden adds on top — a 429's
//! `Retry-After` pauses its whole bucket, `chat.postMessage` paced per channel, DM channels
//! remembered.
//!
//! Slack rate-limits per method, per workspace, per app. One `SlackApi` holds one bot token (one
//! workspace), and the composition root builds one per process and shares it, so its pauses,
//! keyed by method, are that bucket for every caller.

use crate::chat::ChatError;
use crate::chat::limits::Pauses;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub type Connector = SlackClientHyperHttpsConnector;

/// How the client behaves towards Slack; tests shorten the pacing.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Least time between two `chat.postMessage` calls to one channel.
    pub post_interval: Duration,
    /// 429 answers retried before the call fails.
    pub max_retries: u32,
    /// Longest `Retry-After` honoured; a longer one is capped.
    pub max_retry_after: Duration,
    /// Least time between two `views.publish` calls for one person's Home tab.
    pub home_interval: Duration,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            post_interval: Duration::from_secs(1),
            max_retries: 3,
            max_retry_after: Duration::from_secs(30),
            home_interval: Duration::from_secs(1),
        }
    }
}

pub struct SlackApi {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    options: ApiOptions,
    /// Per method: no call before this instant, after Slack answered 429 with Retry-After.
    pauses: Pauses<String>,
    /// Per channel: the time of the last post; the async mutex also serialises posts to it.
    last_post: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
    dm_channels: Mutex<HashMap<String, String>>,
    installation: tokio::sync::OnceCell<Installation>,
}

/// The HTTPS connector, which also speaks plain http so `slack.api_url` can point at a local fake.
pub fn connector(api_url: Option<&str>) -> anyhow::Result<Connector> {
    crate::http_client::install_crypto();
    let builder = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "no system CA certificates found; HTTPS calls to Slack will fail");
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        }
    };
    let https = builder
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let mut c = SlackClientHyperConnector::with_connector(https);
    if let Some(url) = api_url {
        c = c.with_slack_api_url(url.trim_end_matches('/'));
    }
    Ok(c)
}

impl SlackApi {
    pub fn new(
        api_url: Option<&str>,
        bot_token: &SecretString,
        options: ApiOptions,
    ) -> anyhow::Result<Self> {
        let client = SlackClient::new(connector(api_url)?);
        let token = SlackApiToken::new(SlackApiTokenValue::new(
            bot_token.expose_secret().to_string(),
        ));
        Ok(Self {
            client,
            token,
            options,
            pauses: Pauses::default(),
            last_post: Mutex::new(HashMap::new()),
            dm_channels: Mutex::new(HashMap::new()),
            installation: tokio::sync::OnceCell::new(),
        })
    }

    /// Least time between two publishes of one person's Home tab.
    pub fn home_interval(&self) -> Duration {
        self.options.home_interval
    }

    pub fn session(&self) -> SlackClientSession<'_, Connector> {
        self.client.open_session(&self.token)
    }

    /// Runs one Web API call. It first waits out any pause of its method; a 429 pauses the
    /// method for every caller for `Retry-After`, then the call is tried again. `call` runs
    /// afresh at each attempt, so it may send newer content than the attempt before.
    pub async fn call<T, F, Fut>(&self, method: &str, call: F) -> Result<T, ChatError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        let bucket = [method.to_string()];
        let mut retries = 0;
        loop {
            self.pauses
                .wait(&bucket, self.options.max_retry_after)
                .await;
            match call().await {
                Ok(v) => return Ok(v),
                Err(SlackClientError::RateLimitError(e)) if retries < self.options.max_retries => {
                    let wait = e
                        .retry_after
                        .unwrap_or(Duration::from_secs(1))
                        .min(self.options.max_retry_after);
                    tracing::info!(
                        method,
                        wait_ms = wait.as_millis() as u64,
                        "Slack rate-limited the method; pausing it for Retry-After"
                    );
                    self.pauses.pause(bucket[0].clone(), wait);
                    retries += 1;
                }
                Err(e) => return Err(api_error(method, e)),
            }
        }
    }

    /// `chat.postMessage`, at most one per `post_interval` per channel.
    pub async fn post_message(
        &self,
        req: SlackApiChatPostMessageRequest,
    ) -> Result<SlackApiChatPostMessageResponse, ChatError> {
        let slot = {
            let mut map = self.last_post.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(req.channel.to_string()).or_default().clone()
        };
        let mut last = slot.lock().await;
        if let Some(at) = *last {
            let due = at + self.options.post_interval;
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let result = self
            .call("chat.postMessage", || async {
                self.session().chat_post_message(&req).await
            })
            .await;
        *last = Some(Instant::now());
        result
    }

    /// The DM channel with a user, opened once and remembered.
    pub async fn dm_channel(&self, user_id: &str) -> Result<String, ChatError> {
        if let Some(c) = self
            .dm_channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user_id)
        {
            return Ok(c.clone());
        }
        let req = SlackApiConversationsOpenRequest::new()
            .with_users(vec![SlackUserId::new(user_id.to_string())]);
        let resp = self
            .call("conversations.open", || async {
                self.session().conversations_open(&req).await
            })
            .await?;
        let channel = resp.channel.id.to_string();
        self.dm_channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user_id.to_string(), channel.clone());
        Ok(channel)
    }

    /// Where this bot token is installed (`auth.test`), asked once and remembered.
    pub async fn installation(&self) -> Result<Installation, ChatError> {
        self.installation
            .get_or_try_init(|| async {
                let answer: AuthTest = self
                    .call("auth.test", || async {
                        self.session()
                            .http_session_api
                            .http_post("auth.test", &serde_json::json!({}), None)
                            .await
                    })
                    .await?;
                Ok(Installation {
                    team_id: answer.team_id.filter(|t| !t.is_empty()),
                    enterprise_id: answer.enterprise_id.filter(|e| !e.is_empty()),
                })
            })
            .await
            .cloned()
    }

    /// What `users.info` says about a user: home team, Grid org, email, and whether a person.
    pub async fn user_identity(&self, user_id: &str) -> Result<SlackIdentity, ChatError> {
        let req = SlackApiUsersInfoRequest::new(SlackUserId::new(user_id.to_string()));
        let resp = self
            .call("users.info", || async {
                self.session().users_info(&req).await
            })
            .await?;
        let u = resp.user;
        Ok(SlackIdentity {
            team_id: u.team_id.map(|t| t.to_string()).filter(|t| !t.is_empty()),
            enterprise_id: u.enterprise_user.map(|e| e.enterprise_id.to_string()),
            email: u.profile.and_then(|p| p.email).map(|e| e.to_string()),
            person: u.deleted != Some(true)
                && u.flags.is_bot != Some(true)
                && u.flags.is_app_user != Some(true),
        })
    }
}

/// Where the app is installed: a workspace, and the Enterprise Grid org it belongs to if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub team_id: Option<String>,
    pub enterprise_id: Option<String>,
}

/// A Slack user as far as identity goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackIdentity {
    /// The user's home team (`users.info` `team_id`); another org's for Slack Connect users.
    pub team_id: Option<String>,
    /// The Enterprise Grid org of an Enterprise user.
    pub enterprise_id: Option<String>,
    pub email: Option<String>,
    /// An active human account (not deactivated, not a bot or app).
    pub person: bool,
}

/// `auth.test`: slack-morphism's response type has no `enterprise_id`, so Warden reads its own.
#[derive(serde::Deserialize)]
struct AuthTest {
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    enterprise_id: Option<String>,
}

/// A failed call as a `ChatError`; the text names the method and Slack's error code, no secrets.
fn api_error(method: &str, e: SlackClientError) -> ChatError {
    match e {
        SlackClientError::ApiError(a) => ChatError::Api(format!("{method}: {}", a.code)),
        SlackClientError::RateLimitError(_) => {
            ChatError::Api(format!("{method}: still rate-limited after retries"))
        }
        SlackClientError::HttpError(h) => {
            ChatError::Api(format!("{method}: HTTP {}", h.status_code))
        }
        other => ChatError::Transport(anyhow::anyhow!("{method}: {other}")),
    }
}
