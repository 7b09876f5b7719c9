//! A write as data: the statements of one commit with their values and the checks that decide
//! it, so PostgreSQL runs it in a sqlx transaction and SQLite on its writer thread alike.

use super::codec::{Val, bind_all};
use anyhow::Context;
use sqlx::AssertSqlSafe;

/// What a statement's row count must be for the write to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Any,
    /// Exactly one row, else someone changed the request first: the write is a conflict.
    OneRow,
    /// One row, else this inbound delivery was recorded before: the write is a duplicate.
    FirstDelivery,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stmt {
    pub sql: String,
    pub vals: Vec<Val>,
    pub check: Check,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, vals: Vec<Val>) -> Self {
        Self {
            sql: sql.into(),
            vals,
            check: Check::Any,
        }
    }

    pub fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    /// PostgreSQL: waits for the turn on `key` until the transaction ends. Advisory locks are
    /// database-wide, so the key is scoped to the schema in use: deployments (and test runs)
    /// that share a database in schemas of their own never wait on each other's keys.
    pub fn pg_turn(key: String) -> Self {
        Self::new(
            "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':' || $1))) AS turn",
            vec![Val::Text(Some(key))],
        )
    }
}

/// How a planned write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Committed; the number of rows the last statement changed.
    Done(u64),
    Conflict,
    Duplicate,
}

/// Decides a statement's outcome from its row count: `None` to go on.
pub(crate) fn verdict(check: Check, rows: u64) -> Option<Applied> {
    match (check, rows) {
        (Check::OneRow, n) if n != 1 => Some(Applied::Conflict),
        (Check::FirstDelivery, 0) => Some(Applied::Duplicate),
        _ => None,
    }
}

/// `($1, $2, …), ($n+1, …)` for `rows` rows of `width` values.
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let marks: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLSTATE of `warden_abort('conflict')` (migrations/postgres/0025).
const ABORT_CONFLICT: &str = "WD001";
/// SQLSTATE of `warden_abort('duplicate')`.
const ABORT_DUPLICATE: &str = "WD002";

/// PostgreSQL: a plan whose statements touch no row twice, as one statement: each write a
/// data-modifying CTE, the checks in order in a `CASE` that aborts the statement (all of it)
/// when one fails. One round trip instead of BEGIN, each statement and COMMIT. `None` when a
/// statement is not a write (an advisory lock) and the plan must run in a transaction.
///
/// A `CASE` evaluates its branches in order and only as needed, and a CTE the query does not
/// read runs after the query: so a guard is settled before any write that follows it runs,
/// and a write that would collide with the winner of a race (a log row of the same sequence
/// number) never runs when the guard has lost.
pub(crate) fn fold(plan: &[Stmt]) -> Option<Stmt> {
    let is_write = |sql: &str| {
        let head: String = sql.trim_start().chars().take(6).collect();
        matches!(
            head.to_ascii_uppercase().as_str(),
            "INSERT" | "UPDATE" | "DELETE"
        )
    };
    if plan.is_empty() || !plan.iter().all(|s| is_write(&s.sql)) {
        return None;
    }
    let mut ctes = Vec::with_capacity(plan.len());
    let mut vals = Vec::new();
    let mut guards = String::new();
    for (i, s) in plan.iter().enumerate() {
        ctes.push(format!(
            "s{i} AS ({} RETURNING 1)",
            renumber(&s.sql, vals.len())
        ));
        vals.extend(s.vals.iter().cloned());
        let count = format!("(SELECT COUNT(*) FROM s{i})");
        match s.check {
            Check::Any => {}
            Check::OneRow => {
                guards.push_str(&format!(" WHEN {count} <> 1 THEN warden_abort('conflict')"))
            }
            Check::FirstDelivery => {
                guards.push_str(&format!(" WHEN {count} = 0 THEN warden_abort('duplicate')"))
            }
        }
    }
    let last = format!("(SELECT COUNT(*) FROM s{})", plan.len() - 1);
    let result = if guards.is_empty() {
        last
    } else {
        format!("CASE{guards} ELSE {last} END")
    };
    Some(Stmt::new(
        format!("WITH {} SELECT {result} AS n", ctes.join(", ")),
        vals,
    ))
}

