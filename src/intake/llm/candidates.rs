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
    "the", "and", "for", "need", "want", "access", "please", "can", "get", "give", "have", "with", "from", "this", "that", "till", "until",
    "hours", "hour", "mins", "minutes", "days", "day", "week", "because", "hrs", "some", "our", "your", "into", "on", "to", "of", "in",
    "me", "my", "a", "an", "i", "is",
];

/// Up to `max` resources, best match first. A catalog no larger than `max` is shown whole.
pub fn select<'a>(catalog: &'a Catalog, text: &str, max: usize) -> Vec<&'a Resource> {
    if catalog.len() <= max {
        return catalog.resources().iter().collect();
    }
    let text = normalize(text);
    let padded = format!(" {text} ");
    let words: HashSet<&str> = text.split(' ').filter(|w| w.len() >= 2 && !STOP.contains(w)).collect();
    let mut best: HashMap<&str, (u32, &Resource)> = HashMap::new();
    for (name, resource) in catalog.names() {
        let score = score(name, &padded, &words);
        if score == 0 {
            continue;
        }
        let entry = best.entry(resource.id.as_str()).or_insert((0, resource));
        entry.0 = entry.0.max(score);
    }
    let mut ranked: Vec<(u32, &Resource)> = best.into_values().collect();
    // Ties break on the id so the same text always yields the same prompt.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    ranked.into_iter().take(max).map(|(_, r)| r).collect()
}

fn score(name: &str, padded_text: &str, words: &HashSet<&str>) -> u32 {
    if padded_text.contains(&format!(" {name} ")) {
        return 1000 + name.len() as u32;
    }
    let mut score = 0;
    for part in name.split(' ') {
        if part.len() < 2 || STOP.contains(&part) {
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
        let mut toml = String::from(crate::app::EXAMPLE_CATALOG);
        for i in 0..n {
            toml.push_str(&format!(
                "\n[[resource]]\nid = \"svc-{i}\"\nname = \"Service {i} database\"\naliases = [\"svc{i} db\"]\nroles = [\"read\", \"write\"]\nrisk = \"low\"\nmax_duration = \"1d\"\n"
            ));
        }
        Catalog::from_toml(&toml).unwrap()
    }

    #[test]
    fn an_alias_in_the_text_ranks_its_resource_first() {
        let c = big_catalog(500);
        let picked = select(&c, "can I get write on the billing repo till tomorrow, INC-881", 5);
        assert_eq!(picked[0].id, "github-billing");
        assert!(picked.len() <= 5);
    }

    #[test]
    fn a_typo_still_finds_the_resource() {
        let c = big_catalog(500);
        let picked = select(&c, "need read on grafanna please", 5);
        assert!(picked.iter().any(|r| r.id == "grafana"), "{:?}", picked.iter().map(|r| &r.id).collect::<Vec<_>>());
    }

    #[test]
    fn a_small_catalog_is_shown_whole_and_a_large_one_never_is() {
        let small = Catalog::from_toml(crate::app::EXAMPLE_CATALOG).unwrap();
        assert_eq!(select(&small, "anything", 20).len(), small.len());
        let large = big_catalog(2000);
        assert!(select(&large, "service database read", 8).len() <= 8);
        assert!(select(&large, "zzz qqq", 8).is_empty());
    }
}
