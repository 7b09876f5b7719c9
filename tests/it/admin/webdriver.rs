//! A small W3C WebDriver client over reqwest, driving chromedriver and headless Chromium.
//! (fantoccini's rustls feature pulls hyper-rustls with aws-lc-rs, which this project avoids.)

use crate::support::wait::{PATIENCE, wait_until};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port; killed when dropped.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the browser is installed; in CI its absence fails the test.
pub fn available() -> bool {
    let found =
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !found {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "chromium and chromedriver are required in CI (.ci/run installs them)"
        );
        eprintln!("skipping the browser test: install chromium and chromium-driver to run it");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    pub async fn start() -> Self {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        wait_until(PATIENCE, "chromedriver to answer", || async {
            let status = http.get(format!("{base}/status")).send().await;
            status.is_ok_and(|r| r.status().is_success())
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": { "binary": CHROMIUM, "args": args } } } });
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_string();
        Self {
            child,
            base,
            http,
            _profile: profile,
            session,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
    }

    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut rb = self.http.request(method, url);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json");
        if v["value"].get("error").is_some() {
            return Err(v["value"].clone());
        }
        Ok(v["value"].clone())
    }

    /// The current document's root element id; it changes when a navigation completes.
    async fn document_id(&self) -> Option<String> {
        let v = self
            .try_call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": "html" })),
            )
            .await
            .ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    /// Clicks, then waits (bounded) for the navigation the click starts to finish.
    async fn click_and_settle(&self, el: &str) {
        let before = self.document_id().await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
        for _ in 0..50 {
            let now = self.document_id().await;
            let ready = self
                .try_call(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({ "script": "return document.readyState", "args": [] })),
                )
                .await;
            if now.is_some()
                && now != before
                && ready
                    .ok()
                    .and_then(|r| r.as_str().map(|s| s == "complete"))
                    .unwrap_or(false)
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.click_and_settle(&el).await;
    }

    pub async fn text(&self, css: &str) -> String {
        // A document still being replaced can hand out an element that goes stale: find it again.
        for _ in 0..30 {
            let el = self.find(css).await;
            match self
                .try_call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                .await
            {
                Ok(v) => return v.as_str().unwrap_or_default().to_string(),
                Err(e) if e["error"] == "stale element reference" => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await
                }
                Err(e) => panic!("webdriver text of {css}: {e}"),
            }
        }
        panic!("{css} kept going stale");
    }

    /// Sets a cookie for the current page's host (the browser must be on that host already).
    pub async fn add_cookie(&self, name: &str, value: &str, path: &str) {
        self.call(
            reqwest::Method::POST,
            "/cookie",
            Some(json!({ "cookie": { "name": name, "value": value, "path": path, "httpOnly": true } })),
        )
        .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("base64 PNG")
    }

    /// Adds a WebDriver virtual authenticator (CTAP2, internal, resident keys) that performs
    /// user verification when `verifies`; returns its id.
    pub async fn add_authenticator(&self, verifies: bool) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/webauthn/authenticator",
                Some(
                    json!({ "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                             "hasUserVerification": true, "isUserConsenting": true,
                             "isUserVerified": verifies }),
                ),
            )
            .await;
        v.as_str().expect("authenticator id").to_string()
    }

    /// Whether a virtual authenticator's user verification succeeds from now on.
    pub async fn set_user_verified(&self, authenticator: &str, verifies: bool) {
        self.call(
            reqwest::Method::POST,
            &format!("/webauthn/authenticator/{authenticator}/uv"),
            Some(json!({ "isUserVerified": verifies })),
        )
        .await;
    }

    /// The credentials a virtual authenticator holds.
    pub async fn credentials(&self, authenticator: &str) -> Vec<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            None,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Runs `script` in the page; it finishes by calling `arguments[0]` with its result.
    pub async fn run_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    pub async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}
