//! A fake GitHub REST API over real HTTP, with GitHub's documented shapes: installation tokens
//! at `POST /app/installations/{id}/access_tokens` (201 `{token, expires_at}`) for an app JWT
//! signed with the test key (`iss` = the app id, at most ten minutes long), else 401;
//! `PUT /orgs/{org}/teams/{slug}/memberships/{user}` 200 `{role, state}` (`pending` for a user
//! outside the org); `GET` the same 200 or 404; `DELETE` 204 or 404; team members paged by
//! `Link` with `page`; a stale token 401 "Bad credentials"; secondary rate limits as 403 with
//! `retry-after`, primary ones as 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`.

use super::saas::{Common, Fault, query, reply, segments, serve, verify_jwt};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const APP_ID: &str = "424242";
pub const INSTALLATION: u64 = 777;
pub const ORG: &str = "acme";

#[derive(Default)]
pub struct Inner {
    pub common: Common,
    /// Logins (lower case) of users who exist, and of those in the org.
    users: Mutex<BTreeSet<String>>,
    org_members: Mutex<BTreeSet<String>>,
    /// Team slug → login → state (`active` or `pending`).
    teams: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    page_size: Mutex<usize>,
    token_lifetime: Mutex<Duration>,
    base: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeGitHub(pub Arc<Inner>);

fn message(m: &str) -> Value {
    json!({ "message": m, "documentation_url": "https://docs.github.com/rest", "status": "" })
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let fake = Self(Arc::new(Inner::default()));
        *fake.0.page_size.lock().unwrap() = 100;
        *fake.0.token_lifetime.lock().unwrap() = Duration::from_secs(3600);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        *fake.0.base.lock().unwrap() = serve(app).await;
        fake
    }

    pub fn url(&self) -> String {
        self.0.base.lock().unwrap().clone()
    }

    /// A GitHub user; `in_org`: a member of the organisation.
    pub fn user(&self, login: &str, in_org: bool) {
        let l = login.to_ascii_lowercase();
        self.0.users.lock().unwrap().insert(l.clone());
        if in_org {
            self.0.org_members.lock().unwrap().insert(l);
        }
    }

    pub fn team(&self, slug: &str, members: &[&str]) {
        let m = members
            .iter()
            .map(|l| (l.to_ascii_lowercase(), "active".to_string()))
            .collect();
        self.0.teams.lock().unwrap().insert(slug.into(), m);
    }

    /// Members and their state.
    pub fn members(&self, slug: &str) -> BTreeMap<String, String> {
        self.0
            .teams
            .lock()
            .unwrap()
            .get(slug)
            .cloned()
            .unwrap_or_default()
    }

    pub fn page_size(&self, n: usize) {
        *self.0.page_size.lock().unwrap() = n;
    }

    pub fn token_lifetime(&self, d: Duration) {
        *self.0.token_lifetime.lock().unwrap() = d;
    }

    /// The next `n` API calls hit the secondary rate limit (403, `retry-after: secs`).
    pub fn secondary_limit(&self, n: usize, secs: u64) {
        for _ in 0..n {
            self.0.common.push_fault(
                Fault::on(None, "/orgs/", 403, message("You have exceeded a secondary rate limit. Please wait a few minutes before you try again."))
                    .header("retry-after", secs.to_string()),
            );
        }
    }

    /// The next `n` API calls find the primary quota spent until `secs` from now.
    pub fn primary_limit(&self, n: usize, secs: i64) {
        let reset = (chrono::Utc::now().timestamp() + secs).to_string();
        for _ in 0..n {
            self.0.common.push_fault(
                Fault::on(
                    None,
                    "/orgs/",
                    403,
                    message("API rate limit exceeded for installation."),
                )
                .header("x-ratelimit-limit", "5000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", reset.clone()),
            );
        }
    }

    pub fn fault(&self, f: Fault) {
        self.0.common.push_fault(f);
    }

    pub fn common(&self) -> &Common {
        &self.0.common
    }
}

async fn handle(
    State(f): State<FakeGitHub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, resp) = answer(&f, &method, &uri, &headers);
    f.0.common.record(&method, &uri, &headers, &body, status);
    resp
}

fn not_found() -> (u16, Response) {
    (404, reply(404, &[], Some(&message("Not Found"))))
}

