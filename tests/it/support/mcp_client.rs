//! The official MCP TypeScript SDK's client (tests/it/support/mcp, installed by `.ci/run` with
//! `npm ci`), run by node and driven one JSON command per line; killed when dropped.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Longer than the longest tool call a test makes (a 30 s wait at most).
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/mcp")
}

/// Whether node and the installed SDK are there; in CI their absence fails the test.
pub fn available() -> bool {
    let found = dir()
        .join("node_modules/@modelcontextprotocol/sdk")
        .exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !found {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "node and tests/it/support/mcp/node_modules are required in CI (.ci/run runs npm ci)"
        );
        eprintln!(
            "skipping the MCP client test: run `npm ci` in tests/it/support/mcp to enable it"
        );
    }
    found
}

pub struct McpClient {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// What connecting answered: `{ok, server, instructions}` or `{ok: false, error}`.
    pub connected: Value,
}

impl McpClient {
    /// Connects to `url` (initialize over streamable HTTP) with `token` as the bearer, if any.
    pub async fn connect(url: &str, token: Option<&str>) -> Self {
        let mut cmd = Command::new("node");
        cmd.current_dir(dir())
            .arg("client.mjs")
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(t) = token {
            cmd.env("MCP_TOKEN", t);
        }
        let mut child = cmd.spawn().expect("node starts");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut me = Self {
            child,
            stdin,
            lines,
            connected: Value::Null,
        };
        me.connected = me.read().await;
        me
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(ANSWER_WITHIN, self.lines.next_line())
            .await
            .expect("the MCP client answers in time")
            .expect("read from the MCP client")
            .expect("the MCP client is still running");
        serde_json::from_str(&line).expect("the MCP client writes JSON lines")
    }

    async fn send(&mut self, cmd: Value) -> Value {
        let mut line = cmd.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.flush().await.expect("flush");
        let answer = self.read().await;
        assert_eq!(answer["ok"], true, "the MCP client failed: {answer}");
        answer["result"].clone()
    }

    /// `tools/list`: the result (`{tools: [...]}`).
    pub async fn list_tools(&mut self) -> Value {
        self.send(json!({ "op": "list_tools" })).await
    }

    /// `tools/call`: the whole result (`content`, `structuredContent`, `isError`).
    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        self.send(json!({ "op": "call", "name": name, "args": args }))
            .await
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