/// `$1`, `$2`, … of one statement moved up by `offset`, for its place among the folded ones.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = String::new();
        while let Some((_, d)) = chars.next_if(|(_, d)| d.is_ascii_digit()) {
            n.push(d);
        }
        match n.parse::<usize>() {
            Ok(k) => out.push_str(&(k + offset).to_string()),
            Err(_) => out.push_str(&n),
        }
    }
    out
}

/// Runs a folded plan (see [`fold`]) as one statement, outside any transaction.
pub(crate) async fn run_folded(pool: &sqlx::AnyPool, folded: Stmt) -> anyhow::Result<Applied> {
    let outcome = bind_all(sqlx::query(AssertSqlSafe(folded.sql)), folded.vals)
        .fetch_one(pool)
        .await;
    match outcome {
        Ok(row) => {
            let n: i64 = sqlx::Row::try_get(&row, "n").context("Failed to write")?;
            Ok(Applied::Done(n as u64))
        }
        Err(e) => match e.as_database_error().and_then(|d| d.code()).as_deref() {
            Some(ABORT_CONFLICT) => Ok(Applied::Conflict),
            Some(ABORT_DUPLICATE) => Ok(Applied::Duplicate),
            _ => Err(e).context("Failed to write"),
        },
    }
}

/// Runs a plan in a sqlx transaction (PostgreSQL; SQLite uses its writer thread).
pub(crate) async fn run_in_tx(tx: &mut super::Tx, plan: Vec<Stmt>) -> anyhow::Result<Applied> {
    let mut last = 0;
    for s in plan {
        let done = bind_all(sqlx::query(AssertSqlSafe(s.sql)), s.vals)
            .execute(tx.conn())
            .await
            .context("Failed to write")?;
        last = done.rows_affected();
        if let Some(stop) = verdict(s.check, last) {
            return Ok(stop);
        }
    }
    Ok(Applied::Done(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_plan_numbers_each_statements_values_after_the_ones_before() {
        let plan = [
            Stmt::new(
                "INSERT INTO processed_events (id, received_at) VALUES ($1, $2)",
                vec![Val::text("d1"), Val::int(5)],
            )
            .check(Check::FirstDelivery),
            Stmt::new(
                "UPDATE requests SET state = $1 WHERE id = $2 AND updated_at = $3",
                vec![Val::text("active"), Val::text("r1"), Val::int(4)],
            )
            .check(Check::OneRow),
            Stmt::new(
                "UPDATE requests SET updated_at = CASE WHEN updated_at < $1 THEN $1 ELSE updated_at + 1 END WHERE id = $2",
                vec![Val::int(9), Val::text("r1")],
            ),
        ];
        let folded = fold(&plan).expect("every statement writes");
        assert_eq!(
            folded.sql,
            "WITH s0 AS (INSERT INTO processed_events (id, received_at) VALUES ($1, $2) RETURNING 1), \
             s1 AS (UPDATE requests SET state = $3 WHERE id = $4 AND updated_at = $5 RETURNING 1), \
             s2 AS (UPDATE requests SET updated_at = CASE WHEN updated_at < $6 THEN $6 ELSE updated_at + 1 END WHERE id = $7 RETURNING 1) \
             SELECT CASE WHEN (SELECT COUNT(*) FROM s0) = 0 THEN warden_abort('duplicate') \
             WHEN (SELECT COUNT(*) FROM s1) <> 1 THEN warden_abort('conflict') \
             ELSE (SELECT COUNT(*) FROM s2) END AS n"
        );
        let all: Vec<Val> = plan.iter().flat_map(|s| s.vals.clone()).collect();
        assert_eq!(folded.vals, all);
    }

    #[test]
    fn a_plan_with_a_statement_that_is_not_a_write_is_not_folded() {
        let plan = [
            Stmt::pg_turn("warden:unfinished:alice".into()),
            Stmt::new(
                "INSERT INTO requests (id) VALUES ($1)",
                vec![Val::text("r1")],
            ),
        ];
        assert_eq!(fold(&plan), None);
        assert_eq!(fold(&[]), None);
    }
}