fn answer(f: &FakeGitHub, method: &Method, uri: &Uri, headers: &HeaderMap) -> (u16, Response) {
    let s = &f.0;
    if let Some(fault) = s.common.fault_for(method, uri.path()) {
        let h: Vec<(&str, String)> = fault.headers.iter().map(|(k, v)| (*k, v.clone())).collect();
        return (fault.status, reply(fault.status, &h, Some(&fault.body)));
    }
    let path = segments(uri);
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if headers.get("user-agent").is_none() {
        // GitHub refuses requests without a User-Agent.
        return (
            403,
            reply(
                403,
                &[],
                Some(&message("Request forbidden by administrative rules.")),
            ),
        );
    }
    if let ["app", "installations", id, "access_tokens"] = p.as_slice() {
        return token(f, method, id, auth);
    }
    if !s.common.bearer_ok(auth) {
        return (401, reply(401, &[], Some(&message("Bad credentials"))));
    }
    let users = s.users.lock().unwrap().clone();
    let in_org = s.org_members.lock().unwrap().clone();
    let mut teams = s.teams.lock().unwrap();
    match (method.clone(), p.as_slice()) {
        (m, ["orgs", org, "teams", slug, "memberships", login])
            if org.eq_ignore_ascii_case(ORG) =>
        {
            let login = login.to_ascii_lowercase();
            let Some(team) = teams.get_mut(*slug) else {
                return not_found();
            };
            let url = format!("{}/orgs/{ORG}/teams/{slug}/memberships/{login}", f.url());
            match m {
                Method::GET => match team.get(&login) {
                    Some(state) => (
                        200,
                        reply(
                            200,
                            &[],
                            Some(&json!({ "url": url, "role": "member", "state": state })),
                        ),
                    ),
                    None => not_found(),
                },
                Method::PUT => {
                    if !users.contains(&login) {
                        return not_found();
                    }
                    let state = if in_org.contains(&login) {
                        "active"
                    } else {
                        "pending"
                    };
                    let state = team
                        .entry(login)
                        .or_insert_with(|| state.to_string())
                        .clone();
                    (
                        200,
                        reply(
                            200,
                            &[],
                            Some(&json!({ "url": url, "role": "member", "state": state })),
                        ),
                    )
                }
                Method::DELETE => match team.remove(&login) {
                    Some(_) => (204, reply(204, &[], None)),
                    None => not_found(),
                },
                _ => not_found(),
            }
        }
        (Method::GET, ["orgs", org, "teams", slug, "members"]) if org.eq_ignore_ascii_case(ORG) => {
            let Some(team) = teams.get(*slug) else {
                return not_found();
            };
            let q = query(uri);
            let size: usize = q
                .get("per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30)
                .min(*s.page_size.lock().unwrap());
            let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
            let active: Vec<&String> = team
                .iter()
                .filter(|(_, st)| *st == "active")
                .map(|(l, _)| l)
                .collect();
            let list: Vec<Value> = active
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|l| json!({ "login": l, "id": 1000 + l.len(), "type": "User" }))
                .collect();
            let mut h = vec![];
            if page * size < active.len() {
                let next = format!(
                    "{}/orgs/{ORG}/teams/{slug}/members?per_page={size}&page={}",
                    f.url(),
                    page + 1
                );
                h.push(("link", format!("<{next}>; rel=\"next\"")));
            }
            (200, reply(200, &h, Some(&Value::Array(list))))
        }
        _ => not_found(),
    }
}

fn token(f: &FakeGitHub, method: &Method, id: &str, auth: Option<&str>) -> (u16, Response) {
    if method != Method::POST {
        return not_found();
    }
    let claims = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|j| verify_jwt(j, None));
    let valid = claims.as_ref().is_some_and(|c| {
        let span = c["exp"].as_i64().unwrap_or(0) - c["iat"].as_i64().unwrap_or(0);
        c["iss"].as_str() == Some(APP_ID) && span <= 600
    });
    if !valid {
        return (
            401,
            reply(
                401,
                &[],
                Some(&message("A JSON web token could not be decoded")),
            ),
        );
    }
    if id != INSTALLATION.to_string() {
        return not_found();
    }
    let lifetime = *f.0.token_lifetime.lock().unwrap();
    let token = f.0.common.issue("ghs_", lifetime);
    let expires = chrono::Utc::now() + chrono::Duration::from_std(lifetime).unwrap();
    let b = json!({
        "token": token,
        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "permissions": { "members": "write" },
        "repository_selection": "all"
    });
    (201, reply(201, &[], Some(&b)))
}
