//! A cheap local match that picks the few catalog entries a message is probably about.
//!
//! The model is shown these candidates and nothing else of the catalog, so prompt size does not
//! grow with the catalog. Scoring, highest first: a whole name or alias appearing in the text,
//! then shared words, then words one or two typos apart. It only narrows what the model sees;
//! validation still accepts exact catalog names only.

use crate::domain::catalog::normalize;
use crate::domain::{Catalog, Resource};
use std::collections::{HashMap, HashSet};

/// Words too common in requests to say anything about which system is meant.
const STOP: [&str; 40] = [
    "the", "and", "for", "need", "want", "access", "please", "can", "get", "give", "have", "with",
    "from", "this", "that", "till", "until", "hours", "hour", "mins", "minutes", "days", "day",
    "week", "because", "hrs", "some", "our", "your", "into", "on", "to", "of", "in", "me", "my",
    "a", "an", "i", "is",
];

/// Exactly `min(max, catalog size)` resources: the best matches first, then catalog order, so a
/// prompt's size depends on `max` and not on how many entries happened to match.
pub fn select<'a>(catalog: &'a Catalog, text: &str, max: usize) -> Vec<&'a Resource> {
    if catalog.len() <= max {
        return catalog.resources().iter().collect();
    }
    let text = normalize(text);
    let words: HashSet<&str> = text
        .split(' ')
        .filter(|w| w.len() >= 2 && !STOP.contains(w))
        .collect();
    let mut best: HashMap<&str, (u32, &Resource)> = HashMap::new();
    for (name, resource) in catalog.names() {
        let score = score(name, &text, &words);
        if score == 0 {
            continue;
        }
        let entry = best.entry(resource.id.as_str()).or_insert((0, resource));
        entry.0 = entry.0.max(score);
    }
    let mut ranked: Vec<(u32, &Resource)> = best.into_values().collect();
    // Ties break on the id so the same text always yields the same prompt.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let mut picked: Vec<&Resource> = ranked.into_iter().take(max).map(|(_, r)| r).collect();
    for r in catalog.resources() {
        if picked.len() >= max {
            break;
        }
        if !picked.iter().any(|p| p.id == r.id) {
            picked.push(r);
        }
    }
    picked
}

/// Name parts are not filtered for stop words: the text's words already are, so a stop word in a
/// name can never score.
fn score(name: &str, text: &str, words: &HashSet<&str>) -> u32 {
    if contains_phrase(text, name) {
        return 1000 + name.len() as u32;
    }
    let mut score = 0;
    for part in name.split(' ') {
        if part.len() < 2 {
            continue;
        }
        if words.contains(part) {
            score += 10 + part.len() as u32;
        } else if part.len() >= 4 && words.iter().any(|w| close(w, part)) {
            score += 5;
        }
    }
    score
}

/// `phrase` occurs in `text` as whole words (both already normalised: single spaces).
fn contains_phrase(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(at, _)| {
        let before = at == 0 || text.as_bytes()[at - 1] == b' ';
        let end = at + phrase.len();
        before && (end == text.len() || text.as_bytes()[end] == b' ')
    })
}

/// Typo distance without paying for it on words that cannot be close.
fn close(word: &str, part: &str) -> bool {
    if word.len().abs_diff(part.len()) > 2 || word.as_bytes().first() != part.as_bytes().first() {
        return false;
    }
    let budget = if part.len() >= 8 { 2 } else { 1 };
    strsim::damerau_levenshtein(word, part) <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big_catalog(n: usize) -> Catalog {
        let mut toml = String::from(crate::examples::EXAMPLE_CATALOG);
        for i in 0..n {
            toml.push_str(&format!(
                "\n[[resource]]\nid = \"svc-{i}\"\nname = \"Service {i} database\"\naliases = [\"svc{i} db\"]\nroles = [\"read\", \"write\"]\nrisk = \"low\"\nmax_duration = \"1d\"\n"
            ));
        }
        Catalog::from_toml(&toml).unwrap()
    }

    #[test]
    fn phrases_match_only_as_whole_words() {
        assert!(contains_phrase("need billing db now", "billing db"));
        assert!(!contains_phrase("need billing dbx now", "billing db"));
        assert!(!contains_phrase("rebilling db", "billing db"));
    }

    #[test]
    fn an_alias_in_the_text_ranks_its_resource_first() {
        let c = big_catalog(500);
        let picked = select(
            &c,
            "can I get write on the billing repo till tomorrow, INC-881",
            5,
        );
        assert_eq!(picked[0].id, "github-billing");
        assert!(picked.len() <= 5);
    }

    #[test]
    fn a_typo_still_finds_the_resource() {
        let c = big_catalog(500);
        let picked = select(&c, "need read on grafanna please", 5);
        assert!(
            picked.iter().any(|r| r.id == "grafana"),
            "{:?}",
            picked.iter().map(|r| &r.id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_small_catalog_is_shown_whole_and_a_large_one_never_is() {
        let small = Catalog::from_toml(crate::examples::EXAMPLE_CATALOG).unwrap();
        assert_eq!(select(&small, "anything", 20).len(), small.len());
        let large = big_catalog(2000);
        assert_eq!(select(&large, "service database read", 8).len(), 8);
        let unrelated = select(&large, "zzz qqq", 8);
        assert_eq!(unrelated.len(), 8, "filled in catalog order");
        assert_eq!(unrelated[0].id, large.resources()[0].id);
    }
}
