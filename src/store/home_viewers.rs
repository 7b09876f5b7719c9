//! Who opened Warden's Home tab: the only people whose homes are republished after a change.

use super::Store;
use super::codec::Val;
use crate::domain::{Platform, PlatformUser};
use anyhow::Context;

/// A platform account with a Home tab, and the directory person it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeViewer {
    pub person: String,
    pub account: PlatformUser,
}

impl Store {
    /// Notes that `account` (mapped to `person`) opened its Home tab; a later open only moves
    /// the time and the mapping.
    pub async fn record_home_viewer(
        &self,
        account: &PlatformUser,
        person: &str,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO home_viewers (platform, workspace, user_id, person, opened_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform, workspace, user_id) DO UPDATE SET person = excluded.person, opened_at = excluded.opened_at")
            .bind(account.platform.as_str())
            .bind(&account.workspace)
            .bind(&account.user_id)
            .bind(person)
            .bind(now_ms)
            .execute(self.write())
            .await
            .context("Failed to record a Home tab viewer")?;
        Ok(())
    }

    /// The Home tab accounts of these people (none for people who never opened it).
    pub async fn home_viewers(&self, people: &[String]) -> anyhow::Result<Vec<HomeViewer>> {
        if people.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (1..=people.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT platform, workspace, user_id, person FROM home_viewers WHERE person IN ({}) ORDER BY person, user_id",
            marks.join(", ")
        );
        let vals: Vec<Val> = people.iter().map(|p| Val::text(p.as_str())).collect();
        self.read(&sql, &vals, |r| {
            let platform: String = r.get("platform")?;
            Ok(HomeViewer {
                person: r.get("person")?,
                account: PlatformUser::new(
                    Platform::parse(&platform).with_context(|| {
                        format!("Home viewer with unknown platform '{platform}'")
                    })?,
                    r.get::<String>("workspace")?,
                    r.get::<String>("user_id")?,
                ),
            })
        })
        .await
        .context("Failed to list Home tab viewers")
    }
}
