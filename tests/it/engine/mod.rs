//! The whole workflow in one engine, without the HTTP server, on real SQLite and PostgreSQL.

mod access;
mod ambiguity;
mod approvals;
mod bundles;
mod compensation;
mod crash;
mod evidence;
mod extensions;
mod inbox;
mod lifecycle;
mod limits;
mod policy_faults;
mod preexisting;
mod reasons;
mod recovery;
pub mod replay;
mod scheduler;

use crate::support::engine::Setup;
use std::sync::Arc;
use warden::policy::embedded::EmbeddedPolicy;

/// A policy that sends everything to group `sre` (carol, erin) for `count` approvals.
pub fn group_policy(count: u32) -> Setup {
    let rego = format!(
        r#"package access
decision := {{"outcome": "require_approval", "reasons": ["test policy"], "approvals": [{{"from": "group", "group": "sre", "count": {count}}}], "break_glass": false, "deny_reason_required": false}}"#
    );
    Setup {
        policy: Arc::new(EmbeddedPolicy::from_source("test.rego", &rego).unwrap()),
        ..Setup::default()
    }
}
