//! A message being read: its words, what each has been claimed as, which are the reason, and
//! the per-message allowance of typo lookups.

use super::lexer::{self, Lexed, Token};
use std::ops::Range;

/// What a word has been claimed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Free,
    /// Not the user's request: the `/access` command name, "on behalf of bob".
    Skip,
    Duration,
    Resource,
    Role,
}

/// Where to look: the request part, the reason part, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Region {
    Request,
    All,
}

/// A message being read: its words, what each has been claimed as, which are the reason.
pub(super) struct Scan<'t> {
    text: &'t str,
    pub lexed: Lexed,
    tags: Vec<Tag>,
    reason: Vec<bool>,
    /// `is_vocab` of each word, worked out once: every search asks it again and again.
    vocab: Vec<bool>,
    /// Typo lookups left for this message (see `FUZZY_LOOKUPS`).
    fuzzy_left: usize,
}

/// The most n-grams of one message compared with the catalog for typos. Each lookup's work is
/// bounded by the catalog (names of a length and characters within reach); this bounds how
/// many there are. A message within the default input limit never reaches it (4,000
/// characters are at most 2,000 words: 6,000 n-grams of up to three words, in two passes);
/// past it, no typo is looked for any more, and names are still found exactly.
const FUZZY_LOOKUPS: usize = 12_288;

impl<'t> Scan<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        let lexed = lexer::lex(text);
        let n = lexed.tokens.len();
        let vocab = lexed
            .tokens
            .iter()
            .map(|t| super::is_vocab(&t.word))
            .collect();
        Self {
            text,
            lexed,
            tags: vec![Tag::Free; n],
            reason: vec![false; n],
            vocab,
            fuzzy_left: FUZZY_LOOKUPS,
        }
    }

    /// Whether word `i` is an everyday or structural word (`is_vocab`).
    pub(super) fn is_vocab(&self, i: usize) -> bool {
        self.vocab[i]
    }

    /// Takes one typo lookup from the message's allowance; `false` once it is spent.
    pub(super) fn take_fuzzy_lookup(&mut self) -> bool {
        let left = self.fuzzy_left > 0;
        self.fuzzy_left = self.fuzzy_left.saturating_sub(1);
        left
    }

    /// The words of clause `clause`: tokens are in clause order, so they are one run.
    pub(super) fn clause_tokens(&self, clause: usize) -> Range<usize> {
        let tokens = &self.lexed.tokens;
        tokens.partition_point(|t| t.clause < clause)
            ..tokens.partition_point(|t| t.clause <= clause)
    }

    pub(super) fn text(&self) -> &'t str {
        self.text
    }

    pub(super) fn tokens(&self) -> &[Token] {
        &self.lexed.tokens
    }

    pub(super) fn len(&self) -> usize {
        self.lexed.tokens.len()
    }

    pub(super) fn word(&self, i: usize) -> &str {
        &self.lexed.tokens[i].word
    }

    pub(super) fn tag_of(&self, i: usize) -> Tag {
        self.tags[i]
    }

    pub(super) fn tag(&mut self, range: Range<usize>, tag: Tag) {
        for t in &mut self.tags[range] {
            *t = tag;
        }
    }

    pub(super) fn in_region(&self, i: usize, region: Region) -> bool {
        region == Region::All || !self.reason[i]
    }

    /// Unclaimed and in the region.
    pub(super) fn usable(&self, i: usize, region: Region) -> bool {
        self.tags[i] == Tag::Free && self.in_region(i, region)
    }

    pub(super) fn same_clause(&self, i: usize, j: usize) -> bool {
        self.lexed.tokens[i].clause == self.lexed.tokens[j].clause
    }

    pub(super) fn same_sentence(&self, i: usize, j: usize) -> bool {
        self.lexed.tokens[i].sentence == self.lexed.tokens[j].sentence
    }

    /// Words `range` exist, are usable, and sit in one clause.
    pub(super) fn ngram_ok(&self, range: &Range<usize>, region: Region) -> bool {
        range.end <= self.len()
            && range.clone().all(|i| self.usable(i, region))
            && self.same_clause(range.start, range.end - 1)
    }

    /// The words of `range` joined like a catalog key.
    pub(super) fn key(&self, range: &Range<usize>) -> String {
        self.lexed.tokens[range.clone()]
            .iter()
            .map(|t| t.word.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The original text of `range`, as typed.
    pub(super) fn said(&self, range: Range<usize>) -> String {
        let tokens = &self.lexed.tokens[range];
        match (tokens.first(), tokens.last()) {
            (Some(a), Some(b)) => self.text[a.span.start..b.span.end].to_string(),
            _ => String::new(),
        }
    }

    pub(super) fn clause_end(&self, clause: usize) -> usize {
        self.lexed
            .clause_ends
            .get(clause)
            .copied()
            .unwrap_or(self.text.len())
    }

    pub(super) fn sentence_end(&self, sentence: usize) -> usize {
        self.lexed
            .sentence_ends
            .get(sentence)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The clause that ends where a sentence ends.
    pub(super) fn clause_ending_at(&self, end: usize) -> Option<usize> {
        self.lexed.clause_ends.iter().position(|&e| e == end)
    }

    /// Marks the reason: from `from` to the end of its clause or sentence.
    pub(super) fn mark_reason(&mut self, from: usize, clause_only: bool) {
        for i in from..self.len() {
            self.reason[i] = if clause_only {
                self.same_clause(from, i)
            } else {
                self.same_sentence(from, i)
            };
        }
    }

    /// "/access request …": the command's own name is not part of the request.
    pub(super) fn skip_slash_command(&mut self) {
        let slash = self.text.trim_start().starts_with('/');
        if slash && self.len() > 0 && matches!(self.word(0), "access" | "warden" | "ar") {
            self.tags[0] = Tag::Skip;
        }
    }

    /// "on behalf of bob": identity comes from the platform, so these words are dropped.
    pub(super) fn skip_on_behalf(&mut self) {
        let n = self.len();
        for i in 0..n.saturating_sub(2) {
            if self.word(i) == "on" && self.word(i + 1) == "behalf" && self.word(i + 2) == "of" {
                let end = (i + 4).min(n);
                self.tag(i..end, Tag::Skip);
            }
        }
    }
}
