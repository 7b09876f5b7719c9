//! Finding the role in the words, on the resource when it is known.

use super::vocab::{self, ROLE_WILDCARDS};
use super::{Region, Scan, Tag};
use crate::domain::Resource;
use crate::domain::catalog::{Match, find_role as catalog_role, normalize};
use std::ops::Range;

/// A role mention: the value for the draft, where it was, and its role-group.
struct Mention {
    value: String,
    range: Range<usize>,
    group: Option<&'static str>,
}

/// The role the person asked for. With a known resource, its own role names and aliases, then
/// common synonyms the resource really has, then probable typos (as typed); without one, only
/// common role words, as their canonical name (re-resolved once the resource is known).
pub(super) fn find_role(
    scan: &mut Scan,
    resource: Option<&Resource>,
    near: Option<usize>,
    anywhere: bool,
) -> Option<String> {
    let mut mentions = mentions(scan, resource, Region::Request);
    if mentions.is_empty() && anywhere {
        mentions = self::mentions(scan, resource, Region::All);
    }
    for m in &mentions {
        scan.tag(m.range.clone(), Tag::Role);
    }
    // A role said in the same sentence as the resource beats one said elsewhere
    // ("the user is an admin. grant write on prod-db").
    let sentence = |m: &Mention| scan.tokens()[m.range.start].sentence;
    if let Some(s) = near.filter(|&s| mentions.iter().any(|m| sentence(m) == s)) {
        mentions.retain(|m| sentence(m) == s);
    }
    // "read and write" means write.
    let write = mentions.iter().find(|m| m.group == Some("write"));
    let read = mentions.iter().any(|m| m.group == Some("read"));
    match write {
        Some(w) if read => Some(w.value.clone()),
        _ => mentions.into_iter().next().map(|m| m.value),
    }
}

fn mentions(scan: &Scan, resource: Option<&Resource>, region: Region) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < scan.len() {
        let found = (1..=3).rev().find_map(|n| {
            let range = i..i + n;
            scan.ngram_ok(&range, region)
                .then(|| mention(scan, resource, range))
                .flatten()
        });
        match found {
            Some(m) => {
                i = m.range.end;
                out.push(m);
            }
            None => i += 1,
        }
    }
    out
}

fn mention(scan: &Scan, resource: Option<&Resource>, range: Range<usize>) -> Option<Mention> {
    let key = scan.key(&range);
    if ROLE_WILDCARDS.contains(&key.as_str()) {
        return Some(Mention {
            value: "all".into(),
            range,
            group: None,
        });
    }
    let group = vocab::role_group(&key);
    let value = match resource {
        Some(r) => on_resource(r, &key, &scan.said(range.clone()), range.len() == 1)?,
        None => group?.canonical.to_string(),
    };
    Some(Mention {
        value,
        range,
        group: group.map(|g| g.canonical),
    })
}

fn on_resource(r: &Resource, key: &str, said: &str, single: bool) -> Option<String> {
    if let Some(name) = role_for(r, key) {
        return Some(name);
    }
    if vocab::role_group(key).is_some() {
        // A common role word the resource does not have ("admin" on the wiki): as typed, so
        // validation says which roles exist.
        return Some(said.to_string());
    }
    let typo = single
        && key.len() >= 4
        && !super::is_vocab(key)
        && matches!(catalog_role(r, key), Match::Probable(_));
    typo.then(|| said.to_string())
}

/// A role name on `r` for what the person said: exact name or alias, else a synonym it has.
pub(super) fn role_for(r: &Resource, said: &str) -> Option<String> {
    let key = normalize(said);
    if let Match::Exact(spec) = catalog_role(r, &key) {
        return Some(spec.name.clone());
    }
    let group = vocab::role_group(&key)
        .or_else(|| vocab::ROLE_GROUPS.iter().find(|g| g.canonical == key))?;
    group
        .names
        .iter()
        .find_map(|name| match catalog_role(r, name) {
            Match::Exact(spec) => Some(spec.name.clone()),
            _ => None,
        })
}
