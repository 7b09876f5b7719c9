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

#[derive(Debug, Clone)]
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
