//! Whether a model's reading that validates can be trusted over the parser's question: it must
//! agree with what the parser read, and what it adds must come from the person's words.
//!
//! Validation only checks that a reading is complete and names real catalog entries. Measured on
//! a small self-hosted model (SmolLM2-135M, the public corpus), most readings that validated where
//! the parser asked a question were made up: "hello" became a break-glass extension of the
//! billing database, "revoke AR-123" a revoke of AR-20261211, "need acess to the biling db" an 8h
//! read with ticket "need". Each such reading would have reached the policy in place of a
//! question. The parser reads exact words, so where it read a field, it is right about it; where
//! the model adds a literal (a ticket, a request id, a duration), the literal is in the words;
//! where it adds a resource or a role, the words name it as the parser's matching would
//! (`parser::names_resource`, `parser::names_role`): "full access to staging" read as admin, or
//! "the db" read as the billing one, would otherwise pass for the person's choice.

use super::parser;
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
    added_names(model, parser, &said, catalog)
}

/// A resource or role the model read where the parser read none (or, with `prefer = "model"`,
/// another one) must be named by the words, as the parser's own matching would name it: a
/// reading the words merely allow is the model's guess.
fn added_names(
    model: &DraftIntent,
    parser: &DraftIntent,
    said: &str,
    catalog: &Catalog,
) -> Option<&'static str> {
    let id = |name: &Option<String>| {
        name.as_deref()
            .and_then(|n| catalog.lookup(n))
            .map(|r| &r.id)
    };
    let resource = model.resource.as_deref().and_then(|n| catalog.lookup(n));
    if let Some(r) = resource
        && id(&parser.resource) != Some(&r.id)
        && !parser::names_resource(said, catalog, r)
    {
        return Some("resource not named in the words");
    }
    let role_differs =
        !matches!((&model.role, &parser.role), (Some(m), Some(p)) if m.eq_ignore_ascii_case(p));
    if let (Some(role), Some(r)) = (&model.role, resource)
        && role_differs
        && !parser::names_role(said, r, role)
    {
        return Some("role not named in the words");
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
    // The parser passes a name it could not pin to one catalog entry on as typed, for
    // validation to ask about ("wikki" → "Did you mean Engineering wiki?"): those are the
    // person's words, not a reading to disagree with. `added_names` still requires the words
    // to name whatever the model chose instead.
    let parsed_resource = parser
        .resource
        .as_deref()
        .and_then(|name| catalog.lookup(name));
    let parsed_role = parser.role.clone().filter(|role| {
        parsed_resource.is_some_and(|r| r.roles.iter().any(|s| s.name.eq_ignore_ascii_case(role)))
    });
    if matches!((model.action, parser.action), (Some(m), Some(p)) if m != p) {
        return Some("action differs from the parser's");
    }
    if let (Some(m), Some(p)) = (&model.resource, parsed_resource)
        && resource_id(m) != p.id.to_lowercase()
    {
        return Some("resource differs from the parser's");
    }
    if differs(&model.role, &parsed_role, &|m, p| m.eq_ignore_ascii_case(p)) {
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
/// Whole words, so that "yesterday" or "Monday's incident" is not a duration.
fn mentions_time(said: &str) -> bool {
    const UNITS: [&str; 5] = ["minute", "hour", "day", "week", "month"];
    const MOMENTS: [&str; 4] = ["tonight", "today", "tomorrow", "eod"];
    said.chars().any(|c| c.is_ascii_digit())
        || said.split(|c: char| !c.is_alphanumeric()).any(|w| {
            UNITS.iter().any(|u| {
                w.strip_prefix(u)
                    .is_some_and(|rest| rest.is_empty() || rest == "s")
            }) || MOMENTS.contains(&w)
        })
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
    fn a_duration_needs_a_number_or_a_time_word_not_a_word_containing_one() {
        for said in [
            "for a couple of hours",
            "a day",
            "until tomorrow",
            "2h",
            "few minutes",
        ] {
            assert!(mentions_time(said), "{said}");
        }
        for said in [
            "the thing Jane mentioned yesterday",
            "since Monday",
            "hourly report",
        ] {
            assert!(!mentions_time(said), "{said}");
        }
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

    fn catalog() -> Catalog {
        Catalog::from_toml(
            r#"
[[resource]]
id = "prod-billing-db"
name = "billing db"
roles = ["read", "write"]
risk = "high"
max_duration = "8h"
owners = ["dana"]

[[resource]]
id = "staging-db"
name = "staging db"
roles = ["read", "write", "admin"]
risk = "low"
max_duration = "8h"
"#,
        )
        .expect("the test catalog")
    }

    #[test]
    fn a_name_the_parser_passed_on_as_typed_is_not_a_reading_the_model_must_agree_with() {
        let catalog = catalog();
        // The parser could not settle "stagin db" and passes it on for a "Did you mean …?".
        let parser = draft(|d| {
            d.action = Some(Action::Request);
            d.resource = Some("stagin db".into());
            d.role = Some("raed".into());
        });
        let reading = |resource: &str| {
            draft(|d| {
                d.action = Some(Action::Request);
                d.resource = Some(resource.into());
                d.role = Some("read".into());
            })
        };
        let said = "need stagin db raed for an hour";
        assert_eq!(
            ungrounded(&reading("staging-db"), &parser, said, &catalog, true),
            None
        );
        // What the model chose instead must still be what the words name.
        assert_eq!(
            ungrounded(&reading("prod-billing-db"), &parser, said, &catalog, true),
            Some("resource not named in the words")
        );
    }

    #[test]
    fn a_resource_or_role_the_model_adds_must_be_named_in_the_words() {
        let catalog = catalog();
        let parser = draft(|d| {
            d.action = Some(Action::Request);
            d.resource = Some("staging-db".into());
        });
        let admin = draft(|d| {
            d.action = Some(Action::Request);
            d.resource = Some("staging-db".into());
            d.role = Some("admin".into());
        });
        assert_eq!(
            ungrounded(
                &admin,
                &parser,
                "need staging db for an hour",
                &catalog,
                true
            ),
            Some("role not named in the words")
        );
        assert_eq!(
            ungrounded(
                &admin,
                &parser,
                "need sudo on staging db for an hour",
                &catalog,
                true
            ),
            None
        );
        // The parser read no resource in "the db"; the model picked one of the two.
        let nothing = draft(|d| d.action = Some(Action::Request));
        let billing = draft(|d| {
            d.action = Some(Action::Request);
            d.resource = Some("prod-billing-db".into());
            d.role = Some("read".into());
        });
        assert_eq!(
            ungrounded(&billing, &nothing, "need read on the db", &catalog, true),
            Some("resource not named in the words")
        );
        // A typo the parser left as typed, which the model settled: named in the words.
        assert_eq!(
            ungrounded(
                &billing,
                &nothing,
                "need read on the biling db",
                &catalog,
                true
            ),
            None
        );
        // With `prefer = "model"` the model may read the words otherwise, never outside them.
        assert_eq!(
            ungrounded(
                &billing,
                &parser,
                "need read on staging db",
                &catalog,
                false
            ),
            Some("resource not named in the words")
        );
    }
}
