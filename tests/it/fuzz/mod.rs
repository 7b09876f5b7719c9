//! Property-based fuzzing of every parser of untrusted input: whatever arrives, no panic, and
//! every rejection is an error with a message.
//!
//! `cargo test --test it fuzz::` runs a short budget (`FUZZ_CASES` cases per target, as CI does),
//! from a fixed seed so that a failure in CI reproduces.
//! For a long run, give each target a time budget in seconds:
//! `WARDEN_FUZZ_SECS=600 cargo test --release --test it fuzz:: -- --test-threads 1 --nocapture`
//! Each target prints how many cases it ran and for how long.

mod chat;
mod files;
mod intake;
mod pdp;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Cases per target in a normal test run.
const FUZZ_CASES: u32 = 300;

/// Runs `check` on values from `strategy` for the budget; panics with the minimal failing input.
pub fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let secs = std::env::var("WARDEN_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let started = Instant::now();
    let deadline = secs.map(|s| started + Duration::from_secs(s));
    let mut cases = 0u64;
    loop {
        let config = Config {
            cases: FUZZ_CASES,
            failure_persistence: None,
            ..Config::default()
        };
        // The normal run is the same every time (a CI failure reproduces); a long run explores.
        let mut runner = match deadline {
            None => {
                TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
            }
            Some(_) => TestRunner::new(config),
        };
        if let Err(e) = runner.run(&strategy, &check) {
            panic!("fuzz target {name} failed after {cases} cases: {e}");
        }
        cases += u64::from(FUZZ_CASES);
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    println!(
        "fuzz {name}: {cases} cases in {:.1} s, no failure",
        started.elapsed().as_secs_f64()
    );
}

/// A rejection must say something: an empty error message helps nobody.
pub fn clear_error(e: impl std::fmt::Display) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(!msg.trim().is_empty(), "an error with no message");
    Ok(())
}

/// Arbitrary text: printable and control characters, unicode, long runs.
pub fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect()),
        "[ -~]{0,200}".prop_map(String::from),
    ]
}

/// Valid samples with characters inserted, deleted and replaced, cut short or repeated: the
/// inputs that reach deep into a parser.
pub fn mutated(samples: Vec<String>) -> impl Strategy<Value = String> {
    let edits =
        proptest::collection::vec((0..4u8, any::<prop::sample::Index>(), any::<char>()), 0..8);
    (prop::sample::select(samples), edits).prop_map(|(sample, edits)| {
        let mut chars: Vec<char> = sample.chars().collect();
        for (op, at, c) in edits {
            let i = if chars.is_empty() {
                0
            } else {
                at.index(chars.len())
            };
            match op {
                0 => chars.insert(i, c),
                1 if !chars.is_empty() => {
                    chars.remove(i);
                }
                2 if !chars.is_empty() => chars[i] = c,
                3 => chars.truncate(i),
                _ => {}
            }
        }
        chars.into_iter().collect()
    })
}

/// Any JSON value, nested a few levels.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any_text(40).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Valid JSON samples with one value (anywhere in the tree) replaced by any JSON: wrong types,
/// missing pieces, extra nesting.
pub fn json_swapped(samples: Vec<Value>) -> impl Strategy<Value = String> {
    (
        prop::sample::select(samples),
        any::<prop::sample::Index>(),
        any_json(),
    )
        .prop_map(|(mut sample, at, with)| {
            let n = count_nodes(&sample);
            let mut target = at.index(n);
            replace_node(&mut sample, &mut target, with);
            sample.to_string()
        })
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn replace_node(v: &mut Value, target: &mut usize, with: Value) -> bool {
    if *target == 0 {
        *v = with;
        return true;
    }
    *target -= 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => return false,
    };
    for child in children {
        if replace_node(child, target, with.clone()) {
            return true;
        }
    }
    false
}
