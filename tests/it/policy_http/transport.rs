//! Transport (issue 11 #22): remote PDP, model, SCIM, webhook and SIEM URLs are https unless
//! loopback or allowed in config — checked by `config check` and at start-up alike — and the PDP
//! call carries a bearer token read from a file, which never shows in output.

use super::{doc, input};
use crate::support::TestDb;
use crate::support::fakes::pdp::FakePdp;
use crate::support::fakes::scripted::Reply;
use serde_json::json;
use std::process::{Command, Output};
use warden::app::Wiring;
use warden::config::Settings;

const REMOTE_HTTP: &str = r#"
[policy]
engine = "opa"
url = "http://opa.internal:8181"
[llm]
base_url = "http://llm.internal/v1"
model = "m"
[directory]
kind = "scim"
scim_url = "http://idp.internal/scim/v2"
[grants]
webhook_url = "http://grants.internal/warden"
[admin]
siem_url = "http://siem.internal/ingest"
"#;

const KEYS: [&str; 5] = [
    "policy.url",
    "llm.base_url",
    "directory.scim_url",
    "grants.webhook_url",
    "admin.siem_url",
];

fn config_check(toml: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warden.toml");
    std::fs::write(&file, toml).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(["--config", file.to_str().unwrap(), "config", "check"])
        .current_dir(dir.path())
        .env("WARDEN__GRANTS__WEBHOOK_SECRET", "whsec");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn config_check_refuses_plain_http_to_remote_services() {
    let (ok, text) = config_check(REMOTE_HTTP, &[]);
    assert!(!ok, "{text}");
    for key in KEYS {
        assert!(
            text.lines()
                .any(|l| l.contains(key) && l.contains("uses plain http")),
            "no transport problem for {key}:\n{text}"
        );
    }
}

#[test]
fn config_check_accepts_plain_http_to_hosts_allowed_in_config_or_env() {
    let allowed = format!(
        "{REMOTE_HTTP}[transport]\nallow_http_hosts = [\"opa.internal\", \"llm.internal\"]\n"
    );
    let (_, text) = config_check(&allowed, &[]);
    for key in ["policy.url", "llm.base_url"] {
        assert!(
            !text
                .lines()
                .any(|l| l.contains(key) && l.contains("plain http")),
            "{key} was allowed:\n{text}"
        );
    }
    assert!(
        text.contains("grants.webhook_url uses plain http"),
        "{text}"
    );

    let (_, text) = config_check(
        REMOTE_HTTP,
        &[(
            "WARDEN__TRANSPORT__ALLOW_HTTP_HOSTS",
            "siem.internal,grants.internal",
        )],
    );
    assert!(!text.contains("admin.siem_url uses plain http"), "{text}");
    assert!(
        !text.contains("grants.webhook_url uses plain http"),
        "{text}"
    );
    assert!(
        text.contains("directory.scim_url uses plain http"),
        "{text}"
    );
}

#[tokio::test]
async fn start_up_refuses_a_remote_pdp_over_plain_http_but_not_a_loopback_one() {
    let db = TestDb::sqlite();
    let mut s = Settings::default();
    s.database.url = db.url().to_string();
    s.policy.engine = "opa".into();
    s.policy.url = Some("http://opa.internal:8181".into());
    let err = match Wiring::from_settings(&s).await {
        Ok(_) => panic!("started with a PDP over plain http"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("policy.url uses plain http"), "{err}");
    s.policy.url = Some("http://127.0.0.1:8181".into());
    assert!(Wiring::from_settings(&s).await.is_ok());
}

#[test]
fn the_pdp_call_carries_the_bearer_token_from_a_file_and_never_prints_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pdp = rt.block_on(FakePdp::opa(Reply::ok(json!({"result": doc("allow")}))));
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("pdp-token");
    std::fs::write(&token_file, "pdp-s3cret-token\n").unwrap();
    let input_file = dir.path().join("input.json");
    std::fs::write(&input_file, serde_json::to_string(&input()).unwrap()).unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[policy]\nengine = \"opa\"\nurl = \"{}\"\ntoken_file = \"{}\"\n",
            pdp.url(),
            token_file.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--config", config.to_str().unwrap(), "policy", "eval"])
        .arg(&input_file)
        .env("RUST_LOG", "debug")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    let calls = pdp.calls();
    assert_eq!(calls.len(), 1, "{shown}");
    assert_eq!(
        calls[0].header("authorization"),
        Some("Bearer pdp-s3cret-token")
    );
    assert!(!shown.contains("pdp-s3cret-token"), "{shown}");
    drop(rt);
}
