//! Whether a model's reading that validates can be trusted over the parser's question: it must
//! agree with what the parser read, and what it adds must come from the person's words.
//!
//! Validation only checks that a reading is complete and names real catalog entries. Measured on
//! a small self-hosted model (SmolLM2-135M, the public corpus), most readings that validated where
//! the parser asked a question were made up: "hello" became a break-glass extension of the
//! billing database, "revoke AR-123" a revoke of AR-20261211, "need acess to the biling db" an 8h
//! read with ticket "need". Each such reading would have reached the policy in place of a
//! question. The parser reads exact words, so where it read a field, it is right about it; where
//! the model adds a literal (a ticket, a request id, a duration), the literal is in the words.

use crate::domain::intent::DraftIntent;
use crate::domain::{Catalog, parse_duration};

/// Why the model's reading is not used, or `None` when it is grounded in `said` (the
/// requester's own messages) and, with `agree` (`llm.prefer = "parser"`, the default), agrees
/// with every field the parser read. With `prefer = "model"` a team trusts its model's reading
/// of the words over the parser's, but still not values that are not in them.
pub fn ungrounded(
    model: &DraftIntent,
    parser: &DraftIntent,
    said: &str,
    catalog: &Catalog,
    agree: bool,
) -> Option<&'static str> {
    if agree && let Some(why) = disagrees(model, parser, catalog) {
        return Some(why);
    }
    // Break-glass is an emergency the person declares in words the parser knows; a model that
    // turns it on alone would skip approvals on a guess.
    if model.break_glass && !parser.break_glass {
        return Some("break-glass the person did not ask for");
    }
    let said = said.to_lowercase();
    if let Some(id) = &model.request_id {
        let id = id.to_lowercase();
        if !said.contains(id.strip_prefix("ar-").unwrap_or(&id)) {
            return Some("request id not in the words");
        }
    }
    if let Some(ticket) = &model.ticket
        && !said.contains(&ticket.to_lowercase())
    {
        return Some("ticket not in the words");
    }
    if model.duration.is_some() && parser.duration.is_none() && !mentions_time(&said) {
        return Some("duration not in the words");
    }
    None
}

/// The first field the parser read that the model reads otherwise.
fn disagrees(model: &DraftIntent, parser: &DraftIntent, catalog: &Catalog) -> Option<&'static str> {
    let differs = |a: &Option<String>, b: &Option<String>, same: &dyn Fn(&str, &str) -> bool| matches!((a, b), (Some(a), Some(b)) if !same(a, b));
    let resource_id = |name: &str| {
        catalog
            .lookup(name)
            .map(|r| r.id.to_lowercase())
            .unwrap_or_else(|| name.to_lowercase())
    };
    if matches!((model.action, parser.action), (Some(m), Some(p)) if m != p) {
        return Some("action differs from the parser's");
    }
    if differs(&model.resource, &parser.resource, &|m, p| {
        resource_id(m) == resource_id(p)
    }) {
        return Some("resource differs from the parser's");
    }
    if differs(&model.role, &parser.role, &|m, p| m.eq_ignore_ascii_case(p)) {
        return Some("role differs from the parser's");
    }
    if differs(&model.duration, &parser.duration, &|m, p| {
        parse_duration(m) == parse_duration(p)
    }) {
        return Some("duration differs from the parser's");
    }
    None
}

/// The words say something about time: a number, or a unit ("a couple of hours", "a day").
fn mentions_time(said: &str) -> bool {
    said.chars().any(|c| c.is_ascii_digit())
        || [
            "minute", "hour", "day", "week", "month", "tonight", "today", "tomorrow",
        ]
        .iter()
        .any(|unit| said.contains(unit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Action;

    fn draft(f: impl FnOnce(&mut DraftIntent)) -> DraftIntent {
        let mut d = DraftIntent::default();
        f(&mut d);
        d
    }

    #[test]
    fn a_reading_that_agrees_and_only_adds_what_was_said_is_grounded() {
        let catalog = Catalog::new(Vec::new()).expect("an empty catalog");
        let parser = draft(|d| d.action = Some(Action::Request));
        let model = draft(|d| {
            d.action = Some(Action::Request);
            d.resource = Some("grafana".into());
            d.duration = Some("2h".into());
            d.ticket = Some("OPS-12".into());
        });
        let said = "need grafna for a couple of hours, OPS-12";
        assert_eq!(ungrounded(&model, &parser, said, &catalog, true), None);
    }

    #[test]
    fn made_up_readings_of_the_measured_small_model_are_not_grounded() {
        let catalog = Catalog::new(Vec::new()).expect("an empty catalog");
        let nothing = DraftIntent::default();
        // "hello" read as a break-glass extension.
        let hello = draft(|d| {
            d.action = Some(Action::Extend);
            d.resource = Some("prod-billing-db".into());
            d.break_glass = true;
        });
        assert!(ungrounded(&hello, &nothing, "hello", &catalog, true).is_some());
        // "revoke AR-123" read as a revoke of another request.
        let revoke = draft(|d| d.action = Some(Action::Revoke));
        let other = draft(|d| {
            d.action = Some(Action::Revoke);
            d.request_id = Some("AR-20261211".into());
        });
        assert_eq!(
            ungrounded(&other, &revoke, "revoke AR-123", &catalog, true),
            Some("request id not in the words")
        );
        // "need read on grafna" read as an extension.
        let request = draft(|d| d.action = Some(Action::Request));
        let extend = draft(|d| d.action = Some(Action::Extend));
        assert!(ungrounded(&extend, &request, "need read on grafna", &catalog, true).is_some());
        // A duration from nowhere, a ticket from nowhere.
        let long = draft(|d| d.duration = Some("8h".into()));
        assert_eq!(
            ungrounded(
                &long,
                &request,
                "need acess to the biling db",
                &catalog,
                true
            ),
            Some("duration not in the words")
        );
        let ticket = draft(|d| d.ticket = Some("2022-02-10".into()));
        assert!(
            ungrounded(
                &ticket,
                &request,
                "please approve my own request",
                &catalog,
                true
            )
            .is_some()
        );
    }
}
