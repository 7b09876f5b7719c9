//! The real npm `oidc-provider` (tests/it/support/oidc, installed by `.ci/run` with `npm ci`),
//! started on loopback for one test and killed when dropped.

use crate::support::wait::{PATIENCE, wait_until};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const CLIENT_ID: &str = "warden";
pub const CLIENT_SECRET: &str = "warden-test-client-secret";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/oidc")
}

/// Whether node and the installed package are there; in CI their absence fails the test.
pub fn available() -> bool {
    let found = dir().join("node_modules/oidc-provider").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "node and tests/it/support/oidc/node_modules are required in CI (.ci/run runs npm ci)"
        );
        eprintln!("skipping the SSO test: run `npm ci` in tests/it/support/oidc to enable it");
    }
    found
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct OidcProvider {
    child: Child,
    pub issuer: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcProvider {
    /// On `port`, for a client whose callback is `redirect_uri`, knowing `accounts`
    /// (login → `{ email, email_verified, groups }`).
    pub async fn start(port: u16, redirect_uri: &str, accounts: &Value) -> Self {
        let child = Command::new("node")
            .current_dir(dir())
            .arg("provider.mjs")
            .arg(port.to_string())
            .arg(redirect_uri)
            .env("OIDC_ACCOUNTS", accounts.to_string())
            .stdout(Stdio::null())
            // Start-up warnings about its development defaults; nothing a test reads.
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let issuer = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        wait_until(PATIENCE, "oidc-provider to answer", || async {
            let r = http.get(&discovery).send().await;
            r.is_ok_and(|r| r.status().is_success())
        })
        .await;
        Self { child, issuer }
    }
}
