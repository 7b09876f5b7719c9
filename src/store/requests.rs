//! Requests, approvals, grants and posted cards.

use super::{Backend, Store, Tx, flag};
use crate::domain::{Platform, RequestEvent, RequestState};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

/// A request as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: String,
    pub platform: String,
    pub workspace: String,
    pub channel: String,
    pub thread: Option<String>,
    pub scope_kind: String,
    pub requester_id: String,
    pub requester_account: String,
    pub state: RequestState,
    pub action: String,
    pub resource: Option<String>,
    pub role: Option<String>,
    pub duration_secs: Option<i64>,
    pub justification: Option<String>,
    pub ticket: Option<String>,
    pub intent_json: Option<String>,
    pub decision_json: Option<String>,
    pub decision_id: Option<String>,
    pub approval_plan_json: Option<String>,
    pub current_step: i64,
    pub break_glass: bool,
    pub review_open: bool,
    pub clarify_turns: i64,
    pub parent_id: Option<String>,
    pub extensions: i64,
    pub expires_at: Option<i64>,
    pub deadline_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const REQUEST_COLUMNS: &str = "id, platform, workspace, channel, thread, scope_kind, requester_id, requester_account, state, action, \
     resource, role, duration_secs, justification, ticket, intent_json, decision_json, decision_id, approval_plan_json, current_step, \
     break_glass, review_open, clarify_turns, parent_id, extensions, expires_at, deadline_at, created_at, updated_at";

