//! On-call engineers through the real server: a Slack DM, a signed Submit click, the shipped
//! policy deciding on the `oncall` fact from fake PagerDuty and Opsgenie servers or a file.

use super::{approval_asked, ask, expect_approval, recorded_oncall};
use crate::on_both_databases;
use crate::slack::app::TestApp;
use crate::support::TestDb;
use crate::support::fakes::opsgenie::{self, FakeOpsgenie};
use crate::support::fakes::pagerduty::{self, ACCEPT, FakePagerDuty};
use crate::support::fakes::saas::Fault;
use chrono::{Duration, Utc};
use secrecy::SecretString;
use serde_json::json;
use warden::config::{OnCallService, OnCallSourceKind, Settings};
use warden::domain::RequestState;

on_both_databases!(
    an_engineer_on_call_for_billing_gets_its_database_at_once_and_a_second_ask_reuses_the_answer,
    off_call_another_service_or_longer_than_the_on_call_maximum_goes_to_approval,
    a_pagerduty_outage_or_refused_key_is_not_on_call_and_the_request_goes_on,
    an_opsgenie_schedule_puts_its_on_call_engineer_through_at_once,
    a_schedule_file_says_who_is_on_call,
);

/// Within the on-call maximum (2h), high risk, service `billing`, with a ticket.
const BILLING_2H: &str = "need read on the prod billing db for 2h, INC-4411";

fn billing(schedules: &[&str]) -> Vec<OnCallService> {
    vec![OnCallService {
        name: "billing".into(),
        schedules: schedules.iter().map(|s| s.to_string()).collect(),
        escalation_policies: vec![],
    }]
}

fn with_pagerduty(s: &mut Settings, pd: &FakePagerDuty) {
    s.oncall.source = OnCallSourceKind::Pagerduty;
    s.oncall.api_url = Some(pd.url());
    s.oncall.api_key = Some(SecretString::from(pagerduty::API_KEY));
    s.oncall.services = billing(&["PBILLING"]);
}

/// PagerDuty with alice (PALICE) on call for billing now and dana (PDANA) on call for search.
async fn pagerduty() -> FakePagerDuty {
    let pd = FakePagerDuty::start().await;
    pd.user("PALICE", "Alice Ng", "alice@example.com");
    pd.user("PDANA", "Dana Scully", "dana@example.com");
    let (start, end) = (
        Utc::now() - Duration::hours(3),
        Utc::now() + Duration::hours(5),
    );
    pd.on_call("PALICE", "PBILLING", "PEPBILL", start, end);
    pd.on_call("PDANA", "PSEARCH", "PEPSEARCH", start, end);
    pd
}

async fn an_engineer_on_call_for_billing_gets_its_database_at_once_and_a_second_ask_reuses_the_answer(
    db: TestDb,
) {
    let pd = pagerduty().await;
    let app = TestApp::start_with(db, 0, |s| with_pagerduty(s, &pd)).await;
    let id = ask(&app, "U0ALICE", BILLING_2H).await;
    app.wait_state(&id, RequestState::Active).await;
    assert!(!approval_asked(&app, &id), "no approver is asked");
    assert_eq!(
        recorded_oncall(&app, &id).await,
        json!({"known": true, "on_call": true, "services": ["billing"], "source": "pagerduty"})
    );
    // The calls had PagerDuty's shape: the key, the v2 media type, the user and schedule
    // filters, and "now" as since and until.
    let calls = pd.common().calls();
    let users = calls
        .iter()
        .find(|c| c.uri.starts_with("/users"))
        .expect("user lookup");
    assert!(
        users.uri.contains("query=alice%40example.com"),
        "{}",
        users.uri
    );
    let oncalls: Vec<_> = calls
        .iter()
        .filter(|c| c.uri.starts_with("/oncalls"))
        .collect();
    assert_eq!(oncalls.len(), 1, "{calls:?}");
    let uri = &oncalls[0].uri;
    for part in [
        "user_ids%5B%5D=PALICE",
        "schedule_ids%5B%5D=PBILLING",
        "since=",
        "until=",
    ] {
        assert!(uri.contains(part), "{uri} lacks {part}");
    }
    assert!(calls.iter().all(|c| c.status == 200), "{calls:?}");
    assert!(calls.iter().all(
        |c| c.authorization.as_deref() == Some(&*format!("Token token={}", pagerduty::API_KEY))
    ));
    let _ = ACCEPT; // checked by the fake: a call without it is a 406 and fails the flow.

    // A second ask within the cache's lifetime: the policy sees the same answer, PagerDuty
    // is not asked again.
    let second = ask(&app, "U0ALICE", "need read on the billing repo for 1h").await;
    app.wait_state(&second, RequestState::Active).await;
    assert_eq!(recorded_oncall(&app, &second).await["on_call"], true);
    assert_eq!(pd.oncall_calls(), 1, "one provider call for both requests");
}

async fn off_call_another_service_or_longer_than_the_on_call_maximum_goes_to_approval(db: TestDb) {
    let pd = pagerduty().await;
    let app = TestApp::start_with(db, 0, |s| with_pagerduty(s, &pd)).await;
    // Carol has no PagerDuty user: known, not on call.
    let carol = ask(&app, "U0CAROL", BILLING_2H).await;
    // Dana is on call, but for search.
    let dana = ask(&app, "U0DANA", BILLING_2H).await;
    // Alice is on call for billing but asks for longer than the on-call maximum.
    let long = ask(
        &app,
        "U0ALICE",
        "need read on the prod billing db for 3h, INC-4411",
    )
    .await;
    for id in [&carol, &dana, &long] {
        app.wait_state(id, RequestState::PendingApproval).await;
        expect_approval(&app, id).await;
    }
    assert_eq!(
        recorded_oncall(&app, &carol).await,
        json!({"known": true, "on_call": false, "services": [], "source": "pagerduty"})
    );
    let dana_oncall = recorded_oncall(&app, &dana).await;
    assert_eq!(
        dana_oncall["on_call"], false,
        "search is not one of the configured services"
    );
    assert_eq!(
        recorded_oncall(&app, &long).await["services"],
        json!(["billing"])
    );
}

