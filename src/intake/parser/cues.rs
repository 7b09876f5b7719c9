//! Which action the words ask for.
//!
//! Precedence, strongest first: cancel, revoke, extend, status, break-glass, request. A word
//! that only suggests a request ("need", "get", "access") is weak: in a conversation it never
//! replaces the action an earlier message set. "approve", "deny" are not actions: a message
//! that opens with one yields nothing. `help` yields no action, so validation answers with the
//! list of things Warden can do.

use super::{Region, Scan, Tag};
use crate::domain::Action;
use std::collections::HashMap;

const CANCEL: &[&str] = &[
    "cancel",
    "cancle",
    "cancell",
    "never mind",
    "nevermind",
    "nvm",
    "withdraw",
    "scratch that",
    "forget it",
    "call off",
];
const REVOKE: &[&str] = &[
    "revoke",
    "revok",
    "remove my access",
    "remove access",
    "remove me",
    "take me off",
    "take away my",
    "drop my access",
    "done with",
    "finished with",
    "through with",
    "no longer need",
    "end my access",
    "release my access",
    "give up my",
    "relinquish",
    "deprovision",
    "offboard me",
    "unassign",
    "stop my access",
    "stop my",
    "kill my",
    "terminate",
    "turn off my",
    "disable my",
    "end access",
];
const EXTEND: &[&str] = &[
    "extend",
    "extended",
    "extending",
    "extned",
    "exend",
    "extnd",
    "extension",
    "prolong",
    "prolonged",
    "renew",
    "renewed",
    "more time",
    "longer",
];
const STATUS: &[&str] = &[
    "status",
    "stauts",
    "statsu",
    "any update",
    "any updates",
    "update on",
    "updates on",
    "where are my",
    "where is my",
    "wheres my",
    "my requests",
    "my pending",
    "pending requests",
    "approved yet",
    "what do i have",
    "what access do i have",
    "show my",
    "list my",
    "check on my",
    "how is my",
    "hows my",
    "any news",
    "news on",
    "what requests",
    "open requests",
    "my open",
    "show me my",
    "show me what",
    "how long do i have",
    "time left",
    "when does",
    "what happened to my",
    "whats up with",
    "whats happening with",
    "whats going on with",
];
const BREAK_GLASS: &[&str] = &["break glass", "breakglass", "emergency"];
const REQUEST_STRONG: &[&str] = &[
    "request",
    "reqeust",
    "requst",
    "rquest",
    "reqest",
    "requesting",
];
const REQUEST_WEAK: &[&str] = &[
    "need",
    "needs",
    "want",
    "wanna",
    "get",
    "give",
    "gimme",
    "grant",
    "access",
    "acess",
    "acces",
    "have",
    "add",
    "provision",
    "provide",
    "like",
    "require",
    "allow",
    "enable",
    "let",
    "hook",
    "nick",
    "requesting",
    "request",
];
const APPROVE: &[&str] = &[
    "approve",
    "approved",
    "approving",
    "authorise",
    "authorize",
    "deny",
    "reject",
    "pre approved",
];
const HELP: &[&str] = &["help", "what can you do", "how does this work", "commands"];
/// Words that may come before the command word without making it free text.
const PREAMBLE: &[&str] = &[
    "please", "pls", "plz", "plss", "kindly", "hi", "hey", "hello", "yo", "hiya", "ok", "okay",
    "so", "um", "uh", "sir", "team",
];
/// Verbs that, first in a message, make it a command whose first argument names the resource.
const COMMAND_VERBS: &[&str] = &[
    "request",
    "reqeust",
    "requst",
    "rquest",
    "reqest",
    "status",
    "revoke",
    "revok",
    "cancel",
    "cancle",
    "extend",
    "extned",
    "break glass",
    "breakglass",
    "emergency",
    "help",
];
/// Verbs checked for one-letter typos when nothing else matched ("reuqest", "canel").
const FUZZY_VERBS: &[(&str, Action)] = &[
    ("request", Action::Request),
    ("revoke", Action::Revoke),
    ("cancel", Action::Cancel),
    ("extend", Action::Extend),
    ("status", Action::Status),
];

#[derive(Debug, Default)]
pub(super) struct Cues {
    pub action: Option<Action>,
    /// The action came from a clear verb, not from "need"/"get" or a bare resource.
    pub strong: bool,
    pub break_glass: bool,
    /// Last word of a leading command verb ("/access request …", "revoke …").
    pub command_verb: Option<usize>,
    /// The message opens with "approve"/"deny": nothing in it is used.
    pub approve_command: bool,
}