impl RequestRow {
    fn from_row(r: &AnyRow) -> anyhow::Result<Self> {
        let state: String = r.try_get("state")?;
        Ok(Self {
            id: r.try_get("id")?,
            platform: r.try_get("platform")?,
            workspace: r.try_get("workspace")?,
            channel: r.try_get("channel")?,
            thread: r.try_get("thread")?,
            scope_kind: r.try_get("scope_kind")?,
            requester_id: r.try_get("requester_id")?,
            requester_account: r.try_get("requester_account")?,
            state: RequestState::parse(&state)
                .with_context(|| format!("unknown state '{state}' in the store"))?,
            action: r.try_get("action")?,
            resource: r.try_get("resource")?,
            role: r.try_get("role")?,
            duration_secs: r.try_get("duration_secs")?,
            justification: r.try_get("justification")?,
            ticket: r.try_get("ticket")?,
            intent_json: r.try_get("intent_json")?,
            decision_json: r.try_get("decision_json")?,
            decision_id: r.try_get("decision_id")?,
            approval_plan_json: r.try_get("approval_plan_json")?,
            current_step: r.try_get("current_step")?,
            break_glass: r.try_get::<i64, _>("break_glass")? != 0,
            review_open: r.try_get::<i64, _>("review_open")? != 0,
            clarify_turns: r.try_get("clarify_turns")?,
            parent_id: r.try_get("parent_id")?,
            extensions: r.try_get("extensions")?,
            expires_at: r.try_get("expires_at")?,
            deadline_at: r.try_get("deadline_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    pub fn platform(&self) -> Option<Platform> {
        Platform::parse(&self.platform)
    }
}

/// A request to create.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: String,
    pub platform: Platform,
    pub workspace: String,
    pub channel: String,
    pub thread: Option<String>,
    pub scope_kind: String,
    pub requester_id: String,
    pub requester_account: String,
    pub state: RequestState,
    pub parent_id: Option<String>,
    pub now_ms: i64,
}

/// Columns a transition may set besides the state. `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct RequestChanges {
    pub action: Option<String>,
    pub resource: Option<String>,
    pub role: Option<String>,
    pub duration_secs: Option<i64>,
    pub justification: Option<Option<String>>,
    pub ticket: Option<Option<String>>,
    pub intent_json: Option<String>,
    pub decision_json: Option<String>,
    pub decision_id: Option<Option<String>>,
    pub approval_plan_json: Option<String>,
    pub current_step: Option<i64>,
    pub break_glass: Option<bool>,
    pub review_open: Option<bool>,
    pub clarify_turns: Option<i64>,
    pub extensions: Option<i64>,
    pub expires_at: Option<Option<i64>>,
    pub deadline_at: Option<Option<i64>>,
}

enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl RequestChanges {
    fn assignments(&self) -> Vec<(&'static str, Val)> {
        let mut v = Vec::new();
        let text = |o: &Option<String>| Val::Text(o.clone());
        if let Some(x) = &self.action {
            v.push(("action", Val::Text(Some(x.clone()))));
        }
        if let Some(x) = &self.resource {
            v.push(("resource", Val::Text(Some(x.clone()))));
        }
        if let Some(x) = &self.role {
            v.push(("role", Val::Text(Some(x.clone()))));
        }
        if let Some(x) = self.duration_secs {
            v.push(("duration_secs", Val::Int(Some(x))));
        }
        if let Some(x) = &self.justification {
            v.push(("justification", text(x)));
        }
        if let Some(x) = &self.ticket {
            v.push(("ticket", text(x)));
        }
        if let Some(x) = &self.intent_json {
            v.push(("intent_json", Val::Text(Some(x.clone()))));
        }
        if let Some(x) = &self.decision_json {
            v.push(("decision_json", Val::Text(Some(x.clone()))));
        }
        if let Some(x) = &self.decision_id {
            v.push(("decision_id", text(x)));
        }
        if let Some(x) = &self.approval_plan_json {
            v.push(("approval_plan_json", Val::Text(Some(x.clone()))));
        }
        if let Some(x) = self.current_step {
            v.push(("current_step", Val::Int(Some(x))));
        }
        if let Some(x) = self.break_glass {
            v.push(("break_glass", Val::Int(Some(flag(x)))));
        }
        if let Some(x) = self.review_open {
            v.push(("review_open", Val::Int(Some(flag(x)))));
        }
        if let Some(x) = self.clarify_turns {
            v.push(("clarify_turns", Val::Int(Some(x))));
        }
        if let Some(x) = self.extensions {
            v.push(("extensions", Val::Int(Some(x))));
        }
        if let Some(x) = self.expires_at {
            v.push(("expires_at", Val::Int(x)));
        }
        if let Some(x) = self.deadline_at {
            v.push(("deadline_at", Val::Int(x)));
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub request_id: String,
    pub step: i64,
    pub approver_id: String,
    pub approver_account: String,
    pub decision: String,
    pub reason: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRow {
    pub request_id: String,
    pub backend: String,
    pub resource: String,
    pub role: String,
    pub person_id: String,
    pub account: String,
    pub granted_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    pub status: String,
}

impl GrantRow {
    fn from_row(r: &AnyRow) -> anyhow::Result<Self> {
        Ok(Self {
            request_id: r.try_get("request_id")?,
            backend: r.try_get("backend")?,
            resource: r.try_get("resource")?,
            role: r.try_get("role")?,
            person_id: r.try_get("person_id")?,
            account: r.try_get("account")?,
            granted_at: r.try_get("granted_at")?,
            expires_at: r.try_get("expires_at")?,
            revoked_at: r.try_get("revoked_at")?,
            revoke_reason: r.try_get("revoke_reason")?,
            status: r.try_get("status")?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardRow {
    pub request_id: String,
    pub platform: String,
    pub channel: String,
    pub message_id: String,
    pub kind: String,
}

/// Filters for listing requests (admin list, status).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestFilter {
    pub requester_id: Option<String>,
    pub resource: Option<String>,
    pub state: Option<RequestState>,
    pub platform: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub break_glass_only: bool,
    /// Keyset paging: rows strictly older than this (created_at, id).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

const GRANT_COLUMNS: &str = "request_id, backend, resource, role, person_id, account, granted_at, expires_at, revoked_at, revoke_reason, status";

impl Tx {
    pub async fn insert_request(&mut self, r: &NewRequest) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO requests (id, platform, workspace, channel, thread, scope_kind, requester_id, requester_account, state, parent_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&r.id)
        .bind(r.platform.as_str())
        .bind(&r.workspace)
        .bind(&r.channel)
        .bind(&r.thread)
        .bind(&r.scope_kind)
        .bind(&r.requester_id)
        .bind(&r.requester_account)
        .bind(r.state.as_str())
        .bind(&r.parent_id)
        .bind(r.now_ms)
        .execute(self.conn())
        .await
        .context("Failed to insert a request")?;
        Ok(())
    }

    /// Reads a request and holds its row until commit (FOR UPDATE on PostgreSQL; the
    /// IMMEDIATE transaction already holds the write lock on SQLite).
    pub async fn lock_request(&mut self, id: &str) -> anyhow::Result<Option<RequestRow>> {
        let sql = match self.backend {
            Backend::Postgres => {
                format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1 FOR UPDATE")
            }
            Backend::Sqlite => format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"),
        };
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .context("Failed to lock a request")?;
        row.as_ref().map(RequestRow::from_row).transpose()
    }

    /// Compare-and-set: applies `event` only if the request is still in `from`.
    /// Returns the new state, or `None` if another actor got there first.
    pub async fn transition(
        &mut self,
        id: &str,
        from: RequestState,
        event: RequestEvent,
        changes: &RequestChanges,
        now_ms: i64,
    ) -> anyhow::Result<Option<RequestState>> {
        let to = from.apply(event)?;
        let assignments = changes.assignments();
        let mut sql = String::from("UPDATE requests SET state = $1, updated_at = $2");
        for (i, (col, _)) in assignments.iter().enumerate() {
            sql.push_str(&format!(", {col} = ${}", i + 3));
        }
        let n = assignments.len();
        sql.push_str(&format!(" WHERE id = ${} AND state = ${}", n + 3, n + 4));
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now_ms);
        for (_, v) in assignments {
            q = match v {
                Val::Text(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
        let done = q
            .bind(id)
            .bind(from.as_str())
            .execute(self.conn())
            .await
            .context("Failed to change a request's state")?;
        Ok((done.rows_affected() == 1).then_some(to))
    }

    /// Sets columns without a state change, guarded by the state the caller saw.
    pub async fn update_in_state(
        &mut self,
        id: &str,
        state: RequestState,
        changes: &RequestChanges,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let assignments = changes.assignments();
        let mut sql = String::from("UPDATE requests SET updated_at = $1");
        for (i, (col, _)) in assignments.iter().enumerate() {
            sql.push_str(&format!(", {col} = ${}", i + 2));
        }
        let n = assignments.len();
        sql.push_str(&format!(" WHERE id = ${} AND state = ${}", n + 2, n + 3));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now_ms);
        for (_, v) in assignments {
            q = match v {
                Val::Text(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
        let done = q
            .bind(id)
            .bind(state.as_str())
            .execute(self.conn())
            .await
            .context("Failed to update a request")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records one approver's decision; false if this person already acted on the request.
    pub async fn insert_approval(&mut self, a: &ApprovalRow) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO approvals (request_id, step, approver_id, approver_account, decision, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (request_id, approver_id) DO NOTHING",
        )
        .bind(&a.request_id)
        .bind(a.step)
        .bind(&a.approver_id)
        .bind(&a.approver_account)
        .bind(&a.decision)
        .bind(&a.reason)
        .bind(a.at)
        .execute(self.conn())
        .await
        .context("Failed to record an approval")?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count_approvals(&mut self, request_id: &str, step: i64) -> anyhow::Result<i64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE request_id = $1 AND step = $2 AND decision = 'approve'")
            .bind(request_id)
            .bind(step)
            .fetch_one(self.conn())
            .await?;
        Ok(n)
    }

    pub async fn insert_grant(&mut self, g: &GrantRow) -> anyhow::Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (request_id) DO UPDATE SET expires_at = excluded.expires_at, status = excluded.status"
        )))
        .bind(&g.request_id)
        .bind(&g.backend)
        .bind(&g.resource)
        .bind(&g.role)
        .bind(&g.person_id)
        .bind(&g.account)
        .bind(g.granted_at)
        .bind(g.expires_at)
        .bind(g.revoked_at)
        .bind(&g.revoke_reason)
        .bind(&g.status)
        .execute(self.conn())
        .await
        .context("Failed to record a grant")?;
        Ok(())
    }

    pub async fn close_grant(
        &mut self,
        request_id: &str,
        at: i64,
        reason: &str,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE grants SET status = 'revoked', revoked_at = $1, revoke_reason = $2 WHERE request_id = $3 AND status = 'active'")
            .bind(at)
            .bind(reason)
            .bind(request_id)
            .execute(self.conn())
            .await
            .context("Failed to close a grant")?;
        Ok(())
    }

    pub async fn extend_grant(&mut self, request_id: &str, expires_at: i64) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE grants SET expires_at = $1 WHERE request_id = $2 AND status = 'active'",
        )
        .bind(expires_at)
        .bind(request_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn get_request(&self, id: &str) -> anyhow::Result<Option<RequestRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.db())
        .await
        .context("Failed to read a request")?;
        row.as_ref().map(RequestRow::from_row).transpose()
    }

    /// The newest not-yet-finished request living in this thread, if any.
    pub async fn request_in_thread(
        &self,
        platform: Platform,
        workspace: &str,
        channel: &str,
        thread: &str,
    ) -> anyhow::Result<Option<RequestRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE platform = $1 AND workspace = $2 AND channel = $3 AND thread = $4 ORDER BY created_at DESC LIMIT 1"
        )))
        .bind(platform.as_str())
        .bind(workspace)
        .bind(channel)
        .bind(thread)
        .fetch_optional(self.db())
        .await
        .context("Failed to find a thread's request")?;
        row.as_ref().map(RequestRow::from_row).transpose()
    }

    /// Lists requests, newest first, with keyset paging so deep pages stay fast.
    pub async fn list_requests(&self, f: &RequestFilter) -> anyhow::Result<Vec<RequestRow>> {
        let mut sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        // Bind order must follow placeholder order, so collect (position, value) pairs.
        let mut binds: Vec<(usize, Val)> = Vec::new();
        for (col, val) in [
            ("requester_id", &f.requester_id),
            ("resource", &f.resource),
            ("platform", &f.platform),
        ] {
            if let Some(v) = val {
                let i = next();
                sql.push_str(&format!(" AND {col} = ${i}"));
                binds.push((i, Val::Text(Some(v.clone()))));
            }
        }
        if let Some(s) = f.state {
            let i = next();
            sql.push_str(&format!(" AND state = ${i}"));
            binds.push((i, Val::Text(Some(s.as_str().to_string()))));
        }
        if let Some(from) = f.created_from {
            let i = next();
            sql.push_str(&format!(" AND created_at >= ${i}"));
            binds.push((i, Val::Int(Some(from))));
        }
        if let Some(to) = f.created_to {
            let i = next();
            sql.push_str(&format!(" AND created_at < ${i}"));
            binds.push((i, Val::Int(Some(to))));
        }
        if f.break_glass_only {
            sql.push_str(" AND break_glass = 1");
        }
        if let Some((at, id)) = &f.before {
            // A row-value comparison lets both databases seek the (…, created_at, id) index
            // instead of scanning; the OR form did not on SQLite.
            let (a, c) = (next(), next());
            sql.push_str(&format!(" AND (created_at, id) < (${a}, ${c})"));
            binds.push((a, Val::Int(Some(*at))));
            binds.push((c, Val::Text(Some(id.clone()))));
        }
        let i = next();
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${i}"));
        binds.push((i, Val::Int(Some(f.limit.clamp(1, 500)))));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (_, v) in binds {
            q = match v {
                Val::Text(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
        let rows = q
            .fetch_all(self.db())
            .await
            .context("Failed to list requests")?;
        rows.iter().map(RequestRow::from_row).collect()
    }

    /// Requests by state, for status and the scheduler's sweeps.
    pub async fn requests_of(
        &self,
        requester_id: &str,
        states: &[RequestState],
    ) -> anyhow::Result<Vec<RequestRow>> {
        let all = self
            .list_requests(&RequestFilter {
                requester_id: Some(requester_id.to_string()),
                limit: 500,
                ..Default::default()
            })
            .await?;
        Ok(all
            .into_iter()
            .filter(|r| states.contains(&r.state))
            .collect())
    }

    pub async fn count_by_state(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM requests GROUP BY state")
            .fetch_all(self.db())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    pub async fn approvals(&self, request_id: &str) -> anyhow::Result<Vec<ApprovalRow>> {
        let rows = sqlx::query("SELECT request_id, step, approver_id, approver_account, decision, reason, at FROM approvals WHERE request_id = $1 ORDER BY at, approver_id")
            .bind(request_id)
            .fetch_all(self.db())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ApprovalRow {
                    request_id: r.try_get("request_id")?,
                    step: r.try_get("step")?,
                    approver_id: r.try_get("approver_id")?,
                    approver_account: r.try_get("approver_account")?,
                    decision: r.try_get("decision")?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    pub async fn grant(&self, request_id: &str) -> anyhow::Result<Option<GrantRow>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE request_id = $1"
        )))
        .bind(request_id)
        .fetch_optional(self.db())
        .await?;
        row.as_ref().map(GrantRow::from_row).transpose()
    }

    pub async fn active_grants(&self, limit: i64) -> anyhow::Result<Vec<GrantRow>> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE status = 'active' ORDER BY expires_at LIMIT $1")))
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        rows.iter().map(GrantRow::from_row).collect()
    }

    pub async fn count_grants(&self, request_id: &str) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE request_id = $1")
                .bind(request_id)
                .fetch_one(self.db())
                .await?,
        )
    }

