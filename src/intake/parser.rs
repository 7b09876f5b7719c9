//! The structured-command parser: the intake used when no language model is configured, and the
//! fallback when one fails. Pure: words and the catalog in, a [`DraftIntent`] out.
//!
//! It only extracts candidate fields; [`DraftIntent::validate`] resolves names, clamps durations
//! and turns doubt into a question. So the parser does not guess: a name it cannot pin to one
//! catalog entry is passed on as the user typed it ("biling db" → "Did you mean …?"), and a
//! missing one stays `None` ("Which system?").
//!
//! # What it understands
//! - Commands, with or without a leading `/access`: `request <resource> [role] [for <duration>]
//!   [because <reason…>]`, `status`, `revoke <id>`, `cancel <id>`, `extend <id> [by|for <duration>]`,
//!   `break-glass …` / `emergency …` (a request with `break_glass`), `help` (no action, so
//!   validation answers with the list of things Warden does).
//! - The same in plain words: "need read on prod-db for 2 hours, INC-42", "I'm done with prod-db"
//!   (revoke by resource), "what's the status of my requests", "another hour on AR-7K3D9QX2".
//! - Resources: the longest exact name or alias (1–4 words), else a wildcard ("everything"), else
//!   a probable typo (as typed), else a run of name words that fits one resource only ("github
//!   billing"), else the words after "on"/"access to" or a command's first argument (as typed).
//! - Roles: the resource's role names and aliases, then synonyms it really has ("read-only",
//!   "ro", "view" → read/readonly/viewer; "rw", "edit" → write/editor; "root", "sudo" → admin),
//!   "read and write" → write, "all roles"/"full access" → "all" (validation asks). Without a
//!   resource, common role words are kept as read/write/admin/deploy and resolved once it is known.
//! - Durations (module `when`). Fixed meanings: "until tomorrow", "for the day", "today", "eod" →
//!   8h; "the afternoon"/"the morning", "half a day" → 4h; "tonight", "overnight" → 12h;
//!   "the weekend" → 2d; "the week" → 1w; "an hour" → 1h; "half an hour" → 30m; "a couple of
//!   hours" → 2h; "a few hours" → 3h; "forever"/"permanently" → left as "forever" so validation
//!   asks. Huge values ("9999h") pass as typed: validation clamps them.
//! - Tickets `[A-Z][A-Z0-9]+-\d+` (INC-42; lower case only for well-known prefixes), request ids
//!   `AR-XXXXXXXX` or `#XXXXXXXX`; the reason: see module `reason`.
//!
//! Identity is never read from text: there is no requester field, "as dana" or "on behalf of bob"
//! change nothing, and "approve …" is not an action (a message opening with it yields nothing).
//!
//! # Conversations
//! [`parse_thread`] parses the requester's messages in order and merges them, later turns winning.
//! Each reply is read as an answer to the question validation would ask of the draft so far:
//! a bare name answers "which system?", a bare word "which role?", any text "what for?", "yes"
//! confirms a "Did you mean …?", and "the billing one" narrows an earlier "database". A reply
//! only changes the action with a clear verb (cancel, revoke, extend, status, request).

mod cues;
mod evidence;
mod lexer;
mod memo;
mod names;
mod reason;
mod roles;
mod scan;
mod vocab;
mod when;

pub use evidence::{names_resource, names_role};

use super::ThreadMessage;
use crate::domain::catalog::{Match, find_role, normalize};
use crate::domain::intent::{DraftIntent, Field};
use crate::domain::{Action, Catalog, Resource};
use scan::{Region, Scan, Tag};

/// Parses one message on its own.
pub fn parse(text: &str, catalog: &Catalog) -> DraftIntent {
    let turn = analyse(text, catalog, &Context::default());
    refine_role(turn.draft, catalog)
}

/// Parses every requester message of a thread and merges them, later turns filling gaps and
/// correcting earlier ones. Warden's own messages are not read: the question a reply answers is
/// recomputed from the draft, so nothing Warden said can be replayed as the user's words.
///
/// Each turn is read once: the draft the earlier turns added up to is remembered (module
/// `memo`), so the next message of the conversation costs the reading of that message only.
pub fn parse_thread(thread: &[ThreadMessage], catalog: &Catalog) -> DraftIntent {
    let said: Vec<&str> = thread
        .iter()
        .filter(|m| m.author == "requester")
        .map(|m| m.text.as_str())
        .collect();
    let keys = memo::prefix_keys(catalog.generation(), &said);
    let (read, mut draft) = (1..=said.len())
        .rev()
        .find_map(|k| memo::get(&keys[k - 1]).map(|d| (k, d)))
        .unwrap_or_default();
    for (n, text) in said.iter().enumerate().skip(read) {
        let asked = if n == 0 {
            None
        } else {
            draft.validate(catalog).err().map(|e| e.field)
        };
        let resource = draft.resource.as_deref().and_then(|r| catalog.lookup(r));
        let turn = analyse(text, catalog, &Context { asked, resource });
        draft = fold(draft, turn, asked, catalog);
    }
    if let Some(key) = keys.last().filter(|_| read < said.len()) {
        memo::put(*key, draft.clone());
    }
    refine_role(draft, catalog)
}

