//! `[grants.databases.<name>]`: parsed, checked, wired into the registry, never printed.

use secrecy::SecretString;

/// On a runtime: the backends' lazy pools need one (as in `warden serve`).
#[tokio::test]
async fn database_servers_are_parsed_checked_registered_and_their_urls_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("warden.toml");
    std::fs::write(
        &file,
        r#"
[grants.databases.billing]
engine = "postgres"
admin_url_env = "WARDEN_TEST_UNSET_BILLING_ADMIN_URL"
public_host = "billing-db.internal"

[grants.databases.reports]
engine = "mysql"

[grants.databases.odd]
engine = "oracle"
"#,
    )
    .unwrap();
    let mut s = warden::config::load(Some(&file)).unwrap().settings;
    let problems = s.problems().join("\n");
    for expected in [
        "WARDEN_TEST_UNSET_BILLING_ADMIN_URL is not set",
        "grants.databases.reports.admin_url is missing (set WARDEN__GRANTS__DATABASES__REPORTS__ADMIN_URL",
        "grants.databases.odd.engine must be postgres or mysql",
    ] {
        assert!(
            problems.contains(expected),
            "{expected} not in:\n{problems}"
        );
    }

    s.grants.databases.remove("odd");
    let billing = s.grants.databases.get_mut("billing").unwrap();
    billing.admin_url = Some(SecretString::from(
        "postgres://warden_admin:pg-s3cret@127.0.0.1:5432/app".to_string(),
    ));
    s.grants.databases.get_mut("reports").unwrap().admin_url = Some(SecretString::from(
        "mysql://warden_admin:my-s3cret@127.0.0.1:3306/mysql".to_string(),
    ));
    let shown = format!("{s:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    warden::app::install_crypto();
    let names = warden::app::build_grantors(&s).unwrap().names();
    assert!(
        names.contains(&"postgres".to_string()) && names.contains(&"mysql".to_string()),
        "{names:?}"
    );
}
