//! The PagerDuty and Opsgenie clients and the cache on their own, against the fakes: paging,
//! escalation policies, people the provider does not know, rate limits and the one-call burst.

use crate::support::fakes::opsgenie::{self, FakeOpsgenie};
use crate::support::fakes::pagerduty::{self, FakePagerDuty};
use crate::support::fakes::saas::Fault;
use chrono::{Duration, Utc};
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::sync::Arc;
use warden::config::OnCallService;
use warden::domain::Person;
use warden::oncall::opsgenie::Opsgenie;
use warden::oncall::pagerduty::PagerDuty;
use warden::oncall::{Answer, CachedOnCall, OnCallError, OnCallSource};

fn person(id: &str, email: &str) -> Person {
    toml::from_str(&format!(
        "id = \"{id}\"\ndisplay_name = \"{id}\"\nemail = \"{email}\""
    ))
    .unwrap()
}

fn http() -> reqwest::Client {
    warden::app::install_crypto();
    warden::http_client::client(warden::http_client::HttpOptions::new(
        std::time::Duration::from_secs(5),
    ))
    .unwrap()
}

fn service(name: &str, schedules: &[&str], policies: &[&str]) -> OnCallService {
    OnCallService {
        name: name.into(),
        schedules: schedules.iter().map(|s| s.to_string()).collect(),
        escalation_policies: policies.iter().map(|s| s.to_string()).collect(),
    }
}

