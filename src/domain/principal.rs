//! Who is asking: a verified platform account mapped to a directory person.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The chat platform an account or a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Slack,
    Discord,
    Console,
    /// A registered agent, through the agent API or the MCP server (no chat conversation).
    Agent,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Console => "console",
            Platform::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "slack" => Some(Platform::Slack),
            "discord" => Some(Platform::Discord),
            "console" => Some(Platform::Console),
            "agent" => Some(Platform::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account as the platform verified it: team/guild plus the immutable user id.
/// Never built from message text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlatformUser {
    pub platform: Platform,
    /// Slack team id, Discord guild id, or "local" for the console.
    pub workspace: String,
    /// Slack `U…` id, Discord snowflake, console user name.
    pub user_id: String,
}

impl PlatformUser {
    pub fn new(
        platform: Platform,
        workspace: impl Into<String>,
        user_id: impl Into<String>,
    ) -> Self {
        Self {
            platform,
            workspace: workspace.into(),
            user_id: user_id.into(),
        }
    }
}

impl fmt::Display for PlatformUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.platform, self.workspace, self.user_id)
    }
}

/// A person in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Stable directory id (SCIM `id`, or the key in the directory file).
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Directory id of the manager.
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<PlatformUser>,
    /// The person's subject (`sub`) at the single sign-on provider, bound by an admin: how an
    /// SSO sign-in finds them (`sso.match_by = "subject"`).
    #[serde(default)]
    pub sso_subject: Option<String>,
    /// The person's account on grant targets that keep accounts of their own, by target name
    /// (`okta`, `entra`, `github`, `aws`): an explicit id where email does not identify them.
    #[serde(default)]
    pub target_ids: std::collections::BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Person {
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The person's account on one platform and workspace, if linked.
    pub fn account_on(&self, platform: Platform, workspace: &str) -> Option<&PlatformUser> {
        self.accounts
            .iter()
            .find(|a| a.platform == platform && a.workspace == workspace)
    }

    pub fn first_account_on(&self, platform: Platform) -> Option<&PlatformUser> {
        self.accounts.iter().find(|a| a.platform == platform)
    }
}

/// The verified requester or actor: the account that spoke and the person it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub account: PlatformUser,
    pub person: Person,
}
