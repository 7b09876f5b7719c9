//! Admin list paging at 100,000 requests on SQLite: ms per page through the store and through
//! the HTTP API, first and deep pages, with and without filters. Prints figures; asserts nothing
//! about time. Run: `cargo bench --bench admin_paging` (WARDEN_BENCH_REQUESTS to change the count).

use std::time::Instant;
use warden::admin::tokens::{Role, file_entry, generate};
use warden::store::{RequestFilter, Store};

const PEOPLE: [&str; 7] = ["alice", "bob", "carol", "dana", "erin", "frank", "gina"];
const RESOURCES: [&str; 8] = [
    "prod-billing-db",
    "staging-db",
    "grafana",
    "github-billing",
    "k8s-prod",
    "aws-prod",
    "wiki",
    "vpn",
];
const STATES: [&str; 6] = [
    "active",
    "expired",
    "revoked",
    "denied",
    "pending_approval",
    "cancelled",
];
const PLATFORMS: [&str; 3] = ["slack", "discord", "console"];
const PAGE: i64 = 50;

async fn seed(store: &Store, n: usize, start_ms: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
        let mut tx = store.pool().begin().await?;
        for rows in chunk.chunks(100) {
            let mut sql = String::from(
                "INSERT INTO requests (id, platform, workspace, channel, thread, scope_kind, requester_id, requester_account, state, resource, role, break_glass, created_at, updated_at) VALUES ",
            );
            let values: Vec<String> = rows
                .iter()
                .map(|&i| {
                    // Some requests share a millisecond, so paging must break ties by id.
                    let at = start_ms + (i as i64 / 2) * 1000;
                    format!(
                        "('AR-B{i:07}', '{}', 'W1', 'C1', NULL, 'thread', '{}', 'U{}', '{}', '{}', 'read', {}, {at}, {at})",
                        PLATFORMS[i % 3],
                        PEOPLE[i % 7],
                        i % 7,
                        STATES[(i / 7) % 6],
                        RESOURCES[(i / 3) % 8],
                        i64::from(i % 997 == 0)
                    )
                })
                .collect();
            sql.push_str(&values.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    sqlx::query("ANALYZE").execute(store.pool()).await?;
    println!(
        "seeded {n} requests in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Walks `pages` pages from the first; prints the first page and the mean and worst of the rest.
async fn walk(store: &Store, label: &str, base: RequestFilter, pages: usize) -> anyhow::Result<()> {
    let mut f = RequestFilter {
        limit: PAGE,
        ..base
    };
    let mut times = Vec::new();
    for _ in 0..pages {
        let t = Instant::now();
        let rows = store.list_requests(&f).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        match rows.last() {
            Some(r) if rows.len() as i64 == PAGE => {
                f.before = Some((r.created_at, r.id.to_string()))
            }
            _ => break,
        }
    }
    let rest = &times[1.min(times.len())..];
    let mean = if rest.is_empty() {
        0.0
    } else {
        rest.iter().sum::<f64>() / rest.len() as f64
    };
    let worst = rest.iter().cloned().fold(0.0, f64::max);
    println!(
        "{label:<44} first {:>6.2} ms   next {} pages: mean {mean:>6.2} ms, worst {worst:>6.2} ms",
        times[0],
        rest.len()
    );
    Ok(())
}

/// One page starting deep in the list (the cursor of the row at `depth`).
async fn deep(store: &Store, label: &str, base: RequestFilter, depth: i64) -> anyhow::Result<()> {
    let row = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(format!("SELECT created_at, id FROM requests ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET {depth}")))
        .fetch_one(store.pool())
        .await?;
    let f = RequestFilter {
        limit: PAGE,
        before: Some(row),
        ..base
    };
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        store.list_requests(&f).await?;
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("{label:<44} {best:>6.2} ms (best of 5)");
    Ok(())
}

async fn http_pages(db_url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let (token, hash) = generate();
    let tokens = dir.join("tokens.toml");
    std::fs::write(&tokens, file_entry("bench", Role::Viewer, None, &hash))?;
    let mut s = warden::config::Settings::default();
    s.database.url = db_url.to_string();
    s.admin.tokens_file = Some(tokens);
    s.admin.session_secret = Some(secrecy::SecretString::from("bench"));
    let server =
        warden::app::Server::build(&s, std::sync::Arc::new(warden::clock::SystemClock)).await?;
    let (addr, state) = server.spawn_local().await?;
    let http = reqwest::Client::new();
    for (label, query) in [
        ("HTTP first page", "limit=50"),
        ("HTTP first page, state=active", "limit=50&state=active"),
        (
            "HTTP first page, requester+resource",
            "limit=50&requester=carol&resource=wiki",
        ),
    ] {
        let mut path = format!("http://{addr}/api/v1/requests?{query}");
        let mut times = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let v: serde_json::Value = http
                .get(&path)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            match v["next_cursor"].as_str() {
                Some(c) => path = format!("http://{addr}/api/v1/requests?{query}&cursor={c}"),
                None => break,
            }
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let worst = times.iter().cloned().fold(0.0, f64::max);
        println!(
            "{label:<44} {} pages via cursor: mean {mean:>6.2} ms, worst {worst:>6.2} ms",
            times.len()
        );
    }
    state.shutdown.cancel();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    warden::app::install_crypto();
    let n: usize = std::env::var("WARDEN_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url, 4).await?;
    let start = chrono::Utc::now().timestamp_millis() - (n as i64) * 500;
    seed(&store, n, start).await?;
    println!(
        "page size {PAGE}; SQLite; store.list_requests (the query behind the API and the pages)"
    );
    walk(&store, "no filter", RequestFilter::default(), 200).await?;
    walk(
        &store,
        "requester=carol",
        RequestFilter {
            requester_id: Some("carol".into()),
            ..Default::default()
        },
        100,
    )
    .await?;
    walk(
        &store,
        "state=pending_approval",
        RequestFilter {
            state: Some(warden::domain::RequestState::PendingApproval),
            ..Default::default()
        },
        100,
    )
    .await?;
    walk(
        &store,
        "resource=wiki",
        RequestFilter {
            resource: Some("wiki".into()),
            ..Default::default()
        },
        100,
    )
    .await?;
    walk(
        &store,
        "platform=discord",
        RequestFilter {
            platform: Some("discord".into()),
            ..Default::default()
        },
        100,
    )
    .await?;
    walk(
        &store,
        "break-glass only",
        RequestFilter {
            break_glass_only: true,
            ..Default::default()
        },
        10,
    )
    .await?;
    let mid = start + (n as i64) * 250;
    walk(
        &store,
        "date range (middle half)",
        RequestFilter {
            created_from: Some(mid - (n as i64) * 125),
            created_to: Some(mid + (n as i64) * 125),
            ..Default::default()
        },
        100,
    )
    .await?;
    walk(
        &store,
        "requester=carol + state=active",
        RequestFilter {
            requester_id: Some("carol".into()),
            state: Some(warden::domain::RequestState::Active),
            ..Default::default()
        },
        50,
    )
    .await?;
    deep(
        &store,
        "deep page at 90% (no filter)",
        RequestFilter::default(),
        (n as i64) * 9 / 10,
    )
    .await?;
    deep(
        &store,
        "deep page at 90%, requester=carol",
        RequestFilter {
            requester_id: Some("carol".into()),
            ..Default::default()
        },
        (n as i64) * 9 / 10,
    )
    .await?;
    deep(
        &store,
        "deep page at 90%, resource=wiki",
        RequestFilter {
            resource: Some("wiki".into()),
            ..Default::default()
        },
        (n as i64) * 9 / 10,
    )
    .await?;
    store.close().await;
    http_pages(&url, dir.path()).await?;
    Ok(())
}