    pub async fn record_card(
        &self,
        request_id: &str,
        platform: Platform,
        channel: &str,
        message_id: &str,
        kind: &str,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        let _gate = self.autocommit().await;
        sqlx::query("INSERT INTO cards (request_id, platform, channel, message_id, kind, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
            .bind(request_id)
            .bind(platform.as_str())
            .bind(channel)
            .bind(message_id)
            .bind(kind)
            .bind(now_ms)
            .execute(self.db())
            .await
            .context("Failed to record a posted card")?;
        Ok(())
    }

    pub async fn cards(
        &self,
        request_id: &str,
        kind: Option<&str>,
    ) -> anyhow::Result<Vec<CardRow>> {
        let rows = sqlx::query("SELECT request_id, platform, channel, message_id, kind FROM cards WHERE request_id = $1 ORDER BY created_at")
            .bind(request_id)
            .fetch_all(self.db())
            .await?;
        let cards: anyhow::Result<Vec<CardRow>> = rows
            .iter()
            .map(|r| {
                Ok(CardRow {
                    request_id: r.try_get("request_id")?,
                    platform: r.try_get("platform")?,
                    channel: r.try_get("channel")?,
                    message_id: r.try_get("message_id")?,
                    kind: r.try_get("kind")?,
                })
            })
            .collect();
        Ok(cards?
            .into_iter()
            .filter(|c| kind.is_none_or(|k| c.kind == k))
            .collect())
    }
}
