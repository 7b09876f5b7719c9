//! The one way a request changes: a `Change` committed in one transaction.
//!
//! A commit applies the state events and the patch to the request as the caller saw it, writes
//! only the changed columns guarded by that request's state and chain head (compare-and-set),
//! appends the log entries to the chain, schedules, claims, cancels and completes jobs, records
//! the inbound delivery and posted cards, and returns the updated `Request`: no read-back.

use super::Store;
use super::codec::{self, REQUEST_COLUMNS, Val};
use super::holds::{HoldOp, hold_stmts};
use super::jobs::{cancel_stmt, complete_stmt, schedule_stmt};
use super::log::{ChainRows, chain_rows};
use super::plan::{Applied, Check, Stmt, value_rows};
use super::requests::{CARDS_OF_REQUEST, cards_stmt};
use crate::domain::{
    Entry, Job, JobKind, Patch, PostedCard, Request, RequestEvent, RequestId, RequestState,
    TransitionError,
};
use anyhow::Context;

/// A job to schedule with the change.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub job: Job,
    pub run_at: i64,
    /// Inserted already claimed by this worker, to run right after the commit.
    pub claim: Option<JobClaim>,
}

/// A worker's lease on a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobClaim {
    pub job_id: String,
    pub worker: String,
    pub lease_until: i64,
}

/// Everything one step does to one request.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// State events, applied in order (e.g. Confirm then PolicyAllow).
    pub events: Vec<RequestEvent>,
    pub patch: Patch,
    pub log: Vec<Entry>,
    pub schedule: Vec<Schedule>,
    pub cancel: Vec<JobKind>,
    /// The job this change finishes.
    pub complete: Option<JobClaim>,
    /// The inbound delivery this change handles: recorded once, a second commit is `Duplicate`.
    pub delivery: Option<String>,
    pub cards: Vec<PostedCard>,
    /// A new request only: stored only while its requester has fewer unfinished requests than
    /// this, counted in the insert itself (else the create is a `Conflict`).
    pub limit: Option<UnfinishedLimit>,
    /// Changes to the holders of shared access this request holds (`holds.rs`), committed
    /// with it and guarded by what the caller read.
    pub holds: Vec<HoldOp>,
}

/// At most `max` unfinished requests (not in a terminal state) of one requester. Checked inside
/// the insert of a new one, so two creates at once cannot both pass it where writes are
/// serialised (SQLite's one writer), and no separate count is read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnfinishedLimit {
    pub max: u32,
}

impl Change {
    pub fn event(event: RequestEvent) -> Self {
        Self {
            events: vec![event],
            ..Default::default()
        }
    }

    /// A change that sets fields or logs without a state event.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn then(mut self, event: RequestEvent) -> Self {
        self.events.push(event);
        self
    }

    pub fn patch(mut self, patch: Patch) -> Self {
        self.patch = patch;
        self
    }

    pub fn log(mut self, entry: Entry) -> Self {
        self.log.push(entry);
        self
    }

    pub fn logs(mut self, entries: impl IntoIterator<Item = Entry>) -> Self {
        self.log.extend(entries);
        self
    }

    pub fn schedule(mut self, job: Job, run_at: i64) -> Self {
        self.schedule.push(Schedule {
            job,
            run_at,
            claim: None,
        });
        self
    }

    /// Schedules a job already claimed by `worker`, for running inline after the commit; if
    /// the process dies first, the lease runs out and the scheduler runs it.
    pub fn schedule_claimed(mut self, job: Job, run_at: i64, claim: JobClaim) -> Self {
        self.schedule.push(Schedule {
            job,
            run_at,
            claim: Some(claim),
        });
        self
    }

    pub fn cancel(mut self, kinds: &[JobKind]) -> Self {
        self.cancel.extend_from_slice(kinds);
        self
    }

    pub fn complete(mut self, claim: Option<JobClaim>) -> Self {
        self.complete = claim;
        self
    }

    pub fn delivery(mut self, id: Option<String>) -> Self {
        self.delivery = id;
        self
    }

    pub fn hold(mut self, op: HoldOp) -> Self {
        self.holds.push(op);
        self
    }

    pub fn holds(mut self, ops: impl IntoIterator<Item = HoldOp>) -> Self {
        self.holds.extend(ops);
        self
    }

    pub fn card(mut self, card: PostedCard) -> Self {
        self.cards.push(card);
        self
    }
}

/// How a commit ended.
#[derive(Debug)]
pub enum Committed {
    Applied(Box<Request>),
    /// The request changed since the caller read it; read again and decide again.
    Conflict,
    /// This inbound delivery was already handled.
    Duplicate,
    /// The state machine refuses the events from the state the caller saw.
    Refused(TransitionError),
}

