//! Passkeys per directory person, and registrations begun but not yet finished (taken once).

use super::Store;
use super::codec::Val;
use anyhow::Context;
use serde::Serialize;
use sqlx::Row;

/// A stored credential as the verifier needs it; the key material stays encoded here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// base64url of the WebAuthn credential id.
    pub credential_id: String,
    pub person: String,
    /// base64url of the encoded static state (public key, extensions).
    pub static_state: String,
    /// base64url of the encoded dynamic state (signature counter, flags).
    pub dynamic_state: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What lists show of a passkey: never its key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasskeyListing {
    pub credential_id: String,
    pub person: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The kinds of ceremony a person can have open, one of each at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Assertion,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Assertion => "assertion",
        }
    }
}

impl Store {
    /// The person's WebAuthn user handle, made from `fresh` the first time it is asked for.
    pub async fn passkey_user_handle(&self, person: &str, fresh: &str) -> anyhow::Result<String> {
        sqlx::query("INSERT INTO passkey_users (person, user_handle) VALUES ($1, $2) ON CONFLICT (person) DO NOTHING")
            .bind(person)
            .bind(fresh)
            .execute(self.write())
            .await
            .context("Failed to record the passkey user handle")?;
        sqlx::query_scalar::<_, String>("SELECT user_handle FROM passkey_users WHERE person = $1")
            .bind(person)
            .fetch_one(self.write())
            .await
            .context("Failed to read the passkey user handle")
    }

    /// The person's WebAuthn user handle, if they ever began a registration.
    pub async fn existing_passkey_user_handle(
        &self,
        person: &str,
    ) -> anyhow::Result<Option<String>> {
        self.read_opt(
            "SELECT user_handle FROM passkey_users WHERE person = $1",
            &[Val::text(person)],
            |r| r.get("user_handle"),
        )
        .await
        .context("Failed to read the passkey user handle")
    }

    /// Opens a ceremony for the person, replacing any earlier one of the same kind.
    pub async fn begin_passkey_ceremony(
        &self,
        person: &str,
        kind: CeremonyKind,
        state: &str,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO passkey_ceremonies (person, kind, state, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (person, kind) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at")
            .bind(person)
            .bind(kind.as_str())
            .bind(state)
            .bind(expires_at)
            .execute(self.write())
            .await
            .context("Failed to record the passkey ceremony")?;
        Ok(())
    }

    /// Takes the person's open ceremony once; an expired one is removed and not returned.
    pub async fn take_passkey_ceremony(
        &self,
        person: &str,
        kind: CeremonyKind,
        now_ms: i64,
    ) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("DELETE FROM passkey_ceremonies WHERE person = $1 AND kind = $2 RETURNING state, expires_at")
            .bind(person)
            .bind(kind.as_str())
            .fetch_optional(self.write())
            .await
            .context("Failed to take the passkey ceremony")?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get("expires_at")?;
        Ok((expires_at > now_ms)
            .then(|| row.try_get::<String, _>("state"))
            .transpose()?)
    }

    /// Stores a newly registered passkey; `false` when its credential id is already stored
    /// (for anyone), which registration must refuse.
    pub async fn add_passkey(&self, p: &StoredPasskey) -> anyhow::Result<bool> {
        let added = sqlx::query("INSERT INTO passkeys (credential_id, person, static_state, dynamic_state, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING")
            .bind(&p.credential_id)
            .bind(&p.person)
            .bind(&p.static_state)
            .bind(&p.dynamic_state)
            .bind(p.created_at)
            .execute(self.write())
            .await
            .context("Failed to store the passkey")?
            .rows_affected();
        Ok(added == 1)
    }

    pub async fn passkey(&self, credential_id: &str) -> anyhow::Result<Option<StoredPasskey>> {
        self.read_opt("SELECT credential_id, person, static_state, dynamic_state, created_at, last_used_at FROM passkeys WHERE credential_id = $1", &[Val::text(credential_id)], |r| {
            Ok(StoredPasskey {
                credential_id: r.get("credential_id")?,
                person: r.get("person")?,
                static_state: r.get("static_state")?,
                dynamic_state: r.get("dynamic_state")?,
                created_at: r.get("created_at")?,
                last_used_at: r.get("last_used_at")?,
            })
        })
        .await
        .context("Failed to read the passkey")
    }

    /// Passkeys of one person, or of everyone, newest first.
    pub async fn list_passkeys(&self, person: Option<&str>) -> anyhow::Result<Vec<PasskeyListing>> {
        const COLS: &str = "SELECT credential_id, person, created_at, last_used_at FROM passkeys";
        const ORDER: &str = "ORDER BY created_at DESC, credential_id LIMIT 1000";
        let (sql, vals) = match person {
            Some(p) => (
                format!("{COLS} WHERE person = $1 {ORDER}"),
                vec![Val::text(p)],
            ),
            None => (format!("{COLS} {ORDER}"), vec![]),
        };
        self.read(&sql, &vals, |r| {
            Ok(PasskeyListing {
                credential_id: r.get("credential_id")?,
                person: r.get("person")?,
                created_at: r.get("created_at")?,
                last_used_at: r.get("last_used_at")?,
            })
        })
        .await
        .context("Failed to list passkeys")
    }

    /// Records a verified use: the new signature counter and flags, and when.
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        dynamic_state: &str,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE passkeys SET dynamic_state = $1, last_used_at = $2 WHERE credential_id = $3",
        )
        .bind(dynamic_state)
        .bind(now_ms)
        .bind(credential_id)
        .execute(self.write())
        .await
        .context("Failed to record the passkey's use")?;
        Ok(())
    }

    /// Removes a passkey; `false` when there was none with that id.
    pub async fn remove_passkey(&self, credential_id: &str) -> anyhow::Result<bool> {
        let gone = sqlx::query("DELETE FROM passkeys WHERE credential_id = $1")
            .bind(credential_id)
            .execute(self.write())
            .await
            .context("Failed to remove the passkey")?
            .rows_affected();
        Ok(gone == 1)
    }
}