fn pd_client(pd: &FakePagerDuty, key: &str, services: Vec<OnCallService>) -> PagerDuty {
    PagerDuty::new(http(), &pd.url(), SecretString::from(key), services).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn pagerduty_pages_through_on_calls_and_matches_schedules_and_escalation_policies() {
    let pd = FakePagerDuty::start().await;
    pd.user("PALICE", "Alice Ng", "alice@example.com");
    // Another user whose email merely starts the same way is not alice.
    pd.user("PALICE2", "Alice Ngo", "alice@example.com.au");
    let (start, end) = (
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    for s in ["PONE", "PTWO", "PTHREE"] {
        pd.on_call("PALICE", s, "PEPOTHER", start, end);
    }
    pd.on_call("PALICE", "PUNLISTED", "PEPPAY", start, end);
    // A past shift on the billing schedule does not count.
    pd.on_call(
        "PALICE",
        "PBILLING",
        "PEPBILL",
        start - Duration::days(2),
        start - Duration::days(1),
    );
    pd.page_cap(1);
    let client = pd_client(
        &pd,
        pagerduty::API_KEY,
        vec![
            service("billing", &["PBILLING"], &[]),
            service("search", &["PONE", "PTWO", "PTHREE"], &[]),
            service("payments", &[], &["PEPPAY"]),
        ],
    );
    let alice = person("alice", "Alice@Example.com");
    let found = client.services(&alice, Utc::now()).await.unwrap();
    assert_eq!(found, set(&["payments", "search"]));
    // Three pages for the schedules (one entry each), one for the escalation policy.
    assert_eq!(pd.oncall_calls(), 4, "{:?}", pd.common().calls());
    // The user id is remembered: the next lookup goes straight to /oncalls.
    client.services(&alice, Utc::now()).await.unwrap();
    let lookups = pd
        .common()
        .calls()
        .iter()
        .filter(|c| c.uri.starts_with("/users"))
        .count();
    assert_eq!(lookups, 1);
}

#[tokio::test]
async fn a_person_pagerduty_does_not_know_is_not_on_call_and_an_explicit_id_wins() {
    let pd = FakePagerDuty::start().await;
    let (start, end) = (
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    pd.on_call("PXERIN", "PBILLING", "PEP", start, end);
    let client = pd_client(
        &pd,
        pagerduty::API_KEY,
        vec![service("billing", &["PBILLING"], &[])],
    );
    let nobody = client
        .services(&person("zed", "zed@example.com"), Utc::now())
        .await;
    assert_eq!(nobody, Ok(BTreeSet::new()));
    assert_eq!(pd.oncall_calls(), 0, "no user, no on-call query");
    let mut erin = person("erin", "erin@example.com");
    erin.target_ids.insert("pagerduty".into(), "PXERIN".into());
    assert_eq!(
        client.services(&erin, Utc::now()).await,
        Ok(set(&["billing"]))
    );
}

#[tokio::test]
async fn pagerduty_errors_are_typed_and_a_rate_limit_is_honoured_by_the_cache() {
    let pd = FakePagerDuty::start().await;
    pd.user("PALICE", "Alice Ng", "alice@example.com");
    let alice = person("alice", "alice@example.com");
    let wrong = pd_client(
        &pd,
        "not-the-key",
        vec![service("billing", &["PBILLING"], &[])],
    );
    let err = wrong.services(&alice, Utc::now()).await.unwrap_err();
    assert!(
        matches!(err, OnCallError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Invalid Credentials"), "{err}");
    assert!(!err.to_string().contains("not-the-key"));

    let client = Arc::new(pd_client(
        &pd,
        pagerduty::API_KEY,
        vec![service("billing", &["PBILLING"], &[])],
    ));
    pd.fault(
        Fault::on(
            None,
            "/oncalls",
            429,
            pagerduty::error(2020, "Rate Limit Exceeded"),
        )
        .header("retry-after", "120"),
    );
    let cache = CachedOnCall::new(client, std::time::Duration::from_secs(300));
    let now = Utc::now();
    assert_eq!(cache.answer(&alice, now).await, Answer::Unknown);
    // Inside the Retry-After: not asked again, still unknown.
    assert_eq!(
        cache.answer(&alice, now + Duration::seconds(100)).await,
        Answer::Unknown
    );
    assert_eq!(pd.oncall_calls(), 1);
    // After it: asked again, and answered.
    assert_eq!(
        cache.answer(&alice, now + Duration::seconds(121)).await,
        Answer::Known(BTreeSet::new())
    );
    assert_eq!(pd.oncall_calls(), 2);
}

#[tokio::test]
async fn a_burst_of_lookups_for_one_person_makes_one_call_until_the_ttl_runs_out() {
    let pd = FakePagerDuty::start().await;
    pd.user("PALICE", "Alice Ng", "alice@example.com");
    let (start, end) = (
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    pd.on_call("PALICE", "PBILLING", "PEP", start, end);
    let client = Arc::new(pd_client(
        &pd,
        pagerduty::API_KEY,
        vec![service("billing", &["PBILLING"], &[])],
    ));
    let cache = Arc::new(CachedOnCall::new(
        client,
        std::time::Duration::from_secs(60),
    ));
    let alice = person("alice", "alice@example.com");
    let now = Utc::now();
    let burst: Vec<_> = (0..8)
        .map(|_| {
            let (cache, alice) = (cache.clone(), alice.clone());
            tokio::spawn(async move { cache.answer(&alice, now).await })
        })
        .collect();
    for answer in burst {
        assert_eq!(answer.await.unwrap(), Answer::Known(set(&["billing"])));
    }
    assert_eq!(pd.oncall_calls(), 1, "eight concurrent lookups, one call");
    cache.answer(&alice, now + Duration::seconds(59)).await;
    assert_eq!(pd.oncall_calls(), 1);
    cache.answer(&alice, now + Duration::seconds(61)).await;
    assert_eq!(pd.oncall_calls(), 2, "asked again once the answer is stale");
}

#[tokio::test]
async fn opsgenie_asks_each_schedule_by_id_or_name_and_maps_its_errors() {
    let og = FakeOpsgenie::start().await;
    let id = "d875e654-9b4e-4219-a803-0c2f4d3b1d6f";
    og.schedule(id, "billing primary");
    og.schedule("7a9c2f1e-0000-4000-8000-000000000001", "search/primary");
    let (start, end) = (
        Utc::now() - Duration::hours(1),
        Utc::now() + Duration::hours(1),
    );
    og.on_call(id, "ALICE@example.com", start, end);
    og.on_call("search/primary", "bob@example.com", start, end);
    let client = |key: &str| {
        Opsgenie::new(
            http(),
            &og.url(),
            SecretString::from(key),
            vec![
                service("billing", &[id], &[]),
                service("search", &["search/primary"], &[]),
            ],
        )
        .unwrap()
    };
    let ok = client(opsgenie::API_KEY);
    let alice = person("alice", "alice@example.com");
    assert_eq!(ok.services(&alice, Utc::now()).await, Ok(set(&["billing"])));
    let uris: Vec<String> = og.common().calls().iter().map(|c| c.uri.clone()).collect();
    assert!(
        uris[0].starts_with(&format!(
            "/v2/schedules/{id}/on-calls?scheduleIdentifierType=id&flat=true&date="
        )),
        "{uris:?}"
    );
    assert!(
        uris[1].starts_with(
            "/v2/schedules/search%2Fprimary/on-calls?scheduleIdentifierType=name&flat=true"
        ),
        "{uris:?}"
    );
    // The username in the directory wins over the email.
    let mut robert = person("robert", "robert@example.com");
    robert
        .target_ids
        .insert("opsgenie".into(), "bob@example.com".into());
    assert_eq!(ok.services(&robert, Utc::now()).await, Ok(set(&["search"])));

    let err = client("wrong")
        .services(&alice, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OnCallError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Could not authenticate"), "{err}");
    og.fault(Fault::on(
        None,
        "/v2/schedules/",
        503,
        opsgenie::error("Service Unavailable"),
    ));
    let err = ok.services(&alice, Utc::now()).await.unwrap_err();
    assert!(
        matches!(err, OnCallError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    og.fault(
        Fault::on(
            None,
            "/v2/schedules/",
            429,
            opsgenie::error("Too many requests"),
        )
        .header("retry-after", "7"),
    );
    let err = ok.services(&alice, Utc::now()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));
}
