//! The one codec between a `requests` row and the `Request` aggregate: strict both ways.
//!
//! A row that does not decode is an error naming the request and the column, never a default.
//! The denormalised columns (`action`, `resource`, `role`, …) exist for filtering and indexes;
//! they are written from the intent here and never read back as truth.

use super::read::{Get, Row};
use crate::domain::{
    CardKind, ChainHead, Origin, Platform, PostedCard, Request, RequestId, RequestState, ScopeKind,
};
use serde::de::DeserializeOwned;

/// Every column the aggregate is read from.
pub(crate) const REQUEST_COLUMNS: &str = "id, platform, workspace, channel, thread, scope_kind, requester_id, requester_account, state, \
     intent_json, decision_json, approval_plan_json, current_step, approvals_json, grant_json, break_glass, review_open, \
     clarify_turns, parent_id, bundle_id, extensions, expires_at, deadline_at, card_status, created_at, updated_at, log_seq, log_head";

/// A stored request that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("request {id}: column '{column}' does not decode: {why}")]
pub struct CodecError {
    pub id: String,
    pub column: &'static str,
    pub why: String,
}

/// A bound value, as the `Any` driver carries it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Val {
    pub fn text(s: impl Into<String>) -> Self {
        Val::Text(Some(s.into()))
    }

    pub fn int(n: i64) -> Self {
        Val::Int(Some(n))
    }
}

struct Reader<'a> {
    row: &'a Row<'a>,
    id: String,
}

impl Reader<'_> {
    fn fail(&self, column: &'static str, why: impl ToString) -> CodecError {
        CodecError {
            id: self.id.clone(),
            column,
            why: why.to_string(),
        }
    }

    fn get<T: Get>(&self, column: &'static str) -> Result<T, CodecError> {
        T::get(self.row, column).map_err(|e| self.fail(column, e))
    }

    fn json<T: DeserializeOwned>(&self, column: &'static str) -> Result<Option<T>, CodecError> {
        let text: Option<String> = self.get(column)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| self.fail(column, e)))
            .transpose()
    }

    fn count(&self, column: &'static str) -> Result<u32, CodecError> {
        let n: i64 = self.get(column)?;
        u32::try_from(n).map_err(|_| self.fail(column, format!("{n} is out of range")))
    }
}

/// Reads one request row.
pub(crate) fn decode(row: &Row<'_>) -> Result<Request, CodecError> {
    let id: String = String::get(row, "id").map_err(|e| CodecError {
        id: "?".into(),
        column: "id",
        why: e.to_string(),
    })?;
    let r = Reader { row, id };
    let platform: String = r.get("platform")?;
    let scope_kind: String = r.get("scope_kind")?;
    let state: String = r.get("state")?;
    let parent: Option<String> = r.get("parent_id")?;
    let bundle: Option<String> = r.get("bundle_id")?;
    Ok(Request {
        id: RequestId::parse(&r.id).ok_or_else(|| r.fail("id", "not a request id"))?,
        origin: Origin {
            platform: Platform::parse(&platform)
                .ok_or_else(|| r.fail("platform", format!("unknown platform '{platform}'")))?,
            workspace: r.get("workspace")?,
            channel: r.get("channel")?,
            thread: r.get("thread")?,
            kind: ScopeKind::parse(&scope_kind)
                .ok_or_else(|| r.fail("scope_kind", format!("unknown scope '{scope_kind}'")))?,
        },
        requester_id: r.get("requester_id")?,
        requester_account: r.get("requester_account")?,
        state: RequestState::parse(&state)
            .ok_or_else(|| r.fail("state", format!("unknown state '{state}'")))?,
        intent: r.json("intent_json")?,
        decision: r.json("decision_json")?,
        approval_plan: r.json("approval_plan_json")?,
        current_step: r.count("current_step")?,
        approvals: r
            .json("approvals_json")?
            .ok_or_else(|| r.fail("approvals_json", "missing"))?,
        grant: r.json("grant_json")?,
        break_glass: r.get("break_glass")?,
        review_open: r.get("review_open")?,
        clarify_turns: r.count("clarify_turns")?,
        parent_id: parent
            .map(|p| RequestId::parse(&p).ok_or_else(|| r.fail("parent_id", "not a request id")))
            .transpose()?,
        bundle_id: bundle
            .map(|b| RequestId::parse(&b).ok_or_else(|| r.fail("bundle_id", "not a request id")))
            .transpose()?,
        extensions: r.count("extensions")?,
        expires_at: r.get("expires_at")?,
        deadline_at: r.get("deadline_at")?,
        card_status: r.get("card_status")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        chain: ChainHead {
            seq: r.get("log_seq")?,
            hash: r.get("log_head")?,
        },
        cards: None,
    })
}

/// [`decode`] for [`Store::read`](super::Store): a row that does not decode fails the read.
pub(crate) fn request(row: &Row<'_>) -> anyhow::Result<Request> {
    Ok(decode(row)?)
}

