//! The answer's JSON schema, written in fill-in order and with every string and array bounded.
//!
//! Two things about the wire matter to a grammar-enforcing server (llama.cpp, vLLM, Ollama):
//! - **Order.** The grammar makes the model write properties in the order the schema lists them,
//!   and serde_json's map sorts keys alphabetically. So the schema is an [`Json`] tree that keeps
//!   the order it was built in: `action`, `resource`, `role`, `duration` come first, as a person
//!   would fill them, not `break_glass`, `duration`, `justification`, `request_id`.
//! - **Bounds.** Inside an unbounded string or array a small model can loop until the token limit.
//!   Every string gets a `pattern` with a bounded repetition, the array a `maxItems`, and fields
//!   with known values an `enum`. OpenAI's strict structured outputs document `pattern` and
//!   `format` for strings (not `maxLength`), `minItems`/`maxItems` for arrays and `enum`: this
//!   schema uses nothing else, so the same schema works strictly on OpenAI and as a grammar on
//!   llama.cpp (whose pattern support covers character classes and `{m,n}`).

use crate::domain::intent::MAX_JUSTIFICATION;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their insertion order on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(u64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Int(n) => s.serialize_u64(*n),
            Json::Str(v) => s.serialize_str(v),
            Json::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Serialising this tree to a string cannot fail: no map has a non-string key.
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

fn obj(entries: Vec<(&str, Json)>) -> Json {
    Json::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn s(v: &str) -> Json {
    Json::Str(v.to_string())
}

fn strs(vs: &[&str]) -> Json {
    Json::Arr(vs.iter().map(|v| s(v)).collect())
}

/// One string field of the answer: its name, its longest accepted value, and what it is.
pub struct StringField {
    pub name: &'static str,
    pub max_chars: usize,
    /// The characters allowed, as a regex character class; free text excludes only what would
    /// break a raw JSON string (a quote, a backslash, control characters).
    class: &'static str,
    description: &'static str,
}

const FREE: &str = r#"[^"\\\x00-\x1F]"#;

/// Every string field, in fill-in order. The one place their bounds are set: the schema sent to
/// the server and the parser of its answer both read them.
pub const STRING_FIELDS: [StringField; 6] = [
    StringField {
        name: "resource",
        max_chars: 80,
        class: FREE,
        description: "Exact id of one candidate resource, or the requester's own words if none fits",
    },
    StringField {
        name: "role",
        max_chars: 40,
        class: FREE,
        description: "One of that resource's roles",
    },
    StringField {
        name: "duration",
        max_chars: 20,
        class: "[0-9A-Za-z ]",
        description: "Short notation: 30m, 2h, 3d",
    },
    StringField {
        name: "justification",
        max_chars: MAX_JUSTIFICATION,
        class: FREE,
        description: "The requester's reason",
    },
    StringField {
        name: "ticket",
        max_chars: 40,
        class: "[0-9A-Za-z_#./-]",
        description: "Incident or ticket id, e.g. INC-881",
    },
    StringField {
        name: "request_id",
        // AR-XXXXXXXX, or the 8-character code alone; anything else is not a request id.
        max_chars: 11,
        class: "",
        description: "An existing request id, e.g. AR-7K3D9QX2 (status, extend, revoke, cancel only)",
    },
];

/// Most further resources (`also`) one answer may list: one ask has at most `MAX_ITEMS`.
pub const MAX_ALSO: usize = crate::domain::MAX_ITEMS - 1;

/// The actions the model may name.
pub const ACTIONS: [&str; 5] = ["request", "extend", "revoke", "cancel", "status"];
/// The fields the model may list as unclear; no field is worth listing twice.
pub const UNCLEAR: [&str; 6] = [
    "action",
    "resource",
    "role",
    "duration",
    "justification",
    "request_id",
];

impl StringField {
    fn pattern(&self) -> String {
        if self.name == "request_id" {
            return "^(AR-)?[0-9A-Za-z]{8}$".into();
        }
        format!("^{}{{1,{}}}$", self.class, self.max_chars)
    }

    fn schema(&self) -> Json {
        obj(vec![
            ("type", strs(&["string", "null"])),
            ("pattern", Json::Str(self.pattern())),
            ("description", s(self.description)),
        ])
    }
}

/// Longest accepted value of a string field (the parser's check; the schema says the same).
pub fn max_chars(name: &str) -> usize {
    STRING_FIELDS
        .iter()
        .find(|f| f.name == name)
        .map_or(0, |f| f.max_chars)
}

/// The answer's schema, strict-mode compatible: every property required, nullable where
/// optional, no additional properties, properties in fill-in order.
pub fn schema() -> Json {
    let mut props = vec![(
        "action",
        obj(vec![
            ("type", strs(&["string", "null"])),
            (
                "enum",
                Json::Arr(ACTIONS.iter().map(|a| s(a)).chain([Json::Null]).collect()),
            ),
        ]),
    )];
    for field in &STRING_FIELDS {
        props.push((field.name, field.schema()));
        if field.name == "resource" {
            props.push(("also", also_schema(field)));
        }
    }
    props.push((
        "break_glass",
        obj(vec![
            ("type", s("boolean")),
            ("description", s("Explicit emergency only")),
        ]),
    ));
    props.push((
        "unclear",
        obj(vec![
            ("type", s("array")),
            (
                "items",
                obj(vec![("type", s("string")), ("enum", strs(&UNCLEAR))]),
            ),
            ("maxItems", Json::Int(UNCLEAR.len() as u64)),
        ]),
    ));
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    obj(vec![
        ("type", s("object")),
        ("additionalProperties", Json::Bool(false)),
        ("required", strs(&required)),
        ("properties", obj(props)),
    ])
}

/// Further resources asked for in the same words ("billing db and staging db"): each bounded as
/// `resource` is, the list by `MAX_ALSO`; empty for one resource.
fn also_schema(resource: &StringField) -> Json {
    obj(vec![
        ("type", s("array")),
        (
            "items",
            obj(vec![
                ("type", s("string")),
                ("pattern", Json::Str(resource.pattern())),
            ]),
        ),
        ("maxItems", Json::Int(MAX_ALSO as u64)),
        (
            "description",
            s(
                "More candidate resource ids asked for with the same role and duration; empty for one",
            ),
        ),
    ])
}

/// Completion tokens a maximal valid answer needs: the structure, every string at its bound and
/// every unclear field listed. Tokenisers average well over three characters per token on such
/// text; three is the safe side. A reasoning model needs more (its hidden reasoning counts too):
/// `llm.max_answer_tokens` raises it per deployment.
pub fn answer_token_budget() -> u32 {
    let skeleton = super::view::estimate_tokens(&maximal_answer(|_| String::new()));
    let strings: usize = STRING_FIELDS
        .iter()
        .map(|f| f.max_chars.div_ceil(3))
        .sum::<usize>()
        + MAX_ALSO * max_chars("resource").div_ceil(3);
    // A little room for whitespace a server may let the model put between tokens.
    (skeleton as usize + strings + 32) as u32
}

/// An answer with every field present; each string holds `fill(field)`.
fn maximal_answer(fill: impl Fn(&StringField) -> String) -> String {
    let mut entries = vec![("action", s("request"))];
    for f in &STRING_FIELDS {
        entries.push((f.name, Json::Str(fill(f))));
        if f.name == "resource" {
            entries.push(("also", Json::Arr(vec![Json::Str(fill(f)); MAX_ALSO])));
        }
    }
    entries.push(("break_glass", Json::Bool(false)));
    entries.push(("unclear", strs(&UNCLEAR)));
    obj(entries).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_go_on_the_wire_in_fill_in_order() {
        let wire = schema().to_string();
        let at = |k: &str| wire.find(&format!("\"{k}\":{{")).unwrap_or(usize::MAX);
        let order = [
            "action",
            "resource",
            "also",
            "role",
            "duration",
            "justification",
            "ticket",
            "request_id",
            "break_glass",
            "unclear",
        ];
        for pair in order.windows(2) {
            assert!(
                at(pair[0]) < at(pair[1]),
                "{} before {}: {wire}",
                pair[0],
                pair[1]
            );
        }
        assert!(
            wire.contains(r#""required":["action","resource","also","role","duration""#),
            "{wire}"
        );
    }

    #[test]
    fn every_string_and_array_is_bounded_within_the_strict_subset() {
        let v: serde_json::Value = serde_json::from_str(&schema().to_string()).unwrap();
        for (name, prop) in v["properties"].as_object().unwrap() {
            let types = prop["type"].to_string();
            if types.contains("string") && prop.get("enum").is_none() {
                let p = prop["pattern"].as_str().unwrap_or_else(|| panic!("{name}"));
                assert!(p.starts_with('^') && p.ends_with('$'), "{name}: {p}");
                assert!(
                    p.contains("{1,") || p.contains("{8}"),
                    "{name} is bounded: {p}"
                );
                regex::Regex::new(p).unwrap();
            }
            if types.contains("array") {
                let bound = if name == "also" {
                    MAX_ALSO
                } else {
                    UNCLEAR.len()
                };
                assert_eq!(prop["maxItems"], bound, "{name}");
                if let Some(p) = prop["items"]["pattern"].as_str() {
                    assert!(p.starts_with('^') && p.contains("{1,"), "{name}: {p}");
                }
            }
            // OpenAI's strict subset: no maxLength/minLength on strings.
            for unsupported in ["maxLength", "minLength", "allOf", "not", "if"] {
                assert!(prop.get(unsupported).is_none(), "{name}: {unsupported}");
            }
        }
    }

    #[test]
    fn the_patterns_accept_real_values_and_refuse_what_breaks_a_json_string() {
        let v: serde_json::Value = serde_json::from_str(&schema().to_string()).unwrap();
        let re =
            |f: &str| regex::Regex::new(v["properties"][f]["pattern"].as_str().unwrap()).unwrap();
        assert!(re("resource").is_match("prod-billing-db"));
        assert!(re("justification").is_match("ship the hotfix (INC-881), it's urgent"));
        assert!(!re("justification").is_match("a \"quoted\" reason"));
        assert!(!re("justification").is_match(&"x".repeat(MAX_JUSTIFICATION + 1)));
        assert!(re("request_id").is_match("AR-7K3D9QX2") && re("request_id").is_match("7K3D9QX2"));
        assert!(!re("request_id").is_match("AR-7K3D9QX2-and-more"));
        assert!(re("duration").is_match("2h 30m") && re("ticket").is_match("INC-881"));
    }

    #[test]
    fn the_token_budget_covers_a_maximal_answer_and_is_far_below_the_old_cap() {
        let budget = answer_token_budget();
        assert!(budget > 150 && budget < 400, "{budget}");
        // Every string at its bound, in words and in one unbroken run of letters.
        for word in ["word ", "x"] {
            let longest =
                maximal_answer(|f| word.repeat(f.max_chars).chars().take(f.max_chars).collect());
            let needed = super::super::view::estimate_tokens(&longest);
            assert!(
                u64::from(budget) >= needed,
                "{budget} < {needed}: {longest}"
            );
        }
    }
}
