//! Model intake benchmark: prompt size against catalog size, and the intake's own cost per
//! request without the model's latency. Prints figures; run with `cargo bench --bench intake`.
//!
//! Catalogs of 10, 1,000 and 10,000 generated entries share their first ten entries, which the
//! sample messages talk about, so only the catalog's size changes between runs.

use async_openai::types::chat::CreateChatCompletionResponse;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden::config::LlmSettings;
use warden::domain::{Catalog, Person, Resource, Risk, RoleSpec};
use warden::intake::llm::LlmIntake;
use warden::intake::{Intake, IntakeContext, ThreadMessage};
use warden::metrics::Metrics;

const SYSTEMS: [&str; 10] = [
    "billing",
    "payments",
    "search",
    "auth",
    "ledger",
    "reports",
    "invoices",
    "shipping",
    "catalog",
    "notifications",
];
const KINDS: [&str; 6] = ["db", "cluster", "repo", "bucket", "dashboard", "queue"];
const ENVS: [&str; 4] = ["prod", "staging", "dev", "qa"];

const MESSAGES: [&str; 8] = [
    "can I get write on the billing db till tomorrow, need to ship the hotfix for INC-881",
    "need read on payments cluster for 2h please",
    "read access to the search repo for 30m to debug a flaky test",
    "pls give me admin on auth bucket, prod is down, INC-4411",
    "ledger dashboard viewer for the afternoon",
    "I'd like write on the reports queue for 3 days, migrating jobs",
    "invoices db read for an hour, customer ticket SUP-19",
    "shipping cluster read 4h, on call handover",
];

fn resource(i: usize) -> Resource {
    let (system, kind, env) = (SYSTEMS[i % 10], KINDS[(i / 10) % 6], ENVS[(i / 60) % 4]);
    // The first ten are the ones people ask for: "billing db", "payments cluster", …
    let kind = if i < 10 {
        [
            "db",
            "cluster",
            "repo",
            "bucket",
            "dashboard",
            "queue",
            "db",
            "cluster",
            "repo",
            "bucket",
        ][i]
    } else {
        kind
    };
    let id = format!("{env}-{system}-{kind}-{i}");
    let roles = ["read", "write", "admin"]
        .into_iter()
        .map(|n| RoleSpec {
            name: n.into(),
            risk: None,
            max_duration: None,
            aliases: vec![],
        })
        .collect();
    Resource {
        id: id.clone(),
        name: format!("{} {system} {kind} {i}", env.to_uppercase()),
        description: String::new(),
        aliases: if i < 10 {
            vec![format!("{system} {kind}")]
        } else {
            vec![
                format!("{system} {kind} {i}"),
                format!("{env} {system} {i}"),
            ]
        },
        roles,
        owners: vec!["dana".into()],
        risk: Risk::Medium,
        max_duration: 8 * 3600,
        default_duration: None,
        grant: Default::default(),
        reconcile: Default::default(),
        approval_channel: Default::default(),
        break_glass: false,
        tags: vec![],
        services: vec![],
    }
}

fn catalog(n: usize) -> Catalog {
    Catalog::new((0..n).map(resource).collect()).expect("generated catalog is valid")
}

fn person() -> Person {
    Person {
        id: "alice".into(),
        display_name: "Alice Ng".into(),
        email: None,
        manager: None,
        groups: vec!["engineering".into()],
        accounts: vec![],
        sso_subject: None,
        target_ids: Default::default(),
        active: true,
    }
}

fn settings(base_url: String) -> LlmSettings {
    LlmSettings {
        base_url: Some(base_url),
        model: Some("bench-model".into()),
        ..LlmSettings::default()
    }
}

