//! Per-person limits: open requests (counted in the database, across instances), model calls per
//! hour, messages per request thread, input length and thread turns. Over a limit: a short
//! answer, no model call, nothing changed, and a counter in `/metrics`.

use crate::llm::app::settings as llm_settings;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::llm::{FakeModel, Reply, completion, intent};
use serde_json::json;
use std::sync::Arc;
use warden::chat::CardAction;
use warden::config::LimitsSettings;
use warden::domain::RequestState;
use warden::intake::llm::LlmIntake;
use warden::metrics::Metrics;
use warden::workflow::{Handled, WorkflowOptions};

on_both_databases!(
    a_message_over_the_length_limit_is_refused_before_the_model,
    open_requests_are_counted_in_the_database_across_instances,
    model_calls_are_limited_per_person_per_hour,
    exact_commands_read_without_the_model_spend_no_model_budget,
    a_request_thread_reads_a_bounded_number_of_messages_and_turns,
);

/// An engine whose intake is the fake model, with these limits.
async fn with_model(db: TestDb, limits: LimitsSettings) -> (TestEngine, FakeModel) {
    warden::app::install_crypto();
    let fake = FakeModel::start().await;
    let metrics = Arc::new(Metrics::default());
    let intake = LlmIntake::from_settings(&llm_settings(&fake), metrics.clone()).unwrap();
    let setup = Setup {
        intake: Arc::new(intake),
        metrics,
        options: WorkflowOptions {
            limits,
            ..WorkflowOptions::default()
        },
        ..Setup::default()
    };
    (TestEngine::start(db, setup).await, fake)
}

fn with_parser(limits: LimitsSettings) -> Setup {
    Setup {
        options: WorkflowOptions {
            limits,
            ..WorkflowOptions::default()
        },
        ..Setup::default()
    }
}

/// The model's answer for "edit on the wiki for 2h".
fn wiki_answer() -> Reply {
    Reply::ok(completion(&intent(
        json!({ "resource": "wiki", "role": "edit", "duration": "2h", "justification": "docs" }),
    )))
}

fn refusals(t: &TestEngine, limit: &str) -> u64 {
    t.engine
        .metrics()
        .counter("warden_limit_refusals_total", &format!("limit=\"{limit}\""))
}

fn refused(h: &Handled, words: &str) -> bool {
    matches!(h, Handled::Refused(m) if m.contains(words))
}

