//! The layering rules, checked by reading `src/**/*.rs` as text: who may name whom.
//!
//! Paths are found after `crate::`, including grouped imports (`use crate::{app, store};`).
//! Lines that are wholly comments are skipped; `super::` chains are not followed (Warden's code
//! names other top-level modules through `crate::`).

use std::fmt;
use std::path::{Path, PathBuf};

/// The composition root: the only files that may name `crate::app` and `crate::commands`.
fn is_composition_root(file: &str) -> bool {
    matches!(
        file,
        "src/app.rs" | "src/main.rs" | "src/cli.rs" | "src/server.rs"
    ) || file.starts_with("src/commands/")
}

/// Plain types and small utilities that everything may use and that use nothing of Warden's.
fn is_leaf(file: &str) -> bool {
    file.starts_with("src/domain/")
        || matches!(
            file,
            "src/http_client.rs" | "src/clock.rs" | "src/examples.rs"
        )
}

const LEAF_MAY_NOT_NAME: [&str; 4] = ["store", "workflow", "chat", "admin"];
const DOMAIN_IO: [&str; 4] = ["sqlx", "reqwest", "tokio::fs", "std::fs"];

struct Source {
    /// Relative to the manifest, with `/` separators: `src/chat/slack/inbound.rs`.
    name: String,
    /// The lines, with whole-line comments blanked so numbering is kept.
    lines: Vec<String>,
}

struct Breach {
    file: String,
    line: usize,
    rule: &'static str,
    found: String,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} ({})",
            self.file, self.line, self.rule, self.found
        )
    }
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    files.sort();
    let sources: Vec<Source> = files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("source file is readable");
            let name = path
                .strip_prefix(root)
                .expect("under the manifest")
                .to_string_lossy()
                .replace('\\', "/");
            Source {
                name,
                lines: without_comment_lines(&text),
            }
        })
        .collect();
    assert!(
        sources.iter().any(|s| s.name == "src/app.rs"),
        "the scan found no sources; is CARGO_MANIFEST_DIR right?"
    );
    sources
}

fn without_comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every top-level module named after `crate::`, with its 1-based line.
fn crate_modules(lines: &[String]) -> Vec<(usize, String)> {
    let text = lines.join("\n");
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        // `warden_crate::x` or `my_crate::x` is not this crate.
        if text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        let skipped = rest.len() - rest.trim_start().len();
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let start = at + "crate::".len() + skipped + 1;
            for (offset, item) in top_level_items(group) {
                found.push((line_of(start + offset), item));
            }
        } else {
            found.push((line_of(at), ident(rest)));
        }
    }
    found.retain(|(_, m)| !m.is_empty());
    found
}

/// The first identifier of each comma-separated item of a `{…}` group, with its byte offset.
fn top_level_items(group: &str) -> Vec<(usize, String)> {
    let mut items = Vec::new();
    let (mut depth, mut item_start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(item_start);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(item_start);
                item_start = i + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .map(|s| {
            let item = &group[s..];
            let lead = item.len() - item.trim_start().len();
            (s + lead, ident(item.trim_start()))
        })
        .collect()
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Files chosen by `which` that name any of `modules` after `crate::`.
fn naming(
    sources: &[Source],
    which: fn(&str) -> bool,
    modules: &[&str],
    rule: &'static str,
) -> Vec<Breach> {
    let mut out = Vec::new();
    for s in sources.iter().filter(|s| which(&s.name)) {
        for (line, m) in crate_modules(&s.lines) {
            if modules.contains(&m.as_str()) {
                let (file, found) = (s.name.clone(), format!("crate::{m}"));
                out.push(Breach {
                    file,
                    line,
                    rule,
                    found,
                });
            }
        }
    }
    out
}

/// Files chosen by `which` whose text contains any of `needles`.
fn mentioning(
    sources: &[Source],
    which: fn(&str) -> bool,
    needles: &[&str],
    rule: &'static str,
) -> Vec<Breach> {
    let mut out = Vec::new();
    for s in sources.iter().filter(|s| which(&s.name)) {
        for (i, text) in s.lines.iter().enumerate() {
            for needle in needles.iter().filter(|n| text.contains(*n)) {
                let (file, found) = (s.name.clone(), needle.to_string());
                out.push(Breach {
                    file,
                    line: i + 1,
                    rule,
                    found,
                });
            }
        }
    }
    out
}

fn in_domain(file: &str) -> bool {
    file.starts_with("src/domain/")
}

/// Inbound adapters: chat platforms, and agents (workload tokens, the agent API).
fn in_chat(file: &str) -> bool {
    file.starts_with("src/chat/") || file.starts_with("src/agents/")
}

const ADAPTER_RULE: &str = "an inbound adapter reaches the store only through the engine";

/// (d) Inbound adapters (chat, agents) talk to the engine, never to the store.
fn adapter_store_breaches(sources: &[Source]) -> Vec<Breach> {
    let mut out = naming(sources, in_chat, &["store"], ADAPTER_RULE);
    out.extend(mentioning(sources, in_chat, &[".store()"], ADAPTER_RULE));
    out
}

fn assert_none(rule: &str, mut breaches: Vec<Breach>) {
    breaches.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let listed: Vec<String> = breaches.iter().map(ToString::to_string).collect();
    assert!(
        listed.is_empty(),
        "{rule}: {} breach(es)\n  {}",
        listed.len(),
        listed.join("\n  ")
    );
}

#[test]
fn only_the_composition_root_names_app_or_commands() {
    let rule = "only the composition root (app, main, cli, server, commands) may use crate::app or crate::commands";
    let outside_root = |f: &str| !is_composition_root(f);
    assert_none(
        "rule (a)",
        naming(&sources(), outside_root, &["app", "commands"], rule),
    );
}

#[test]
fn leaf_modules_name_no_store_workflow_chat_or_admin() {
    let rule = "a leaf module (domain, http_client, clock, examples) may not use store, workflow, chat or admin";
    assert_none(
        "rule (b)",
        naming(&sources(), is_leaf, &LEAF_MAY_NOT_NAME, rule),
    );
}

#[test]
fn the_domain_does_no_io() {
    let rule = "the domain does no I/O";
    assert_none(
        "rule (c)",
        mentioning(&sources(), in_domain, &DOMAIN_IO, rule),
    );
}

#[test]
fn chat_adapters_never_touch_the_store() {
    assert_none("rule (d)", adapter_store_breaches(&sources()));
}

#[test]
fn the_scanner_sees_plain_grouped_and_multi_line_imports_but_not_comments() {
    let lines = [
        "use crate::app::Server;",
        "use crate::{clock::Clock, store::Store};",
        "use crate::{",
        "    domain::{Person, RequestId},",
        "    workflow,",
        "};",
        "",
        "let x = my_crate::app::thing();",
        "/// Unlike crate::commands, this is a comment.",
    ]
    .join("\n");
    let found = crate_modules(&without_comment_lines(&lines));
    assert_eq!(
        found,
        [
            (1, "app".to_string()),
            (2, "clock".to_string()),
            (2, "store".to_string()),
            (4, "domain".to_string()),
            (5, "workflow".to_string()),
        ]
    );
    let commented = Source {
        name: "src/chat/x.rs".into(),
        lines: without_comment_lines("// engine.store() is off limits\nengine.store().get(1)"),
    };
    let breaches = adapter_store_breaches(&[commented]);
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0].line, 2);
}
