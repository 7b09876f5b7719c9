//! Grant and revoke latency of the database backends against the local servers: a login made,
//! granted a role and dropped (sessions ended) per round. Prints figures; asserts nothing.
//! Run: `cargo bench --bench grant_backends` (WARDEN_TEST_POSTGRES, WARDEN_TEST_MYSQL to point
//! elsewhere; WARDEN_BENCH_ROUNDS to change the count, default 30).

use secrecy::SecretString;
use sqlx::{AssertSqlSafe, Connection};
use std::time::{Duration, Instant};
use warden::domain::{Catalog, Platform, PlatformUser};
use warden::grants::database::ServerConfig;
use warden::grants::database::mysql::MySqlGrantor;
use warden::grants::database::postgres::PostgresGrantor;
use warden::grants::{GrantCall, GrantOp, Grantor};

const ROLE: &str = "warden_bench_read";

fn server(url: &str) -> ServerConfig {
    ServerConfig {
        name: "bench".into(),
        admin_url: SecretString::from(url.to_string()),
        public_host: None,
        public_port: None,
        database: None,
    }
}

fn call(
    backend: &str,
    op: GrantOp,
    request: &str,
    mut receipt: Option<warden::grants::GrantReceipt>,
) -> GrantCall {
    let catalog = Catalog::from_toml(&format!(
        "[[resource]]\nid = \"db\"\nname = \"Bench\"\nroles = [\"read\"]\nrisk = \"low\"\nmax_duration = \"1d\"\n\
         grant = {{ backend = \"{backend}\", server = \"bench\", roles = {{ read = \"{ROLE}\" }} }}\n"
    ))
    .expect("bench catalog");
    let mut c = GrantCall::new(
        op,
        request,
        catalog.get("db").expect("db"),
        "read",
        "bench",
        &PlatformUser::new(Platform::Console, "local", "bench"),
        chrono::Utc::now() + chrono::Duration::hours(1),
        None,
    );
    c.grant = receipt.take();
    c
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, what: &str, mut xs: Vec<Duration>) {
    xs.sort();
    println!(
        "{name:<9} {what:<7} n={:<3} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms",
        xs.len(),
        pct(&xs, 0.5),
        pct(&xs, 0.95),
        pct(&xs, 1.0)
    );
}

async fn run(name: &str, g: &dyn Grantor, rounds: usize) {
    let (mut grants, mut revokes) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        let id = format!("AR-BENCH{i:04}");
        let t = Instant::now();
        let receipt = match g.grant(&call(name, GrantOp::Grant, &id, None)).await {
            Ok(r) => r,
            Err(e) => {
                println!("{name}: grant failed ({e}); is the server up?");
                return;
            }
        };
        grants.push(t.elapsed());
        let t = Instant::now();
        g.revoke(&call(name, GrantOp::Revoke, &id, Some(receipt)))
            .await
            .expect("revoke");
        revokes.push(t.elapsed());
    }
    report(name, "grant", grants);
    report(name, "revoke", revokes);
}

async fn setup(url: &str, statements: &[String]) -> bool {
    let Ok(mut c) = sqlx::AnyConnection::connect(url).await else {
        println!(
            "skipping: cannot connect to {}",
            url.split('@').next_back().unwrap_or("")
        );
        return false;
    };
    for s in statements {
        let _ = sqlx::raw_sql(AssertSqlSafe(s.clone()))
            .execute(&mut c)
            .await;
    }
    true
}

#[tokio::main]
async fn main() {
    warden::app::install_crypto();
    sqlx::any::install_default_drivers();
    let rounds: usize = std::env::var("WARDEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let pg = std::env::var("WARDEN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let my = std::env::var("WARDEN_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://warden:warden-test@127.0.0.1:3306/mysql".into());
    println!("grant/revoke latency, {rounds} rounds per backend, local servers");
    let pg_role = format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN CREATE ROLE {ROLE} NOLOGIN; END IF; END $$"
    );
    if setup(&pg, &[pg_role]).await {
        let g = PostgresGrantor::new(vec![server(&pg)]).expect("postgres grantor");
        run("postgres", &g, rounds).await;
    }
    if setup(&my, &[format!("CREATE ROLE IF NOT EXISTS {ROLE}")]).await {
        let g = MySqlGrantor::new(vec![server(&my)]).expect("mysql grantor");
        run("mysql", &g, rounds).await;
    }
}
