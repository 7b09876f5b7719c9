//! AuthZEN discovery (issue 11 #21): with only the PDP's identifier configured, Warden reads the
//! PDP's metadata, refuses metadata that names another PDP or lacks the evaluation endpoint
//! (at start-up and in `config check`), and evaluates where the metadata says.

use super::input;
use crate::support::TestDb;
use crate::support::fakes::pdp::FakePdp;
use crate::support::fakes::scripted::Reply;
use serde_json::json;
use warden::app::Wiring;
use warden::config::Settings;

const TENANT: &str = "/tenants/acme";
const EVAL: &str = "/tenants/acme/v2/decide";

fn settings(db: &TestDb, pdp: &FakePdp) -> Settings {
    let mut s = Settings::default();
    s.database.url = db.url().to_string();
    s.policy.engine = "authzen".into();
    s.policy.url = Some(format!(
        "{}{TENANT}",
        pdp.url().as_str().trim_end_matches('/')
    ));
    s
}

/// The start-up error, as one line of text (panics if start-up succeeded).
async fn start_error(s: &Settings) -> String {
    match Wiring::from_settings(s).await {
        Ok(_) => panic!("start-up accepted a PDP it should have refused"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn authzen_discovery_evaluates_at_the_endpoint_the_metadata_advertises() {
    warden::app::install_crypto();
    let pdp = FakePdp::authzen_at(EVAL, Reply::ok(json!({"decision": true}))).await;
    pdp.publish_metadata(TENANT, Reply::ok(pdp.metadata(TENANT, EVAL)))
        .await;
    let db = TestDb::sqlite();
    let wiring = Wiring::from_settings(&settings(&db, &pdp)).await.unwrap();
    let d = wiring.policy.decide(&input()).await;
    assert_eq!(d.outcome(), "allow", "{d:?}");
    assert_eq!(pdp.calls().len(), 1);
    assert_eq!(pdp.calls()[0].uri, EVAL);
    assert_eq!(pdp.metadata_fetches(TENANT).await, 1);
}

#[tokio::test]
async fn authzen_metadata_naming_another_pdp_stops_start_up() {
    warden::app::install_crypto();
    let pdp = FakePdp::authzen_at(EVAL, Reply::ok(json!({"decision": true}))).await;
    let mut meta = pdp.metadata(TENANT, EVAL);
    meta["policy_decision_point"] = json!("https://pdp.attacker.example/tenants/acme");
    pdp.publish_metadata(TENANT, Reply::ok(meta)).await;
    let db = TestDb::sqlite();
    let err = start_error(&settings(&db, &pdp)).await;
    assert!(err.contains("names another decision point"), "{err}");
    assert!(err.contains("pdp.attacker.example"), "{err}");
    assert!(pdp.calls().is_empty(), "evaluated at a refused PDP");
}

#[tokio::test]
async fn authzen_metadata_without_an_evaluation_endpoint_stops_start_up() {
    warden::app::install_crypto();
    let pdp = FakePdp::authzen_at(EVAL, Reply::ok(json!({"decision": true}))).await;
    let mut meta = pdp.metadata(TENANT, EVAL);
    meta.as_object_mut()
        .unwrap()
        .remove("access_evaluation_endpoint");
    pdp.publish_metadata(TENANT, Reply::ok(meta)).await;
    let db = TestDb::sqlite();
    let err = start_error(&settings(&db, &pdp)).await;
    assert!(err.contains("lacks access_evaluation_endpoint"), "{err}");
}

#[tokio::test]
async fn authzen_without_metadata_stops_start_up_with_a_clear_error() {
    warden::app::install_crypto();
    // Evaluations answer at the conventional path, but the PDP publishes no metadata (404).
    let pdp = FakePdp::authzen_at(
        &format!("{TENANT}/access/v1/evaluation"),
        Reply::ok(json!({"decision": true})),
    )
    .await;
    let db = TestDb::sqlite();
    let err = start_error(&settings(&db, &pdp)).await;
    assert!(err.contains("publishes no AuthZEN metadata"), "{err}");
    assert!(err.contains("HTTP 404"), "{err}");
    assert!(err.contains("policy.evaluation_url"), "{err}");
}

#[test]
fn config_check_refuses_authzen_metadata_that_names_another_pdp() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pdp = rt.block_on(async {
        let pdp = FakePdp::authzen_at(EVAL, Reply::ok(json!({"decision": true}))).await;
        let mut meta = pdp.metadata(TENANT, EVAL);
        meta["policy_decision_point"] = json!("https://pdp.attacker.example/tenants/acme");
        pdp.publish_metadata(TENANT, Reply::ok(meta)).await;
        pdp
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warden.toml");
    let url = format!("{}{TENANT}", pdp.url().as_str().trim_end_matches('/'));
    std::fs::write(
        &file,
        format!("[policy]\nengine = \"authzen\"\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("names another decision point"), "{text}");
    drop(rt);
}

#[tokio::test]
async fn an_authzen_pdp_without_metadata_is_used_at_the_configured_evaluation_url() {
    warden::app::install_crypto();
    let pdp = FakePdp::authzen(Reply::ok(json!({"decision": true}))).await;
    let db = TestDb::sqlite();
    let mut s = Settings::default();
    s.database.url = db.url().to_string();
    s.policy.engine = "authzen".into();
    s.policy.evaluation_url = Some(pdp.evaluation_url().to_string());
    let wiring = Wiring::from_settings(&s).await.unwrap();
    assert_eq!(wiring.policy.decide(&input()).await.outcome(), "allow");
    assert_eq!(pdp.calls().len(), 1);
    assert_eq!(pdp.metadata_fetches("").await, 0);
}