/// The card on a row of `Store::get_request`'s join (`card_*` columns); `None` for a request
/// without cards. Strict like the request: an unknown platform or kind names its column.
pub(crate) fn decode_joined_card(row: &Row<'_>) -> Result<Option<PostedCard>, CodecError> {
    let id: String = String::get(row, "id").unwrap_or_default();
    let r = Reader { row, id };
    let Some(message_id) = r.get::<Option<String>>("card_message_id")? else {
        return Ok(None);
    };
    let platform: String = r.get("card_platform")?;
    let kind: String = r.get("card_kind")?;
    Ok(Some(PostedCard {
        platform: Platform::parse(&platform)
            .ok_or_else(|| r.fail("card_platform", format!("unknown platform '{platform}'")))?,
        channel: r.get("card_channel")?,
        message_id,
        kind: CardKind::parse(&kind)
            .ok_or_else(|| r.fail("card_kind", format!("unknown card kind '{kind}'")))?,
    }))
}

fn json<T: serde::Serialize>(v: &Option<T>) -> Val {
    Val::Text(
        v.as_ref()
            .map(|x| serde_json::to_string(x).expect("aggregate parts serialise")),
    )
}

fn text(v: Option<&str>) -> Val {
    Val::Text(v.map(str::to_string))
}

/// Every writable column of a request with its value (state and chain head excluded).
fn columns(r: &Request) -> Vec<(&'static str, Val)> {
    let intent = r.intent.as_ref();
    vec![
        ("thread", Val::Text(r.origin.thread.clone())),
        (
            "action",
            Val::Text(Some(
                intent.map_or("request", |i| i.action.as_str()).to_string(),
            )),
        ),
        ("resource", text(r.resource())),
        ("role", text(r.role())),
        (
            "duration_secs",
            Val::Int(r.duration_secs().map(|d| d as i64)),
        ),
        ("justification", text(r.justification())),
        ("ticket", text(r.ticket())),
        ("intent_json", json(&r.intent)),
        ("decision_json", json(&r.decision)),
        (
            "decision_id",
            text(r.decision.as_ref().and_then(|d| d.decision_id())),
        ),
        ("approval_plan_json", json(&r.approval_plan)),
        ("current_step", Val::Int(Some(i64::from(r.current_step)))),
        ("approvals_json", json(&Some(&r.approvals))),
        ("grant_json", json(&r.grant)),
        ("break_glass", Val::Int(Some(i64::from(r.break_glass)))),
        ("review_open", Val::Int(Some(i64::from(r.review_open)))),
        ("clarify_turns", Val::Int(Some(i64::from(r.clarify_turns)))),
        ("extensions", Val::Int(Some(i64::from(r.extensions)))),
        ("expires_at", Val::Int(r.expires_at)),
        ("deadline_at", Val::Int(r.deadline_at)),
        ("card_status", Val::Text(r.card_status.clone())),
        (
            "bundle_id",
            Val::Text(r.bundle_id.as_ref().map(|b| b.to_string())),
        ),
    ]
}

/// The columns whose value differs between `before` and `after`: what an UPDATE writes.
pub(crate) fn changed_columns(before: &Request, after: &Request) -> Vec<(&'static str, Val)> {
    let old = columns(before);
    columns(after)
        .into_iter()
        .zip(old)
        .filter(|((_, new), (_, old))| new != old)
        .map(|(c, _)| c)
        .collect()
}

/// Every column of a new row, in insert order.
pub(crate) fn insert_columns(r: &Request) -> Vec<(&'static str, Val)> {
    let mut v = vec![
        ("id", Val::Text(Some(r.id.to_string()))),
        (
            "platform",
            Val::Text(Some(r.origin.platform.as_str().into())),
        ),
        ("workspace", Val::Text(Some(r.origin.workspace.clone()))),
        ("channel", Val::Text(Some(r.origin.channel.clone()))),
        ("scope_kind", Val::Text(Some(r.origin.kind.as_str().into()))),
        ("requester_id", Val::Text(Some(r.requester_id.clone()))),
        (
            "requester_account",
            Val::Text(Some(r.requester_account.clone())),
        ),
        ("state", Val::Text(Some(r.state.as_str().into()))),
        (
            "parent_id",
            Val::Text(r.parent_id.as_ref().map(|p| p.to_string())),
        ),
        ("created_at", Val::Int(Some(r.created_at))),
        ("updated_at", Val::Int(Some(r.updated_at))),
        ("log_seq", Val::Int(Some(r.chain.seq))),
        ("log_head", Val::Text(Some(r.chain.hash.clone()))),
    ];
    v.extend(columns(r));
    v
}

/// Binds values in order.
pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    vals: impl IntoIterator<Item = Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for v in vals {
        q = match v {
            Val::Text(t) => q.bind(t),
            Val::Int(i) => q.bind(i),
        };
    }
    q
}
