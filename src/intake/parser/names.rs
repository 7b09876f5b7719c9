//! Finding the resource in the words (the role is `roles`).
//!
//! The parser never settles a doubt itself: an exact name or alias (or a run of words that fits
//! one resource's names and no other) gives the catalog id; anything else that looks like a name
//! is passed on as the user's own words, so validation asks "Did you mean …?" or "which one?".

use super::vocab::{GENERIC_NAME_WORDS, WILDCARD_NOUNS, WILDCARD_WORDS};
use super::{Region, Scan, Tag};
use crate::domain::catalog::{Match, normalize};
use crate::domain::{Catalog, Resource};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

/// Longest name, in words, tried against the catalog.
pub(super) const MAX_NAME_WORDS: usize = 4;

/// What the words say about the resource.
#[derive(Debug, Clone)]
pub(super) enum Named<'c> {
    /// An exact name or alias, or words that fit this resource and no other.
    Known(&'c Resource),
    /// The user's own words: a probable typo, several candidates, a wildcard or an unknown name.
    Said(String),
}

impl<'c> Named<'c> {
    pub fn known(&self) -> Option<&'c Resource> {
        match self {
            Named::Known(r) => Some(r),
            Named::Said(_) => None,
        }
    }

    /// What goes into `DraftIntent::resource`.
    pub fn into_field(self) -> String {
        match self {
            Named::Known(r) => r.id.clone(),
            Named::Said(s) => s,
        }
    }
}

/// A resource found, and the sentence it was in (to pick the role said next to it).
pub(super) struct Found<'c> {
    pub named: Named<'c>,
    pub sentence: Option<usize>,
    /// "everything", "*": not a system, so not by itself a request.
    pub wildcard: bool,
    /// More resources named in a list with this one ("the billing db and staging db"): catalog
    /// ids, or the user's words for a name the catalog does not have (validation then asks).
    pub also: Vec<String>,
}

/// Exact names first (the request part of the message, then anywhere), then wildcards, typos,
/// and runs of name words. `anywhere` allows looking inside the reason as a last resort.
pub(super) fn find_resource<'c>(
    scan: &mut Scan,
    catalog: &'c Catalog,
    anywhere: bool,
) -> Option<Found<'c>> {
    let regions: &[Region] = if anywhere {
        &[Region::Request, Region::All]
    } else {
        &[Region::Request]
    };
    for &region in regions {
        if let Some(found) = exact(scan, catalog, region) {
            return Some(found);
        }
    }
    if let Some(found) = wildcard(scan) {
        return Some(found);
    }
    for &region in regions {
        if let Some(found) = typo(scan, catalog, region) {
            return Some(found);
        }
    }
    partial(scan, catalog)
}

/// Longest exact n-grams, left to right. Two different resources named: the user's words, so
/// validation asks for one at a time.
fn exact<'c>(scan: &mut Scan, catalog: &'c Catalog, region: Region) -> Option<Found<'c>> {
    let mut hits: Vec<(Range<usize>, &'c Resource)> = Vec::new();
    // No name is longer than the catalog's longest, and none starts with a word no name starts
    // with: most positions are passed over without building a single key.
    let longest = MAX_NAME_WORDS.min(catalog.max_name_words());
    let mut i = 0;
    while i < scan.len() {
        // Words are lower case already; only a '.' inside one ("1.5h") normalises into two.
        let word = scan.word(i);
        let first = match word.contains('.') {
            true => normalize(word)
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
            false => word.to_string(),
        };
        if !catalog.starts_a_name(&first) {
            i += 1;
            continue;
        }
        let hit = (1..=longest).rev().find_map(|n| {
            let range = i..i + n;
            let whole = scan.ngram_ok(&range, region) && !splits_a_word(scan, &range);
            whole
                .then(|| catalog.lookup(&scan.key(&range)).map(|r| (range, r)))
                .flatten()
        });
        match hit {
            Some((range, r)) => {
                i = range.end;
                hits.push((range, r));
            }
            None => i += 1,
        }
    }
    let (first, r) = hits.first().cloned()?;
    for (range, _) in &hits {
        scan.tag(range.clone(), Tag::Resource);
    }
    let sentence = Some(scan.tokens()[first.start].sentence);
    let listed = hits.iter().all(|(_, other)| other.id == r.id) || is_list(scan, &hits);
    if listed {
        let mut also: Vec<String> = Vec::new();
        for (_, other) in &hits[1..] {
            if other.id != r.id && !also.contains(&other.id) {
                also.push(other.id.clone());
            }
        }
        let last = hits.last().map_or(first.end, |(range, _)| range.end);
        // "prod-db and mainframe": the unknown end of a list is an item too, so the whole ask
        // is asked about rather than quietly shortened to the names the catalog knows.
        also.extend(unknown_tail(scan, last, region));
        return Some(Found {
            named: Named::Known(r),
            sentence,
            wildcard: false,
            also,
        });
    }
    let said: Vec<String> = hits
        .iter()
        .map(|(range, _)| scan.said(range.clone()))
        .collect();
    Some(Found {
        named: Named::Said(said.join(" and ")),
        sentence,
        wildcard: false,
        also: vec![],
    })
}