/// A completion answering with a valid intent for the first message's resource.
fn response(catalog: &Catalog) -> CreateChatCompletionResponse {
    let id = &catalog.resources()[0].id;
    let content = serde_json::json!({"action":"request","resource":id,"role":"write","duration":"1d","justification":"ship the hotfix","ticket":"INC-881","request_id":null,"break_glass":false,"unclear":[]}).to_string();
    serde_json::from_value(serde_json::json!({
        "id": "x", "object": "chat.completion", "created": 0, "model": "bench-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }))
    .expect("valid completion")
}

fn main() {
    warden::app::install_crypto();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let intake = LlmIntake::from_settings(
        &settings("http://127.0.0.1:9/v1".into()),
        Arc::new(Metrics::default()),
    )
    .expect("intake");
    let person = person();
    println!("model intake benchmark (max_candidates = 8, max_thread_chars = 4000)\n");
    println!(
        "{:>8}  {:>12}  {:>12}  {:>12}  {:>16}",
        "catalog", "mean tokens", "min tokens", "max tokens", "overhead/request"
    );
    let mut means = Vec::new();
    for n in [10, 1_000, 10_000] {
        let catalog = catalog(n);
        let answer = response(&catalog);
        let mut tokens = Vec::new();
        for m in MESSAGES {
            let thread = [ThreadMessage {
                author: "requester".into(),
                text: m.into(),
            }];
            let ctx = IntakeContext {
                thread: &thread,
                requester: &person,
                catalog: &catalog,
            };
            tokens.push(intake.prompt(&ctx).expect("prompt renders").tokens);
        }
        // The intake's own work per request: candidates + prompt + reading + validating the answer.
        let rounds = if n >= 10_000 { 20 } else { 200 };
        let started = Instant::now();
        for r in 0..rounds {
            let thread = [ThreadMessage {
                author: "requester".into(),
                text: MESSAGES[r % MESSAGES.len()].into(),
            }];
            let ctx = IntakeContext {
                thread: &thread,
                requester: &person,
                catalog: &catalog,
            };
            std::hint::black_box(intake.prompt(&ctx).expect("prompt"));
            let (_, draft) = LlmIntake::read(&answer, intake.mode()).expect("answer reads");
            std::hint::black_box(draft.validate(&catalog).ok());
        }
        let per = started.elapsed() / rounds as u32;
        let mean = tokens.iter().sum::<u64>() as f64 / tokens.len() as f64;
        means.push(mean);
        println!(
            "{n:>8}  {mean:>12.0}  {:>12}  {:>12}  {:>16}",
            tokens.iter().min().unwrap_or(&0),
            tokens.iter().max().unwrap_or(&0),
            fmt(per)
        );
    }
    let ratio = means.iter().cloned().fold(f64::MIN, f64::max)
        / means.iter().cloned().fold(f64::MAX, f64::min);
    println!("\nlargest/smallest mean prompt: {ratio:.2}x (goal: within 1.2x)");
    rt.block_on(over_http());
}

/// The whole extract call against a local server that answers at once: the intake's overhead
/// including HTTP and JSON, with no model latency.
async fn over_http() {
    let catalog = catalog(1_000);
    let body = serde_json::to_string(&response(&catalog)).expect("serialise");
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let intake = LlmIntake::from_settings(
        &settings(format!("http://{addr}/v1")),
        Arc::new(Metrics::default()),
    )
    .expect("intake");
    let person = person();
    let thread = [ThreadMessage {
        author: "requester".into(),
        text: MESSAGES[0].into(),
    }];
    let ctx = IntakeContext {
        thread: &thread,
        requester: &person,
        catalog: &catalog,
    };
    for _ in 0..20 {
        intake.extract(&ctx).await.expect("warm-up call");
    }
    let rounds = 500;
    let mut each = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let r = intake.extract(&ctx).await.expect("extract");
        std::hint::black_box(r.draft.validate(&catalog).ok());
        each.push(t.elapsed());
    }
    each.sort();
    println!(
        "\nwhole extract over HTTP to an instant local server (1,000 entries): p50 {}  p99 {}  ({rounds} requests)",
        fmt(each[rounds / 2]),
        fmt(each[rounds * 99 / 100])
    );
}

fn fmt(d: Duration) -> String {
    if d.as_micros() < 1000 {
        format!("{} µs", d.as_micros())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    }
}
