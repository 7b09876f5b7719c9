//! Nothing acknowledged is lost: the real `warden serve` binary is killed with SIGKILL in the
//! middle of a burst of signed events and started again over the same database; every event it
//! acknowledged is handled exactly once.

use super::app::{SECRET, TEAM, sign};
use crate::on_both_databases;
use crate::support::fakes::slack::FakeSlack;
use crate::support::{TestDb, wait_until};
use serde_json::json;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use warden::store::Store;

on_both_databases!(a_sigkill_mid_burst_loses_no_acknowledged_event_and_duplicates_none,);

const PEOPLE: usize = 150;

fn user(n: usize) -> String {
    format!("U0BURST{n:04}")
}

/// A directory of `PEOPLE` requesters (so each event can make its own request) and a manager.
fn directory() -> String {
    let mut text = String::from(
        "[[person]]\nid = \"dana\"\ndisplay_name = \"Dana\"\nemail = \"dana@example.com\"\ngroups = [\"eng-managers\"]\naccounts = []\n",
    );
    for n in 0..PEOPLE {
        text.push_str(&format!(
            "\n[[person]]\nid = \"p{n}\"\ndisplay_name = \"Person {n}\"\nemail = \"p{n}@example.com\"\nmanager = \"dana\"\ngroups = [\"engineering\"]\naccounts = [{{ platform = \"slack\", workspace = \"{TEAM}\", user_id = \"{}\" }}]\n",
            user(n)
        ));
    }
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(db: &str, dir: &std::path::Path, api_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WARDEN__DATABASE__URL", db)
        .env("WARDEN__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("WARDEN__DIRECTORY__FILE", dir.join("directory.toml"))
        .env("WARDEN__SLACK__API_URL", api_url)
        .env("WARDEN__SLACK__BOT_TOKEN", "xoxb-test-token")
        .env("WARDEN__SLACK__SIGNING_SECRET", SECRET)
        .env("WARDEN__SLACK__POST_INTERVAL_MS", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden serve starts")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    wait_until(
        Duration::from_secs(60),
        "warden serve to listen",
        || async {
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await;
}

fn event(n: usize) -> (String, String) {
    let id = format!("EvBURST{n:06}");
    let ts = format!("1710000000.{n:06}");
    let body = json!({
        "token": "ignored", "team_id": TEAM, "api_app_id": "A0WARDEN", "type": "event_callback",
        "event_id": id, "event_time": chrono::Utc::now().timestamp(),
        "authorizations": [{ "team_id": TEAM, "user_id": "U0WARDENBOT", "is_bot": true }],
        "event": { "type": "message", "channel": format!("D{n:06}"), "channel_type": "im", "user": user(n),
                   "text": "need edit on the wiki for 1h", "ts": ts, "event_ts": ts },
    })
    .to_string();
    (id, body)
}

async fn a_sigkill_mid_burst_loses_no_acknowledged_event_and_duplicates_none(db: TestDb) {
    warden::app::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("directory.toml"), directory()).unwrap();
    let (_slack, api_url) = FakeSlack::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut child = serve(db.url(), dir.path(), &api_url, port);
    wait_healthy(&http, &base).await;

    // The burst: all events at once; the process is killed the moment a third are acknowledged,
    // by the task that saw the third (polling for it let a fast server ack them all first).
    let pid = child.id().to_string();
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let posts: Vec<_> = (0..PEOPLE)
        .map(|n| {
            let (http, base, acked, count, pid) = (
                http.clone(),
                base.clone(),
                acked.clone(),
                count.clone(),
                pid.clone(),
            );
            tokio::spawn(async move {
                let (id, body) = event(n);
                let ts = chrono::Utc::now().timestamp().to_string();
                let sent = http
                    .post(format!("{base}/slack/events"))
                    .header("content-type", "application/json")
                    .header("x-slack-request-timestamp", &ts)
                    .header("x-slack-signature", sign(&body, &ts))
                    .body(body)
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status() == 200) {
                    acked.lock().unwrap().push((n, id));
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == PEOPLE / 3 {
                        let _ = std::process::Command::new("kill")
                            .args(["-9", &pid])
                            .status();
                    }
                }
            })
        })
        .collect();
    wait_until(
        Duration::from_secs(60),
        "a third of the burst acknowledged",
        || async { count.load(Ordering::SeqCst) >= PEOPLE / 3 },
    )
    .await;
    child.wait().unwrap();
    for p in posts {
        let _ = p.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= PEOPLE / 3 && acked.len() < PEOPLE,
        "{} acknowledged",
        acked.len()
    );

    // Started again over the same database, it handles what it acknowledged before dying.
    let mut child = serve(db.url(), dir.path(), &api_url, port);
    wait_healthy(&http, &base).await;
    let store = Store::open(db.url(), 2).await.unwrap();
    wait_until(Duration::from_secs(120), "the inbox to drain", || async {
        store.inbox_depth().await.unwrap() == 0
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let mut per_person: HashMap<String, usize> = HashMap::new();
    for r in store
        .list_requests(&warden::store::RequestFilter {
            limit: 10 * PEOPLE as i64,
            ..Default::default()
        })
        .await
        .unwrap()
    {
        *per_person.entry(r.requester_id.clone()).or_default() += 1;
    }
    for (n, id) in &acked {
        assert_eq!(
            per_person.get(&format!("p{n}")).copied(),
            Some(1),
            "acknowledged event {id} made exactly one request"
        );
    }
    assert!(
        per_person.values().all(|&c| c == 1),
        "no event handled twice: {per_person:?}"
    );
    println!(
        "{} of {PEOPLE} events acknowledged before the kill; all handled once",
        acked.len()
    );
}
