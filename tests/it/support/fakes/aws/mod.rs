//! A fake AWS over real HTTP: IAM Identity Center (sso-admin) account assignments, the
//! identity store's `GetUserId` and STS `AssumeRoleWithWebIdentity`, with the documented
//! request and answer shapes (JSON 1.1; STS's query protocol and XML).
//!
//! Every JSON call must carry a SigV4 signature the fake recomputes itself (`sigv4`) with the
//! secret of the key it names, with the Region and service of the endpoint: anything else is
//! answered `403 InvalidSignatureException` as AWS does. Assignment changes are asynchronous
//! (IN_PROGRESS for `polls_before_done` status reads), and faults can be queued per operation.

mod handlers;
pub mod sigv4;
mod sts;

use serde_json::Value;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

pub const REGION: &str = "eu-west-1";
pub const INSTANCE_ARN: &str = "arn:aws:sso:::instance/ssoins-72230a1b2c3d4e5f";
pub const IDENTITY_STORE: &str = "d-9067642ac7";
pub const ACCOUNT: &str = "012345678901";
pub const PERMISSION_SET: &str =
    "arn:aws:sso:::permissionSet/ssoins-72230a1b2c3d4e5f/ps-0d51e9b4a0c2f0e1";
pub const ROLE_ARN: &str = "arn:aws:iam::012345678901:role/warden-grants";
pub const ACCESS_KEY: &str = "AKIAFAKEWARDEN000001";
pub const SECRET_KEY: &str = "fake/secret/wJalrXUtnFEMIK7MDENGbPxRfiCY";

/// What the next call of an operation meets.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `ThrottlingException`, with a `Retry-After` of so many seconds if given.
    Throttle(Option<u32>),
    /// `InternalServerException` (500).
    Internal,
    /// A 400 with this error type (`AccessDeniedException`, `ConflictException`, …).
    Refuse(&'static str),
    /// The asynchronous operation ends FAILED with this reason (create or delete only).
    FailAsync(&'static str),
}

/// One recorded call.
#[derive(Debug, Clone)]
pub struct AwsCall {
    /// `CreateAccountAssignment`, `GetUserId`, `AssumeRoleWithWebIdentity`, …
    pub operation: String,
    pub body: Value,
    /// The verified signature, or why it was refused (STS calls are unsigned: `Err`).
    pub signed: Result<sigv4::Signed, String>,
    pub status: u16,
    pub at: std::time::Instant,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Held {
    pub account: String,
    pub permission_set: String,
    pub principal_type: String,
    pub principal_id: String,
}

struct Op {
    create: bool,
    assignment: Held,
    polls_left: u32,
    fail: Option<String>,
    done: Option<Result<(), String>>,
}

#[derive(Default)]
struct State {
    /// Access key id → (secret, session token).
    keys: HashMap<String, (String, Option<String>)>,
    assignments: BTreeSet<Held>,
    users: HashMap<String, String>,
    ops: HashMap<String, Op>,
    faults: VecDeque<(String, Fault)>,
    calls: Vec<AwsCall>,
    polls_before_done: u32,
    page_size: usize,
    sts_lifetime_secs: i64,
    sts_tokens: Vec<String>,
    issued: u32,
}

#[derive(Clone)]
pub struct FakeAws {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeAws {
    /// Knows the static key `ACCESS_KEY`/`SECRET_KEY`; one status read before an operation
    /// settles; listings two to a page (so paging is exercised).
    pub async fn start() -> Self {
        let mut state = State {
            polls_before_done: 1,
            page_size: 2,
            sts_lifetime_secs: 3600,
            ..State::default()
        };
        state
            .keys
            .insert(ACCESS_KEY.into(), (SECRET_KEY.into(), None));
        let state = Arc::new(Mutex::new(state));
        let app = axum::Router::new()
            .route("/", axum::routing::post(handlers::handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    /// The one endpoint of every service.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn user(&self, email: &str, id: &str) {
        self.with(|s| s.users.insert(email.into(), id.into()));
    }

    pub fn fault(&self, operation: &str, fault: Fault) {
        self.with(|s| s.faults.push_back((operation.into(), fault)));
    }

    pub fn polls_before_done(&self, n: u32) {
        self.with(|s| s.polls_before_done = n);
    }

    /// How long the credentials STS hands out last.
    pub fn sts_lifetime_secs(&self, secs: i64) {
        self.with(|s| s.sts_lifetime_secs = secs);
    }

    /// Adds an assignment outside Warden (someone in the console).
    pub fn assign(&self, principal_type: &str, principal_id: &str) {
        self.with(|s| s.assignments.insert(held(principal_type, principal_id)));
    }

    pub fn holds(&self, principal_id: &str) -> bool {
        self.with(|s| s.assignments.contains(&held("USER", principal_id)))
    }

    pub fn calls(&self) -> Vec<AwsCall> {
        self.with(|s| s.calls.clone())
    }

    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// The web identity tokens STS was given, in order.
    pub fn sts_tokens(&self) -> Vec<String> {
        self.with(|s| s.sts_tokens.clone())
    }
}

fn held(principal_type: &str, principal_id: &str) -> Held {
    Held {
        account: ACCOUNT.into(),
        permission_set: PERMISSION_SET.into(),
        principal_type: principal_type.into(),
        principal_id: principal_id.into(),
    }
}