/// Words that may stand between the names of a list ("billing db and the staging db",
/// "prod-db, staging and on grafana").
const LIST_WORDS: [&str; 6] = ["and", "plus", "the", "on", "to", "also"];

/// Whether every two names follow each other as a list in one sentence: a comma, '&' or "and"
/// between them and nothing but list words. Names far apart ("prod-db … because staging broke")
/// are not a list: validation asks which one is meant.
fn is_list(scan: &Scan, hits: &[(Range<usize>, &Resource)]) -> bool {
    hits.windows(2).all(|pair| {
        let (a, b) = (&pair[0].0, &pair[1].0);
        let tokens = scan.tokens();
        let gap = &scan.text()[tokens[a.end - 1].span.end..tokens[b.start].span.start];
        let words: Vec<&str> = (a.end..b.start).map(|i| scan.word(i)).collect();
        let joined = gap.contains(',') || gap.contains('&') || words.contains(&"and");
        joined
            && words.iter().all(|w| LIST_WORDS.contains(w))
            && scan.same_sentence(a.start, b.start)
    })
}

/// The words after a list's last known name, when a connector leads to more content words
/// ("prod-db and the mainframe" → "mainframe"), tagged as a resource.
fn unknown_tail(scan: &mut Scan, from: usize, region: Region) -> Option<String> {
    if from == 0 || from >= scan.len() {
        return None;
    }
    let tokens = scan.tokens();
    let gap = &scan.text()[tokens[from - 1].span.end..tokens[from].span.start];
    let mut joined = gap.contains(',') || gap.contains('&');
    let mut i = from;
    while i < scan.len() && LIST_WORDS.contains(&scan.word(i)) {
        joined |= matches!(scan.word(i), "and" | "plus");
        i += 1;
    }
    let start = i;
    while i < scan.len()
        && i - start < MAX_NAME_WORDS
        && scan.usable(i, region)
        && !scan.is_vocab(i)
        && scan.same_sentence(from - 1, i)
    {
        i += 1;
    }
    if !joined || i == start {
        return None;
    }
    scan.tag(start..i, Tag::Resource);
    Some(scan.said(start..i))
}

/// "staging" inside "staging-dbb" is not an exact name: the whole of what was typed is looked at
/// (as a probable typo) instead. An everyday word glued on ("prod-db-access") does not count.
fn splits_a_word(scan: &Scan, range: &Range<usize>) -> bool {
    let glued_other = |i: usize| !scan.is_vocab(i);
    let before =
        range.start > 0 && scan.tokens()[range.start].glued && glued_other(range.start - 1);
    let after = range.end < scan.len() && scan.tokens()[range.end].glued && glued_other(range.end);
    before || after
}

/// "everything", "*", "all the prod systems", "every database".
fn wildcard(scan: &mut Scan) -> Option<Found<'static>> {
    let n = scan.len();
    let at = (0..n).find_map(|i| {
        if !scan.usable(i, Region::Request) {
            return None;
        }
        let w = scan.word(i);
        if WILDCARD_WORDS.contains(&w) {
            return Some(i..i + 1);
        }
        let quantifier = matches!(w, "all" | "every" | "any");
        let noun = (i + 1..n.min(i + 4))
            .take_while(|&j| scan.same_clause(i, j))
            .find(|&j| WILDCARD_NOUNS.contains(&scan.word(j)));
        noun.filter(|_| quantifier).map(|j| i..j + 1)
    })?;
    let sentence = Some(scan.tokens()[at.start].sentence);
    scan.tag(at, Tag::Resource);
    Some(Found {
        named: Named::Said("everything".into()),
        sentence,
        wildcard: true,
        also: vec![],
    })
}

/// A probable typo of a name ("biling db", "grafna"): passed on as typed.
fn typo<'c>(scan: &mut Scan, catalog: &Catalog, region: Region) -> Option<Found<'c>> {
    for n in (1..=3).rev() {
        for i in 0..scan.len() {
            let range = i..i + n;
            if !scan.ngram_ok(&range, region) || vocab_edge(scan, &range) {
                continue;
            }
            if !scan.take_fuzzy_lookup() {
                return None;
            }
            if matches!(
                catalog.find(&scan.key(&range)),
                Match::Probable(_) | Match::Ambiguous(_)
            ) {
                let found = Found {
                    named: Named::Said(scan.said(range.clone())),
                    sentence: Some(scan.tokens()[i].sentence),
                    wildcard: false,
                    also: vec![],
                };
                scan.tag(range, Tag::Resource);
                return Some(found);
            }
        }
    }
    None
}

/// An n-gram that starts or ends with an everyday word is not a misspelt name ("was" ≠ "aws").
fn vocab_edge(scan: &Scan, range: &Range<usize>) -> bool {
    let edge =
        |i: usize| scan.is_vocab(i) || scan.word(i).starts_with(|c: char| c.is_ascii_digit());
    edge(range.start) || edge(range.end - 1)
}

