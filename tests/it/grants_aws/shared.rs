//! Two active grants of the same Identity Center account assignment (two resources mapping to
//! one account and permission set), through the engine against the fake AWS: the assignment
//! ends when the last Warden grant holding it ends, never earlier, and exactly once.

use super::{ALICE, grantor};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::aws::{self, FakeAws};
use crate::support::overlap;
use std::sync::Arc;
use warden::domain::Catalog;

on_both_databases!(
    revoking_the_first_aws_grant_early_leaves_the_assignment_to_the_second_until_it_ends,
);

/// Two resources whose grants are the one assignment of the fake's account and permission set.
fn shared_catalog() -> Catalog {
    let toml = crate::support::catalogs::sharing_one_access(
        [
            ("aws-sandbox", "AWS sandbox"),
            ("aws-billing", "AWS billing"),
        ],
        &format!(
            r#"{{ backend = "aws_identity_center", account_id = "{}", permission_set_arn = "{}" }}"#,
            aws::ACCOUNT,
            aws::PERMISSION_SET
        ),
        "max_duration = \"1d\"",
    );
    Catalog::from_toml(&toml).expect("test catalog parses")
}

async fn revoking_the_first_aws_grant_early_leaves_the_assignment_to_the_second_until_it_ends(
    db: TestDb,
) {
    let fake = FakeAws::start().await;
    fake.user("alice@example.com", ALICE);
    let t = TestEngine::start(
        db,
        Setup {
            catalog: Arc::new(shared_catalog()),
            grantors: vec![Arc::new(grantor(&fake))],
            ..Setup::default()
        },
    )
    .await;
    overlap::first_revoked_early_then_second_expires(
        &t,
        [
            "need read on the aws sandbox for 1h",
            "need read on the aws billing for 2h",
        ],
        || fake.holds(ALICE),
        || fake.count("DeleteAccountAssignment"),
    )
    .await;
}
