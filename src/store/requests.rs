//! Reading requests: one, lists for the admin and status, and the posted cards of a request.

use super::Store;
use super::codec::{self, REQUEST_COLUMNS, Val};
use super::plan::{Stmt, value_rows};
use crate::domain::{
    Approval, CardKind, GrantSummary, Platform, PostedCard, Request, RequestId, RequestState,
};
use anyhow::Context;
use serde::{Deserialize, Serialize};

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

/// Records posted cards in one statement.
/// The cards posted for request `$1`: its own and the bundle cards that list it (each index
/// used on its own; an `OR` across the two would scan every card).
pub(crate) const CARDS_OF_REQUEST: &str = "SELECT platform, channel, message_id, kind, created_at FROM cards WHERE request_id = $1 \
     UNION SELECT c.platform, c.channel, c.message_id, c.kind, c.created_at FROM card_items i \
     JOIN cards c ON c.platform = i.platform AND c.channel = i.channel AND c.message_id = i.message_id \
     WHERE i.request_id = $1";

/// Moves a request's `updated_at` on (strictly, even within one millisecond) when a card is
/// recorded for it outside a commit: a copy read before carries a card list without that card,
/// and the commit's compare-and-set on `updated_at` makes it read again rather than refresh
/// cards from that list.
pub(crate) fn touch_stmt(request: &RequestId, now: i64) -> Stmt {
    Stmt::new(
        "UPDATE requests SET updated_at = CASE WHEN updated_at < $1 THEN $1 ELSE updated_at + 1 END WHERE id = $2",
        vec![Val::Int(Some(now)), Val::Text(Some(request.to_string()))],
    )
}

pub(crate) fn cards_stmt(request: &RequestId, cards: &[PostedCard], now: i64) -> Stmt {
    let sql = format!(
        "INSERT INTO cards (request_id, platform, channel, message_id, kind, created_at) VALUES {} ON CONFLICT DO NOTHING",
        value_rows(cards.len(), 6)
    );
    let mut vals = Vec::with_capacity(cards.len() * 6);
    for c in cards {
        vals.extend([
            Val::Text(Some(request.to_string())),
            Val::Text(Some(c.platform.as_str().into())),
            Val::Text(Some(c.channel.clone())),
            Val::Text(Some(c.message_id.clone())),
            Val::Text(Some(c.kind.as_str().into())),
            Val::Int(Some(now)),
        ]);
    }
    Stmt::new(sql, vals)
}