async fn a_message_over_the_length_limit_is_refused_before_the_model(db: TestDb) {
    // The default limits: a pasted log of 5,000 characters is over them.
    let (t, fake) = with_model(db, LimitsSettings::default()).await;
    let long = format!("need edit on the wiki for 2h {}", "x".repeat(5_000));
    let h = t.say("alice", &long).await;
    assert!(refused(&h, "characters"), "{h:?}");
    assert!(fake.calls().is_empty(), "no model call");
    assert!(
        t.store
            .list_requests(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(refusals(&t, "input_chars"), 1);
    assert!(
        t.engine
            .metrics()
            .render(&[])
            .contains("warden_limit_refusals_total{limit=\"input_chars\"} 1")
    );
}

async fn open_requests_are_counted_in_the_database_across_instances(db: TestDb) {
    let limits = LimitsSettings {
        open_requests_per_person: 2,
        ..LimitsSettings::default()
    };
    let a = TestEngine::start(db, with_parser(limits.clone())).await;
    let b = a.restart(with_parser(limits)).await;
    a.say("alice", "need edit on the wiki for 2h").await;
    b.say("alice", "need read on the wiki for 1h").await;
    let third = a.say("alice", "need edit on the wiki for 3h").await;
    assert!(refused(&third, "open requests"), "{third:?}");
    assert_eq!(refusals(&a, "open_requests"), 1);
    // At the limit, words that open nothing still work.
    let status = a.say("alice", "status").await;
    assert_eq!(status, Handled::Done, "{}", a.console.text());
    // Someone else is not limited by Alice's requests.
    assert_eq!(
        b.say("bob", "need edit on the wiki for 2h").await,
        Handled::Done
    );
    // Closing one frees a place, on any instance.
    let open = a.latest("alice").await;
    a.click("alice", CardAction::Cancel, &open).await;
    assert_eq!(a.state(&open).await, RequestState::Cancelled);
    assert_eq!(
        b.say("alice", "need edit on the wiki for 3h").await,
        Handled::Done,
        "{}",
        b.console.text()
    );
}

async fn model_calls_are_limited_per_person_per_hour(db: TestDb) {
    let limits = LimitsSettings {
        model_calls_per_person_per_hour: 2,
        ..LimitsSettings::default()
    };
    let (t, fake) = with_model(db, limits).await;
    for _ in 0..3 {
        fake.push(wiki_answer());
    }
    assert_eq!(t.say("alice", "wiki edit 2h please").await, Handled::Done);
    assert_eq!(t.say("alice", "wiki edit 2h again").await, Handled::Done);
    let third = t.say("alice", "wiki edit 2h once more").await;
    assert!(refused(&third, "last hour"), "{third:?}");
    assert_eq!(fake.calls().len(), 2, "no model call over the limit");
    assert_eq!(refusals(&t, "model_calls"), 1);
    // An hour later Alice may ask again.
    t.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(t.say("alice", "wiki edit 2h now").await, Handled::Done);
    assert_eq!(fake.calls().len(), 3);
}

async fn exact_commands_read_without_the_model_spend_no_model_budget(db: TestDb) {
    let limits = LimitsSettings {
        model_calls_per_person_per_hour: 1,
        ..LimitsSettings::default()
    };
    let (t, fake) = with_model(db, limits).await;
    fake.push(wiki_answer());
    // Exact commands are the parser's: no model call, and so nothing taken from the budget.
    for _ in 0..3 {
        assert_eq!(t.say("alice", "status").await, Handled::Done);
    }
    assert_eq!(
        t.say("alice", "/access request wiki edit for 2h because docs")
            .await,
        Handled::Done
    );
    assert!(fake.calls().is_empty(), "no model call for exact commands");
    assert_eq!(refusals(&t, "model_calls"), 0);
    // The budget is whole: free words still reach the model once.
    assert_eq!(t.say("alice", "wiki edit 2h please").await, Handled::Done);
    assert_eq!(fake.calls().len(), 1);
    // Spent now, free words are refused, but an exact command still works.
    let over = t.say("alice", "wiki edit 2h again").await;
    assert!(refused(&over, "last hour"), "{over:?}");
    assert_eq!(t.say("alice", "status").await, Handled::Done);
    assert_eq!(fake.calls().len(), 1);
}

async fn a_request_thread_reads_a_bounded_number_of_messages_and_turns(db: TestDb) {
    let limits = LimitsSettings {
        messages_per_request_thread: 3,
        ..LimitsSettings::default()
    };
    let t = TestEngine::start(db, with_parser(limits)).await;
    t.say("alice", "need edit on the wiki for 2h").await;
    let id = t.latest("alice").await;
    assert_eq!(t.reply("alice", &id, "make it 1h").await, Handled::Done);
    // Someone else's message in the thread counts too: it is logged as context.
    assert_eq!(t.reply("bob", &id, "fyi").await, Handled::Done);
    let entries = t.store.log_entries(&id).await.unwrap().len();
    let over = t.reply("alice", &id, "make it 3h").await;
    assert!(refused(&over, "messages"), "{over:?}");
    assert_eq!(refusals(&t, "thread_messages"), 1);
    // Nothing changed: the draft stands as it was, nothing was added to its log.
    let row = t.row(&id).await;
    assert_eq!(row.state, RequestState::AwaitingConfirmation);
    assert_eq!(row.duration_secs(), Some(3600));
    assert_eq!(t.store.log_entries(&id).await.unwrap().len(), entries);

    // Turns: the thread the intake would read (the requester's words and Warden's answers).
    let limits = LimitsSettings {
        max_thread_turns: 1,
        ..LimitsSettings::default()
    };
    let u = t.restart(with_parser(limits)).await;
    u.say("carol", "need edit on the wiki for 2h").await;
    let id = u.latest("carol").await;
    let over = u.reply("carol", &id, "make it 1h").await;
    assert!(refused(&over, "turns"), "{over:?}");
    assert_eq!(u.row(&id).await.duration_secs(), Some(7200));
    assert_eq!(refusals(&u, "thread_turns"), 1);
}