impl Store {
    /// Inserts a new request with its first change (its first log entries, jobs, cards).
    pub async fn create(&self, draft: &Request, change: Change) -> anyhow::Result<Committed> {
        let now = draft.updated_at;
        let mut next = match draft.apply(&change.events, &change.patch, now) {
            Ok(n) => n,
            Err(e) => return Ok(Committed::Refused(e)),
        };
        let rows = chain_rows(&next.id, &next.chain, now, &change.log, self.chain_key());
        next.chain = rows.head.clone();
        next.cards = Some(with_cards(
            draft.cards.as_deref().unwrap_or(&[]),
            &change.cards,
        ));
        let insert = insert_stmt(&next, change.limit);
        let guard = match (change.limit, self.backend) {
            // PostgreSQL's snapshots would let two creates count at once; they take turns per
            // requester instead (SQLite's one writer already serialises them).
            (Some(_), super::Backend::Postgres) => Some(Stmt::pg_turn(format!(
                "warden:unfinished:{}",
                next.requester_id
            ))),
            _ => None,
        };
        let at = usize::from(change.delivery.is_some());
        let independent = writes_no_row_twice(&change, &next.id);
        let mut plan = plan(self.backend, &next, change, now, rows, insert);
        if let Some(g) = guard {
            plan.insert(at, g);
        }
        let applied = if independent {
            self.run_independent(plan).await?
        } else {
            self.run_plan(plan).await?
        };
        Ok(match applied {
            Applied::Done(_) => Committed::Applied(Box::new(next)),
            Applied::Conflict => Committed::Conflict,
            Applied::Duplicate => Committed::Duplicate,
        })
    }

    /// Commits a change to the request as `seen`. See the module comment.
    pub async fn commit(
        &self,
        seen: &Request,
        change: Change,
        now: i64,
    ) -> anyhow::Result<Committed> {
        let mut next = match seen.apply(&change.events, &change.patch, now) {
            Ok(n) => n,
            Err(e) => return Ok(Committed::Refused(e)),
        };
        let rows = chain_rows(&next.id, &seen.chain, now, &change.log, self.chain_key());
        next.chain = rows.head.clone();
        next.cards = seen
            .cards
            .as_deref()
            .map(|known| with_cards(known, &change.cards));
        let mut vals = vec![
            Val::Text(Some(next.state.as_str().into())),
            Val::Int(Some(now)),
            Val::Int(Some(next.chain.seq)),
            Val::Text(Some(next.chain.hash.clone())),
        ];
        let mut sql = String::from(
            "UPDATE requests SET state = $1, updated_at = $2, log_seq = $3, log_head = $4",
        );
        for (col, v) in codec::changed_columns(seen, &next) {
            vals.push(v);
            sql.push_str(&format!(", {col} = ${}", vals.len()));
        }
        let n = vals.len();
        // `updated_at` too: recording a card outside a commit moves it (`Store::record_cards`),
        // so a copy whose cards are out of date conflicts and is read again.
        sql.push_str(&format!(
            " WHERE id = ${} AND state = ${} AND log_seq = ${} AND updated_at = ${}",
            n + 1,
            n + 2,
            n + 3,
            n + 4
        ));
        vals.push(Val::Text(Some(seen.id.to_string())));
        vals.push(Val::Text(Some(seen.state.as_str().into())));
        vals.push(Val::Int(Some(seen.chain.seq)));
        vals.push(Val::Int(Some(seen.updated_at)));
        let update = Stmt::new(sql, vals).check(Check::OneRow);
        let independent = writes_no_row_twice(&change, &next.id);
        let plan = plan(self.backend, &next, change, now, rows, update);
        let applied = if independent {
            self.run_independent(plan).await?
        } else {
            self.run_plan(plan).await?
        };
        Ok(match applied {
            Applied::Done(_) => Committed::Applied(Box::new(next)),
            Applied::Conflict => Committed::Conflict,
            Applied::Duplicate => Committed::Duplicate,
        })
    }

    /// Reads one request with its posted cards (its own and the bundle cards that list it), in
    /// one statement (a row per card).
    pub async fn get_request(&self, id: &str) -> anyhow::Result<Option<Request>> {
        // Boxed: every step awaits this read, and the read's future inlined into theirs grows
        // each caller's state machine (deep async stacks overflow in debug builds).
        let sql = format!(
            "SELECT r.*, c.platform AS card_platform, c.channel AS card_channel, c.message_id AS card_message_id, c.kind AS card_kind \
             FROM (SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1) r \
             LEFT JOIN ({CARDS_OF_REQUEST}) c ON 1 = 1 ORDER BY c.created_at, c.message_id"
        );
        // The request's columns repeat on every row: decoded from the first only.
        let first = std::cell::Cell::new(true);
        let rows = Box::pin(self.read(&sql, &[Val::text(id)], move |row| {
            let req = first
                .replace(false)
                .then(|| codec::decode(row))
                .transpose()?;
            Ok((req, codec::decode_joined_card(row)?))
        }))
        .await
        .context("Failed to read a request")?;
        let mut rows = rows.into_iter();
        let Some((Some(mut req), card)) = rows.next() else {
            return Ok(None);
        };
        let cards: Vec<PostedCard> = card
            .into_iter()
            .chain(rows.filter_map(|(_, c)| c))
            .collect();
        req.cards = Some(cards);
        Ok(Some(req))
    }
}

