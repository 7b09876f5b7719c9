//! Whether the words name a given resource or role: the evidence a model's added field needs.
//!
//! The parser reads a field only when the words pin it to one catalog entry; a model can pick one
//! the words merely allow ("full access to staging" → admin, "the database" → the billing one).
//! These checks accept what the parser's own matching would accept for that entry — its name or
//! an alias, a probable typo of one, a run of name words that fits it and no other resource, or a
//! role synonym the resource really has — so a model's reading is used only where the words carry
//! it and the parser missed them (a typo it could not settle, a word order it does not know).

use super::lexer;
use super::names::{self, MAX_NAME_WORDS};
use super::roles;
use super::vocab;
use crate::domain::catalog::{Match, find_role};
use crate::domain::{Catalog, Resource};

/// The words of `said` as the parser's lexer reads them: lower-cased, punctuation dropped
/// ("prod-db," → "prod", "db"), tickets and request ids lifted out.
fn words(said: &str) -> Vec<String> {
    lexer::lex(said)
        .tokens
        .into_iter()
        .map(|t| t.word)
        .collect()
}

/// Every run of 1..=`max` consecutive words, joined with single spaces (catalog-normalised form).
fn ngrams(words: &[String], max: usize) -> impl Iterator<Item = String> + '_ {
    (0..words.len())
        .flat_map(move |i| (1..=max.min(words.len() - i)).map(move |n| words[i..i + n].join(" ")))
}

/// The words name `resource`: exactly, by a typo the catalog settles on it alone, or by a run of
/// name words no other resource's names contain.
pub fn names_resource(said: &str, catalog: &Catalog, resource: &Resource) -> bool {
    let words = words(said);
    let max = catalog.max_name_words().clamp(1, MAX_NAME_WORDS);
    let named = |candidate: &str| match catalog.find(candidate) {
        Match::Exact(r) | Match::Probable(r) => r.id == resource.id,
        _ => false,
    };
    if ngrams(&words, max).any(|g| named(&g)) {
        return true;
    }
    // "github billing": name words that, taken together, fit one resource.
    let content: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| !vocab::is_filler(w) && vocab::role_group(w).is_none())
        .collect();
    content
        .windows(2)
        .chain(content.windows(3))
        .any(|run| matches!(names::cover(catalog, run).as_slice(), [one] if one.id == resource.id))
}

/// The words name `role` on `resource`: its name or an alias, a common synonym that means this
/// role on this resource ("read-only" → viewer), or a probable typo of its name.
pub fn names_role(said: &str, resource: &Resource, role: &str) -> bool {
    let words = words(said);
    let role = role.to_lowercase();
    ngrams(&words, 3).any(|g| {
        roles::role_for(resource, &g).is_some_and(|name| name.to_lowercase() == role)
            || (g.len() >= 4
                && matches!(find_role(resource, &g), Match::Probable(spec) if spec.name.to_lowercase() == role))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let toml = r#"
[[resource]]
id = "prod-billing-db"
name = "billing db"
aliases = ["prod-db"]
roles = ["read", "write", "admin"]
risk = "high"
max_duration = "8h"
owners = ["dana"]

[[resource]]
id = "staging-db"
name = "staging db"
roles = ["viewer", "editor", "admin"]
risk = "low"
max_duration = "8h"

[[resource]]
id = "github-billing"
name = "github billing"
roles = ["read", "admin"]
risk = "low"
max_duration = "8h"
"#;
        Catalog::from_toml(toml).expect("the test catalog")
    }

    #[test]
    fn a_resource_is_named_exactly_by_alias_by_typo_or_by_words_that_fit_it_alone() {
        let c = catalog();
        let billing = c.get("prod-billing-db").unwrap();
        assert!(names_resource("need read on prod-db, INC-4", &c, billing));
        assert!(names_resource(
            "access to the Billing DB please",
            &c,
            billing
        ));
        assert!(names_resource("need acess to the biling db", &c, billing));
        let github = c.get("github-billing").unwrap();
        assert!(names_resource("read on github for billing", &c, github));
    }

    #[test]
    fn a_resource_the_words_only_allow_is_not_named() {
        let c = catalog();
        let billing = c.get("prod-billing-db").unwrap();
        let staging = c.get("staging-db").unwrap();
        // "db" fits both databases: the words do not choose.
        assert!(!names_resource("need the db for an hour", &c, billing));
        assert!(!names_resource("hello", &c, billing));
        assert!(!names_resource("full access to staging", &c, billing));
        assert!(names_resource("full access to staging db", &c, staging));
    }

    #[test]
    fn a_role_is_named_by_its_name_a_synonym_it_has_or_a_typo() {
        let c = catalog();
        let staging = c.get("staging-db").unwrap();
        assert!(names_role("read-only on staging db", staging, "viewer"));
        assert!(names_role("need to edit staging", staging, "editor"));
        assert!(names_role("editr on staging", staging, "editor"));
        assert!(names_role("sudo on staging", staging, "admin"));
    }

    #[test]
    fn a_role_the_words_do_not_say_is_not_named() {
        let c = catalog();
        let staging = c.get("staging-db").unwrap();
        // "full access" is all roles: validation asks which, a model may not pick admin.
        assert!(!names_role("full access to staging", staging, "admin"));
        assert!(!names_role(
            "need staging db for an hour",
            staging,
            "viewer"
        ));
        // "read" is no role of this resource, but it is the common synonym of viewer.
        assert!(names_role("read staging", staging, "viewer"));
    }
}
