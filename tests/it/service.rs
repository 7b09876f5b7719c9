//! The service from outside: the binary's commands and the HTTP server's health, readiness,
//! metrics and graceful shutdown; configuration and the signed webhook grant backend.

use crate::support::TestDb;
use crate::support::server::TestServer;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use warden::config::Settings;

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

/// `warden config check` on `file` (with extra environment): whether it passed, and what it printed.
fn config_check(file: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = warden()
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_demo_runs_the_whole_scenario_on_embedded_defaults_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden()
        .arg("demo")
        .current_dir(dir.path())
        .env_remove("WARDEN_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "Access granted: edit on Engineering wiki",
        "You can't approve your own request.",
        "Dana Scully approved request",
        "was denied",
        "has ended: expired",
        "hash chain: intact",
        "policy_decision",
        "grant_call",
        "revoke_call",
        "requested by agent Billing migrations (GitHub Actions) (billing-migrations) (owned by Carol Diaz) for task: pre-flight checks for migration 0042",
        "billing-migrations (agent, API) released",
        "[revoked]: Access has ended",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
}

#[test]
fn config_check_reports_unknown_keys_missing_secrets_and_bad_urls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warden.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:0\"\nlistn = \"typo\"\n",
    )
    .unwrap();
    let (passed, text) = config_check(&file, &[]);
    assert!(!passed, "{text}");
    assert!(text.contains("listn"), "{text}");

    std::fs::write(&file, "[policy]\nengine = \"opa\"\nurl = \"not a url\"\n[grants]\nwebhook_url = \"https://grants.example.com\"\n").unwrap();
    let (passed, text) = config_check(&file, &[("WARDEN__SLACK__BOT_TOKEN", "xoxb-secret-value")]);
    assert!(!passed, "{text}");
    for expected in [
        "policy.url is not an http(s) URL",
        "grants.webhook_secret is missing",
        "slack.signing_secret is missing",
    ] {
        assert!(text.contains(expected), "lacks {expected:?}: {text}");
    }
    assert!(
        !text.contains("xoxb-secret-value"),
        "a secret was printed: {text}"
    );
}

#[test]
fn config_check_accepts_the_example_config() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = warden()
        .args([
            "--config",
            &format!("{root}/warden.example.toml"),
            "config",
            "check",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("configuration OK"));
    assert!(text.contains("agents: 3 registered"), "{text}");
    // Critical roles under the shipped policy need step-up, and the example has no SSO.
    assert!(
        text.contains("! step-up: the shipped policy requires a passkey"),
        "{text}"
    );
}

#[test]
fn config_check_reports_an_agent_without_a_directory_owner_or_outside_the_catalog() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(format!("{root}/agents.example.toml")).unwrap();
    let agents = dir.path().join("agents.toml");
    let file = dir.path().join("warden.toml");
    std::fs::write(
        &file,
        format!("[agents]\nfile = \"{}\"\n", agents.display()),
    )
    .unwrap();
    for (from, to, expected) in [
        (
            "owner = \"carol\"",
            "owner = \"nobody\"",
            "agent 'billing-migrations': owner 'nobody' is not in the directory",
        ),
        (
            "resource = \"grafana\"",
            "resource = \"nope\"",
            "agent 'report-bot': ceiling names 'nope', which is not in the catalog",
        ),
        // An agent id that is also a person's id would make "who asked" ambiguous.
        (
            "id = \"report-bot\"",
            "id = \"dana\"",
            "agent 'dana': the id is also a person's id in the directory",
        ),
    ] {
        std::fs::write(&agents, example.replace(from, to)).unwrap();
        let (passed, text) = config_check(&file, &[]);
        assert!(!passed, "{text}");
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warden.toml");
    std::fs::write(
        &file,
        "[database]\nurl = \"sqlite://from-file.db\"\n[workflow]\nmax_extensions = 1\n",
    )
    .unwrap();
    // The config crate reads the process environment; run in a child to keep tests independent.
    let out = warden()
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .current_dir(dir.path())
        .env(
            "WARDEN__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("from-env.db").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("from-env.db").exists());
    assert!(!dir.path().join("from-file.db").exists());
}

#[test]
fn audit_verify_fails_on_a_tampered_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let url = db.url().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let d = warden::commands::demo::Demo::start(&url, false)
            .await
            .unwrap();
        d.say("alice", "need edit on the wiki for 1h")
            .await
            .unwrap();
        d.engine.store().close().await;
    });
    let ok = warden()
        .args(["audit", "verify"])
        .env("WARDEN__DATABASE__URL", &url)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    rt.block_on(async {
        let store = warden::store::Store::open(&url, 1).await.unwrap();
        sqlx::query("UPDATE context_log SET actor = 'mallory' WHERE seq = 1")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
    });
    let bad = warden()
        .args(["audit", "verify"])
        .env("WARDEN__DATABASE__URL", &url)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        !bad.status.success() && text.contains("BROKEN at entry 1"),
        "{text}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_and_shutdown_is_graceful() {
    let server = TestServer::start(
        Settings::default(),
        TestDb::sqlite(),
        Arc::new(warden::clock::SystemClock),
    )
    .await;
    let (addr, state, http) = (server.addr, &server.state, &server.http);
    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    // Drive one request so the metrics have something to say.
    let d = warden::chat::ChatEvent {
        id: "m-1".into(),
        actor: warden::chat::console::ConsoleChat::user("alice"),
        scope: warden::chat::console::ConsoleChat::scope("c"),
        kind: warden::chat::EventKind::Message {
            text: "need edit on the wiki for 1h".into(),
            message_id: "m-1".into(),
        },
    };
    state.engine.handle(d).await.unwrap();
    let metrics = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("warden_requests{state=\"awaiting_confirmation\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("warden_events_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    // In-flight work finishes after shutdown is signalled.
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = finished.clone();
    state.spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    state.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), state.tasks.wait())
        .await
        .unwrap();
    assert!(finished.load(std::sync::atomic::Ordering::SeqCst));
    assert!(
        http.get(format!("http://{addr}/healthz"))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .is_err(),
        "the server stopped listening"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let server = TestServer::start(
        Settings::default(),
        TestDb::sqlite(),
        Arc::new(warden::clock::SystemClock),
    )
    .await;
    server.store().close().await;
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_anchors_the_chain_heads_at_start_and_once_more_at_shutdown() {
    warden::app::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("anchors.jsonl");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = "0123456789abcdef0123456789abcdef-serve-chain-key";
    let mut child = warden()
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("WARDEN_CONFIG")
        .env("WARDEN__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "WARDEN__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("w.db").display()),
        )
        .env("WARDEN__EVIDENCE__CHAIN_KEY", key)
        .env("WARDEN__EVIDENCE__ANCHOR_FILE", &anchors)
        .env("WARDEN__EVIDENCE__ANCHOR_INTERVAL_SECS", "3600")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    crate::support::wait_until(Duration::from_secs(30), "the server to answer", || async {
        reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) && anchors.exists()
    })
    .await;
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let text = std::fs::read_to_string(&anchors).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["start", "shutdown"], "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l["keyed"] == true && l["mac"].is_string())
    );
    let first = text.lines().next().unwrap();
    assert_eq!(
        lines[1]["prev"],
        warden::store::log::sha256_hex(first.as_bytes()),
        "the lines are chained"
    );
}
