//! The durable inbox: a burst larger than the events handled at once drains as each event ends,
//! not at the next poll.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::{CHANNEL, Drive};
use crate::support::engine::{Setup, TestEngine};
use crate::support::wait::{PATIENCE, wait_until};
use tokio_util::sync::CancellationToken;
use warden::chat::console::ConsoleChat;
use warden::chat::{ChatEvent, EventKind};
use warden::workflow::{Queued, WorkflowOptions};

on_both_databases!(a_burst_larger_than_the_inbox_slots_drains_without_waiting_for_the_poll,);

/// Events handled at once in this test, and a burst of ten times as many.
const SLOTS: usize = 4;
const BURST: usize = 10 * SLOTS;

/// The inbox loop slept until its next poll whenever all its slots were busy, and nothing woke
/// it when one freed: a burst went one slot-full per poll (16 events per 500 ms), so 200 people
/// writing at once waited about 3 s for their cards with the model answering at once. With a
/// poll that never comes during the test, only the wake-ups can drain the burst.
async fn a_burst_larger_than_the_inbox_slots_drains_without_waiting_for_the_poll(db: TestDb) {
    let setup = Setup {
        options: WorkflowOptions {
            inbox_poll_ms: 3_600_000,
            inbox_slots: SLOTS,
            ..WorkflowOptions::default()
        },
        ..Setup::default()
    };
    let t = TestEngine::start(db, setup).await;
    for _ in 0..BURST {
        let id = t.ids().next();
        let event = ChatEvent {
            id: id.clone(),
            actor: ConsoleChat::user("alice"),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Message {
                text: "help".into(),
                message_id: id,
            },
        };
        t.engine.accept(Queued::Event(event)).await.unwrap();
    }
    assert_eq!(t.store.inbox_depth().await.unwrap(), BURST as i64);
    let stop = CancellationToken::new();
    let inbox = tokio::spawn(t.engine.clone().run_inbox(stop.clone()));
    wait_until(PATIENCE, "the burst to drain", || async {
        t.store.inbox_depth().await.unwrap() == 0
    })
    .await;
    stop.cancel();
    inbox.await.unwrap();
    let answers = t.console.transcript().len();
    assert!(
        answers >= BURST,
        "every event answered: {answers} answers to {BURST} events"
    );
}
