//! The admin UI in real headless Chromium: sign in, filter, open a timeline, see a tampered
//! entry flagged, revoke a grant. Saves a screenshot of the timeline.

use super::app::TestApp;
use super::webdriver::{Driver, available};
use crate::support::console::Drive;
use warden::domain::RequestState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reviews_and_revokes_in_a_real_browser() {
    if !available() {
        return;
    }
    let app = TestApp::spawn().await;
    let s = app.seed().await;
    let b = Driver::start().await;

    // Sign in with a token.
    b.goto(&format!("{}/admin/requests", app.base)).await;
    assert!(
        b.url().await.ends_with("/admin/sign-in"),
        "unsigned visitors land on the sign-in page"
    );
    b.type_into("#token", &app.tokens.admin).await;
    b.click("#sign-in").await;
    assert!(
        b.url().await.ends_with("/admin/requests"),
        "{}",
        b.url().await
    );
    let list = b.text("#request-list").await;
    assert!(
        list.contains(&s.wiki) && list.contains(&s.prod) && list.contains(&s.denied),
        "{list}"
    );

    // Filter the list.
    b.type_into("input[name=resource]", "prod-billing-db").await;
    b.click("#apply-filters").await;
    let filtered = b.text("#request-list").await;
    assert!(
        filtered.contains(&s.prod) && !filtered.contains(&s.wiki),
        "{filtered}"
    );
    assert!(b.url().await.contains("resource=prod-billing-db"));

    // Open the request: the timeline with the policy decision and the approval.
    b.click(&format!("a[href='/admin/requests/{}']", s.prod))
        .await;
    assert_eq!(
        b.text("#chain-status").await.split(" (").next().unwrap(),
        "Hash chain intact"
    );
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("Policy decision: REQUIRE_APPROVAL (decision id"),
        "{timeline}"
    );
    assert!(timeline.contains("APPROVED by dana"), "{timeline}");
    assert!(
        timeline.contains("Grant call to the backend: ok"),
        "{timeline}"
    );
    save_screenshot("timeline.png", &b.screenshot().await);

    // A tampered entry of another request is flagged where it broke.
    app.tamper(&s.wiki, 2).await;
    b.goto(&format!("{}/admin/requests/{}", app.base, s.wiki))
        .await;
    assert!(
        b.text("#chain-status")
            .await
            .starts_with("Hash chain BROKEN at entry 2")
    );
    assert_eq!(b.count("#entry-2.broken").await, 1);
    assert_eq!(
        b.count(".entry.broken").await,
        1,
        "only the broken entry is highlighted"
    );
    save_screenshot("timeline-tampered.png", &b.screenshot().await);

    // Revoke now, and see it revoked.
    b.goto(&format!("{}/admin/requests/{}", app.base, s.prod))
        .await;
    b.click("#revoke-now").await;
    assert_eq!(b.text("#grant-status").await, "revoked");
    assert!(
        b.text("#timeline")
            .await
            .contains("Revoke call by admin:ops: ok")
    );
    assert_eq!(app.state(&s.prod).await, RequestState::Revoked);
    b.quit().await;
}

/// Keeps a screenshot under target/artifacts (CARGO_TARGET_DIR when set).
fn save_screenshot(name: &str, png: &[u8]) {
    assert!(png.starts_with(&[0x89, b'P', b'N', b'G']), "a PNG");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    std::fs::write(dir.join(name), png).expect("screenshot saved");
    eprintln!("screenshot: {}", dir.join(name).display());
}