async fn a_pagerduty_outage_or_refused_key_is_not_on_call_and_the_request_goes_on(db: TestDb) {
    let logs = crate::support::logs::global();
    let pd = pagerduty().await;
    pd.fault(Fault::on(
        None,
        "/oncalls",
        500,
        pagerduty::error(2000, "Internal Server Error"),
    ));
    let app = TestApp::start_with(db, 0, |s| with_pagerduty(s, &pd)).await;
    let outage = ask(&app, "U0ALICE", BILLING_2H).await;
    app.wait_state(&outage, RequestState::PendingApproval).await;
    expect_approval(&app, &outage).await;
    assert_eq!(
        recorded_oncall(&app, &outage).await,
        json!({"known": false, "on_call": false, "services": [], "source": "pagerduty"})
    );
    // A refused key (the user lookup is the first call): the same, for another person.
    pd.fault(Fault::on(
        None,
        "/users",
        401,
        pagerduty::error(2006, "Invalid Credentials"),
    ));
    pd.user("PGINA", "Gina Torres", "gina@example.com");
    let refused = ask(&app, "U0GINA", BILLING_2H).await;
    app.wait_state(&refused, RequestState::PendingApproval)
        .await;
    assert_eq!(recorded_oncall(&app, &refused).await["known"], false);
    let text = logs.text();
    let warned = |what: &str| {
        text.lines().any(|l| {
            l.contains("WARN")
                && l.contains("treated as not on call")
                && l.contains(what)
                && !l.contains(pagerduty::API_KEY)
        })
    };
    assert!(warned("HTTP 500"), "{text}");
    assert!(warned("HTTP 401"), "{text}");
    // A failure is held briefly: alice asking again right away does not hammer PagerDuty.
    let again = ask(&app, "U0ALICE", BILLING_2H).await;
    app.wait_state(&again, RequestState::PendingApproval).await;
    assert_eq!(pd.oncall_calls(), 1);
}

async fn an_opsgenie_schedule_puts_its_on_call_engineer_through_at_once(db: TestDb) {
    let og = FakeOpsgenie::start().await;
    og.schedule("d875e654-9b4e-4219-a803-0c2f4d3b1d6f", "billing primary");
    let (start, end) = (
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    og.on_call("billing primary", "alice@example.com", start, end);
    let app = TestApp::start_with(db, 0, |s| {
        s.oncall.source = OnCallSourceKind::Opsgenie;
        s.oncall.api_url = Some(og.url());
        s.oncall.api_key = Some(SecretString::from(opsgenie::API_KEY));
        s.oncall.services = billing(&["billing primary"]);
    })
    .await;
    let alice = ask(&app, "U0ALICE", BILLING_2H).await;
    app.wait_state(&alice, RequestState::Active).await;
    assert!(!approval_asked(&app, &alice));
    assert_eq!(
        recorded_oncall(&app, &alice).await,
        json!({"known": true, "on_call": true, "services": ["billing"], "source": "opsgenie"})
    );
    let carol = ask(&app, "U0CAROL", BILLING_2H).await;
    app.wait_state(&carol, RequestState::PendingApproval).await;
    let calls = og.common().calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for c in &calls {
        assert!(
            c.uri.starts_with("/v2/schedules/billing%20primary/on-calls?scheduleIdentifierType=name&flat=true&date="),
            "{}",
            c.uri
        );
        assert_eq!(
            c.authorization.as_deref(),
            Some(&*format!("GenieKey {}", opsgenie::API_KEY))
        );
        assert_eq!(c.status, 200);
    }
}

async fn a_schedule_file_says_who_is_on_call(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oncall.toml");
    let now = Utc::now();
    std::fs::write(
        &path,
        format!(
            "[[shift]]\nservice = \"billing\"\nperson = \"alice\"\nstart = \"{}\"\nend = \"{}\"\n\n\
             [[shift]]\nservice = \"billing\"\nperson = \"carol@example.com\"\nstart = \"{}\"\nend = \"{}\"\n",
            (now - Duration::hours(1)).to_rfc3339(),
            (now + Duration::hours(1)).to_rfc3339(),
            (now + Duration::hours(1)).to_rfc3339(),
            (now + Duration::hours(9)).to_rfc3339(),
        ),
    )
    .unwrap();
    let app = TestApp::start_with(db, 0, |s| {
        s.oncall.source = OnCallSourceKind::File;
        s.oncall.file = Some(path.clone());
    })
    .await;
    let alice = ask(&app, "U0ALICE", BILLING_2H).await;
    app.wait_state(&alice, RequestState::Active).await;
    assert_eq!(
        recorded_oncall(&app, &alice).await,
        json!({"known": true, "on_call": true, "services": ["billing"], "source": "file"})
    );
    // Carol's shift has not started yet.
    let carol = ask(&app, "U0CAROL", BILLING_2H).await;
    app.wait_state(&carol, RequestState::PendingApproval).await;
    assert_eq!(recorded_oncall(&app, &carol).await["on_call"], false);
}