/// An exact structured command: a message that opens (after an optional `/access`, `/warden` or
/// `/ar`) with a command verb spelt right — `/access request prod-db read for 2h`, `revoke
/// AR-7K3D9QX2`. Its grammar gives it one reading; a model can only add doubt to it.
pub fn is_structured_command(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    let mut words = lower.split_whitespace();
    let mut first = words.next().unwrap_or_default();
    if is_command_name(first) {
        first = words.next().unwrap_or_default();
    }
    matches!(first, "request" | "revoke" | "cancel" | "extend" | "status")
}

/// Whether a message is typed as the slash command itself (`/access …`), whatever follows.
pub fn is_slash_command(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    is_command_name(lower.split_whitespace().next().unwrap_or_default())
}

fn is_command_name(word: &str) -> bool {
    matches!(word, "/access" | "/warden" | "/ar")
}

/// What is known before reading a reply.
#[derive(Default)]
struct Context<'c> {
    /// The field validation asks about, if the draft so far is incomplete.
    asked: Option<Field>,
    /// The resource already settled by earlier turns (to read a bare role word against).
    resource: Option<&'c Resource>,
}

/// One message, read.
struct Turn {
    draft: DraftIntent,
    /// The action came from a clear verb and may replace an earlier one.
    strong: bool,
    /// "yes", "yep, that one".
    affirmative: bool,
    /// The first run of words that are not structure, as typed ("mainframe").
    content: Option<String>,
    /// The whole message, trimmed.
    whole: String,
}

impl Turn {
    /// A message that contributes nothing ("approve AR-…").
    fn nothing() -> Self {
        Turn {
            draft: DraftIntent::default(),
            strong: false,
            affirmative: false,
            content: None,
            whole: String::new(),
        }
    }
}

fn analyse(text: &str, catalog: &Catalog, ctx: &Context) -> Turn {
    let mut scan = Scan::new(text);
    scan.skip_slash_command();
    scan.skip_on_behalf();
    let marker = reason::find_marker(&scan);
    if let Some(m) = &marker {
        scan.mark_reason(m.token, m.clause_only);
    }
    // When the reply answers "what for?", names and roles inside the reason are not requests.
    let anywhere = ctx.asked != Some(Field::Justification);
    let duration = find_duration(&mut scan);
    let found = names::find_resource(&mut scan, catalog, anywhere);
    let known = match &found {
        Some(f) => f.named.known(),
        None => ctx.resource,
    };
    let role = roles::find_role(
        &mut scan,
        known,
        found.as_ref().and_then(|f| f.sentence),
        anywhere,
    );
    let cues = cues::detect(&scan, duration.as_ref().is_some_and(|d| d.additional));
    if cues.approve_command {
        return Turn::nothing();
    }
    let names_something = matches!(
        cues.action,
        Some(Action::Request | Action::Revoke | Action::Cancel | Action::Extend)
    ) || role.is_some();
    let found = found.or_else(|| {
        names_something
            .then(|| names::literal(&mut scan, cues.command_verb))
            .flatten()
    });
    let justification = marker
        .as_ref()
        .and_then(|m| reason::text(&scan, m))
        .or_else(|| reason::from_clauses(&scan));
    // Naming a system, a role or a kind of system ("db pls") is a request; a bare "*" is not.
    let names_a_system = found.as_ref().is_some_and(|f| !f.wildcard)
        || role.is_some()
        || mentions_system_noun(&scan);
    let action = cues
        .action
        .or_else(|| names_a_system.then_some(Action::Request));
    let also = found.as_ref().map(|f| f.also.clone()).unwrap_or_default();
    let draft = DraftIntent {
        action,
        resource: found.map(|f| f.named.into_field()),
        also,
        role,
        duration: duration.map(|d| d.value),
        justification,
        ticket: scan.lexed.ticket.clone(),
        request_id: scan.lexed.request_id.clone(),
        break_glass: cues.break_glass,
    };
    let affirmative = is_affirmative(&scan);
    let content = names::content_runs(&scan, Region::All)
        .first()
        .map(|r| scan.said(r.clone()));
    Turn {
        draft,
        strong: cues.strong,
        affirmative,
        content,
        whole: text.trim().to_string(),
    }
}

