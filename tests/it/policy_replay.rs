//! `warden policy replay` as a person runs it: over the demo's kept history, with the stricter
//! example policy the README shows.

use std::process::Command;

fn warden(args: &[&str], db: Option<&std::path::Path>) -> (String, bool) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(args).env_remove("WARDEN_CONFIG");
    if let Some(db) = db {
        cmd.env(
            "WARDEN__DATABASE__URL",
            format!("sqlite://{}", db.display()),
        );
    }
    let out = cmd.output().expect("warden runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

#[test]
fn replay_over_the_demo_history_names_what_the_strict_example_would_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let (out, ok) = warden(&["demo", "--keep", db.to_str().unwrap()], None);
    assert!(ok, "{out}");
    let strict = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/strict.rego");
    let (out, ok) = warden(
        &["policy", "replay", "--since", "30d", "--policy", strict],
        Some(&db),
    );
    assert!(ok, "{out}");
    assert!(out.contains("Replayed 7 decisions of 6 requests"), "{out}");
    for change in [
        "allow → approval: 2",
        "approval → deny: 1",
        "break-glass → approval: 1",
    ] {
        assert!(out.contains(change), "{change}: {out}");
    }
    // Against the policy that made them, nothing changes.
    let (same, ok) = warden(&["policy", "replay", "--since", "30d"], Some(&db));
    assert!(ok && same.contains("unchanged: 7   changed: 0"), "{same}");
    // A kept database is never written over.
    let (again, ok) = warden(&["demo", "--keep", db.to_str().unwrap()], None);
    assert!(!ok && again.contains("already exists"), "{again}");
    let (bad, ok) = warden(&["policy", "replay", "--since", "a while"], Some(&db));
    assert!(!ok && bad.contains("--since must be a duration"), "{bad}");
}
