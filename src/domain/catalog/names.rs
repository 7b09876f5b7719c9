//! The catalog's names indexed for reading free text: by first word and word count (so an n-gram
//! is looked up only when a name can start with it) and by length and characters (so a typo is
//! compared only with names it can be close to).

use std::collections::{HashMap, HashSet};

/// The most edits `is_close` ever allows: names further apart in length cannot be close.
pub(super) const MAX_EDITS: usize = 2;

#[derive(Debug, Clone, Default)]
pub(super) struct NameIndex {
    /// Normalised names and aliases: length in characters, name, resource, `char_mask`;
    /// shortest first.
    by_len: Vec<(usize, String, usize, u64)>,
    first_words: HashSet<String>,
    max_words: usize,
}

impl NameIndex {
    /// From the normalised key → resource position index.
    pub fn new(index: &HashMap<String, usize>) -> Self {
        let mut by_len: Vec<(usize, String, usize, u64)> = index
            .iter()
            .map(|(key, &i)| (key.chars().count(), key.clone(), i, char_mask(key)))
            .collect();
        // Sorted by length, then key: the order names are compared in does not depend on the
        // hash map's.
        by_len.sort();
        let first_words = index
            .keys()
            .filter_map(|k| k.split(' ').next())
            .map(str::to_string)
            .collect();
        let max_words = index
            .keys()
            .map(|k| k.split(' ').count())
            .max()
            .unwrap_or(0);
        Self {
            by_len,
            first_words,
            max_words,
        }
    }

    pub fn starts_a_name(&self, first_word: &str) -> bool {
        self.first_words.contains(first_word)
    }

    pub fn max_words(&self) -> usize {
        self.max_words
    }

    /// The names `key` could be within `MAX_EDITS` of, by length and characters, with their
    /// resource. The work is a slice of the names and two bit operations for each.
    pub fn candidates(&self, key: &str) -> impl Iterator<Item = (&str, usize)> {
        let len = key.chars().count();
        let mask = char_mask(key);
        let lo = len.saturating_sub(MAX_EDITS);
        let start = self.by_len.partition_point(|(l, ..)| *l < lo);
        self.by_len[start..]
            .iter()
            .take_while(move |(l, ..)| *l <= len + MAX_EDITS)
            .filter(move |(.., m)| masks_within(mask, *m, MAX_EDITS))
            .map(|(_, k, i, _)| (k.as_str(), *i))
    }
}

/// The characters of `s` as a 64-bit set (hashed, so two characters may share a bit).
pub(super) fn char_mask(s: &str) -> u64 {
    s.chars().fold(0, |m, c| m | 1 << (c as u32 % 64))
}

/// Whether two strings can be `budget` edits apart, by their character sets: every character
/// one has and the other lacks costs at least one edit (a shared bit only hides a difference,
/// so this never refuses a close pair). Refuses most names without a distance matrix.
pub(super) fn masks_within(a: u64, b: u64, budget: usize) -> bool {
    (a & !b).count_ones() as usize <= budget && (b & !a).count_ones() as usize <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_sets_never_refuse_a_close_pair() {
        for (a, b) in [
            ("billing db", "biling db"),
            ("grafana", "grafna"),
            ("grafana", "garfana"),
            ("aws", "was"),
            ("ünïcode", "unicode"),
            ("prod db", "prod dbx"),
        ] {
            let d = strsim::damerau_levenshtein(a, b);
            assert!(masks_within(char_mask(a), char_mask(b), d), "{a} / {b}");
        }
        assert!(!masks_within(char_mask("abc"), char_mask("xyz"), 2));
    }

    #[test]
    fn names_are_found_by_first_word_and_by_length() {
        let index: HashMap<String, usize> = [("prod billing db", 0), ("grafana", 1), ("gf", 1)]
            .into_iter()
            .map(|(k, i)| (k.to_string(), i))
            .collect();
        let names = NameIndex::new(&index);
        assert!(names.starts_a_name("prod") && !names.starts_a_name("billing"));
        assert_eq!(names.max_words(), 3);
        let near: Vec<&str> = names.candidates("grafna").map(|(k, _)| k).collect();
        assert_eq!(near, ["grafana"]);
    }
}
