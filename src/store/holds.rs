//! Holders of a shared access: the active grants that put one person into one access on one
//! target, so only the last of them to end removes it (see docs/architecture.md).
//!
//! Each change to the holders is a `HoldOp` committed with the request it belongs to and
//! guarded by what the caller read (a stale read is a `Conflict`, and the caller reads again).
//! On PostgreSQL the statements of one access key take turns under a transaction-scoped
//! advisory lock, so each sees the other's committed rows; SQLite's one writer serialises them.

use super::codec::Val;
use super::plan::{Check, Stmt};
use super::{Backend, Store};
use anyhow::Context;

/// One grant's hold on a shared access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessHold {
    pub request_id: String,
    /// This grant removes the access if it is the last holder to end: Warden put it there.
    pub owns: bool,
    /// Its revoke has decided to end the access and is making the call.
    pub releasing: bool,
    /// The holder it took ownership from, when one ended before it.
    pub taken_from: Option<String>,
}

/// A change to the holders of `key`, made by the request the change commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOp {
    /// Joins the holders. `first`: no live holder may exist (the joiner owns the access until
    /// `Disown`); otherwise one must (the joiner does not own it). Else a conflict.
    Join { key: String, first: bool },
    /// The first holder found the access held before Warden: it is not Warden's to remove.
    Disown { key: String },
    /// Stops holding while the access stays. With an `heir` (a live holder, which takes over
    /// ownership if this one `owned`), or with none when no other live holder may exist (the
    /// access is not Warden's to remove, or was never put there). A stale read is a conflict.
    Leave {
        key: String,
        owned: bool,
        heir: Option<String>,
    },
    /// The last live holder ends the access: marked releasing while its revoke call runs.
    Release { key: String, owned: bool },
    /// The revoke that ended the access is committed: the hold is gone.
    Drop { key: String },
}

impl HoldOp {
    pub fn key(&self) -> &str {
        match self {
            Self::Join { key, .. }
            | Self::Disown { key }
            | Self::Leave { key, .. }
            | Self::Release { key, .. }
            | Self::Drop { key } => key,
        }
    }
}

/// Another live holder of `$1` than `$2`.
const OTHER_LIVE: &str =
    "SELECT 1 FROM access_holds WHERE access_key = $1 AND request_id <> $2 AND releasing = 0";

fn text(s: &str) -> Val {
    Val::Text(Some(s.to_string()))
}

fn flag(b: bool) -> Val {
    Val::Int(Some(i64::from(b)))
}

/// The statements of one hold change by request `id`, after the lock for its key.
pub(crate) fn hold_stmts(backend: Backend, id: &str, op: &HoldOp, now: i64) -> Vec<Stmt> {
    let key = text(op.key());
    let me = text(id);
    let mut out = Vec::with_capacity(3);
    if backend == Backend::Postgres {
        out.push(Stmt::pg_turn(format!("warden:access:{}", op.key())));
    }
    match op {
        HoldOp::Join { first, .. } => {
            let cond = if *first { "NOT EXISTS" } else { "EXISTS" };
            out.push(
                Stmt::new(
                    format!(
                        "INSERT INTO access_holds (access_key, request_id, owns, releasing, joined_at) \
                         SELECT $1, $2, $3, 0, $4 WHERE {cond} ({OTHER_LIVE})"
                    ),
                    vec![key, me, flag(*first), Val::Int(Some(now))],
                )
                .check(Check::OneRow),
            );
        }
        HoldOp::Disown { .. } => out.push(Stmt::new(
            "UPDATE access_holds SET owns = 0 WHERE access_key = $1 AND request_id = $2 AND taken_from IS NULL",
            vec![key, me],
        )),
        HoldOp::Leave { owned, heir, .. } => {
            let guard = match heir {
                Some(h) => {
                    // Taking over names who from; a holder that stays as it was is only
                    // checked to be still live.
                    let (set, vals) = if *owned {
                        ("owns = 1, taken_from = $3", vec![key.clone(), text(h), me.clone()])
                    } else {
                        ("owns = owns", vec![key.clone(), text(h)])
                    };
                    out.push(
                        Stmt::new(
                            format!(
                                "UPDATE access_holds SET {set} WHERE access_key = $1 AND request_id = $2 AND releasing = 0"
                            ),
                            vals,
                        )
                        .check(Check::OneRow),
                    );
                    String::new()
                }
                None => format!(" AND NOT EXISTS ({OTHER_LIVE})"),
            };
            out.push(
                Stmt::new(
                    format!(
                        "DELETE FROM access_holds WHERE access_key = $1 AND request_id = $2 AND releasing = 0 AND owns = $3{guard}"
                    ),
                    vec![key, me, flag(*owned)],
                )
                .check(Check::OneRow),
            );
        }
        HoldOp::Release { owned, .. } => out.push(
            Stmt::new(
                format!(
                    "UPDATE access_holds SET releasing = 1 WHERE access_key = $1 AND request_id = $2 \
                     AND releasing = 0 AND owns = $3 AND NOT EXISTS ({OTHER_LIVE})"
                ),
                vec![key, me, flag(*owned)],
            )
            .check(Check::OneRow),
        ),
        HoldOp::Drop { .. } => out.push(Stmt::new(
            "DELETE FROM access_holds WHERE access_key = $1 AND request_id = $2",
            vec![key, me],
        )),
    }
    out
}

impl Store {
    /// Every hold on `key`, the earliest joined first.
    pub async fn access_holds(&self, key: &str) -> anyhow::Result<Vec<AccessHold>> {
        self.read(
            "SELECT request_id, owns, releasing, taken_from FROM access_holds \
             WHERE access_key = $1 ORDER BY joined_at, request_id",
            &[Val::text(key)],
            |r| {
                Ok(AccessHold {
                    request_id: r.get("request_id")?,
                    owns: r.get("owns")?,
                    releasing: r.get("releasing")?,
                    taken_from: r.get("taken_from")?,
                })
            },
        )
        .await
        .context("Failed to read the holders of an access")
    }

    /// The shared accesses a request holds (at most one in practice: one grant per request).
    pub async fn access_keys_of(&self, request_id: &str) -> anyhow::Result<Vec<String>> {
        self.read(
            "SELECT access_key FROM access_holds WHERE request_id = $1",
            &[Val::text(request_id)],
            |r| r.get("access_key"),
        )
        .await
        .context("Failed to read the shared accesses of a request")
    }
}