/// Reads the action from the request part of the message (not from its reason).
pub(super) fn detect(scan: &Scan, additional_time: bool) -> Cues {
    let words = Words::new(eligible(scan));
    let has = |list: &[&str]| list.iter().any(|p| words.find(p).is_some());
    let leading = leading_command(scan);
    let first_word = leading.map(|(_, w)| w);
    let mut cues = Cues {
        command_verb: leading
            .filter(|(_, w)| COMMAND_VERBS.contains(w))
            .map(|(i, _)| i),
        approve_command: first_word.is_some_and(|w| APPROVE.contains(&w)),
        ..Cues::default()
    };
    let no_longer = (has(&["anymore", "any more"]) || has(&["no longer"]))
        && has(&["need", "needs", "use", "want"]);
    let (action, strong) = if has(CANCEL) {
        (Some(Action::Cancel), true)
    } else if has(REVOKE) || no_longer {
        (Some(Action::Revoke), true)
    } else if has(EXTEND) || additional_time {
        (Some(Action::Extend), true)
    } else if has(STATUS) {
        (Some(Action::Status), true)
    } else if has(BREAK_GLASS)
        || first_word.is_some_and(|w| REQUEST_STRONG.contains(&w))
        || has(&["requesting"])
    {
        (Some(Action::Request), true)
    } else if has(REQUEST_WEAK) {
        (Some(Action::Request), false)
    } else {
        fuzzy(&words.words).map_or((None, false), |a| (Some(a), true))
    };
    if has(HELP) && action.is_none() {
        return cues;
    }
    cues.action = action;
    cues.strong = strong;
    cues.break_glass = action == Some(Action::Request) && has(BREAK_GLASS);
    cues
}

/// Words of the request part, minus the resource and duration words (so "remove my grafana
/// access" still reads "remove my access").
fn eligible(scan: &Scan) -> Vec<String> {
    (0..scan.len())
        .filter(|&i| {
            scan.in_region(i, Region::Request)
                && !matches!(scan.tag_of(i), Tag::Resource | Tag::Duration | Tag::Skip)
        })
        .map(|i| scan.word(i).to_string())
        .collect()
}

/// The eligible words, with where each occurs: a phrase is looked for only where its first word
/// is, so the hundreds of cue phrases cost a lookup each, not a pass over the message each.
struct Words {
    words: Vec<String>,
    at: HashMap<String, Vec<usize>>,
}

impl Words {
    fn new(words: Vec<String>) -> Self {
        let mut at: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, w) in words.iter().enumerate() {
            at.entry(w.clone()).or_default().push(i);
        }
        Self { words, at }
    }

    /// Where a phrase (space-separated words) first starts.
    fn find(&self, phrase: &str) -> Option<usize> {
        let mut parts = phrase.split(' ');
        let first = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        self.at.get(first)?.iter().copied().find(|&i| {
            rest.iter()
                .enumerate()
                .all(|(k, p)| self.words.get(i + 1 + k).is_some_and(|w| w == p))
        })
    }
}

/// The first word after greetings and "please", with the index of its last token
/// ("break glass" spans two).
fn leading_command<'a>(scan: &'a Scan<'_>) -> Option<(usize, &'a str)> {
    let i = (0..scan.len())
        .find(|&i| scan.tag_of(i) != Tag::Skip && !PREAMBLE.contains(&scan.word(i)))?;
    if scan.word(i) == "break" && i + 1 < scan.len() && scan.word(i + 1) == "glass" {
        return Some((i + 1, "break glass"));
    }
    if scan.word(i) == "pre" && i + 1 < scan.len() && scan.word(i + 1) == "approved" {
        return Some((i + 1, "pre approved"));
    }
    Some((i, scan.word(i)))
}

fn fuzzy(words: &[String]) -> Option<Action> {
    words
        .iter()
        .filter(|w| w.len() >= 5 && !super::vocab::is_filler(w))
        .find_map(|w| {
            FUZZY_VERBS
                .iter()
                // One edit apart needs lengths one apart and at most one letter that the other
                // lacks: most words are not compared at all.
                .find(|(verb, _)| {
                    w.chars().count().abs_diff(verb.len()) <= 1
                        && w.chars().filter(|c| !verb.contains(*c)).count() <= 1
                        && strsim::damerau_levenshtein(w, verb) == 1
                })
                .map(|&(_, a)| a)
        })
}

/// Words that are part of an action phrase (kept out of names and reasons).
pub(super) fn is_cue_word(word: &str) -> bool {
    [
        CANCEL,
        REVOKE,
        EXTEND,
        STATUS,
        BREAK_GLASS,
        REQUEST_STRONG,
        APPROVE,
        HELP,
    ]
    .iter()
    .flat_map(|list| list.iter())
    .any(|p| !p.contains(' ') && *p == word)
        || matches!(
            word,
            "done"
                | "finished"
                | "remove"
                | "pending"
                | "update"
                | "updates"
                | "glass"
                | "break"
                | "revoked"
                | "cancelled"
        )
}