impl Store {
    /// The newest request living in this thread, if any. A bundle's items share their lead's
    /// thread: the lead answers for them (its card is the one the requester confirms).
    pub async fn request_in_thread(
        &self,
        platform: Platform,
        workspace: &str,
        channel: &str,
        thread: &str,
    ) -> anyhow::Result<Option<Request>> {
        self.read_opt(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE platform = $1 AND workspace = $2 AND channel = $3 AND thread = $4 AND parent_id IS NULL ORDER BY CASE WHEN bundle_id IS NULL OR bundle_id = id THEN 0 ELSE 1 END, created_at DESC LIMIT 1"
            ),
            &[
                Val::text(platform.as_str()),
                Val::text(workspace),
                Val::text(channel),
                Val::text(thread),
            ],
            codec::request,
        )
        .await
        .context("Failed to find a thread's request")
    }

    /// The extension request of `parent` still waiting for a decision or being applied, if any.
    pub async fn pending_extension(&self, parent: &RequestId) -> anyhow::Result<Option<Request>> {
        self.read_opt(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE parent_id = $1 AND state IN ('submitted', 'pending_approval', 'approved') ORDER BY created_at DESC LIMIT 1"
            ),
            &[Val::text(parent.as_str())],
            codec::request,
        )
        .await
        .context("Failed to find a pending extension")
    }

    /// Every item of a bundle, the lead first, then in the order asked (each item is created a
    /// millisecond after the one before at least: `workflow::bundle`).
    pub async fn requests_in_bundle(&self, bundle: &RequestId) -> anyhow::Result<Vec<Request>> {
        self.read(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE bundle_id = $1 ORDER BY CASE WHEN id = bundle_id THEN 0 ELSE 1 END, created_at, id"
            ),
            &[Val::text(bundle.as_str())],
            codec::request,
        )
        .await
        .context("Failed to read a bundle's requests")
    }

    /// Lists requests, newest first, with keyset paging so deep pages stay fast.
    pub async fn list_requests(&self, f: &RequestFilter) -> anyhow::Result<Vec<Request>> {
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
        let vals: Vec<Val> = binds.into_iter().map(|(_, v)| v).collect();
        self.read(&sql, &vals, codec::request)
            .await
            .context("Failed to list requests")
    }

    /// A person's newest request, if any.
    pub async fn latest_of(&self, requester_id: &str) -> anyhow::Result<Option<Request>> {
        let rows = self
            .list_requests(&RequestFilter {
                requester_id: Some(requester_id.into()),
                limit: 1,
                ..Default::default()
            })
            .await?;
        Ok(rows.into_iter().next())
    }

    /// A person's requests in any of `states`, newest first.
    pub async fn requests_of(
        &self,
        requester_id: &str,
        states: &[RequestState],
    ) -> anyhow::Result<Vec<Request>> {
        if states.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (2..states.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE requester_id = $1 AND state IN ({}) ORDER BY created_at DESC, id DESC LIMIT 500",
            marks.join(", ")
        );
        let mut vals = vec![Val::Text(Some(requester_id.to_string()))];
        vals.extend(
            states
                .iter()
                .map(|s| Val::Text(Some(s.as_str().to_string()))),
        );
        self.read(&sql, &vals, codec::request)
            .await
            .context("Failed to list a person's requests")
    }

    /// How many requests a person has open (not yet granted, denied or closed): the one count
    /// every instance agrees on, for the per-person limit.
    pub async fn count_open_requests(&self, requester_id: &str) -> anyhow::Result<i64> {
        let open: Vec<RequestState> = RequestState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        let marks: Vec<String> = (2..open.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT COUNT(*) AS n FROM requests WHERE requester_id = $1 AND state IN ({})",
            marks.join(", ")
        );
        let mut vals = vec![Val::Text(Some(requester_id.to_string()))];
        vals.extend(open.iter().map(|s| Val::Text(Some(s.as_str().to_string()))));
        self.read_one(&sql, &vals, |r| r.get("n"))
            .await
            .context("Failed to count a person's open requests")
    }

    /// Requests waiting for approval, oldest first (an approver's queue is filtered from these).
    pub async fn pending_approval(&self, limit: i64) -> anyhow::Result<Vec<Request>> {
        self.read(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'pending_approval' ORDER BY created_at LIMIT $1"
            ),
            &[Val::int(limit)],
            codec::request,
        )
        .await
        .context("Failed to list pending requests")
    }

    pub async fn count_by_state(&self) -> anyhow::Result<Vec<(String, i64)>> {
        self.read(
            "SELECT state, COUNT(*) AS n FROM requests GROUP BY state",
            &[],
            |r| Ok((r.get("state")?, r.get("n")?)),
        )
        .await
        .context("Failed to count requests by state")
    }

    /// The approvals and denials recorded on a request.
    pub async fn approvals(&self, request_id: &str) -> anyhow::Result<Vec<Approval>> {
        Ok(self
            .get_request(request_id)
            .await?
            .map(|r| r.approvals)
            .unwrap_or_default())
    }

    /// A request's grant as people see it, if it was granted.
    pub async fn grant(&self, request_id: &str) -> anyhow::Result<Option<GrantSummary>> {
        Ok(self
            .get_request(request_id)
            .await?
            .and_then(|r| r.grant_summary()))
    }

    /// How many grant records a request has (0 or 1: the aggregate holds one).
    pub async fn count_grants(&self, request_id: &str) -> anyhow::Result<i64> {
        Ok(i64::from(self.grant(request_id).await?.is_some()))
    }

    /// Requests with access in place, soonest expiry first.
    pub async fn active_grants(&self, limit: i64) -> anyhow::Result<Vec<Request>> {
        self.read(
            &format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'active' ORDER BY expires_at LIMIT $1"
            ),
            &[Val::int(limit)],
            codec::request,
        )
        .await
        .context("Failed to list active grants")
    }

    /// Records cards posted after the change that caused them (approval cards, alerts).
    pub async fn record_cards(
        &self,
        request: &RequestId,
        cards: &[PostedCard],
        now: i64,
    ) -> anyhow::Result<()> {
        if cards.is_empty() {
            return Ok(());
        }
        self.run_plan(vec![
            cards_stmt(request, cards, now),
            touch_stmt(request, now),
        ])
        .await?;
        Ok(())
    }

    /// Every card posted for a request, oldest first, with the bundle cards that list it.
    pub async fn cards(&self, request_id: &str) -> anyhow::Result<Vec<PostedCard>> {
        self.read(
            &format!(
                "SELECT platform, channel, message_id, kind FROM ({CARDS_OF_REQUEST}) c ORDER BY created_at, message_id"
            ),
            &[Val::text(request_id)],
            |r| {
                let platform: String = r.get("platform")?;
                let kind: String = r.get("kind")?;
                Ok(PostedCard {
                    platform: Platform::parse(&platform)
                        .with_context(|| format!("card with unknown platform '{platform}'"))?,
                    channel: r.get("channel")?,
                    message_id: r.get("message_id")?,
                    kind: CardKind::parse(&kind)
                        .with_context(|| format!("card with unknown kind '{kind}'"))?,
                })
            },
        )
        .await
        .context("Failed to list a request's cards")
    }
}
