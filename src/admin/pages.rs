//! The `/admin` pages: sign-in, the request list, one request's timeline, active grants.

use super::AdminState;
use super::api::{load_request, revoke};
use super::auth::{PageUser, is_https, session_hash};
use super::errors::{AdminError, PageError};
use super::filters::{ListQuery, list};
use super::session::{
    SESSION_COOKIE, SESSION_HOURS, SIGNIN_COOKIE, cookie, csrf_matches, random_id, set_cookie,
};
use super::tokens::Role;
use super::view::{GrantItem, RequestItem, chain_view, time, timeline};
use crate::domain::{Platform, RequestState};
use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/requests") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/requests") }))
        .route("/admin/static/admin.css", get(css))
        .route("/admin/sign-in", get(sign_in_page).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin/requests", get(requests_page))
        .route("/admin/requests/{id}", get(request_page))
        .route("/admin/grants", get(grants_page))
        .route("/admin/grants/{id}/revoke", post(revoke_form))
}

/// No framing, no outside resources, no caching of evidence, no referrer leaks.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A page that runs its own script (passkeys) sets a policy allowing exactly that.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        super::templates::CSS,
    )
}

pub(super) fn render(
    state: &AdminState,
    name: &str,
    ctx: &Value,
) -> Result<Html<String>, AdminError> {
    state
        .templates
        .render(name, ctx)
        .map(Html)
        .map_err(|e| AdminError::Internal(anyhow::anyhow!("rendering {name}: {e}")))
}

/// Fields every signed-in page's header needs.
pub(super) fn page_ctx(user: &PageUser, title: &str) -> Value {
    json!({ "title": title, "me": { "name": user.principal.name, "role": user.principal.role.as_str() }, "csrf": user.csrf })
}

pub(super) fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

pub(super) async fn sign_in_response(
    state: &AdminState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let nonce = random_id();
    let ctx = json!({ "configured": state.tokens.current().await.is_some_and(|t| !t.is_empty()), "sso": state.sso.is_some(), "error": error, "csrf": state.key.signin_csrf(&nonce) });
    let html = render(state, "sign_in", &ctx)?;
    let cookie = set_cookie(SIGNIN_COOKIE, &nonce, 900, is_https(headers));
    Ok((status, [(header::SET_COOKIE, cookie)], html).into_response())
}

async fn sign_in_page(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    sign_in_response(&state, &headers, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
}

async fn sign_in(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let nonce = cookie(
        headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
        SIGNIN_COOKIE,
    );
    let Some(nonce) =
        nonce.filter(|n| csrf_matches(&state.key.signin_csrf(n), form.csrf.as_deref()))
    else {
        return Err(AdminError::Csrf.into());
    };
    let _ = nonce;
    let Some((principal, token_hash)) = state
        .tokens
        .current()
        .await
        .and_then(|t| t.authenticate_with_hash(&form.token))
    else {
        tracing::warn!("admin sign-in with an unknown token");
        return sign_in_response(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That token is not valid."),
        )
        .await;
    };
    tracing::info!(token = %principal.name, role = principal.role.as_str(), "admin signed in");
    let now = state.now_ms();
    let session = state.key.new_session(&principal.name, now);
    state
        .app
        .engine
        .store()
        .open_admin_session(
            &session_hash(&session),
            &principal.name,
            &token_hash,
            now,
            session.exp,
        )
        .await?;
    let secure = is_https(&headers);
    let mut resp = Redirect::to("/admin/requests").into_response();
    let h = resp.headers_mut();
    for c in [
        set_cookie(
            SESSION_COOKIE,
            &state.key.encode(&session),
            SESSION_HOURS * 3600,
            secure,
        ),
        set_cookie(SIGNIN_COOKIE, "", 0, secure),
    ] {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&c).map_err(|e| AdminError::Internal(e.into()))?,
        );
    }
    Ok(resp)
}