/// The first duration in the request part, else one introduced by "for"/"until" in the reason
/// (never "the last 2 hours" of a log the reason mentions).
fn find_duration(scan: &mut Scan) -> Option<when::Hit> {
    let words: Vec<&str> = scan.lexed.tokens.iter().map(|t| t.word.as_str()).collect();
    let hit = when::find(&words, |i| scan.usable(i, Region::Request))
        .or_else(|| when::find(&words, |i| scan.usable(i, Region::All)).filter(|h| h.led))?;
    scan.tag(hit.tokens.clone(), Tag::Duration);
    Some(hit)
}

fn mentions_system_noun(scan: &Scan) -> bool {
    (0..scan.len())
        .any(|i| scan.in_region(i, Region::Request) && vocab::SYSTEM_NOUNS.contains(&scan.word(i)))
}

fn is_affirmative(scan: &Scan) -> bool {
    let words: Vec<&str> = (0..scan.len())
        .map(|i| scan.word(i))
        .filter(|w| !matches!(*w, "please" | "pls" | "thanks" | "thx"))
        .collect();
    vocab::AFFIRMATIVE.contains(&words.join(" ").as_str())
}

/// Folds one reply into the draft, reading it as the answer to `asked`.
fn fold(draft: DraftIntent, turn: Turn, asked: Option<Field>, catalog: &Catalog) -> DraftIntent {
    let mut later = turn.draft;
    if draft.action.is_some() && !turn.strong {
        later.action = None;
        later.break_glass = false;
    }
    let bare = later.action.is_none()
        && later.resource.is_none()
        && later.role.is_none()
        && later.duration.is_none()
        && later.request_id.is_none();
    if turn.affirmative {
        confirm(&draft, &mut later, asked, catalog);
    } else if bare {
        match asked {
            Some(Field::Justification) if later.justification.is_none() => {
                later.justification = turn.content.map(|_| turn.whole)
            }
            Some(Field::Resource) => later.resource = turn.content,
            Some(Field::Role) => {
                later.role = turn
                    .content
                    .and_then(|c| c.split_whitespace().next().map(str::to_string))
            }
            _ => {}
        }
    }
    narrow(&draft, &mut later, catalog);
    draft.merge(later)
}

/// "yes" after "Did you mean Grafana?": the probable match becomes the answer.
fn confirm(draft: &DraftIntent, later: &mut DraftIntent, asked: Option<Field>, catalog: &Catalog) {
    match asked {
        Some(Field::Resource) => {
            if let Some(Match::Probable(r)) =
                draft.resource.as_deref().map(|name| catalog.find(name))
            {
                later.resource = Some(r.id.clone());
            }
        }
        Some(Field::Role) => {
            let resource = draft.resource.as_deref().and_then(|r| catalog.lookup(r));
            if let (Some(r), Some(role)) = (resource, draft.role.as_deref())
                && let Match::Probable(spec) = find_role(r, role)
            {
                later.role = Some(spec.name.clone());
            }
        }
        _ => {}
    }
}

/// "the database" then "the billing one": together the words fit one resource.
fn narrow(draft: &DraftIntent, later: &mut DraftIntent, catalog: &Catalog) {
    let (Some(old), Some(new)) = (draft.resource.as_deref(), later.resource.as_deref()) else {
        return;
    };
    if catalog.lookup(old).is_some() || catalog.lookup(new).is_some() {
        return;
    }
    let said = format!("{} {}", normalize(old), normalize(new));
    let words: Vec<&str> = said.split(' ').filter(|w| !vocab::is_filler(w)).collect();
    if let [one] = names::cover(catalog, &words).as_slice() {
        later.resource = Some(one.id.clone());
    }
}

/// A role said before the resource was known ("read", then "grafana") becomes the name the
/// resource uses for it ("viewer"), when it has one.
fn refine_role(mut draft: DraftIntent, catalog: &Catalog) -> DraftIntent {
    let resource = draft.resource.as_deref().and_then(|r| catalog.lookup(r));
    if let (Some(r), Some(role)) = (resource, draft.role.as_deref())
        && !matches!(find_role(r, role), Match::Exact(_))
        && let Some(name) = roles::role_for(r, role)
    {
        draft.role = Some(name);
    }
    draft
}

/// Everyday and structural words: never part of a name, a literal or a typo candidate.
fn is_vocab(word: &str) -> bool {
    vocab::is_filler(word)
        || cues::is_cue_word(word)
        || vocab::role_group(word).is_some()
        || vocab::PURPOSE_VERBS.contains(&word)
        || vocab::WILDCARD_WORDS.contains(&word)
}

#[cfg(test)]
mod tests;
