//! The justification: the words that say why.
//!
//! Found in two ways. A marker ("because", "reason:", "to fix …", "for the incident", a spaced
//! dash) starts it, and it runs to the end of that sentence, minus trailing clauses that only
//! repeat structure (", read only for 2h"). Without a marker, a clause that holds no request
//! words and reads like a reason ("hotfix for INC-881", "payments down") is taken whole.
//! Otherwise there is none: validation asks when the risk needs one.

use super::cues::is_cue_word;
use super::vocab::{PURPOSE_VERBS, REASON_NOUNS, REASON_STEMS, is_filler};
use super::{Scan, Tag};

/// Where a reason begins.
#[derive(Debug, Clone)]
pub(super) struct Marker {
    /// First token that belongs to the reason part (the marker word itself).
    pub token: usize,
    /// Byte offset where the reason text starts.
    pub start: usize,
    /// "… looking into a refund query for a customer": the words before the marker in the
    /// same clause belong to the reason too.
    pub reach_back: bool,
    /// A purpose ("to debug …", "for the incident") ends with its clause; "because …" and a
    /// dash run to the end of the sentence.
    pub clause_only: bool,
}

/// Words after which the reason starts (the word itself is not kept).
const BECAUSE: &[&str] = &[
    "because",
    "becuase",
    "becasue",
    "bcoz",
    "bcz",
    "bc",
    "cuz",
    "coz",
    "since",
    "reason",
    "reasons",
    "justification",
    "context",
    "purpose",
];
/// Skipped after "reason" ("the reason is that …").
const LINK: &[&str] = &["is", "being", "for", "that", "was", "are", "its"];
/// Words the reach-back may cross between content words.
const LINKERS: &[&str] = &[
    "a", "an", "the", "into", "in", "on", "of", "to", "with", "at", "my", "our", "some", "and",
    "this", "that", "it",
];
const ARTICLES: &[&str] = &["the", "a", "an", "my", "our", "this", "that", "some"];

pub(super) fn find_marker(scan: &Scan) -> Option<Marker> {
    let rest = content_to_sentence_end(scan);
    (0..scan.len()).find_map(|i| marker_at(scan, i, &rest))
}

/// For each word, the words that are not filler from it to the end of its sentence: one pass
/// from the end, so no dash has to count its sentence again.
fn content_to_sentence_end(scan: &Scan) -> Vec<usize> {
    let mut rest = vec![0; scan.len()];
    for i in (0..scan.len()).rev() {
        let after = match rest.get(i + 1) {
            Some(&n) if scan.same_sentence(i, i + 1) => n,
            _ => 0,
        };
        rest[i] = after + usize::from(!is_filler(scan.word(i)));
    }
    rest
}

fn marker_at(scan: &Scan, i: usize, rest: &[usize]) -> Option<Marker> {
    let word = |j: usize| (j < scan.len() && scan.same_sentence(i, j)).then(|| scan.word(j));
    let start_of = |j: usize| scan.tokens()[j].span.start;
    let purpose = |start: usize, reach_back: bool| {
        Some(Marker {
            token: i,
            start,
            reach_back,
            clause_only: true,
        })
    };
    let sentence = |start: usize| {
        Some(Marker {
            token: i,
            start,
            reach_back: false,
            clause_only: false,
        })
    };
    let w = scan.word(i);
    if BECAUSE.contains(&w) {
        let mut j = i + 1;
        while word(j).is_some_and(|n| LINK.contains(&n)) {
            j += 1;
        }
        let start = if word(j).is_some() {
            start_of(j)
        } else {
            scan.tokens()[j - 1].span.end
        };
        return sentence(start);
    }
    match (w, word(i + 1), word(i + 2)) {
        ("to", Some(verb), _) if PURPOSE_VERBS.contains(&verb) => {
            return purpose(start_of(i + 1), false);
        }
        ("so", Some("i" | "we"), Some("can")) | ("so", Some("that"), _) => {
            return purpose(start_of(i), false);
        }
        ("in", Some("order"), Some("to")) | ("due", Some("to"), _) => {
            return purpose(start_of(i), false);
        }
        ("as", Some("part"), Some("of")) => return purpose(start_of(i), false),
        ("for", Some(next), after) => {
            let noun = if ARTICLES.contains(&next) {
                after
            } else {
                Some(next)
            };
            if noun.is_some_and(|n| REASON_NOUNS.contains(&n)) {
                return purpose(start_of(i), true);
            }
        }
        _ => {}
    }
    let dash = scan.tokens()[i].after_dash && i > 0 && rest[i] >= 2;
    dash.then(|| sentence(start_of(i))).flatten()
}

/// The reason text for a marker, once the structure has been claimed.
pub(super) fn text(scan: &Scan, m: &Marker) -> Option<String> {
    let start = if m.reach_back {
        reach_back(scan, m.token)
    } else {
        m.start
    };
    let token = &scan.tokens()[m.token];
    let own_clause = token.clause;
    let mut end = if m.clause_only {
        scan.clause_end(own_clause)
    } else {
        scan.sentence_end(token.sentence)
    };
    let mut clause = scan.clause_ending_at(end);
    while let Some(c) = clause.filter(|&c| c > own_clause) {
        if !only_structure(scan, c) {
            break;
        }
        end = scan.clause_end(c - 1);
        clause = Some(c - 1);
    }
    clean(scan.text().get(start..end.max(start))?)
}

/// A clause with no unclaimed content words: ", read only for 2h", ", INC-4411".
fn only_structure(scan: &Scan, clause: usize) -> bool {
    scan.clause_tokens(clause).all(|i| !is_content(scan, i))
}

fn is_content(scan: &Scan, i: usize) -> bool {
    scan.tag_of(i) == Tag::Free && !is_filler(scan.word(i)) && !is_cue_word(scan.word(i))
}

/// Extends a reason to the start of its clause over unclaimed words.
fn reach_back(scan: &Scan, marker: usize) -> usize {
    let mut j = marker;
    while j > 0
        && scan.same_clause(j - 1, marker)
        && (is_content(scan, j - 1)
            || (scan.tag_of(j - 1) == Tag::Free && LINKERS.contains(&scan.word(j - 1))))
    {
        j -= 1;
    }
    while j < marker && !is_content(scan, j) {
        j += 1;
    }
    scan.tokens()[j].span.start
}

/// Without a marker: the first clause whose unclaimed words read like a reason.
pub(super) fn from_clauses(scan: &Scan) -> Option<String> {
    let clauses: Vec<usize> = {
        let mut c: Vec<usize> = scan.tokens().iter().map(|t| t.clause).collect();
        c.dedup();
        c
    };
    clauses.into_iter().find_map(|c| {
        let content: Vec<usize> = scan
            .clause_tokens(c)
            .filter(|&i| is_content(scan, i))
            .collect();
        let reads_like_reason = content
            .iter()
            .any(|&i| REASON_STEMS.iter().any(|s| scan.word(i).starts_with(s)));
        let first = *content.first()?;
        reads_like_reason
            .then(|| clean(&scan.text()[scan.tokens()[first].span.start..scan.clause_end(c)]))
            .flatten()
    })
}

/// Trims separators and spaces; nothing left means no reason.
fn clean(s: &str) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || ",.;:!?-—–()\"'".contains(c));
    t.chars().any(char::is_alphanumeric).then(|| t.to_string())
}
