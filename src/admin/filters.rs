//! The request list's filters and keyset cursor, shared by the pages and the API.

use super::AdminState;
use super::errors::AdminError;
use super::tokens::{Principal, Role};
use crate::domain::Request;
use crate::domain::RequestState;
use crate::store::RequestFilter;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// Query parameters as they arrive (HTML forms send empty strings for empty fields).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ListQuery {
    pub requester: Option<String>,
    pub resource: Option<String>,
    pub state: Option<String>,
    pub platform: Option<String>,
    /// Inclusive start: YYYY-MM-DD or RFC 3339.
    pub from: Option<String>,
    /// Inclusive end day (YYYY-MM-DD) or exclusive RFC 3339 instant.
    pub to: Option<String>,
    pub break_glass: Option<String>,
    pub waiting_on_me: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn truthy(v: &Option<String>) -> bool {
    matches!(
        v.as_deref().map(str::trim),
        Some("1" | "true" | "on" | "yes")
    )
}

impl ListQuery {
    pub fn break_glass_only(&self) -> bool {
        truthy(&self.break_glass)
    }

    pub fn waiting(&self) -> bool {
        truthy(&self.waiting_on_me)
    }

    /// The store filter this query means for this principal. Requesters are pinned to themselves.
    pub fn to_filter(&self, who: &Principal) -> Result<RequestFilter, AdminError> {
        let state = match given(&self.state) {
            Some(s) => Some(
                RequestState::parse(&s)
                    .ok_or_else(|| AdminError::BadRequest(format!("unknown state '{s}'")))?,
            ),
            None => None,
        };
        let mut requester_id = given(&self.requester);
        if who.role == Role::Requester {
            requester_id = who.person.clone();
        }
        Ok(RequestFilter {
            requester_id,
            resource: given(&self.resource),
            state,
            platform: given(&self.platform),
            created_from: given(&self.from)
                .map(|s| parse_time(&s, false))
                .transpose()?,
            created_to: given(&self.to).map(|s| parse_time(&s, true)).transpose()?,
            break_glass_only: self.break_glass_only(),
            before: given(&self.cursor).map(|c| decode_cursor(&c)).transpose()?,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        })
    }

    /// The query string for the next page (same filters, new cursor).
    pub fn with_cursor(&self, cursor: &str) -> String {
        let mut q = self.clone();
        q.cursor = Some(cursor.to_string());
        let pairs: Vec<(String, String)> = [
            ("requester", &q.requester),
            ("resource", &q.resource),
            ("state", &q.state),
            ("platform", &q.platform),
            ("from", &q.from),
            ("to", &q.to),
            ("break_glass", &q.break_glass),
            ("waiting_on_me", &q.waiting_on_me),
            ("cursor", &q.cursor),
        ]
        .into_iter()
        .filter_map(|(k, v)| given(v).map(|v| (k.to_string(), v)))
        .chain(q.limit.map(|l| ("limit".to_string(), l.to_string())))
        .collect();
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }
}

/// A date (`to` includes the whole day) or an RFC 3339 instant, as epoch milliseconds.
fn parse_time(s: &str, end: bool) -> Result<i64, AdminError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        AdminError::BadRequest(format!(
            "'{s}' is neither a date (YYYY-MM-DD) nor an RFC 3339 time"
        ))
    })?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0))
}

pub fn encode_cursor(row: &Request) -> String {
    B64.encode(format!("{}:{}", row.created_at, row.id))
}

fn decode_cursor(c: &str) -> Result<(i64, String), AdminError> {
    let bad = || AdminError::BadRequest("invalid cursor".into());
    let raw = String::from_utf8(B64.decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = raw.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_string()))
}

/// One page of the list and the cursor of the next, if there is one.
pub struct Page {
    pub rows: Vec<Request>,
    pub next_cursor: Option<String>,
}