/// Runs of words that all appear in catalog names: "github billing" fits one resource and is
/// taken; "billing" alone fits two and is passed on as said.
fn partial<'c>(scan: &mut Scan, catalog: &'c Catalog) -> Option<Found<'c>> {
    let index = word_index(catalog);
    for run in content_runs(scan, Region::Request) {
        let words: Vec<&str> = run.clone().map(|i| scan.word(i)).collect();
        if !words.iter().all(|w| index.contains_key(*w)) {
            continue;
        }
        let fits = cover_with(&index, catalog, &words);
        let distinctive = words.iter().any(|w| !GENERIC_NAME_WORDS.contains(w));
        let sentence = Some(scan.tokens()[run.start].sentence);
        let named = match fits.as_slice() {
            [one] if distinctive || words.len() > 1 => Named::Known(one),
            [_, _, ..] if distinctive => Named::Said(scan.said(run.clone())),
            _ => continue,
        };
        scan.tag(run, Tag::Resource);
        return Some(Found {
            named,
            sentence,
            wildcard: false,
            also: vec![],
        });
    }
    None
}

/// The resources whose names, taken together, contain every one of `words`.
pub(super) fn cover<'c>(catalog: &'c Catalog, words: &[&str]) -> Vec<&'c Resource> {
    cover_with(&word_index(catalog), catalog, words)
}

fn cover_with<'c>(
    index: &HashMap<String, BTreeSet<usize>>,
    catalog: &'c Catalog,
    words: &[&str],
) -> Vec<&'c Resource> {
    let mut sets = words
        .iter()
        .map(|w| index.get(*w).cloned().unwrap_or_default());
    let Some(first) = sets.next() else {
        return vec![];
    };
    let common = sets.fold(first, |acc, s| acc.intersection(&s).copied().collect());
    common
        .into_iter()
        .map(|i| &catalog.resources()[i])
        .collect()
}

/// Every word of every name and alias → the resources (by position) that use it.
fn word_index(catalog: &Catalog) -> HashMap<String, BTreeSet<usize>> {
    let position: HashMap<&str, usize> = catalog
        .resources()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut index: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (key, r) in catalog.names() {
        for word in key.split(' ') {
            index
                .entry(word.to_string())
                .or_default()
                .extend(position.get(r.id.as_str()));
        }
    }
    index
}

/// Maximal runs of unclaimed, non-vocabulary words inside one clause.
pub(super) fn content_runs(scan: &Scan, region: Region) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    for i in 0..=scan.len() {
        let content = i < scan.len() && scan.usable(i, region) && !scan.is_vocab(i);
        let joins = start.is_some_and(|s| content && scan.same_clause(s, i));
        match (start, content) {
            (Some(s), _) if !joins => {
                runs.push(s..i);
                start = content.then_some(i);
            }
            (None, true) => start = Some(i),
            _ => {}
        }
    }
    runs
}

/// No catalog name matched but the words clearly name something: the system after "on"/"in",
/// after "access to", before "access", or the first argument of a command. Returned as said.
pub(super) fn literal(scan: &mut Scan, command_verb: Option<usize>) -> Option<Found<'static>> {
    let run = match command_verb {
        Some(v) => run_after(scan, v + 1),
        None => (0..scan.len())
            .find_map(|i| after_preposition(scan, i))
            .or_else(|| before_access(scan)),
    }?;
    let found = Found {
        named: Named::Said(scan.said(run.clone())),
        sentence: Some(scan.tokens()[run.start].sentence),
        wildcard: false,
        also: vec![],
    };
    scan.tag(run, Tag::Resource);
    Some(found)
}

fn after_preposition(scan: &Scan, i: usize) -> Option<Range<usize>> {
    if !scan.usable(i, Region::Request) {
        return None;
    }
    let prev_grants = i.checked_sub(1).is_some_and(|p| {
        scan.tag_of(p) == Tag::Role
            || matches!(scan.word(p), "access" | "acess" | "acces" | "me" | "us")
    });
    let opens = match scan.word(i) {
        "on" | "in" | "into" | "at" => true,
        "to" | "for" => prev_grants,
        _ => false,
    };
    opens.then(|| run_after(scan, i + 1)).flatten()
}

/// "mainframe access": the words right before "access".
fn before_access(scan: &Scan) -> Option<Range<usize>> {
    let at = (1..scan.len()).find(|&i| {
        matches!(scan.word(i), "access" | "acess" | "acces") && scan.usable(i, Region::Request)
    })?;
    content_runs(scan, Region::Request)
        .into_iter()
        .find(|r| r.end == at)
}

/// Content words starting at `from`, after articles, within one clause.
fn run_after(scan: &Scan, from: usize) -> Option<Range<usize>> {
    let start = (from..scan.len()).find(|&j| {
        !matches!(
            scan.word(j),
            "the" | "a" | "an" | "my" | "our" | "your" | "this" | "that"
        )
    })?;
    let content = |j: usize| {
        scan.usable(j, Region::Request) && !scan.is_vocab(j) && scan.same_clause(start, j)
    };
    let end = (start..scan.len().min(start + MAX_NAME_WORDS))
        .take_while(|&j| content(j))
        .last()?
        + 1;
    Some(start..end)
}