impl CsrfForm {
    /// The one check every signed-in form post passes first: the session's CSRF token.
    pub(super) fn check(&self, user: &PageUser, target: &str) -> Result<(), AdminError> {
        if csrf_matches(&user.csrf, self.csrf.as_deref()) {
            return Ok(());
        }
        tracing::warn!(token = %user.principal.name, target, "admin form post without a valid CSRF token refused");
        Err(AdminError::Csrf)
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn sign_out(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    if !csrf_matches(&user.csrf, form.csrf.as_deref()) {
        return Err(AdminError::Csrf.into());
    }
    // Ended in the store: a copy of the cookie kept anywhere no longer signs anyone in.
    state
        .app
        .engine
        .store()
        .end_admin_session(&user.sid_hash, state.now_ms(), "signed out")
        .await?;
    let cookie = set_cookie(SESSION_COOKIE, "", 0, is_https(&headers));
    Ok((
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/admin/sign-in"),
    )
        .into_response())
}

fn options<'a>(values: impl Iterator<Item = &'a str>, selected: &Option<String>) -> Vec<Value> {
    values
        .map(|v| json!({ "value": v, "selected": selected.as_deref() == Some(v) }))
        .collect()
}

async fn requests_page(
    State(state): State<AdminState>,
    user: PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let page = list(&state, &user.principal, &q).await?;
    let rows: Vec<RequestItem> = page.rows.iter().map(RequestItem::from).collect();
    let waiting_note = (q.waiting() && user.principal.person.is_none())
        .then_some("This token names no directory person, so nothing waits on it.");
    let ctx = json!({
        "q": {
            "requester": q.requester.clone().unwrap_or_default(),
            "resource": q.resource.clone().unwrap_or_default(),
            "from": q.from.clone().unwrap_or_default(),
            "to": q.to.clone().unwrap_or_default(),
            "break_glass": q.break_glass_only(),
            "waiting_on_me": q.waiting(),
        },
        "states": options(RequestState::ALL.iter().map(|s| s.as_str()), &q.state),
        "platforms": options([Platform::Slack, Platform::Discord, Platform::Console, Platform::Agent].iter().map(|p| p.as_str()), &q.platform),
        "rows": rows,
        "next": page.next_cursor.map(|c| q.with_cursor(&c)),
        "waiting_note": waiting_note,
    });
    Ok(render(
        &state,
        "requests",
        &merge(page_ctx(&user, "Requests"), ctx),
    )?)
}

async fn request_page(
    State(state): State<AdminState>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let req = load_request(&state, &user.principal, &id).await?;
    let store = state.app.engine.store();
    let chain = store
        .verify_chain(&req.id)
        .await
        .map_err(AdminError::Internal)?;
    let entries = store
        .log_entries(&req.id)
        .await
        .map_err(AdminError::Internal)?;
    let grant = store.grant(&req.id).await.map_err(AdminError::Internal)?;
    let approvals: Vec<Value> = store
        .approvals(&req.id)
        .await
        .map_err(AdminError::Internal)?
        .iter()
        .map(|a| json!({ "decision": a.verdict.as_str(), "approver_id": a.approver_id, "approver_account": a.approver_account, "step": a.step, "at": time(a.at), "reason": a.reason }))
        .collect();
    let active = grant.as_ref().is_some_and(|g| g.status == "active");
    // The other items of a multi-resource ask, each a request of its own with its own state.
    let bundle: Vec<Value> = match &req.bundle_id {
        Some(b) => store
            .requests_in_bundle(b)
            .await
            .map_err(AdminError::Internal)?
            .iter()
            .map(|i| json!({ "id": i.id, "resource": i.resource(), "role": i.role(), "state": i.state.as_str(), "current": i.id == req.id, "lead": i.leads_bundle() }))
            .collect(),
        None => vec![],
    };
    let ctx = json!({
        "bundle": bundle,
        "r": RequestItem::from(&req),
        "chain": chain_view(&chain),
        "entries": timeline(&entries, &chain),
        "grant": grant.as_ref().map(GrantItem::from),
        "approvals": approvals,
        "can_revoke": active && user.principal.can_revoke(),
    });
    Ok(render(
        &state,
        "request",
        &merge(page_ctx(&user, &req.id), ctx),
    )?)
}

async fn grants_page(
    State(state): State<AdminState>,
    user: PageUser,
) -> Result<Html<String>, PageError> {
    let grants = state
        .app
        .engine
        .store()
        .active_grants(500)
        .await
        .map_err(AdminError::Internal)?;
    let items: Vec<GrantItem> = grants
        .iter()
        .filter_map(crate::domain::Request::grant_summary)
        .filter(|g| user.principal.may_read(&g.person_id))
        .map(|g| GrantItem::from(&g))
        .collect();
    let ctx = json!({ "grants": items, "can_revoke": user.principal.role == Role::Admin, "notice": null });
    Ok(render(
        &state,
        "grants",
        &merge(page_ctx(&user, "Active grants"), ctx),
    )?)
}

/// "Revoke now": CSRF first, then the role, then the engine's own early revocation (logged with
/// the admin as the actor).
async fn revoke_form(
    State(state): State<AdminState>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    form.check(&user, &id)?;
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("revoked by an admin");
    revoke(&state, &user.principal, &id, reason).await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}")))
}