/// Lists requests for a principal: keyset paging in the store, or the approver's queue.
pub async fn list(state: &AdminState, who: &Principal, q: &ListQuery) -> Result<Page, AdminError> {
    let mut f = q.to_filter(who)?;
    let limit = f.limit;
    let rows = if q.waiting() {
        waiting_on(state, who, &f).await?
    } else {
        // One more than asked tells whether a next page exists.
        f.limit = limit + 1;
        state.app.engine.store().list_requests(&f).await?
    };
    Ok(paged(rows, limit))
}

fn paged(mut rows: Vec<Request>, limit: i64) -> Page {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(encode_cursor)
    } else {
        None
    };
    Page { rows, next_cursor }
}

/// Pending requests whose current step lists this principal's person as an approver. The queue
/// is short (pending requests only), so the other filters apply in memory.
async fn waiting_on(
    state: &AdminState,
    who: &Principal,
    f: &RequestFilter,
) -> Result<Vec<Request>, AdminError> {
    let Some(person_id) = &who.person else {
        return Ok(Vec::new());
    };
    let engine = &state.app.engine;
    let Some(person) = engine
        .directory()
        .person(person_id)
        .await
        .map_err(|e| AdminError::Internal(anyhow::Error::new(e)))?
    else {
        return Ok(Vec::new());
    };
    let rows = engine.waiting_on(&person).await?;
    Ok(rows
        .into_iter()
        .filter(|r| matches(f, r))
        .take(f.limit as usize + 1)
        .collect())
}

fn matches(f: &RequestFilter, r: &Request) -> bool {
    f.requester_id.as_ref().is_none_or(|v| *v == r.requester_id)
        && f.resource
            .as_ref()
            .is_none_or(|v| Some(v.as_str()) == r.resource())
        && f.state.is_none_or(|s| s == r.state)
        && f.platform
            .as_ref()
            .is_none_or(|v| v == r.origin.platform.as_str())
        && f.created_from.is_none_or(|t| r.created_at >= t)
        && f.created_to.is_none_or(|t| r.created_at < t)
        && (!f.break_glass_only || r.break_glass)
        && f.before
            .as_ref()
            .is_none_or(|(at, id)| (r.created_at, r.id.as_str()) < (*at, id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer() -> Principal {
        Principal {
            name: "v".into(),
            role: Role::Viewer,
            person: None,
        }
    }

    #[test]
    fn empty_form_fields_mean_no_filter() {
        let q = ListQuery {
            requester: Some("".into()),
            state: Some(" ".into()),
            break_glass: Some("".into()),
            ..Default::default()
        };
        let f = q.to_filter(&viewer()).unwrap();
        assert_eq!(
            (f.requester_id, f.state, f.break_glass_only, f.limit),
            (None, None, false, DEFAULT_LIMIT)
        );
    }

    #[test]
    fn a_requester_is_pinned_to_their_own_requests_whatever_they_ask() {
        let alice = Principal {
            name: "alice".into(),
            role: Role::Requester,
            person: Some("alice".into()),
        };
        let q = ListQuery {
            requester: Some("bob".into()),
            ..Default::default()
        };
        assert_eq!(
            q.to_filter(&alice).unwrap().requester_id.as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn the_end_date_includes_the_whole_day_and_bad_input_is_a_bad_request() {
        let q = ListQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-01".into()),
            ..Default::default()
        };
        let f = q.to_filter(&viewer()).unwrap();
        assert_eq!(f.created_to.unwrap() - f.created_from.unwrap(), 86_400_000);
        let bad = ListQuery {
            state: Some("sideways".into()),
            ..Default::default()
        };
        assert!(matches!(
            bad.to_filter(&viewer()),
            Err(AdminError::BadRequest(_))
        ));
        let bad = ListQuery {
            cursor: Some("!!".into()),
            ..Default::default()
        };
        assert!(matches!(
            bad.to_filter(&viewer()),
            Err(AdminError::BadRequest(_))
        ));
    }

    #[test]
    fn the_next_page_link_keeps_the_filters() {
        let q = ListQuery {
            resource: Some("wiki".into()),
            state: Some("".into()),
            ..Default::default()
        };
        let s = q.with_cursor("abc");
        assert_eq!(s, "resource=wiki&cursor=abc");
    }
}
