//! Admin sessions, held server-side so they can be ended: by signing out, or when the token
//! they were opened with is removed or rotated.

use super::Store;
use anyhow::Context;

/// A live or ended admin session, keyed by the hash of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub token_name: String,
    /// The token's stored hash when the session began.
    pub token_hash: String,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// Set for a session opened by single sign-on; `None` for a token session.
    pub sso: Option<SsoIdentity>,
}

/// Who an SSO session stands for, fixed at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    /// The provider's `sub`.
    pub subject: String,
    /// The directory person the subject mapped to.
    pub person: String,
    /// The role the groups claim gave (`admin` | `viewer`), parsed by the admin module.
    pub role: String,
    /// The provider's session id, when its ID token carried one.
    pub sid: Option<String>,
}

impl AdminSession {
    pub fn live_at(&self, now_ms: i64) -> bool {
        self.ended_at.is_none() && self.expires_at > now_ms
    }
}

impl Store {
    pub async fn open_admin_session(
        &self,
        sid_hash: &str,
        token_name: &str,
        token_hash: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO admin_sessions (sid_hash, token_name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(sid_hash)
            .bind(token_name)
            .bind(token_hash)
            .bind(now_ms)
            .bind(expires_at)
            .execute(self.write())
            .await
            .context("Failed to record the admin session")?;
        Ok(())
    }

    /// An SSO session; `principal_name` goes in `token_name` (no token hash: no token behind it).
    pub async fn open_sso_session(
        &self,
        sid_hash: &str,
        principal_name: &str,
        who: &SsoIdentity,
        now_ms: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO admin_sessions (sid_hash, token_name, token_hash, created_at, expires_at, sso_subject, sso_person, sso_role, sso_sid) VALUES ($1, $2, '', $3, $4, $5, $6, $7, $8)")
            .bind(sid_hash)
            .bind(principal_name)
            .bind(now_ms)
            .bind(expires_at)
            .bind(&who.subject)
            .bind(&who.person)
            .bind(&who.role)
            .bind(&who.sid)
            .execute(self.write())
            .await
            .context("Failed to record the SSO session")?;
        Ok(())
    }

    pub async fn admin_session(&self, sid_hash: &str) -> anyhow::Result<Option<AdminSession>> {
        self.read_opt("SELECT token_name, token_hash, expires_at, ended_at, sso_subject, sso_person, sso_role, sso_sid FROM admin_sessions WHERE sid_hash = $1", &[super::codec::Val::text(sid_hash)], |r| {
            Ok(AdminSession {
                token_name: r.get("token_name")?,
                token_hash: r.get("token_hash")?,
                expires_at: r.get("expires_at")?,
                ended_at: r.get("ended_at")?,
                sso: match (
                    r.get::<Option<String>>("sso_subject")?,
                    r.get::<Option<String>>("sso_person")?,
                    r.get::<Option<String>>("sso_role")?,
                ) {
                    (Some(subject), Some(person), Some(role)) => Some(SsoIdentity {
                        subject,
                        person,
                        role,
                        sid: r.get("sso_sid")?,
                    }),
                    (None, None, None) => None,
                    _ => anyhow::bail!("admin session {sid_hash} has a partial SSO identity"),
                },
            })
        })
        .await
        .context("Failed to read the admin session")
    }

    /// Ends the live SSO sessions of a provider session (`sid`), or of a subject when the
    /// provider names no session; returns how many ended.
    pub async fn end_sso_sessions(
        &self,
        subject: Option<&str>,
        sid: Option<&str>,
        now_ms: i64,
        reason: &str,
    ) -> anyhow::Result<u64> {
        let q = match (sid, subject) {
            (Some(sid), Some(sub)) => sqlx::query("UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE sso_sid = $3 AND sso_subject = $4 AND ended_at IS NULL")
                .bind(now_ms).bind(reason).bind(sid).bind(sub),
            (Some(sid), None) => sqlx::query("UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE sso_sid = $3 AND ended_at IS NULL")
                .bind(now_ms).bind(reason).bind(sid),
            (None, Some(sub)) => sqlx::query("UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE sso_subject = $3 AND ended_at IS NULL")
                .bind(now_ms).bind(reason).bind(sub),
            (None, None) => return Ok(0),
        };
        Ok(q.execute(self.write())
            .await
            .context("Failed to end SSO sessions")?
            .rows_affected())
    }

    /// Ends a session (once; the first reason stays).
    pub async fn end_admin_session(
        &self,
        sid_hash: &str,
        now_ms: i64,
        reason: &str,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE sid_hash = $3 AND ended_at IS NULL")
            .bind(now_ms)
            .bind(reason)
            .bind(sid_hash)
            .execute(self.write())
            .await
            .context("Failed to end the admin session")?;
        Ok(())
    }
}
