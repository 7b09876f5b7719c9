//! Freezes (the kill switch), kept in the store so every instance sees one at its next decision.

use super::Store;
use super::codec::Val;
use super::read::Row;
use crate::domain::{Confirmation, Freeze, FreezeScope, Lift};
use anyhow::Context;

const COLUMNS: &str = "id, scope_kind, target, actor, reason, created_at, lifted_at, lifted_by, lift_reason, confirmation, lift_confirmation";

/// What freezing a scope did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frozen {
    /// A new freeze was recorded.
    New(Freeze),
    /// The scope was already frozen: this is that freeze, unchanged.
    Existing(Freeze),
}

impl Frozen {
    pub fn freeze(&self) -> &Freeze {
        match self {
            Frozen::New(f) | Frozen::Existing(f) => f,
        }
    }
}

impl Store {
    /// Freezes a scope, or finds the freeze already on it (one active freeze per scope, held by
    /// a unique index, so two instances freezing at once record one). `confirmation` is kept
    /// with a new freeze when the policy asked for one.
    pub async fn freeze(
        &self,
        scope: &FreezeScope,
        actor: &str,
        reason: &str,
        now_ms: i64,
        confirmation: Option<&Confirmation>,
    ) -> anyhow::Result<Frozen> {
        if let Some(f) = self.active_freeze_on(scope).await? {
            return Ok(Frozen::Existing(f));
        }
        let freeze = Freeze {
            id: Freeze::new_id(),
            scope: scope.clone(),
            actor: actor.into(),
            reason: reason.into(),
            created_at: now_ms,
            confirmation: confirmation.cloned(),
            lifted: None,
        };
        let inserted = sqlx::query("INSERT INTO freezes (id, scope_kind, target, actor, reason, created_at, confirmation) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&freeze.id)
            .bind(scope.kind())
            .bind(scope.target())
            .bind(actor)
            .bind(reason)
            .bind(now_ms)
            .bind(encode(confirmation)?)
            .execute(self.write())
            .await;
        match inserted {
            Ok(_) => Ok(Frozen::New(freeze)),
            // Lost a race with another freeze of the same scope: that one stands.
            Err(e) => match self.active_freeze_on(scope).await? {
                Some(f) => Ok(Frozen::Existing(f)),
                None => Err(e).context("Failed to record the freeze"),
            },
        }
    }

    /// Lifts one active freeze; `None` when no active freeze has that id.
    pub async fn unfreeze(
        &self,
        id: &str,
        by: &str,
        reason: &str,
        now_ms: i64,
        confirmation: Option<&Confirmation>,
    ) -> anyhow::Result<Option<Freeze>> {
        let done = sqlx::query("UPDATE freezes SET lifted_at = $1, lifted_by = $2, lift_reason = $3, lift_confirmation = $4 WHERE id = $5 AND lifted_at IS NULL")
            .bind(now_ms)
            .bind(by)
            .bind(reason)
            .bind(encode(confirmation)?)
            .bind(id)
            .execute(self.write())
            .await
            .context("Failed to lift the freeze")?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.freeze_by_id(id).await
    }

    /// The freezes in force: what every decision point reads (a small table, one indexed read).
    pub async fn active_freezes(&self) -> anyhow::Result<Vec<Freeze>> {
        self.select_freezes("WHERE lifted_at IS NULL ORDER BY created_at", None)
            .await
    }

    /// Active freezes first, then lifted ones, newest first: the admin list.
    pub async fn list_freezes(&self, limit: i64) -> anyhow::Result<Vec<Freeze>> {
        self.select_freezes(
            "ORDER BY CASE WHEN lifted_at IS NULL THEN 0 ELSE 1 END, created_at DESC LIMIT $1",
            Some(limit),
        )
        .await
    }

    pub async fn freeze_by_id(&self, id: &str) -> anyhow::Result<Option<Freeze>> {
        self.read_opt(
            &format!("SELECT {COLUMNS} FROM freezes WHERE id = $1"),
            &[Val::text(id)],
            decode,
        )
        .await
        .context("Failed to read the freeze")
    }

    async fn active_freeze_on(&self, scope: &FreezeScope) -> anyhow::Result<Option<Freeze>> {
        self.read_opt(
            &format!(
                "SELECT {COLUMNS} FROM freezes WHERE scope_kind = $1 AND target = $2 AND lifted_at IS NULL"
            ),
            &[Val::text(scope.kind()), Val::text(scope.target())],
            decode,
        )
        .await
        .context("Failed to read freezes")
    }

    async fn select_freezes(&self, tail: &str, limit: Option<i64>) -> anyhow::Result<Vec<Freeze>> {
        let vals: Vec<Val> = limit.map(Val::int).into_iter().collect();
        self.read(
            &format!("SELECT {COLUMNS} FROM freezes {tail}"),
            &vals,
            decode,
        )
        .await
        .context("Failed to read freezes")
    }
}

/// A stored freeze; a row that does not decode is an error, never a freeze that matches nothing.
fn decode(r: &Row<'_>) -> anyhow::Result<Freeze> {
    let id: String = r.get("id")?;
    let kind: String = r.get("scope_kind")?;
    let target: String = r.get("target")?;
    let scope = FreezeScope::parse(&kind, Some(&target))
        .with_context(|| format!("freeze {id} has an invalid scope"))?;
    let lifted_at: Option<i64> = r.get("lifted_at")?;
    let lifted = match lifted_at {
        Some(at) => Some(Lift {
            by: r.get::<Option<String>>("lifted_by")?.unwrap_or_default(),
            reason: r.get::<Option<String>>("lift_reason")?.unwrap_or_default(),
            at,
            confirmation: decode_confirmation(r, "lift_confirmation")?,
        }),
        None => None,
    };
    Ok(Freeze {
        confirmation: decode_confirmation(r, "confirmation")?,
        id,
        scope,
        actor: r.get("actor")?,
        reason: r.get("reason")?,
        created_at: r.get("created_at")?,
        lifted,
    })
}

fn encode(c: Option<&Confirmation>) -> anyhow::Result<Option<String>> {
    c.map(serde_json::to_string)
        .transpose()
        .context("Failed to encode a freeze confirmation")
}

/// A stored confirmation; one that does not decode is an error, never "not confirmed".
fn decode_confirmation(r: &Row<'_>, column: &str) -> anyhow::Result<Option<Confirmation>> {
    r.get::<Option<String>>(column)?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .with_context(|| format!("freeze {column} does not decode"))
}
