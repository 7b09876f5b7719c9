//! A question only when the answer is ambiguous: "cancel my request" with one pending request
//! cancels it; with several, Warden asks which; with none, it says so.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use warden::domain::RequestState;
use warden::workflow::Handled;

on_both_databases!(
    cancel_without_an_id_acts_on_the_one_pending_request_and_asks_only_between_several,
);

async fn cancel_without_an_id_acts_on_the_one_pending_request_and_asks_only_between_several(
    db: TestDb,
) {
    let t = TestEngine::start(db, Setup::default()).await;
    let none = t.say("alice", "cancel my request").await;
    assert!(
        matches!(&none, Handled::Refused(m) if m.contains("can't find a matching request")),
        "{none:?}"
    );

    let prod = t
        .request("alice", "need read on the prod billing db for 2h, INC-4411")
        .await;
    assert_eq!(t.state(&prod).await, RequestState::PendingApproval);
    assert_eq!(
        t.say("alice", "cancel my pending request").await,
        Handled::Done
    );
    assert_eq!(
        t.state(&prod).await,
        RequestState::Cancelled,
        "{}",
        t.transcript()
    );

    let a = t
        .request("alice", "need read on the prod billing db for 2h, INC-4411")
        .await;
    let b = t
        .request("alice", "need read on k8s-prod for 1h, INC-4412")
        .await;
    let asked = t.say("alice", "cancel my request").await;
    assert!(
        matches!(&asked, Handled::Refused(m) if m.contains(&a) && m.contains(&b) && m.contains("Which one")),
        "{asked:?}"
    );
    assert_eq!(
        t.state(&a).await,
        RequestState::PendingApproval,
        "nothing cancelled on a question"
    );
    assert_eq!(t.state(&b).await, RequestState::PendingApproval);
}