/// The cards a copy knows plus those a change records; a card already known is not repeated
/// (the insert ignores it too).
fn with_cards(known: &[PostedCard], added: &[PostedCard]) -> Vec<PostedCard> {
    let mut all = known.to_vec();
    for c in added {
        if !all.iter().any(|k| {
            k.platform == c.platform && k.channel == c.channel && k.message_id == c.message_id
        }) {
            all.push(c.clone());
        }
    }
    all
}

/// The insert of a new request; under a limit, an `INSERT … SELECT` that adds the row only while
/// the requester's unfinished requests are fewer than it (no row: a `Conflict`).
fn insert_stmt(next: &Request, limit: Option<UnfinishedLimit>) -> Stmt {
    let cols = codec::insert_columns(next);
    let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    let width = cols.len();
    let mut vals: Vec<Val> = cols.into_iter().map(|(_, v)| v).collect();
    let Some(limit) = limit else {
        let sql = format!(
            "INSERT INTO requests ({}) VALUES {}",
            names.join(", "),
            value_rows(1, width)
        );
        return Stmt::new(sql, vals);
    };
    let unfinished: Vec<RequestState> = RequestState::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect();
    let row = value_rows(1, width);
    let row = &row[1..row.len() - 1];
    let requester = width + 1;
    let states: Vec<String> = (0..unfinished.len())
        .map(|i| format!("${}", requester + 1 + i))
        .collect();
    let max = requester + unfinished.len() + 1;
    let sql = format!(
        "INSERT INTO requests ({}) SELECT {row} WHERE (SELECT COUNT(*) FROM requests WHERE requester_id = ${requester} AND state IN ({})) < ${max}",
        names.join(", "),
        states.join(", ")
    );
    vals.push(Val::Text(Some(next.requester_id.clone())));
    vals.extend(
        unfinished
            .iter()
            .map(|s| Val::Text(Some(s.as_str().into()))),
    );
    vals.push(Val::Int(Some(i64::from(limit.max))));
    Stmt::new(sql, vals).check(Check::OneRow)
}

/// Whether the statements of `change` write no row twice, so PostgreSQL may run them as one
/// statement. Each table is written by one statement, except jobs: the schedule leaves out the
/// kinds it cancels, the cancel takes pending jobs and the completion the running one, so they
/// meet only when the completed job is scheduled again. A hold's statements share rows.
fn writes_no_row_twice(change: &Change, request: &RequestId) -> bool {
    let rescheduled = change.complete.as_ref().is_some_and(|claim| {
        change
            .schedule
            .iter()
            .any(|s| s.job.id_for(request) == claim.job_id)
    });
    change.holds.is_empty() && !rescheduled
}

/// The statements of one change, in order: the delivery first (a duplicate stops there), the
/// request row, then the log, jobs and cards. One statement each.
fn plan(
    backend: super::Backend,
    req: &Request,
    change: Change,
    now: i64,
    rows: ChainRows,
    row: Stmt,
) -> Vec<Stmt> {
    let mut plan = Vec::with_capacity(7);
    if let Some(id) = change.delivery {
        plan.push(
            Stmt::new(
                "INSERT INTO processed_events (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                vec![Val::Text(Some(id)), Val::Int(Some(now))],
            )
            .check(Check::FirstDelivery),
        );
    }
    plan.push(row);
    for op in &change.holds {
        plan.extend(hold_stmts(backend, req.id.as_str(), op, now));
    }
    plan.extend(rows.insert());
    if !change.schedule.is_empty() {
        plan.push(schedule_stmt(&req.id, &change.schedule));
    }
    let cancel: Vec<String> = change
        .cancel
        .iter()
        .filter(|k| !change.schedule.iter().any(|s| s.job.kind() == **k))
        .map(|k| k.id_for(&req.id))
        .collect();
    if !cancel.is_empty() {
        plan.push(cancel_stmt(&cancel));
    }
    if let Some(claim) = &change.complete {
        plan.push(complete_stmt(claim));
    }
    if !change.cards.is_empty() {
        plan.push(cards_stmt(&req.id, &change.cards, now));
    }
    plan
}
